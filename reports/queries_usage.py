"""The consumption reports of one customer, read from the daily rollup (billing.UsageDaily: per customer,
cloud account, provider, service, charge category and day), never from raw usage rows, except "top
resources": no rollup keeps the resource, so it groups the customer's usage rows of the range with an
index-only read of usagerow_customer_day ((customer_id, usage_date) with the columns it sums included):
a few thousand rows per customer and year, measured in docs/benchmarks.md.

Amounts are in the customer's currency (the rollup's price currency); cost is the reseller's cost.
Each function takes `(customer, params, start, end)` so a long range can be computed in chunks
(reports.tasks), and returns a dict of group key -> sums that `merge()` adds up across chunks.
"""

from decimal import Decimal

from django.db.models import Count, Sum
from django.db.models.functions import TruncMonth

from billing.models import UsageDaily, UsageRow
from customers.models import CloudProvider

from .data import (
    INT,
    MONEY,
    Chart,
    Column,
    ReportData,
    margin_columns,
    margin_figures,
    margin_totals,
    money,
)
from .forms import month_starts

ZERO = Decimal("0")
PROVIDERS = dict(CloudProvider.choices)


def _daily(customer, params, start, end):
    qs = UsageDaily.objects.filter(
        customer=customer, currency=customer.currency, day__gte=start, day__lte=end
    )
    if params.provider:
        qs = qs.filter(provider=params.provider)
    return qs


def merge(parts: list[dict]) -> dict:
    """Adds up the chunk results {key: {name: number}} of one report."""
    out: dict = {}
    for part in parts:
        for key, sums in part.items():
            acc = out.setdefault(key, dict.fromkeys(sums, ZERO))
            for name, value in sums.items():
                acc[name] = acc.get(name, ZERO) + (value or ZERO)
    return out


# --- Spend and margin by month -------------------------------------------------------------------


def monthly_part(customer, params, start, end) -> dict:
    rows = (
        _daily(customer, params, start, end)
        .annotate(month=TruncMonth("day"))
        .values("month")
        .annotate(cost=Sum("cost"), price=Sum("price"))
        .order_by()
    )
    return {r["month"].isoformat(): {"cost": r["cost"], "price": r["price"]} for r in rows}


def monthly_build(customer, params, sums: dict) -> ReportData:
    cur = customer.currency
    rows = []
    for m in month_starts(params.start, params.end):
        s = sums.get(m.isoformat(), {})
        rows.append({"month": m.strftime("%Y-%m"), **margin_figures(s.get("price"), s.get("cost"), cur)})
    totals = {"month": "Total", **margin_totals(rows)}
    spend, cost = totals["spend"], totals["cost"]
    chart = Chart(
        title=f"Spend and margin by month, {cur}",
        desc=f"Customer spend (price) and margin per month from {params.start} to {params.end}.",
        categories=[r["month"] for r in rows],
        series=[("Spend", [r["spend"] for r in rows]), ("Margin", [r["margin"] for r in rows])],
        unit=cur,
    )
    return ReportData(
        slug="spend-by-month",
        title="Spend and margin by month",
        columns=[Column("month", "Month"), *margin_columns(cur)],
        rows=rows,
        currency=cur,
        totals=totals,
        chart=chart,
        summary=[("Spend", f"{spend:,.2f} {cur}"), ("Margin", f"{spend - cost:,.2f} {cur}")],
    )


# --- Spend by provider and service ---------------------------------------------------------------


def services_part(customer, params, start, end) -> dict:
    rows = (
        _daily(customer, params, start, end)
        .values("provider", "service_name")
        .annotate(cost=Sum("cost"), price=Sum("price"), quantity=Sum("quantity"))
        .order_by()
    )
    return {f"{r['provider']}\t{r['service_name']}": {"cost": r["cost"], "price": r["price"]} for r in rows}


