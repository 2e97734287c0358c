"""Celery tasks of billing exports (listed in settings.CELERY_IMPORTS, as they live outside billing/tasks.py):
one run, and the beat task that starts the scheduled exports whose time has come."""

import logging
import uuid

from celery import shared_task

from customer360.tenancy import each_reseller_scope, tenant_scope

from ..models_exports import ExportRun

logger = logging.getLogger(__name__)


@shared_task(time_limit=25 * 60, soft_time_limit=24 * 60)
def run_export(run_id: str, reseller_id: str) -> str:
    """Run one export run in its reseller's scope. Idempotent: a run that is not queued is left alone."""
    from .services import execute_run

    with tenant_scope(uuid.UUID(str(reseller_id))):
        run = ExportRun.objects.filter(pk=run_id).first()
        if run is None:
            logger.warning("export run %s is gone", run_id)
            return "missing"
        return execute_run(run).status


@shared_task
def run_due_exports() -> int:
    """Every reseller's scheduled exports that are due: one run each (queued, run by workers)."""
    from .services import start_due_exports

    started = 0
    for _reseller_id in each_reseller_scope():
        started += len(start_due_exports())
    return started
