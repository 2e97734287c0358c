"""Billing tasks: the usage import (queued by services_usage.do_create_import and do_retry_import with
delay_on_commit) and the sweep of imports whose worker died (Celery beat)."""

import logging
import uuid

from celery import shared_task

from customer360.tenancy import each_reseller_scope, tenant_scope

from .ingest import run_import
from .models_usage import UsageImport

logger = logging.getLogger(__name__)


@shared_task
def run_usage_import(import_id: str, reseller_id: str) -> str:
    """Run one import in its reseller's scope. Idempotent: a finished or failed import is left alone,
    and rows are deduplicated by fingerprint."""
    with tenant_scope(uuid.UUID(str(reseller_id))):
        record = UsageImport.objects.filter(pk=import_id).first()
        if record is None:
            logger.warning("usage import %s is gone", import_id)
            return "missing"
        return run_import(record).status


from . import tasks_invoices  # noqa: E402,F401  the invoice run's tasks (autodiscovery imports tasks.py only)


@shared_task
def sweep_usage_imports() -> dict:
    """Every reseller's imports whose worker died are failed with the reason (the import page then
    offers Retry), and staging tables no running import owns are dropped."""
    from .services_usage import drop_orphan_staging_tables, recover_stale_imports

    failed = 0
    for _reseller_id in each_reseller_scope():
        recovered = recover_stale_imports()
        failed += len(recovered)
        for import_id in recovered:
            logger.warning("usage import %s lost its worker: marked failed", import_id)
    return {"failed": failed, "tables_dropped": len(drop_orphan_staging_tables())}
