"""Cart and checkout services: prices from the pricebook, limits, cloud accounts, credit limit, idempotency,
and provisioning (success, failure and its alert)."""

import threading
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import close_old_connections, connection

from customers.models import Alert, Customer
from marketplace.models import Order, OrderLine, Subscription, SubscriptionAddOn
from marketplace.services_cart import access_cart, cart_count, cart_lines, do_add_to_cart, price_cart
from marketplace.services_orders import PricesChanged, do_checkout, new_checkout_token
from marketplace.tasks import provision_order

from ..factories import ResellerFactory
from .factories_orders import Shop, place_order

pytestmark = pytest.mark.django_db


def _confirm(shop):
    priced = price_cart(shop.customer, cart_lines(access_cart(shop.user, shop.customer)))
    return priced, {str(p.line.pk): str(p.quote.unit_price.amount) for p in priced.lines}


def test_cart_prices_come_from_the_customers_pricebook(shop):
    with shop.scope():
        do_add_to_cart(shop.user, shop.customer, plan_id=shop.annual.pk, quantity=3)
        do_add_to_cart(shop.user, shop.customer, plan_id=shop.annual.pk, addon_id=shop.addon.pk, quantity=3)
        do_add_to_cart(shop.user, shop.customer, plan_id=shop.annual.pk, quantity=2)  # adds to the line
        priced, _ = _confirm(shop)
        assert cart_count(shop.user, shop.customer) == 2
    plan_line, addon_line = priced.lines
    assert plan_line.line.quantity == 5
    assert plan_line.quote.unit_price.amount == Decimal("12.00")  # cost 10.00 + 20% markup
    assert plan_line.quote.amount.amount == Decimal("60.00")
    assert addon_line.quote.unit_price.amount == Decimal("2.40")
    assert str(priced.total) == "67.20 USD"


def test_quantity_limits_and_unauthorized_plans_are_refused(shop):
    from marketplace.services import ProviderNotAuthorized

    from .factories import PlanFactory, ProductFactory, ProviderFactory

    secret = PlanFactory(product=ProductFactory(provider=ProviderFactory(code="gcp")), sku="GCP-X")
    with shop.scope():
        with pytest.raises(ValidationError, match="at most 300"):
            do_add_to_cart(shop.user, shop.customer, plan_id=shop.annual.pk, quantity=301)
        do_add_to_cart(shop.user, shop.customer, plan_id=shop.annual.pk, quantity=300)
        with pytest.raises(ValidationError, match="at most 300"):
            do_add_to_cart(shop.user, shop.customer, plan_id=shop.annual.pk, quantity=1)
        with pytest.raises(ProviderNotAuthorized):
            do_add_to_cart(shop.user, shop.customer, plan_id=secret.pk, quantity=1)
        with pytest.raises(ValidationError, match="Azure"):
            do_add_to_cart(shop.user, shop.customer, plan_id=shop.azure_plan.pk, quantity=1)


def test_checkout_creates_order_lines_and_one_subscription_per_plan(shop):
    order = place_order(shop, (shop.annual, 4), (shop.addon, 4), (shop.azure_plan, 1))
    with shop.scope():
        order = Order.objects.get(pk=order.pk)
        assert order.number.startswith("O-") and order.number.endswith("-00001")
        assert order.total == Decimal("57.60") and order.currency == "USD"
        lines = {line.sku: line for line in OrderLine.objects.filter(order=order)}
        assert lines["BST-ANNUAL"].unit_price == Decimal("12.00") and lines["BST-ANNUAL"].amount == Decimal(
            "48.00"
        )
        subs = Subscription.objects.filter(order=order)
        assert subs.count() == 2 and {s.status for s in subs} == {"pending"}
        annual = subs.get(plan=shop.annual)
        assert annual.renewal_date is not None and annual.history.count() == 1
        assert SubscriptionAddOn.objects.get(subscription=annual).quantity == 4
        assert cart_count(shop.user, shop.customer) == 0
        assert place_order(shop, (shop.monthly, 1)).number.endswith("-00002")


def test_changed_prices_are_shown_for_confirmation_and_nothing_is_saved(shop):
    with shop.scope():
        do_add_to_cart(shop.user, shop.customer, plan_id=shop.annual.pk, quantity=2)
        _, confirmed = _confirm(shop)
    with shop.scope():
        shop.rule.value = Decimal("50")
        shop.rule.save()
        with pytest.raises(PricesChanged) as caught:
            do_checkout(shop.user, shop.customer, token=new_checkout_token(), confirmed=confirmed)
        assert caught.value.changed[0][1:] == ("12.00", Decimal("15.00"))
        assert not Order.objects.exists()
        _, confirmed = _confirm(shop)
        order, created = do_checkout(
            shop.user, shop.customer, token=new_checkout_token(), confirmed=confirmed
        )
        assert created and order.total == Decimal("30.00")


