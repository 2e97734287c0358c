from datetime import date
from decimal import Decimal

import pytest
from django.urls import reverse

from billing.models import DailySpend
from customer360.tenancy import tenant_scope
from customers.actuals import customer_actuals

from ..factories import CustomerFactory

pytestmark = pytest.mark.django_db


def spend(customer, day, price, provider="aws", currency="USD"):
    with tenant_scope(customer.reseller):
        DailySpend.objects.create(
            customer=customer,
            day=day,
            provider=provider,
            currency=currency,
            price=Decimal(price),
            cost=Decimal(price) * Decimal("0.8"),
        )


def test_kpis_come_from_the_daily_rollup_with_trends(reseller):
    c = CustomerFactory(reseller=reseller, currency="USD", credit_limit=Decimal("2500"))
    spend(c, date(2026, 11, 3), "100.00")
    spend(c, date(2026, 11, 10), "50.00", provider="gcp")
    spend(c, date(2026, 10, 5), "80.00")  # within the same days last month
    spend(c, date(2026, 10, 20), "120.00")  # later in last month
    spend(c, date(2026, 9, 15), "400.00")  # the month before
    spend(c, date(2026, 11, 4), "999.00", currency="EUR")  # another currency is not mixed in
    with tenant_scope(reseller):
        kpis = {k.label: k for k in customer_actuals(c, today=date(2026, 11, 15))}
    assert kpis["Month-to-date spend"].value == Decimal("150.00")
    assert kpis["Month-to-date spend"].trend_pct == Decimal("87.5")  # 150 vs 80
    assert kpis["Last month"].value == Decimal("200.00")
    assert kpis["Last month"].trend_pct == Decimal("-50.0")  # 200 vs 400
    assert kpis["Forecast for the month"].value == Decimal("300.00")  # 150 / 15 days * 30
    assert kpis["Available credit"].value == Decimal("2500.00")
    assert kpis["Total licenses"].value == 0


def test_profile_shows_the_actuals(owner_client, reseller):
    c = CustomerFactory(reseller=reseller)
    r = owner_client.get(reverse("customers:detail", args=[c.pk]))
    assert b"Month-to-date spend" in r.content and b"Forecast for the month" in r.content


def test_total_licenses_counts_active_license_subscriptions(reseller):
    from marketplace.models import Subscription

    from ..marketplace.factories_orders import Shop, place_order

    shop = Shop(reseller)
    place_order(shop, (shop.annual, 7), (shop.monthly, 3))
    with shop.scope():
        Subscription.objects.filter(customer=shop.customer).update(status="active")
        kpis = {k.label: k for k in customer_actuals(shop.customer, today=date(2026, 11, 15))}
    assert kpis["Total licenses"].value == 10


def test_subscription_license_and_quote_cards_trend_against_the_end_of_last_month(reseller):
    """Two subscriptions started last month and one this month; one of last month's was cancelled this
    month and the other grew from 7 to 9 licenses this month; one quote was open then, two are now."""
    import datetime

    from django.utils import timezone

    from marketplace.models import LicenseCharge, StatusChange, Subscription
    from quotes.models import Quote

    from ..marketplace.factories_orders import Shop, place_order

    shop = Shop(reseller)
    place_order(shop, (shop.annual, 7), (shop.monthly, 3))
    place_order(shop, (shop.monthly, 5))
    with shop.scope():
        annual, monthly_old, monthly_new = (
            Subscription.objects.get(customer=shop.customer, quantity=n) for n in (7, 3, 5)
        )
        Subscription.objects.filter(pk__in=[annual.pk, monthly_old.pk]).update(
            status="active", start_date=datetime.date(2026, 10, 10)
        )
        Subscription.objects.filter(pk=monthly_new.pk).update(
            status="active", start_date=datetime.date(2026, 11, 3)
        )
        Subscription.objects.filter(pk=monthly_old.pk).update(status="cancelled")
        StatusChange.objects.filter(subscription=monthly_old).update(
            created_at=timezone.make_aware(datetime.datetime(2026, 10, 10, 9))
        )
        change = StatusChange.objects.create(subscription=monthly_old, before="active", after="cancelled")
        StatusChange.objects.filter(pk=change.pk).update(
            created_at=timezone.make_aware(datetime.datetime(2026, 11, 5, 9))
        )
        LicenseCharge.objects.create(
            subscription=annual, kind=LicenseCharge.Kind.PRORATION, quantity_before=7, quantity_after=9,
            effective_on=datetime.date(2026, 11, 8), currency="USD", unit_price=Decimal("12"), amount=Decimal("1"),
        )  # fmt: skip
        Subscription.objects.filter(pk=annual.pk).update(quantity=9)
        shop.customer.active_subscription_count = 2
        old = Quote.objects.create(number="Q-2026-00001", customer=shop.customer, category=shop.m365, currency="USD",
                                   status=Quote.Status.SENT)  # fmt: skip
        Quote.objects.filter(pk=old.pk).update(
            created_at=timezone.make_aware(datetime.datetime(2026, 10, 20))
        )
        for n in (2, 3):
            Quote.objects.create(
                number=f"Q-2026-0000{n}", customer=shop.customer, category=shop.m365, currency="USD"
            )
        Quote.objects.filter(pk=old.pk).update(status=Quote.Status.ACCEPTED,
                                               responded_at=timezone.make_aware(datetime.datetime(2026, 11, 2)))  # fmt: skip
        kpis = {k.label: k for k in customer_actuals(shop.customer, today=datetime.date(2026, 11, 15))}
    subs, licenses, quotes = kpis["Active subscriptions"], kpis["Total licenses"], kpis["Open quotes"]
    assert (subs.value, subs.previous, subs.delta) == (2, 2, 0)  # one ended, one started
    assert (licenses.value, licenses.previous, licenses.delta) == (14, 10, 4)  # 9 + 5 now; 7 + 3 then
    assert (quotes.value, quotes.previous, quotes.delta) == (2, 1, 1)
