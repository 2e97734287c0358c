import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "customer360.settings")

app = Celery("customer360")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
