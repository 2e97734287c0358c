"""The customer reports on subscriptions and licenses, quotes, and invoices and payments.

These read small per-customer tables (a customer has tens of subscriptions, quotes and invoices), so
each is one or two indexed queries aggregated here.
"""

from collections import defaultdict
from decimal import Decimal

from django.db.models import Count, Max, OuterRef, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone

from billing.models_invoices import Invoice, InvoiceStatus, Payment
from marketplace.models import BillingFrequency, LicenseAssignment, Subscription
from quotes.models import Quote, QuoteRevision

from .data import DATE, INT, MONEY, PCT, Chart, Column, ReportData, money, pct

ZERO = Decimal("0")


def monthly_value(unit_price, quantity, frequency) -> Decimal:
    """A subscription's monthly recurring revenue: annual billing spread over 12 months; one-time and
    usage-billed subscriptions recur no fixed amount."""
    amount = Decimal(unit_price) * quantity
    if frequency == BillingFrequency.MONTHLY:
        return amount
    if frequency == BillingFrequency.ANNUAL:
        return amount / 12
    return ZERO


# --- Subscriptions and licenses by product -------------------------------------------------------


def subscriptions_report(customer, params) -> ReportData:
    cur = customer.currency
    assigned = (
        LicenseAssignment.objects.filter(subscription=OuterRef("pk"))
        .order_by()
        .values("subscription")
        .annotate(n=Count("pk"))
        .values("n")
    )
    qs = Subscription.objects.filter(customer=customer, start_date__lte=params.end)
    if params.status:
        qs = qs.filter(status=params.status)
    if params.provider:
        qs = qs.filter(provider__code=params.provider)
    subs = qs.annotate(assigned=Coalesce(Subquery(assigned), 0)).values(
        "plan__product__name",
        "provider__name",
        "product_type",
        "quantity",
        "assigned",
        "unit_price",
        "billing_frequency",
        "currency",
    )
    groups: dict = defaultdict(lambda: {"subscriptions": 0, "purchased": 0, "assigned": 0, "mrr": ZERO})
    for s in subs:
        g = groups[(s["plan__product__name"], s["provider__name"], s["product_type"])]
        g["subscriptions"] += 1
        g["purchased"] += s["quantity"]
        g["assigned"] += s["assigned"]
        if s["currency"] == cur:
            g["mrr"] += monthly_value(s["unit_price"], s["quantity"], s["billing_frequency"])
    rows = []
    for (product, provider, kind), g in groups.items():
        rows.append(
            {
                "product": product,
                "provider": provider,
                "type": kind.replace("_", " "),
                "subscriptions": g["subscriptions"],
                "purchased": g["purchased"],
                "assigned": g["assigned"],
                "unassigned": g["purchased"] - g["assigned"],
                "utilisation": pct(g["assigned"], g["purchased"]),
                "mrr": money(g["mrr"], cur),
            }
        )
    rows.sort(key=lambda r: (-r["purchased"], r["product"]))
    total = {k: sum(r[k] for r in rows) for k in ("subscriptions", "purchased", "assigned", "unassigned")}
    totals = {"product": "Total", **total, "mrr": sum((r["mrr"] for r in rows), ZERO)}
    totals["utilisation"] = pct(total["assigned"], total["purchased"])
    top = rows[:10]
    return ReportData(
        slug="subscriptions",
        title="Subscriptions and licenses by product",
        columns=[
            Column("product", "Product"),
            Column("provider", "Provider"),
            Column("type", "Type"),
            Column("subscriptions", "Subscriptions", INT),
            Column("purchased", "Purchased", INT),
            Column("assigned", "Assigned", INT),
            Column("unassigned", "Unassigned", INT),
            Column("utilisation", "Assigned %", PCT),
            Column("mrr", f"Monthly value ({cur})", MONEY),
        ],
        rows=rows,
        currency=cur,
        totals=totals,
        chart=Chart(
            title="Licenses assigned vs purchased, by product",
            desc="For each product: the licenses purchased and how many of them are assigned to users.",
            categories=[r["product"] for r in top],
            series=[("Purchased", [r["purchased"] for r in top]), ("Assigned", [r["assigned"] for r in top])],
        ),
        summary=[
            ("Purchased licenses", f"{total['purchased']:,}"),
            ("Assigned", f"{total['assigned']:,}"),
            ("Monthly value", f"{totals['mrr']:,.2f} {cur}"),
        ],
    )


# --- Quotes: sent, accepted, conversion rate -----------------------------------------------------

ACCEPTED = (Quote.Status.ACCEPTED, Quote.Status.CONVERTED)


