"""Managing subscriptions: license counts and proration records, assignment rules, add-ons, auto-renew,
cancel, and two users changing the same subscription at once."""

import threading
from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import connection

from customers.models import ActivityLog, Customer
from marketplace.models import LicenseAssignment, LicenseCharge, Order, Subscription
from marketplace.services_subscriptions import (
    do_assign_license,
    do_buy_addon,
    do_cancel_subscription,
    do_change_license_count,
    do_set_auto_renew,
    do_unassign_license,
)
from marketplace.tasks import provision_order

from ..factories import ResellerFactory
from .factories_orders import Shop, place_order

pytestmark = pytest.mark.django_db


def active_sub(shop, plan, quantity):
    order = place_order(shop, (plan, quantity))
    provision_order(str(order.pk))
    with shop.scope():
        return Subscription.objects.get(order=order)


def test_an_increase_takes_effect_now_with_a_prorated_charge(shop):
    sub = active_sub(shop, shop.monthly, 5)  # 11.00 cost + 20% = 13.20 a license per month
    today = sub.renewal_date - timedelta(days=10)
    with shop.scope():
        charge = do_change_license_count(shop.user, sub, 8, seen_quantity=5, today=today)
        sub.refresh_from_db()
        assert sub.quantity == 8
        period = (sub.renewal_date - sub.start_date).days
        assert charge.kind == LicenseCharge.Kind.PRORATION and charge.days_charged == 10
        assert charge.period_days == period and charge.unit_price == Decimal("13.20")
        assert charge.amount == (Decimal("13.20") * 3 * 10 / period).quantize(Decimal("0.01"))
        log = ActivityLog.objects.filter(action="subscription.licenses").get()
        assert log.changes["quantity"] == [5, 8]


def test_an_annual_decrease_waits_for_renewal_and_never_goes_below_assignments(shop):
    sub = active_sub(shop, shop.annual, 5)
    with shop.scope():
        for n in range(3):
            do_assign_license(shop.user, sub, f"user{n}@initech.example")
        with pytest.raises(ValidationError, match="3 licenses are assigned"):
            do_change_license_count(shop.user, sub, 2, seen_quantity=5)
        charge = do_change_license_count(shop.user, sub, 3, seen_quantity=5)
        sub.refresh_from_db()
        assert sub.quantity == 5 and sub.scheduled_quantity == 3
        assert (
            charge.kind == LicenseCharge.Kind.SCHEDULED_DECREASE and charge.effective_on == sub.renewal_date
        )


def test_a_monthly_decrease_takes_effect_now(shop):
    sub = active_sub(shop, shop.monthly, 5)
    with shop.scope():
        do_change_license_count(shop.user, sub, 2, seen_quantity=5)
        sub.refresh_from_db()
        assert sub.quantity == 2 and sub.scheduled_quantity is None


def test_assignment_rules(shop):
    sub = active_sub(shop, shop.annual, 2)
    with shop.scope():
        with pytest.raises(ValidationError, match="not a valid email"):
            do_assign_license(shop.user, sub, "not-an-email")
        do_assign_license(shop.user, sub, "ann@initech.example")
        with pytest.raises(ValidationError, match="already has a license"):
            do_assign_license(shop.user, sub, "ANN@initech.example")
        bob = do_assign_license(shop.user, sub, "bob@initech.example")
        with pytest.raises(ValidationError, match="All 2 licenses are assigned"):
            do_assign_license(shop.user, sub, "cid@initech.example")
        do_unassign_license(shop.user, sub, bob.pk)
        do_assign_license(shop.user, sub, "cid@initech.example")
        assert sorted(LicenseAssignment.objects.values_list("email", flat=True)) == [
            "ann@initech.example",
            "cid@initech.example",
        ]


