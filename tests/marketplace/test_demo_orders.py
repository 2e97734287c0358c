"""seed_orders: demo orders through the real services, after the demo catalog; deterministic per seed."""

import pytest

from accounts.models import Role
from customer360.tenancy import tenant_scope
from customers.models import Customer
from marketplace.demo_catalog import seed_catalog
from marketplace.demo_orders import seed_bulk_subscriptions, seed_orders
from marketplace.models import Order, OrderLine, Subscription

from ..factories import CustomerFactory, ResellerFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_seed_orders_places_priced_orders_and_keeps_the_counts_right(settings):
    reseller = ResellerFactory(slug="north", default_currency="USD")
    UserFactory(reseller=reseller, role=Role.SALES)
    for _ in range(3):
        CustomerFactory(reseller=reseller)
    seed_catalog(42)
    totals = seed_orders(42, customers_per_reseller=3)
    assert totals["orders"] >= 1 and totals["subscriptions"] >= totals["orders"]
    with tenant_scope(reseller):
        assert Order.objects.count() == totals["orders"]
        assert not Subscription.objects.filter(status="pending").exists()
        for customer in Customer.objects.all():
            active = Subscription.objects.filter(customer=customer, status="active").count()
            assert customer.active_subscription_count == active
        assert all(line.pricing_explanation for line in OrderLine.objects.all())
        customer = Customer.objects.order_by("name").first()
        assert seed_bulk_subscriptions(customer, 120, per_order=50) == 120
        customer.refresh_from_db()
        assert (
            customer.active_subscription_count
            == Subscription.objects.filter(customer=customer, status="active").count()
        )
