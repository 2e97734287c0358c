"""Billing tasks: the usage import (queued by services_usage.do_create_import with delay_on_commit)."""

import logging
import uuid

from celery import shared_task

from customer360.tenancy import tenant_scope

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
