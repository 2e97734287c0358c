"""Reseller-wide reports (the dashboard's sections and the lists behind its cards), over the customers
the dashboard filters select (`customers`: a subquery of ids, or None for all) and one provider.

Spend figures read the monthly spend rollup (reports.SpendMonth) when the range is whole months and the
rollup is built from the current data (`monthly=True`), else the daily spend rollup (billing.DailySpend)
through the reports_dailyspend_reseller_day covering index (reports/migrations/0002); one currency at
a time (the reseller's default unless asked).
"""

import heapq
from datetime import timedelta
from decimal import Decimal

from django.db.models import Count, F, Sum
from django.db.models.functions import TruncMonth
from django.utils import timezone

from billing.models import DailySpend
from billing.models_invoices import Invoice, InvoiceStatus
from customers.models import CloudProvider, Customer
from marketplace.models import Subscription

from .data import (
    DATE,
    INT,
    MONEY,
    PCT,
    Chart,
    Column,
    ReportData,
    margin_columns,
    margin_figures,
    margin_totals,
    money,
    pct,
)
from .forms import month_starts
from .models import SpendMonth
from .queries_commerce import aging_bucket, monthly_value

ZERO = Decimal("0")
PROVIDERS = dict(CloudProvider.choices)


def whole_months(start, end, today) -> bool:
    """Whether [start, end] is whole months (the current one up to today), which the monthly rollup
    answers exactly."""
    return start.day == 1 and (end >= today or (end + timedelta(days=1)).day == 1)


def spend_rows(customers, provider, currency, start, end, monthly=False):
    """The spend rows of the range: the monthly rollup (reports.SpendMonth, `month` field) when asked
    and the range is whole months, else the daily one (`day`)."""
    if monthly:
        qs = SpendMonth.objects.filter(currency=currency, month__gte=start.replace(day=1), month__lte=end)
    else:
        qs = DailySpend.objects.filter(currency=currency, day__gte=start, day__lte=end)
    if customers is not None:
        qs = qs.filter(customer_id__in=customers)
    if provider:
        qs = qs.filter(provider=provider)
    return qs


def _names(ids) -> dict:
    return dict(Customer.objects.filter(pk__in=list(ids)).values_list("pk", "name"))


def top_customers(
    customers, provider, currency, start, end, *, by="spend", limit=10, monthly=False, grouped=None
) -> ReportData:
    """`grouped`: the customers' sums already read ([{customer_id, p, c}], the dashboard reads them
    with its other month-to-date figures in one query); else they are read here."""
    order = "-p" if by == "spend" else "-m"
    if grouped is None:
        grouped = list(
            spend_rows(customers, provider, currency, start, end, monthly)
            .values("customer_id")
            .annotate(p=Sum("price"), c=Sum("cost"), m=Sum("price") - Sum("cost"))
            .order_by(order, "customer_id")[:limit]
        )
    else:
        key = (lambda g: -g["p"]) if by == "spend" else (lambda g: -(g["p"] - g["c"]))
        grouped = heapq.nsmallest(limit, grouped, key=lambda g: (key(g), g["customer_id"]))
    names = _names(g["customer_id"] for g in grouped)
    rows = []
    for g in grouped:
        rows.append(
            {
                "customer": names.get(g["customer_id"], ""),
                "customer_id": str(g["customer_id"]),
                **margin_figures(g["p"], g["c"], currency),
            }
        )
    key = "spend" if by == "spend" else "margin"
    slug = "top-customers" if by == "spend" else "top-margin"
    title = f"Top customers by {key}"
    return ReportData(
        slug=slug,
        title=title,
        columns=[Column("customer", "Customer"), *margin_columns(currency)],
        rows=rows,
        currency=currency,
        chart=Chart(
            title=f"{title}, {currency}",
            desc=f"The {len(rows)} customers with the highest {key} from {start} to {end}.",
            categories=[r["customer"] for r in rows],
            series=[("Spend", [r["spend"] for r in rows]), ("Margin", [r["margin"] for r in rows])],
            unit=currency,
        ),
    )


def margin_by_provider(customers, provider, currency, start, end, monthly=False, grouped=None) -> ReportData:
    if grouped is None:
        grouped = (
            spend_rows(customers, provider, currency, start, end, monthly)
            .values("provider")
            .annotate(price=Sum("price"), cost=Sum("cost"))
            .order_by("-price", "provider")
        )
    else:
        grouped = sorted(grouped, key=lambda g: (-g["price"], g["provider"]))
    rows = []
    for g in grouped:
        rows.append(
            {
                "provider": PROVIDERS.get(g["provider"], g["provider"]),
                **margin_figures(g["price"], g["cost"], currency),
            }
        )
    return ReportData(
        slug="margin-by-provider",
        title="Margin by provider",
        columns=[Column("provider", "Provider"), *margin_columns(currency)],
        rows=rows,
        currency=currency,
        totals={"provider": "Total", **margin_totals(rows)},
        chart=Chart(
            title=f"Margin by provider, {currency}",
            desc=f"Spend and margin per provider from {start} to {end}.",
            categories=[r["provider"] for r in rows],
            series=[("Spend", [r["spend"] for r in rows]), ("Margin", [r["margin"] for r in rows])],
            unit=currency,
        ),
    )