def services_build(customer, params, sums: dict) -> ReportData:
    cur = customer.currency
    rows = []
    for key, s in sums.items():
        provider, service = key.split("\t", 1)
        rows.append(
            {
                "provider": PROVIDERS.get(provider, provider),
                "service": service or "(no service name)",
                **margin_figures(s["price"], s["cost"], cur),
            }
        )
    rows.sort(key=lambda r: (-r["spend"], r["provider"], r["service"]))
    by_provider: dict = {}
    for r in rows:
        by_provider[r["provider"]] = by_provider.get(r["provider"], ZERO) + r["spend"]
    top = rows[:10]
    chart = Chart(
        title=f"Spend by service, top {len(top)}, {cur}",
        desc=f"The services with the highest spend from {params.start} to {params.end}; "
        "every service is in the table below.",
        categories=[f"{r['service']} ({r['provider']})" for r in top],
        series=[("Spend", [r["spend"] for r in top]), ("Margin", [r["margin"] for r in top])],
        unit=cur,
    )
    return ReportData(
        slug="spend-by-service",
        title="Spend by provider and service",
        columns=[Column("provider", "Provider"), Column("service", "Service"), *margin_columns(cur)],
        rows=rows,
        currency=cur,
        totals={"provider": "Total", "service": "", **margin_totals(rows)},
        chart=chart,
        summary=[(p, f"{v:,.2f} {cur}") for p, v in sorted(by_provider.items(), key=lambda kv: -kv[1])],
    )


# --- Top resources by cost -----------------------------------------------------------------------


def resources_part(customer, params, start, end) -> dict:
    qs = UsageRow.objects.filter(customer=customer, usage_date__gte=start, usage_date__lte=end)
    if params.provider:
        qs = qs.filter(provider=params.provider)
    rows = (
        qs.values("resource_id", "provider", "service_name")
        .annotate(cost=Sum("cost"), price=Sum("price"), lines=Count("*"))
        .order_by()
    )
    return {
        f"{r['provider']}\t{r['service_name']}\t{r['resource_id']}": {
            "cost": r["cost"],
            "price": r["price"],
            "lines": Decimal(r["lines"]),
        }
        for r in rows
    }


def resources_build(customer, params, sums: dict) -> ReportData:
    cur = customer.currency
    ranked = sorted(sums.items(), key=lambda kv: (-(kv[1]["cost"] or ZERO), kv[0]))[: params.limit]
    rows = []
    for key, s in ranked:
        provider, service, resource = key.split("\t", 2)
        cost, price = money(s["cost"], "USD"), money(s["price"], cur)
        rows.append(
            {
                "resource": resource or "(no resource id)",
                "provider": PROVIDERS.get(provider, provider),
                "service": service,
                "cost": cost,
                "spend": price,
                "lines": int(s["lines"]),
            }
        )
    chart = Chart(
        title=f"Top {len(rows)} resources by cost, USD",
        desc=f"The resources with the highest cost from {params.start} to {params.end}.",
        categories=[r["resource"][-40:] for r in rows[:10]],
        series=[("Cost", [r["cost"] for r in rows[:10]])],
        unit="USD",
    )
    return ReportData(
        slug="top-resources",
        title="Top resources by cost",
        columns=[
            Column("resource", "Resource"),
            Column("provider", "Provider"),
            Column("service", "Service"),
            Column("cost", "Cost (USD)", MONEY),
            Column("spend", f"Spend ({cur})", MONEY),
            Column("lines", "Usage lines", INT),
        ],
        rows=rows,
        currency=cur,
        totals={
            "resource": f"Top {len(rows)}",
            "cost": sum((r["cost"] for r in rows), ZERO),
            "spend": sum((r["spend"] for r in rows), ZERO),
            "lines": sum(r["lines"] for r in rows),
        },
        chart=chart,
        note="Read from the usage rows (no rollup keeps the resource). Cost is the provider's billed cost.",
    )


USAGE_REPORTS = {
    "spend-by-month": (monthly_part, monthly_build),
    "spend-by-service": (services_part, services_build),
    "top-resources": (resources_part, resources_build),
}