def quotes_report(customer, params) -> ReportData:
    latest = QuoteRevision.objects.filter(quote=OuterRef("pk")).order_by("-number")
    qs = Quote.objects.filter(
        customer=customer, created_at__date__gte=params.start, created_at__date__lte=params.end
    )
    if params.status:
        qs = qs.filter(status=params.status)
    quotes = qs.annotate(
        sent_at=Subquery(
            QuoteRevision.objects.filter(quote=OuterRef("pk")).order_by("number").values("created_at")[:1]
        ),
        value=Subquery(latest.values("total")[:1]),
        value_currency=Subquery(latest.values("currency")[:1]),
    ).order_by("-created_at")
    rows = []
    for q in quotes:
        rows.append(
            {
                "number": q.number,
                "name": q.name,
                "status": q.get_status_display(),
                "created": timezone.localtime(q.created_at).date(),
                "sent": timezone.localtime(q.sent_at).date() if q.sent_at else None,
                "responded": timezone.localtime(q.responded_at).date() if q.responded_at else None,
                "value": money(q.value, q.value_currency or q.currency) if q.value is not None else None,
                "currency": q.value_currency or q.currency,
            }
        )
    sent = sum(1 for r in rows if r["sent"])
    accepted = sum(1 for r in rows if r["status"] in {s.label for s in ACCEPTED})
    counts = defaultdict(int)
    for r in rows:
        counts[r["status"]] += 1
    labels = [s.label for s in Quote.Status]
    rate = pct(accepted, sent)
    cur = customer.currency
    accepted_value = sum(
        (r["value"] for r in rows if r["value"] is not None and r["currency"] == cur and r["status"] in
         {s.label for s in ACCEPTED}),
        ZERO,
    )  # fmt: skip
    return ReportData(
        slug="quotes",
        title="Quotes: sent, accepted and conversion rate",
        columns=[
            Column("number", "Quote"),
            Column("name", "Name"),
            Column("status", "Status"),
            Column("created", "Created", DATE),
            Column("sent", "First sent", DATE),
            Column("responded", "Answered", DATE),
            Column("value", "Value (last sent)", MONEY),
            Column("currency", "Currency"),
        ],
        rows=rows,
        currency=cur,
        totals={"number": f"{len(rows)} quotes", "value": sum((r["value"] or ZERO for r in rows), ZERO)},
        chart=Chart(
            title="Quotes by status",
            desc=f"How many of the customer's quotes created from {params.start} to {params.end} are in "
            "each status.",
            categories=labels,
            series=[("Quotes", [counts[label] for label in labels])],
        ),
        summary=[
            ("Sent", f"{sent:,}"),
            ("Accepted", f"{accepted:,}"),
            ("Conversion rate", f"{rate:.1f}%" if rate is not None else "–"),
            ("Accepted value", f"{accepted_value:,.2f} {cur}"),
        ],
    )


# --- Invoices and payments with aging --------------------------------------------------------------

BUCKETS = ["Current", "1-30 days", "31-60 days", "61-90 days", "90+ days"]


def aging_bucket(days_past_due: int) -> str:
    if days_past_due <= 0:
        return BUCKETS[0]
    if days_past_due <= 30:
        return BUCKETS[1]
    if days_past_due <= 60:
        return BUCKETS[2]
    if days_past_due <= 90:
        return BUCKETS[3]
    return BUCKETS[4]


def invoices_report(customer, params, today=None) -> ReportData:
    today = today or timezone.localdate()
    cur = customer.currency
    qs = Invoice.objects.filter(
        customer=customer, month__gte=params.start.replace(day=1), month__lte=params.end
    )
    if params.status:
        qs = qs.filter(status=params.status)
    invoices = qs.annotate(
        last_payment=Subquery(
            Payment.objects.filter(invoice=OuterRef("pk"))
            .order_by()
            .values("invoice")
            .annotate(d=Max("received_on"))
            .values("d")
        ),
        payment_count=Coalesce(
            Subquery(
                Payment.objects.filter(invoice=OuterRef("pk"))
                .order_by()
                .values("invoice")
                .annotate(n=Count("pk"))
                .values("n")
            ),
            0,
        ),
    ).order_by("-month")
    rows, aging = [], dict.fromkeys(BUCKETS, ZERO)
    for inv in invoices:
        balance = money(inv.balance, inv.currency)
        is_open = inv.status == InvoiceStatus.OPEN
        days = (today - inv.due_date).days if is_open else None
        bucket = aging_bucket(days) if is_open else ""
        if is_open and inv.currency == cur:
            aging[bucket] += balance
        rows.append(
            {
                "number": inv.number or "Draft",
                "month": inv.month.strftime("%Y-%m"),
                "status": inv.status_label,
                "total": money(inv.total, inv.currency),
                "paid": money(inv.amount_paid, inv.currency),
                "balance": balance,
                "payments": inv.payment_count,
                "last_payment": inv.last_payment,
                "due": inv.due_date,
                "days_overdue": max(days, 0) if days is not None else None,
                "bucket": bucket,
            }
        )
    totals = {
        "number": f"{len(rows)} invoices",
        "total": sum((r["total"] for r in rows), ZERO),
        "paid": sum((r["paid"] for r in rows), ZERO),
        "balance": sum((r["balance"] for r in rows), ZERO),
        "payments": sum(r["payments"] for r in rows),
    }
    return ReportData(
        slug="invoices",
        title="Invoices and payments with aging",
        columns=[
            Column("number", "Invoice"),
            Column("month", "Month"),
            Column("status", "Status"),
            Column("total", f"Total ({cur})", MONEY),
            Column("paid", f"Paid ({cur})", MONEY),
            Column("balance", f"Balance ({cur})", MONEY),
            Column("payments", "Payments", INT),
            Column("last_payment", "Last payment", DATE),
            Column("due", "Due", DATE),
            Column("days_overdue", "Days overdue", INT),
            Column("bucket", "Aging"),
        ],
        rows=rows,
        currency=cur,
        totals=totals,
        chart=Chart(
            title=f"Balance due by age, {cur}",
            desc=f"What finalized invoices of the range still owe on {today}, by days past their due date.",
            categories=BUCKETS,
            series=[("Balance due", [aging[b] for b in BUCKETS])],
            unit=cur,
        ),
        summary=[(b, f"{aging[b]:,.2f} {cur}") for b in BUCKETS],
        note=f"Aging as of {today}: days past the due date of finalized invoices not yet paid in full.",
    )


COMMERCE_REPORTS = {
    "subscriptions": subscriptions_report,
    "quotes": quotes_report,
    "invoices": invoices_report,
}
