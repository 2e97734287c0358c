"""The long-report cache: a result is found by what was asked (report, customer, parameters) and by the
data version, read cheaply from the database, so a new usage import, invoice run or payment makes every
cached report stale without any other module calling this one."""

import hashlib
import json

from django.db.models import Count, Max, Sum

from billing.models_invoices import InvoiceRun, Payment
from billing.models_usage import UsageImport

from .models import ReportResult


def data_version() -> str:
    """The reseller's data version: its finished usage imports (and their matched rows) and invoice runs,
    and its payments (three aggregates over small tables: one row per import, run or payment)."""
    # rows_matched too: attaching unmatched rows to a customer changes the rollups, not the import times.
    imports = UsageImport.objects.filter(finished_at__isnull=False).aggregate(
        n=Count("pk"), t=Max("finished_at"), m=Sum("rows_matched")
    )
    runs = InvoiceRun.objects.filter(finished_at__isnull=False).aggregate(n=Count("pk"), t=Max("finished_at"))
    payments = Payment.objects.aggregate(n=Count("pk"), t=Max("created_at"))
    parts = [f"{d['n']}@{d['t'].isoformat() if d['t'] else '-'}" for d in (imports, runs, payments)]
    parts.append(str(imports["m"] or 0))
    return "|".join(parts)


def result_key(report_slug: str, customer_id, params) -> str:
    raw = json.dumps([report_slug, str(customer_id), *params.cache_key_parts()], default=str)
    return hashlib.sha256(raw.encode()).hexdigest()


def find(report_slug: str, customer, params, version: str) -> ReportResult | None:
    return ReportResult.objects.filter(
        key=result_key(report_slug, customer.pk, params), data_version=version
    ).first()
