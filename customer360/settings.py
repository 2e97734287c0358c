"""Customer360 settings. Everything a deployment changes comes from environment variables (see README)."""

import os
from pathlib import Path

from csp.constants import NONCE, NONE, SELF

from .database import database_config

BASE_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = Path(os.environ.get("C360_DATA_DIR", BASE_DIR / ".data"))


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


DEBUG = env_bool("DJANGO_DEBUG", True)
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise SystemExit("DJANGO_SECRET_KEY must be set when DJANGO_DEBUG is off.")
    SECRET_KEY = "dev-only-insecure-key-change-me-customer360-" + "x" * 16
ALLOWED_HOSTS = [h for h in os.environ.get("DJANGO_ALLOWED_HOSTS", "127.0.0.1,localhost").split(",") if h]
CSRF_TRUSTED_ORIGINS = [o for o in os.environ.get("DJANGO_CSRF_TRUSTED_ORIGINS", "").split(",") if o]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django.contrib.postgres",
    "django_htmx",
    "django_filters",
    "axes",
    "accounts",
    "customers",
    "marketplace",
    "quotes",
    "billing",
    "reports",
    "customer360.rls",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "customer360.middleware.TenantScopeMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",  # Content-Security-Policy with a per-response nonce (below)
    "django_htmx.middleware.HtmxMiddleware",
    "axes.middleware.AxesMiddleware",  # last: it turns a lockout into accounts.throttle.locked_out
]

# Content Security Policy, enforced on every page (docs/security.md): scripts and styles from our own origin
# or carrying this response's nonce (request.csp_nonce); no 'unsafe-inline', no 'unsafe-eval', no style="".
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF, NONCE],
        "style-src": [SELF, NONCE],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "frame-ancestors": [NONE],
        "form-action": [SELF],
        "base-uri": [NONE],
        "object-src": [NONE],
    },
}

ROOT_URLCONF = "customer360.urls"
WSGI_APPLICATION = "customer360.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "customer360.context_processors.layout",
            ],
        },
    },
]

DATABASES = {"default": database_config(BASE_DIR)}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "accounts.User"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
AUTHENTICATION_BACKENDS = [
    "accounts.throttle.LoginThrottleBackend",  # refuses a locked-out email + address before the password
    "django.contrib.auth.backends.ModelBackend",
]
# Sign-in throttling (accounts/throttle.py): 5 failures for one email from one address lock that pair
# for 15 minutes. Behind reverse proxies set C360_TRUSTED_PROXY_COUNT to their number, so the client's
# address is read from X-Forwarded-For (and cannot be spoofed past the proxies); else REMOTE_ADDR.
from datetime import timedelta  # noqa: E402

AXES_FAILURE_LIMIT = 5
AXES_COOLOFF_TIME = timedelta(minutes=int(os.environ.get("C360_LOGIN_COOLOFF_MINUTES", "15")))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_USERNAME_FORM_FIELD = (
    "username"  # the sign-in forms' field (it holds the email; axes defaults to "email")
)
AXES_LOCKOUT_CALLABLE = "accounts.throttle.locked_out"
AXES_RESET_ON_SUCCESS = True
AXES_DISABLE_ACCESS_LOG = True  # failures are what is throttled; successful sign-ins are not logged twice
AXES_ENABLE_ADMIN = False  # attempts name users of every reseller; the admin is open to reseller staff
AXES_VERBOSE = False
_proxies = int(os.environ.get("C360_TRUSTED_PROXY_COUNT", "0"))
if _proxies:
    AXES_IPWARE_PROXY_COUNT = _proxies
    AXES_IPWARE_META_PRECEDENCE_ORDER = ["HTTP_X_FORWARDED_FOR", "REMOTE_ADDR"]
else:
    AXES_IPWARE_META_PRECEDENCE_ORDER = ["REMOTE_ADDR"]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "dashboard"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = DATA_DIR / "staticfiles"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # whitenoise warns on every start without it
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
MEDIA_ROOT = DATA_DIR / "media"
# Uploads (customer360/uploads.py): bodies over the limit are refused before a byte of the file is kept;
# the rest go to a temporary file on disk (Django's handlers), never into memory beyond 2.5 MB.
C360_MAX_UPLOAD_MB = int(os.environ.get("C360_MAX_UPLOAD_MB", str(20 * 1024)))
FILE_UPLOAD_HANDLERS = [
    "customer360.uploads.UploadLimitHandler",
    "django.core.files.uploadhandler.MemoryFileUploadHandler",
    "django.core.files.uploadhandler.TemporaryFileUploadHandler",
]
# A usage file's content must be what its name says (billing/usage_files.py), and a compressed one may
# not expand without bound: past 256 MB of data, more than this many times its compressed size is refused.
C360_MAX_EXPANSION_RATIO = int(os.environ.get("C360_MAX_EXPANSION_RATIO", "200"))

# Email: SMTP when EMAIL_HOST is set; otherwise each message is written to a file under .data/mail.
EMAIL_HOST = os.environ.get("EMAIL_HOST", "")
if EMAIL_HOST:
    EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    EMAIL_PORT = int(os.environ.get("EMAIL_PORT", "25"))
    EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
    EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
    EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
else:
    EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    EMAIL_FILE_PATH = DATA_DIR / "mail"
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "Customer360 <no-reply@customer360.example>")
# Absolute links in emails sent without a request (Celery): the customer's quote accept link.
SITE_URL = os.environ.get("SITE_URL", "http://127.0.0.1:8000").rstrip("/")

