"""Actuals: the KPI cards of a customer, read from the daily spend rollup (billing.DailySpend), so the
profile costs one small aggregate whatever the volume of raw usage behind it."""

import calendar
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from django.db.models import Count, F, OuterRef, Q, Subquery, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone

from billing.models import DailySpend
from customer360.money import quantize


@dataclass
class Kpi:
    label: str
    value: Decimal | int
    currency: str = ""
    previous: Decimal | int | None = None
    period: str = ""
    # A balance (available credit) trends by its change in money, not a percentage: it may cross zero.
    absolute: bool = False

    @property
    def delta(self):
        """The change of a count (subscriptions, licenses, quotes) or a balance since the previous period."""
        if self.previous is None or (self.currency and not self.absolute):
            return None
        return self.value - self.previous

    @property
    def trend_pct(self):
        if self.currency == "" or self.absolute or self.previous in (None, 0):
            return None
        change = (Decimal(self.value) - Decimal(self.previous)) * 100 / Decimal(self.previous)
        return quantize(change, exp=Decimal("0.1"))


def _month_start(d: date) -> date:
    return d.replace(day=1)


def _prev_month_start(d: date) -> date:
    return _month_start(_month_start(d) - timedelta(days=1))


def _subscription_figures(customer, then: date) -> dict:
    """Active subscriptions and total licenses now and at the end of `then`, in one query. A subscription
    counted then had started by then and had not been cancelled or expired by then; its license count then
    is the quantity before its first license change after that day (LicenseCharge keeps both sides)."""
    from marketplace.models import LicenseCharge, StatusChange, Subscription

    S = Subscription.Status
    ended = (
        StatusChange.objects.filter(subscription=OuterRef("pk"), after__in=[S.CANCELLED, S.EXPIRED])
        .order_by("created_at")
        .values("created_at__date")[:1]
    )
    quantity_then = (
        LicenseCharge.objects.filter(subscription=OuterRef("pk"), effective_on__gt=then)
        .order_by("effective_on", "created_at")
        .values("quantity_before")[:1]
    )
    live_then = Q(start_date__lte=then) & (Q(ended_on__isnull=True) | Q(ended_on__gt=then))
    license = Q(product_type="license")
    return (
        Subscription.objects.filter(customer=customer, status__in=[S.ACTIVE, S.CANCELLED, S.EXPIRED])
        .annotate(ended_on=Subquery(ended), quantity_then=Coalesce(Subquery(quantity_then), F("quantity")))
        .aggregate(
            subscriptions_then=Count("pk", filter=live_then),
            licenses_now=Sum("quantity", filter=license & Q(status=S.ACTIVE), default=0),
            licenses_then=Sum("quantity_then", filter=license & live_then, default=0),
        )
    )


def _open_quotes(customer, then: date) -> dict:
    """Open quotes (drafts and sent ones awaiting an answer) now and at the end of `then`: a quote was open
    then if it existed, had not been answered by then and was still valid then."""
    from quotes.models import OPEN_QUOTE_STATUSES, Quote

    open_then = (
        Q(created_at__date__lte=then)
        & (Q(responded_at__isnull=True) | Q(responded_at__date__gt=then))
        & (Q(valid_until__isnull=True) | Q(valid_until__gte=then))
    )
    return Quote.objects.filter(customer=customer).aggregate(
        quotes_now=Count("pk", filter=Q(status__in=OPEN_QUOTE_STATUSES)),
        quotes_then=Count("pk", filter=open_then),
    )


def customer_actuals(customer, today: date | None = None, position=None) -> list[Kpi]:
    """`position`: the customer's billing.account_position.PaymentPosition (computed here when not given)."""
    today = today or timezone.localdate()
    this_start = _month_start(today)
    last_start = _prev_month_start(today)
    before_start = _prev_month_start(last_start)
    # Same number of days into last month, for a like-for-like month-to-date trend.
    last_same_day = min(today.day, calendar.monthrange(last_start.year, last_start.month)[1])
    last_to_date = last_start.replace(day=last_same_day)

    def total(lo, hi):
        return Sum("price", filter=Q(day__gte=lo, day__lte=hi), default=Decimal("0"))

    sums = DailySpend.objects.filter(
        customer=customer, currency=customer.currency, day__gte=before_start
    ).aggregate(
        mtd=total(this_start, today),
        last_mtd=total(last_start, last_to_date),
        last_month=total(last_start, this_start - timedelta(days=1)),
        month_before=total(before_start, last_start - timedelta(days=1)),
    )
    days_in_month = calendar.monthrange(today.year, today.month)[1]
    forecast = sums["mtd"] * days_in_month / today.day
    cur = customer.currency

    def q(amount):
        return quantize(amount, cur)

    month_end = this_start - timedelta(days=1)
    subs = _subscription_figures(customer, month_end)
    quotes = _open_quotes(customer, month_end)
    if position is None:
        from billing.account_position import payment_position

        position = payment_position(customer, today, month_end)

    return [
        Kpi("Month-to-date spend", q(sums["mtd"]), cur, q(sums["last_mtd"]), "vs same days last month"),
        Kpi("Last month", q(sums["last_month"]), cur, q(sums["month_before"]), "vs the month before"),
        Kpi("Forecast for the month", q(forecast), cur, q(sums["last_month"]), "vs last month"),
        Kpi(
            "Active subscriptions",
            customer.active_subscription_count,
            "",
            subs["subscriptions_then"],
            "vs the end of last month",
        ),
        Kpi("Total licenses", subs["licenses_now"], "", subs["licenses_then"], "vs the end of last month"),
        Kpi("Open quotes", quotes["quotes_now"], "", quotes["quotes_then"], "vs the end of last month"),
        Kpi("Cloud accounts", customer.cloud_account_count),
        Kpi(
            "Available credit",
            position.available_credit(customer.credit_limit).amount,
            cur,
            position.available_credit_then(customer.credit_limit).amount,
            "vs the end of last month",
            absolute=True,
        ),
    ]
