import gc
import os

from celery import Celery
from celery.signals import worker_process_init

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "customer360.settings")

app = Celery("customer360")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_process_init.connect
def freeze_startup_objects(**kwargs):
    """What a worker process holds when it starts (Django, the apps, their modules) lives as long as it
    does: frozen, the full garbage collections a task's allocations trigger no longer walk all of it
    (about a tenth of an invoice chunk's Python time, bench_invoices)."""
    gc.freeze()