# Celery: Redis when REDIS_URL (or CELERY_BROKER_URL) is set; otherwise kombu's filesystem transport,
# which needs no server, so a new machine can run a worker out of the box.
REDIS_URL = os.environ.get("REDIS_URL", "")
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL") or REDIS_URL or "filesystem://"
if CELERY_BROKER_URL == "filesystem://":
    _broker_dir = DATA_DIR / "broker"
    for _sub in ("queue", "processed", "control"):
        (_broker_dir / _sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "queue"),
        "data_folder_out": str(_broker_dir / "queue"),
        "processed_folder": str(_broker_dir / "processed"),
        "control_folder": str(_broker_dir / "control"),  # kombu's default is ./control in the cwd
        "store_processed": False,
    }
else:
    # Tasks' hard time limit (below) stays well under the visibility timeout, so a slow task is
    # never redelivered to a second worker while the first still runs it.
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
# The cache (the dashboard's spend figures, keyed by the data version they were computed from): Redis when
# REDIS_URL is set, shared by every web process; otherwise each process keeps its own in memory.
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": "c360",
    }
    if REDIS_URL
    else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
}
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = 30 * 60
CELERY_TASK_SOFT_TIME_LIMIT = 25 * 60
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TIMEZONE = TIME_ZONE

SESSION_COOKIE_HTTPONLY = True

# Production (DJANGO_DEBUG off): cookies only over HTTPS, HSTS for a year (subdomains, preload list),
# plain HTTP redirected to HTTPS; `manage.py check --deploy --fail-level WARNING` passes with zero
# findings (tests/foundation/test_production_settings.py). Behind a proxy that terminates TLS, set
# DJANGO_SECURE_PROXY_SSL_HEADER=1 so a request the proxy received over HTTPS counts as secure.
if not DEBUG:
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", True)
    SECURE_HSTS_SECONDS = int(os.environ.get("DJANGO_SECURE_HSTS_SECONDS", str(365 * 24 * 3600)))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    if env_bool("DJANGO_SECURE_PROXY_SSL_HEADER", False):
        SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
CSRF_COOKIE_HTTPONLY = False  # htmx reads the token from the page, not the cookie; see base.html hx-headers

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "WARNING")},
}

C360_DEMO_PASSWORD_DEFAULT = "customer360-demo"

# Seconds the simulated cloud provider takes per provisioning step (demo AWS account requests).
C360_SIMULATED_PROVIDER_DELAY = float(os.environ.get("C360_SIMULATED_PROVIDER_DELAY", "2"))
C360_SIMULATED_FAILURE_RATE = float(os.environ.get("C360_SIMULATED_FAILURE_RATE", "0"))

# Billing exports: the Fernet key that encrypts destination credentials (urlsafe base64 of 32 bytes).
# Development derives one from SECRET_KEY; a deployment sets its own (rotating SECRET_KEY then keeps
# stored credentials readable). The exports' tasks live outside billing/tasks.py: Celery imports them.
C360_EXPORT_KEY = os.environ.get("C360_EXPORT_KEY", "")
if not C360_EXPORT_KEY:
    import base64  # noqa: E402
    import hashlib  # noqa: E402

    C360_EXPORT_KEY = base64.urlsafe_b64encode(
        hashlib.sha256(b"c360-export:" + SECRET_KEY.encode()).digest()
    ).decode()
CELERY_IMPORTS = ["billing.exports.tasks"]

# Celery beat (`celery -A customer360 beat`): periodic tasks. Expiry is also checked by date when a
# test drive is used, so a late or missed run only delays the status change, log entry and alert.
from celery.schedules import crontab  # noqa: E402

CELERY_BEAT_SCHEDULE = {
    "expire-test-drives": {
        "task": "customers.tasks.expire_test_drives",
        "schedule": crontab(hour=0, minute=15),
    },
    "check-credit-thresholds": {
        "task": "customers.tasks.check_credit_thresholds",
        "schedule": crontab(hour=0, minute=30),
    },
    "renew-subscriptions": {
        "task": "marketplace.tasks.renew_subscriptions",
        "schedule": crontab(hour=0, minute=45),
    },
    "expire-quotes": {
        "task": "quotes.tasks_expiry.expire_quotes",
        "schedule": crontab(hour=1, minute=0),
    },
    "monthly-invoice-run": {  # last month's draft invoices, on the 2nd (late usage still arrives)
        "task": "billing.tasks_invoices.monthly_invoice_run",
        "schedule": crontab(day_of_month=2, hour=3, minute=0),
    },
    "sweep-usage-imports": {  # imports whose worker died: failed with the reason, staging tables dropped
        "task": "billing.tasks.sweep_usage_imports",
        "schedule": crontab(minute="*/10"),
    },
    "refresh-spend-months": {  # the dashboard's monthly spend rollup, after imports, invoice runs, payments
        "task": "reports.tasks.refresh_stale_spend_months",
        "schedule": crontab(minute="*/5"),
    },
    "run-due-billing-exports": {  # scheduled billing exports whose time has come (daily / monthly)
        "task": "billing.exports.tasks.run_due_exports",
        "schedule": crontab(minute="*/15"),
    },
}
CELERY_BEAT_SCHEDULE_FILENAME = str(DATA_DIR / "celerybeat-schedule")  # beat's state, not in the checkout