def test_credit_limit_is_checked(reseller):
    shop = Shop(reseller, credit_limit=Decimal("100.00"))
    with shop.scope():
        do_add_to_cart(shop.user, shop.customer, plan_id=shop.annual.pk, quantity=9)  # 108.00
        _, confirmed = _confirm(shop)
        with pytest.raises(ValidationError, match="over Initech's credit limit of 100.00 USD"):
            do_checkout(shop.user, shop.customer, token=new_checkout_token(), confirmed=confirmed)
        assert not Order.objects.exists() and not Subscription.objects.exists()


def test_the_same_token_twice_makes_one_order(shop):
    token = new_checkout_token()
    with shop.scope():
        do_add_to_cart(shop.user, shop.customer, plan_id=shop.annual.pk, quantity=2)
        _, confirmed = _confirm(shop)
        first, created = do_checkout(shop.user, shop.customer, token=token, confirmed=confirmed)
        again, created_again = do_checkout(shop.user, shop.customer, token=token, confirmed=confirmed)
        assert created and not created_again and again.pk == first.pk
        assert Order.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_submits_make_one_order(settings):
    settings.C360_SIMULATED_PROVIDER_DELAY = 0
    shop = Shop(ResellerFactory(slug="concurrent"))
    token = new_checkout_token()
    with shop.scope():
        do_add_to_cart(shop.user, shop.customer, plan_id=shop.annual.pk, quantity=2)
        _, confirmed = _confirm(shop)
    results, barrier = [], threading.Barrier(2)

    def submit():
        try:
            with shop.scope():
                barrier.wait()
                results.append(do_checkout(shop.user, shop.customer, token=token, confirmed=confirmed))
        finally:
            close_old_connections()
            connection.close()

    threads = [threading.Thread(target=submit) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(created for _, created in results) == [False, True]
    assert len({order.pk for order, _ in results}) == 1
    with shop.scope():
        assert Order.objects.count() == 1 and Subscription.objects.count() == 1


def test_provisioning_activates_and_counts_subscriptions(shop):
    order = place_order(shop, (shop.annual, 4), (shop.monthly, 1))
    provision_order(str(order.pk))
    provision_order(str(order.pk))  # safe to run twice
    with shop.scope():
        order.refresh_from_db()
        assert order.status == Order.Status.COMPLETED
        assert set(Subscription.objects.values_list("status", flat=True)) == {"active"}
        assert Customer.objects.get(pk=shop.customer.pk).active_subscription_count == 2
        assert not Alert.objects.filter(kind=Alert.Kind.PROVISIONING_FAILED).exists()


def test_provisioning_failure_raises_an_alert_and_shows_on_the_order(shop, settings):
    settings.C360_SIMULATED_FAILURE_RATE = 1.0
    order = place_order(shop, (shop.annual, 4))
    provision_order(str(order.pk))
    provision_order(str(order.pk))
    with shop.scope():
        order.refresh_from_db()
        sub = Subscription.objects.get(order=order)
        assert order.status == Order.Status.FAILED and sub.status == "failed"
        assert "simulated provider failure" in sub.failure_reason
        assert list(sub.history.values_list("after", flat=True)) == ["pending", "failed"]
        assert Alert.objects.filter(kind=Alert.Kind.PROVISIONING_FAILED).count() == 1
        assert Customer.objects.get(pk=shop.customer.pk).active_subscription_count == 0


def test_the_credit_limit_is_compared_in_the_customers_currency(reseller):
    from ..billing.factories import ExchangeRateFactory

    ExchangeRateFactory(currency="EUR", rate=Decimal("0.5"))  # 1 USD = 0.5 EUR
    shop = Shop(reseller, credit_limit=Decimal("50.00"))
    with shop.scope():
        shop.customer.currency = "EUR"
        shop.customer.save()
        do_add_to_cart(shop.user, shop.customer, plan_id=shop.annual.pk, quantity=9)  # 108.00 USD = 54.00 EUR
        _, confirmed = _confirm(shop)
        with pytest.raises(
            ValidationError, match=r"108.00 USD \(54.00 EUR\) is over Initech's credit limit of 50.00 EUR"
        ):
            do_checkout(shop.user, shop.customer, token=new_checkout_token(), confirmed=confirmed)
