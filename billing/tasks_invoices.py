"""Invoice run tasks (imported by billing/tasks.py so Celery's autodiscovery registers them).

Tasks take ids, open the reseller's scope and call invoice_run; acks_late with reject_on_worker_lost
(settings) hands a chunk whose worker was killed to another worker, and running a chunk twice is safe."""

import logging
import uuid
from datetime import timedelta

from celery import shared_task
from django.utils import timezone

from customer360.tenancy import each_reseller_scope, tenant_scope

from .invoice_run import do_start_run, process_chunk
from .invoicing import month_bounds

logger = logging.getLogger(__name__)


@shared_task(acks_late=True, reject_on_worker_lost=True)
def run_invoice_chunk(chunk_id: str, reseller_id: str) -> str:
    with tenant_scope(uuid.UUID(str(reseller_id))):
        return process_chunk(chunk_id)


@shared_task(acks_late=True, reject_on_worker_lost=True, time_limit=300, soft_time_limit=280)
def send_invoice_email(invoice_id: str, reseller_id: str) -> str:
    from .invoice_email import send_now

    with tenant_scope(uuid.UUID(str(reseller_id))):
        return send_now(invoice_id)


@shared_task(acks_late=True)
def monthly_invoice_run() -> int:
    """Celery beat, early each month: a run of last month for every reseller (drafts; finalizing waits for
    the providers' data and the billing users)."""
    first, _ = month_bounds(timezone.localdate())
    last_month = (first - timedelta(days=1)).replace(day=1)
    started = 0
    for _reseller_id in each_reseller_scope():
        do_start_run(None, last_month)
        started += 1
    return started
