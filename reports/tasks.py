"""The long-report task: computes a report over a long range in chunks, writing its progress and then
its result to a ReportResult row (the cache the report page reads)."""

import logging
import uuid
from datetime import date

from celery import shared_task
from django.utils import timezone
from kombu.exceptions import OperationalError

from customer360.tenancy import tenant_scope

from .forms import ReportParams
from .models import ReportResult
from .registry import REPORTS, compute

logger = logging.getLogger(__name__)


def params_from_json(data: dict) -> ReportParams:
    return ReportParams(
        start=date.fromisoformat(data["start"]),
        end=date.fromisoformat(data["end"]),
        provider=data.get("provider", ""),
        status=data.get("status", ""),
        limit=int(data.get("limit", 25)),
    )


@shared_task
def build_report(result_id: str, reseller_id: str) -> str:
    """Compute one cached report. Safe to run twice: a finished result is left alone."""
    with tenant_scope(uuid.UUID(str(reseller_id))):
        row = ReportResult.objects.select_related("customer").filter(pk=result_id).first()
        if row is None:
            return "missing"
        if row.status == ReportResult.Status.DONE:
            return "done"
        row.status = ReportResult.Status.RUNNING
        row.save(update_fields=["status"])

        def progress(done, total):
            pct = int(done * 100 / total)
            ReportResult.objects.filter(pk=row.pk).update(progress=min(pct, 99))

        try:
            data = compute(REPORTS[row.report], row.customer, params_from_json(row.params), progress)
        except Exception as exc:
            logger.exception("report %s failed", result_id)
            ReportResult.objects.filter(pk=row.pk).update(
                status=ReportResult.Status.FAILED, error=str(exc)[:500], finished_at=timezone.now()
            )
            raise
        ReportResult.objects.filter(pk=row.pk).update(
            status=ReportResult.Status.DONE, progress=100, result=data.to_json(), finished_at=timezone.now()
        )
        return "done"


@shared_task
def refresh_spend_months(reseller_id: str) -> float:
    """Rebuild the reseller's monthly spend rollup if its data changed (queued by the dashboard)."""
    from accounts.models import Reseller

    from .rollup import rebuild

    if not Reseller.objects.filter(pk=reseller_id).exists():
        return 0.0  # deleted since the task was queued: nothing to roll up
    with tenant_scope(uuid.UUID(str(reseller_id))):
        return rebuild()


def queue_spend_month_refresh(sender, reseller_id, **kwargs) -> None:
    """billing.signals.usage_rolled_up: rebuild the reseller's monthly rollup now, not at the next beat."""
    try:
        refresh_spend_months.delay(str(reseller_id))
    except OperationalError:  # the broker is down: the import stands, and the beat rebuilds it later
        logger.warning("could not queue the monthly spend rollup of reseller %s", reseller_id, exc_info=True)


@shared_task
def refresh_stale_spend_months() -> int:
    """Beat: rebuild every reseller's monthly spend rollup whose data changed since it was built, so the
    dashboard seldom meets a stale one (it then shows the previous build and queues the rebuild itself).
    Returns how many were rebuilt."""
    from customer360.tenancy import each_reseller_scope

    from .rollup import fresh, rebuild

    rebuilt = 0
    for _ in each_reseller_scope():
        if not fresh():
            rebuild()
            rebuilt += 1
    return rebuilt