def growth(customers, provider, currency, start, end, monthly=False) -> ReportData:
    qs = spend_rows(customers, provider, currency, start, end, monthly)
    grouped = (
        (qs if monthly else qs.annotate(month=TruncMonth("day")))
        .values("month")
        .annotate(price=Sum("price"), cost=Sum("cost"))
        .order_by()
    )
    sums = {g["month"]: g for g in grouped}
    rows, previous = [], None
    for m in month_starts(start, end):
        g = sums.get(m, {})
        price, cost = money(g.get("price"), currency), money(g.get("cost"), currency)
        change = price - previous if previous is not None else None
        rows.append(
            {
                "month": m.strftime("%Y-%m"),
                "spend": price,
                "margin": price - cost,
                "change": change,
                "growth_pct": pct(change, previous) if change is not None else None,
            }
        )
        previous = price
    return ReportData(
        slug="growth",
        title="Month-over-month growth",
        columns=[
            Column("month", "Month"),
            Column("spend", f"Spend ({currency})", MONEY),
            Column("margin", f"Margin ({currency})", MONEY),
            Column("change", f"Change ({currency})", MONEY),
            Column("growth_pct", "Growth %", PCT),
        ],
        rows=rows,
        currency=currency,
        chart=Chart(
            title=f"Spend by month, {currency}",
            desc=f"Spend and margin of every month from {start:%Y-%m} to {end:%Y-%m}; growth is in the table.",
            categories=[r["month"] for r in rows],
            series=[("Spend", [r["spend"] for r in rows]), ("Margin", [r["margin"] for r in rows])],
            unit=currency,
        ),
        note="The current month is month to date.",
    )


def _subscriptions(customers, provider):
    qs = Subscription.objects.filter(status=Subscription.Status.ACTIVE)
    if customers is not None:
        qs = qs.filter(customer_id__in=customers)
    if provider:
        qs = qs.filter(provider__code=provider)
    return qs


def mrr_by_customer(customers, provider, currency, start, end) -> ReportData:
    grouped = (
        _subscriptions(customers, provider)
        .filter(currency=currency)
        .values("customer_id", "billing_frequency")
        .annotate(n=Count("pk"), amount=Sum(F("unit_price") * F("quantity")))
        .order_by()
    )
    per: dict = {}
    for g in grouped:
        acc = per.setdefault(g["customer_id"], {"n": 0, "mrr": ZERO})
        acc["n"] += g["n"]
        acc["mrr"] += monthly_value(g["amount"], 1, g["billing_frequency"])
    names = _names(per)
    rows = [
        {"customer": names.get(cid, ""), "subscriptions": v["n"], "mrr": money(v["mrr"], currency)}
        for cid, v in per.items()
    ]
    rows.sort(key=lambda r: (-r["mrr"], r["customer"]))
    return ReportData(
        slug="mrr",
        title="Monthly recurring revenue by customer",
        columns=[
            Column("customer", "Customer"),
            Column("subscriptions", "Active subscriptions", INT),
            Column("mrr", f"MRR ({currency})", MONEY),
        ],
        rows=rows,
        currency=currency,
        totals={
            "customer": "Total",
            "subscriptions": sum(r["subscriptions"] for r in rows),
            "mrr": sum((r["mrr"] for r in rows), ZERO),
        },
        note="Active subscriptions: monthly billing at its amount, annual billing spread over 12 months.",
    )


def expiring_subscriptions(customers, provider, currency, start, end, *, days=30) -> ReportData:
    today = timezone.localdate()
    subs = (
        _subscriptions(customers, provider)
        .filter(renewal_date__gte=today, renewal_date__lte=today + timedelta(days=days))
        .select_related("customer", "plan")
        .order_by("renewal_date", "id")
    )
    rows = [
        {
            "customer": s.customer.name,
            "plan": s.plan.name,
            "quantity": s.quantity,
            "renewal": s.renewal_date,
            "auto_renew": "Yes" if s.auto_renew else "No",
            "mrr": money(monthly_value(s.unit_price, s.quantity, s.billing_frequency), s.currency),
            "currency": s.currency,
        }
        for s in subs
    ]
    return ReportData(
        slug="expiring-subscriptions",
        title=f"Subscriptions expiring or renewing in the next {days} days",
        columns=[
            Column("customer", "Customer"),
            Column("plan", "Plan"),
            Column("quantity", "Quantity", INT),
            Column("renewal", "Renewal date", DATE),
            Column("auto_renew", "Auto-renew"),
            Column("mrr", "Monthly value", MONEY),
            Column("currency", "Currency"),
        ],
        rows=rows,
        currency=currency,
    )


def overdue_invoices(customers, provider, currency, start, end) -> ReportData:
    today = timezone.localdate()
    qs = Invoice.objects.filter(status=InvoiceStatus.OPEN, due_date__lt=today)
    if customers is not None:
        qs = qs.filter(customer_id__in=customers)
    invoices = qs.select_related("customer").order_by("due_date", "id")
    rows = []
    for inv in invoices:
        days = (today - inv.due_date).days
        rows.append(
            {
                "customer": inv.customer.name,
                "number": inv.number,
                "due": inv.due_date,
                "days_overdue": days,
                "bucket": aging_bucket(days),
                "balance": money(inv.total - inv.amount_paid, inv.currency),
                "currency": inv.currency,
            }
        )
    return ReportData(
        slug="overdue-invoices",
        title="Overdue invoices",
        columns=[
            Column("customer", "Customer"),
            Column("number", "Invoice"),
            Column("due", "Due", DATE),
            Column("days_overdue", "Days overdue", INT),
            Column("bucket", "Aging"),
            Column("balance", "Balance due", MONEY),
            Column("currency", "Currency"),
        ],
        rows=rows,
        currency=currency,
        totals={
            "customer": f"{len(rows)} invoices",
            "balance": sum((r["balance"] for r in rows if r["currency"] == currency), ZERO),
            "currency": currency,
        },
    )