def test_addon_auto_renew_and_cancel(shop):
    sub = active_sub(shop, shop.annual, 2)
    with shop.scope():
        order = do_buy_addon(shop.user, sub, shop.addon.pk, 2)
        assert order.total == Decimal("4.80") and order.lines.get().sku == "BST-ARCHIVE"
        assert sub.addons.get().unit_price == Decimal("2.40")
        do_set_auto_renew(shop.user, sub, False)
        sub.refresh_from_db()
        assert sub.auto_renew is False
        assert Customer.objects.get(pk=shop.customer.pk).active_subscription_count == 1
        do_cancel_subscription(shop.user, sub)
        assert Customer.objects.get(pk=shop.customer.pk).active_subscription_count == 0
        with pytest.raises(ValidationError, match="Only active"):
            do_change_license_count(shop.user, sub, 5, seen_quantity=2)
        assert list(Subscription.objects.get(pk=sub.pk).history.values_list("after", flat=True)) == [
            "pending",
            "active",
            "cancelled",
        ]
        assert Order.objects.count() == 2


@pytest.mark.django_db(transaction=True)
def test_two_users_changing_the_same_subscription_lose_no_update(settings):
    settings.C360_SIMULATED_PROVIDER_DELAY = 0
    settings.C360_SIMULATED_FAILURE_RATE = 0
    shop = Shop(ResellerFactory(slug="race"))
    sub = active_sub(shop, shop.annual, 5)
    barrier, outcomes = threading.Barrier(2), []

    def change(to):
        try:
            with shop.scope():
                barrier.wait()
                do_change_license_count(shop.user, sub, to, seen_quantity=5, today=date.today())
                outcomes.append(("ok", to))
        except ValidationError as exc:
            outcomes.append(("refused", " ".join(exc.messages)))
        finally:
            connection.close()

    def assign(email):
        try:
            with shop.scope():
                barrier.wait()
                do_assign_license(shop.user, sub, email)
                outcomes.append(("ok", email))
        except ValidationError as exc:
            outcomes.append(("refused", " ".join(exc.messages)))
        finally:
            connection.close()

    threads = [threading.Thread(target=change, args=(n,)) for n in (8, 9)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(o[0] for o in outcomes) == ["ok", "refused"]
    winner = next(v for k, v in outcomes if k == "ok")
    assert "changed the license count" in next(v for k, v in outcomes if k == "refused")
    with shop.scope():
        assert Subscription.objects.get(pk=sub.pk).quantity == winner
        assert LicenseCharge.objects.filter(subscription=sub).count() == 1
        for n in range(winner - 1):
            do_assign_license(shop.user, sub, f"user{n}@initech.example")
    # One license left, two users assign it at the same moment: exactly one gets it.
    outcomes.clear()
    barrier = threading.Barrier(2)
    threads = [threading.Thread(target=assign, args=(e,)) for e in ("x@initech.example", "y@initech.example")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(o[0] for o in outcomes) == ["ok", "refused"]
    with shop.scope():
        assert LicenseAssignment.objects.filter(subscription=sub).count() == winner


def test_renewal_applies_the_scheduled_decrease_and_expiry_without_auto_renew(shop):
    from marketplace.tasks import renew_subscriptions

    renewing = active_sub(shop, shop.annual, 5)
    ending = active_sub(shop, shop.monthly, 2)
    with shop.scope():
        do_change_license_count(shop.user, renewing, 3, seen_quantity=5)
        do_set_auto_renew(shop.user, ending, False)
        due = max(renewing.renewal_date, ending.renewal_date)
    assert renew_subscriptions(due.isoformat()) == 2
    assert renew_subscriptions(due.isoformat()) == 0  # safe to run twice
    with shop.scope():
        renewing.refresh_from_db()
        ending.refresh_from_db()
        assert renewing.quantity == 3 and renewing.scheduled_quantity is None and renewing.renewal_date > due
        assert ending.status == "expired"
        assert Customer.objects.get(pk=shop.customer.pk).active_subscription_count == 1
