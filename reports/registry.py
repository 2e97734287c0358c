"""The customer reports: what the report picker lists, which filters each offers, and how each is
computed (in one go, or in chunks of the date range for a long range run by reports.tasks)."""

from dataclasses import dataclass, field

from billing.models_invoices import InvoiceStatus
from marketplace.models import Subscription
from quotes.models import Quote

from .data import ReportData
from .forms import ReportParams, month_starts
from .queries_commerce import COMMERCE_REPORTS
from .queries_usage import USAGE_REPORTS, merge

# A long range is computed this many months at a time; progress is reported after each chunk.
CHUNK_MONTHS = 3


@dataclass(frozen=True)
class ReportType:
    slug: str
    title: str
    description: str
    filters: tuple = ()
    statuses: list = field(default_factory=list)
    default_status: str = ""
    default_sort: str = ""

    @property
    def usage(self) -> bool:
        return self.slug in USAGE_REPORTS


REPORTS = {
    r.slug: r
    for r in [
        ReportType(
            "spend-by-month",
            "Spend and margin by month",
            "Spend, cost and margin per calendar month (twelve months by default).",
            filters=("provider",),
        ),
        ReportType(
            "spend-by-service",
            "Spend by provider and service",
            "Where the spend goes: every provider and service of the range.",
            filters=("provider",),
            default_sort="-spend",
        ),
        ReportType(
            "top-resources",
            "Top resources by cost",
            "The individual resources (VMs, buckets, databases...) that cost the most.",
            filters=("provider", "limit"),
            default_sort="-cost",
        ),
        ReportType(
            "subscriptions",
            "Subscriptions and licenses by product",
            "Licenses purchased against licenses assigned, and the monthly value, per product.",
            filters=("provider", "status"),
            statuses=[("", "Any status"), *Subscription.Status.choices],
            default_status=Subscription.Status.ACTIVE,
        ),
        ReportType(
            "quotes",
            "Quotes: sent, accepted, conversion",
            "Quotes created in the range, how many were sent and accepted, and the conversion rate.",
            filters=("status",),
            statuses=[("", "Any status"), *Quote.Status.choices],
        ),
        ReportType(
            "invoices",
            "Invoices and payments, aging",
            "Invoices of the range with their payments, and what is due by age (current, 30, 60, 90+ days).",
            filters=("status",),
            statuses=[("", "Any status"), *InvoiceStatus.choices],
        ),
    ]
}


def compute(report: ReportType, customer, params: ReportParams, progress=None) -> ReportData:
    """The report's data, sorted as asked. `progress(done, total)` is called after each chunk of a
    usage report's range (reports.tasks shows it)."""
    if report.usage:
        part, build = USAGE_REPORTS[report.slug]
        chunks = _chunks(params) if progress else [(params.start, params.end)]
        parts = []
        for i, (lo, hi) in enumerate(chunks, start=1):
            parts.append(part(customer, params, lo, hi))
            if progress:
                progress(i, len(chunks))
        data = build(customer, params, merge(parts))
    else:
        data = COMMERCE_REPORTS[report.slug](customer, params)
    return data.sorted_by(params.sort or report.default_sort)


def _chunks(params: ReportParams) -> list[tuple]:
    months = month_starts(params.start, params.end)
    out = []
    for i in range(0, len(months), CHUNK_MONTHS):
        lo = max(months[i], params.start)
        nxt = months[i + CHUNK_MONTHS] if i + CHUNK_MONTHS < len(months) else None
        hi = params.end if nxt is None else min(params.end, nxt.fromordinal(nxt.toordinal() - 1))
        out.append((lo, hi))
    return out
