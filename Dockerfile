# Customer360 for docker-compose.yml: gunicorn serves the web app; the same image runs the Celery
# worker and beat. Configuration comes from the environment (see README).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PYTHONPATH=/app \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# WeasyPrint (PDF output) needs Pango and a font.
RUN apt-get update \
    && apt-get install -y --no-install-recommends libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-dejavu-core \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /app

# Dependencies first, so a code change does not reinstall them.
COPY pyproject.toml README.md ./
RUN pip install .

COPY . .

# Settings read DATABASE_URL at import; collectstatic never connects, so a placeholder is enough.
RUN DATABASE_URL=postgresql://build@localhost/build DJANGO_DEBUG=0 DJANGO_SECRET_KEY=build-only \
    python manage.py collectstatic --noinput \
    && useradd --system --home-dir /app --shell /usr/sbin/nologin app \
    && mkdir -p /app/.data/media /app/.data/mail \
    && chown -R app:app /app/.data

USER app
EXPOSE 8000
CMD ["gunicorn", "customer360.wsgi", "--bind", "0.0.0.0:8000", "--workers", "3", "--access-logfile", "-"]
