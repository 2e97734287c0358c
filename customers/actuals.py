"""Actuals: the KPI cards of a customer, read from the daily spend rollup (billing.DailySpend), so the
profile costs one small aggregate whatever the volume of raw usage behind it."""

import calendar
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from django.db.models import Q, Sum
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

    @property
    def trend_pct(self):
        if self.previous in (None, 0):
            return None
        change = (Decimal(self.value) - Decimal(self.previous)) * 100 / Decimal(self.previous)
        return quantize(change, exp=Decimal("0.1"))


def _month_start(d: date) -> date:
    return d.replace(day=1)


def _prev_month_start(d: date) -> date:
    return _month_start(_month_start(d) - timedelta(days=1))


def _active_licenses(customer) -> int:
    from marketplace.models import Subscription

    return Subscription.objects.filter(customer=customer, status="active", product_type="license").aggregate(
        n=Sum("quantity", default=0)
    )["n"]


def customer_actuals(customer, today: date | None = None) -> list[Kpi]:
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

    return [
        Kpi("Month-to-date spend", q(sums["mtd"]), cur, q(sums["last_mtd"]), "vs same days last month"),
        Kpi("Last month", q(sums["last_month"]), cur, q(sums["month_before"]), "vs the month before"),
        Kpi("Forecast for the month", q(forecast), cur, q(sums["last_month"]), "vs last month"),
        Kpi("Active subscriptions", customer.active_subscription_count),
        Kpi("Total licenses", _active_licenses(customer)),
        Kpi("Cloud accounts", customer.cloud_account_count),
        Kpi("Available credit", q(customer.credit_limit), cur, None, "credit limit less balance due"),
    ]
