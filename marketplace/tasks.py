"""Provisioning: the simulated provider side of an order (a real integration would call the provider's API).

Each pending subscription of the order becomes active after a small delay, or fails with the configured
probability (settings.C360_SIMULATED_FAILURE_RATE, for demos). Safe to run twice: only pending
subscriptions move, and the order settles once."""

import random
import time

from celery import shared_task
from django.conf import settings

from customer360.tenancy import each_reseller_scope, reseller_of, tenant_scope

from .models import Order, Subscription


def simulated_provider_accepts(sub: Subscription) -> tuple[bool, str]:
    rate = float(getattr(settings, "C360_SIMULATED_FAILURE_RATE", 0.0))
    if rate and random.random() < rate:
        return False, f"{sub.provider.name} refused the request (simulated provider failure)"
    return True, ""


@shared_task(time_limit=300, soft_time_limit=280)
def provision_order(order_id: str) -> None:
    from .services_orders import do_settle_order, do_transition

    reseller_id = reseller_of(Order, order_id)
    if reseller_id is None:
        return
    delay = float(getattr(settings, "C360_SIMULATED_PROVIDER_DELAY", 2.0))
    with tenant_scope(reseller_id):
        order = Order.objects.get(pk=order_id)
        pending = order.subscriptions.filter(status=Subscription.Status.PENDING).select_related("provider")
        for sub in pending:
            time.sleep(min(delay, 5.0))
            accepted, reason = simulated_provider_accepts(sub)
            if accepted:
                do_transition(sub, Subscription.Status.ACTIVE, note="provisioned by the provider")
            else:
                do_transition(sub, Subscription.Status.FAILED, note=reason)
        do_settle_order(order)


@shared_task(time_limit=1800, soft_time_limit=1700)
def renew_subscriptions(today: str | None = None) -> int:
    """Daily: renew (applying scheduled decreases) or expire every subscription at its renewal date.
    Safe to run twice: a renewed subscription's renewal date has moved on, an expired one is no longer active."""
    import datetime

    from django.utils import timezone

    from .services_subscriptions import do_renew_or_expire, due_renewals

    day = datetime.date.fromisoformat(today) if today else timezone.localdate()
    done = 0
    for _ in each_reseller_scope():
        for sub in due_renewals(day).iterator():
            done += bool(do_renew_or_expire(sub, day))
    return done
