"""Credit threshold alerts for SaaS-based orders (General > Customer Information).

When a customer's SaaS spend this month reaches its threshold, one alert is raised and the admin contact
is emailed; nothing more until the spend falls back under the threshold (a new month, a higher threshold)
and crosses it again. Called whenever SaaS spend or the threshold changes, and daily by a beat task.
"""

from datetime import date
from decimal import Decimal

from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from billing.models import DailySpend
from customer360.money import Money

from .activity import record_activity
from .models import Alert, Customer
from .services import do_raise_alert


def saas_spend_this_month(customer: Customer, today: date) -> Decimal:
    return DailySpend.objects.filter(
        customer=customer,
        is_saas=True,
        currency=customer.currency,
        day__gte=today.replace(day=1),
        day__lte=today,
    ).aggregate(total=Sum("price", default=Decimal("0")))["total"]


@transaction.atomic
def do_check_credit_threshold(customer: Customer, *, today: date | None = None, actor=None) -> Alert | None:
    """Raise the alert on a crossing (returns it), re-arm after a fall back under; else change nothing."""
    from .tasks import email_credit_threshold_alert

    today = today or timezone.localdate()
    customer = Customer.objects.select_for_update().get(pk=customer.pk)
    threshold = customer.saas_credit_threshold
    spend = saas_spend_this_month(customer, today)
    over = threshold is not None and spend >= threshold
    if over and not customer.saas_threshold_alerted:
        customer.saas_threshold_alerted = True
        customer.save(update_fields=["saas_threshold_alerted"])
        spent, limit = Money(spend, customer.currency), Money(threshold, customer.currency)
        alert = do_raise_alert(
            customer,
            kind=Alert.Kind.CREDIT_THRESHOLD,
            severity=Alert.Severity.WARNING,
            title=f"SaaS spend {spent} reached the credit threshold of {limit}",
            message=f"SaaS spend for {today:%B %Y} is {spent}; the threshold set for {customer.name} is {limit}.",
            actor=actor,
        )
        email_credit_threshold_alert.delay_on_commit(str(alert.pk))
        return alert
    if not over and customer.saas_threshold_alerted:
        customer.saas_threshold_alerted = False
        customer.save(update_fields=["saas_threshold_alerted"])
        record_activity(
            actor,
            "credit_threshold.rearmed",
            "SaaS spend is under the credit threshold again; the next crossing will raise an alert",
            obj=customer,
            customer=customer,
            changes={"saas_threshold_alerted": [True, False]},
        )
    return None
