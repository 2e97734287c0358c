"""The reseller dashboard: KPI cards and reseller-wide reports over the customers its filters select.

Cards: monthly recurring revenue, month-to-date spend and margin, active customers, subscriptions
expiring in the next 30 days, open quotes and their value, overdue invoices; each links to the list
behind it with the same filters. The spend parts (month-to-date, top customers, margin by provider,
growth) read the monthly spend rollup (reports.SpendMonth, reports.rollup): its build from the current
data, or, for the seconds its rebuild after an import takes, its previous build (said on the page); the
daily one (billing.DailySpend) only before it was ever built. The month-to-date figures come from one
query. They are also cached per filters, day and data version (reports.cache): they only change with
an import or an invoice run.
"""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from django.core.cache import cache as django_cache
from django.db import connection
from django.db.models import Count, F, OuterRef, Q, Subquery, Sum
from django.urls import reverse
from django.utils import timezone

from billing.models_invoices import Invoice, InvoiceStatus
from customer360.tenancy import current_reseller_id
from customers.models import Customer
from quotes.models import OPEN_QUOTE_STATUSES, Quote, QuoteRevision

from . import cache, rollup
from .data import ReportData, money
from .forms import default_start
from .models import SpendMonth
from .queries_commerce import monthly_value
from .queries_reseller import _subscriptions, growth, margin_by_provider, top_customers

ZERO = Decimal("0")
CACHE_SECONDS = 24 * 3600


@dataclass
class Card:
    key: str
    label: str
    lines: list[str]
    href: str
    note: str = ""
    extra: list[str] = field(default_factory=list)


def _by_currency(pairs) -> list[str]:
    """["1,234.00 USD", ...] from (amount, currency) pairs, the largest first; ["0.00"] for none."""
    totals: dict = defaultdict(lambda: ZERO)
    for amount, currency in pairs:
        totals[currency] += amount or ZERO
    if not totals:
        return ["0.00"]
    return [f"{money(v, c):,.2f} {c}" for c, v in sorted(totals.items(), key=lambda kv: -kv[1])]


def _link(name: str, query: str, extra: str = "") -> str:
    q = "&".join(p for p in (extra, query) if p)
    return reverse(name) + (f"?{q}" if q else "")


def spend_parts(customers, provider, currency, today: date, key: str) -> dict:
    """The spend-derived figures, cached until the data version (or the day) changes.

    They are read from the monthly rollup; while it is being rebuilt after an import (seconds: the
    import's commit queues the rebuild) from its previous build, with `spend_as_of` telling when that
    was; from the daily rollup only before it was ever built."""
    version = cache.data_version()
    cache_key = f"reports:dash:{current_reseller_id()}:{key}:{today}:{version}"
    found = django_cache.get(cache_key)
    if found is not None:
        return {
            k: ReportData.from_json(v) if isinstance(v, dict) and "slug" in v else v for k, v in found.items()
        }
    state = rollup.state()
    monthly = state is not None
    fresh = monthly and state.data_version == version
    if not fresh:
        queue_rebuild(version)
    month_start = today.replace(day=1)
    mtd, top, per_provider = _month_to_date(customers, provider, currency, month_start, today, monthly)
    args = (customers, provider, currency, month_start, today)
    parts = {
        "mtd": mtd,
        "top_spend": top_customers(*args, by="spend", grouped=top["spend"]),
        "top_margin": top_customers(*args, by="margin", grouped=top["margin"]),
        "margin_by_provider": margin_by_provider(*args, grouped=per_provider),
        "growth": growth(customers, provider, currency, default_start(today), today, monthly=monthly),
        "spend_as_of": None if fresh or not monthly else state.built_at,
    }
    if fresh or not monthly:  # a previous build's figures are not this version's: never cached as them
        django_cache.set(
            cache_key,
            {k: v.to_json() if isinstance(v, ReportData) else v for k, v in parts.items()},
            CACHE_SECONDS,
        )
    return parts


def queue_rebuild(version: str) -> None:
    """Queue the rebuild of the monthly rollup from the current data, once per data version."""
    reseller = current_reseller_id()
    if django_cache.add(f"reports:refresh:{reseller}:{version}", 1, 600):
        from .tasks import refresh_spend_months

        refresh_spend_months.delay_on_commit(str(reseller))


