"""Billing periods: calendar months, open until the invoice run closes them.

A pricebook change (a rule, a pricebook's dates, a pricebook assignment) takes effect on the first day
of the first month that is (a) not before today's month and (b) not closed. So while this month is
open, a change reprices it from its first day (nothing of it has been invoiced yet); once the invoice
run has closed it, the change waits for the next month. Closed months are never repriced.

The invoice run (a later issue) closes a month with `close_period()`; until it exists every month is
open, and a BillingPeriod row exists only for months that have been closed.
"""

from datetime import date, timedelta

from django.utils import timezone

from .models import BillingPeriod


def month_start(day: date) -> date:
    return day.replace(day=1)


def next_month(month: date) -> date:
    return (month.replace(day=28) + timedelta(days=4)).replace(day=1)


def first_open_month(reseller_id, today: date | None = None) -> date:
    """The first day from which a pricebook change of this reseller may take effect."""
    month = month_start(today or timezone.localdate())
    closed = set(
        BillingPeriod.objects.filter(
            reseller_id=reseller_id, month__gte=month, closed_at__isnull=False
        ).values_list("month", flat=True)
    )
    while month in closed:
        month = next_month(month)
    return month


def is_closed(reseller_id, day: date) -> bool:
    return BillingPeriod.objects.filter(
        reseller_id=reseller_id, month=month_start(day), closed_at__isnull=False
    ).exists()


def close_period(reseller_id, month: date, *, closed_by: str = "invoice run") -> BillingPeriod:
    """Mark the month invoiced: no later pricebook change reprices it."""
    period, _ = BillingPeriod.objects.get_or_create(reseller_id=reseller_id, month=month_start(month))
    if period.closed_at is None:
        period.closed_at = timezone.now()
        period.closed_by = closed_by
        period.save(update_fields=["closed_at", "closed_by"])
    return period
