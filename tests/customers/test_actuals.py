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