def _month_to_date(customers, provider, currency, start, end, monthly=False, limit=10):
    """One statement for every month-to-date figure, summed in the database: the totals per currency
    (the card) and, in `currency`, the sums per provider and the `limit` customers with the highest spend
    and the highest margin; a few dozen rows back whatever the number of customers."""
    from billing.models import DailySpend

    if monthly:
        qs = SpendMonth.objects.filter(month=start)
    else:
        qs = DailySpend.objects.filter(day__gte=start, day__lte=end)
    if customers is not None:
        qs = qs.filter(customer_id__in=customers)
    if provider:
        qs = qs.filter(provider=provider)
    sql, params = (
        qs.values("customer_id", "provider", "currency", "price", "cost").order_by().sql_with_params()
    )
    # The filtered rows are read once (spendmonth_reseller_month: index-only for the month's rows), then
    # summed per currency, per provider and per customer from memory.
    statement = f"""
        WITH b AS MATERIALIZED ({sql}),
        mine AS MATERIALIZED (
            SELECT customer_id, sum(price) AS p, sum(cost) AS c FROM b WHERE currency = %s GROUP BY customer_id
        )
        SELECT 'currency', currency, NULL::uuid, sum(price), sum(cost) FROM b GROUP BY currency
        UNION ALL SELECT 'provider', provider, NULL, sum(price), sum(cost) FROM b WHERE currency = %s GROUP BY provider
        UNION ALL (SELECT 'spend', NULL, customer_id, p, c FROM mine ORDER BY p DESC, customer_id LIMIT %s)
        UNION ALL (SELECT 'margin', NULL, customer_id, p, c FROM mine ORDER BY p - c DESC, customer_id LIMIT %s)
    """
    with connection.cursor() as cursor:
        cursor.execute(statement, [*params, currency, currency, limit, limit])
        rows = cursor.fetchall()
    mtd, top, per_provider = [], {"spend": [], "margin": []}, []
    for kind, key, customer_id, p, c in rows:
        p, c = p or ZERO, c or ZERO
        if kind == "currency":
            mtd.append([key, str(p), str(c)])
        elif kind == "provider":
            per_provider.append({"provider": key, "price": p, "cost": c})
        else:
            top[kind].append({"customer_id": customer_id, "p": p, "c": c})
    return mtd, top, per_provider


def cards(customers, provider, query: str, parts: dict, today: date) -> list[Card]:
    out = []
    # Monthly recurring revenue: active subscriptions (annual billing over 12 months).
    mrr = (
        _subscriptions(customers, provider)
        .values("currency", "billing_frequency")
        .annotate(amount=Sum(F("unit_price") * F("quantity")))
        .order_by()
    )
    out.append(
        Card(
            "mrr",
            "Monthly recurring revenue",
            _by_currency((monthly_value(r["amount"], 1, r["billing_frequency"]), r["currency"]) for r in mrr),
            _link("reports:mrr", query),
            "active subscriptions",
        )  # fmt: skip
    )
    mtd = parts["mtd"]
    out.append(
        Card(
            "mtd",
            "Month-to-date spend",
            _by_currency((Decimal(p), c) for c, p, _ in mtd),
            _link("reports:top-customers", query),
            f"since {today.replace(day=1):%b} 1",
            extra=["Margin " + m for m in _by_currency((Decimal(p) - Decimal(k), c) for c, p, k in mtd)],
        )  # fmt: skip
    )
    active = Customer.objects.filter(status=Customer.Status.ACTIVE)
    if customers is not None:
        active = active.filter(pk__in=customers)
    out.append(
        Card(
            "customers",
            "Active customers",
            [f"{active.count():,}"],
            _link("customers:list", query, "status=active"),
        )  # fmt: skip
    )
    expiring = (
        _subscriptions(customers, provider)
        .filter(renewal_date__gte=today, renewal_date__lte=today + timedelta(days=30))
        .aggregate(n=Count("pk"), ending=Count("pk", filter=Q(auto_renew=False)))
    )
    out.append(
        Card(
            "expiring",
            "Subscriptions expiring in 30 days",
            [f"{expiring['n']:,}"],
            _link("reports:expiring-subscriptions", query),
            f"{expiring['ending']:,} not set to auto-renew",
        )  # fmt: skip
    )
    latest = QuoteRevision.objects.filter(quote=OuterRef("pk")).order_by("-number")
    quotes = Quote.objects.filter(status__in=OPEN_QUOTE_STATUSES)
    if customers is not None:
        quotes = quotes.filter(customer_id__in=customers)
    if provider:
        quotes = quotes.filter(category__code=provider)
    open_quotes = list(
        quotes.annotate(
            v=Subquery(latest.values("total")[:1]), vc=Subquery(latest.values("currency")[:1])
        ).values_list("v", "vc", "currency")
    )
    out.append(
        Card(
            "quotes",
            "Open quotes",
            [f"{len(open_quotes):,}"],
            _link("quotes:list", ""),
            "drafts and sent quotes awaiting an answer",
            extra=[
                "Value " + v for v in _by_currency((v, vc or c) for v, vc, c in open_quotes if v is not None)
            ],
        )  # fmt: skip
    )
    overdue = Invoice.objects.filter(status=InvoiceStatus.OPEN, due_date__lt=today)
    if customers is not None:
        overdue = overdue.filter(customer_id__in=customers)
    rows = list(
        overdue.values("currency").annotate(n=Count("pk"), due=Sum(F("total") - F("amount_paid"))).order_by()
    )
    out.append(
        Card(
            "overdue",
            "Overdue invoices",
            [f"{sum(r['n'] for r in rows):,}"],
            _link("reports:overdue-invoices", query),
            "finalized, past their due date",
            extra=["Due " + v for v in _by_currency((r["due"], r["currency"]) for r in rows)] if rows else [],
        )  # fmt: skip
    )
    return out


def dashboard(filterset, currency: str, today: date | None = None) -> dict:
    today = today or timezone.localdate()
    customers = filterset.customers()
    provider = filterset.provider_code
    query = filterset.querystring()
    parts = spend_parts(customers, provider, currency, today, f"{currency}:{query}")
    return {"cards": cards(customers, provider, query, parts, today), **parts}
