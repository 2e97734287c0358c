"""The buy screens, cart, checkout and Managed / Purchased Products pages, as a user drives them."""

import re
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.models import Role
from marketplace.models import Order, Subscription
from marketplace.tasks import provision_order

from .factories_orders import place_order

pytestmark = pytest.mark.django_db


@pytest.fixture
def client(shop, make_client):
    client = make_client(shop.reseller, Role.SALES)
    shop.user = client.user
    return client


def url(shop, name, *args):
    return reverse(f"customers:{name}", args=[shop.customer.pk, *args])


def test_buy_screen_shows_a_category_per_provider_and_the_customers_prices(shop, client):
    page = client.get(url(shop, "buy")).content.decode()
    assert "Microsoft 365" in page and "Microsoft Azure" in page
    assert "Business Standard (annual)" in page and "12.00 USD" in page and "Exchange Archiving" in page
    narrowed = client.get(url(shop, "buy"), {"q": "monthly"}, headers={"HX-Request": "true"}).content.decode()
    assert "<html" not in narrowed and "Business Standard (monthly)" in narrowed
    assert "Business Standard (annual)" not in narrowed and "Azure Plan" not in narrowed


def test_provider_screen_filters_by_schema_and_adds_to_the_cart_with_htmx(shop, client):
    page = client.get(url(shop, "buy-provider", "m365")).content.decode()
    assert "Term" in page and "Segment" in page and 'data-testid="cart-count">0<' in page
    table = client.get(
        url(shop, "buy-provider", "m365"), {"attr_term": "monthly"}, headers={"HX-Request": "true"}
    ).content.decode()
    assert "BST-MONTHLY" in table and "BST-ANNUAL" not in table and "13.20 USD" in table
    added = client.post(
        url(shop, "cart-add"), {"plan": shop.monthly.pk, "quantity": 2}, headers={"HX-Request": "true"}
    ).content.decode()
    assert 'hx-swap-oob="true"' in added and 'data-testid="cart-count">1<' in added
    refused = client.post(
        url(shop, "cart-add"), {"plan": shop.annual.pk, "quantity": 500}, headers={"HX-Request": "true"}
    ).content.decode()
    assert "at most 300" in refused and 'data-testid="cart-count">1<' in refused
    assert client.get(url(shop, "buy-provider", "gcp")).status_code == 404


def test_cart_checkout_and_double_submit_through_the_pages(shop, client):
    client.post(url(shop, "cart-add"), {"plan": shop.annual.pk, "quantity": 3})
    client.post(url(shop, "cart-add"), {"plan": shop.annual.pk, "addon": shop.addon.pk, "quantity": 3})
    cart = client.get(url(shop, "cart")).content.decode()
    assert "36.00 USD" in cart and "7.20 USD" in cart and "43.20 USD" in cart
    review = client.get(url(shop, "checkout")).content.decode()
    form = dict(re.findall(r'name="((?:checkout_token|price_[0-9a-f-]+))" value="([^"]+)"', review))
    assert len(form) == 3
    first = client.post(url(shop, "checkout"), form)
    second = client.post(url(shop, "checkout"), form)  # double click / back button
    with shop.scope():
        order = Order.objects.get()
    assert first.url == second.url == url(shop, "order", order.pk)
    provision_order(str(order.pk))
    page = client.get(first.url).content.decode()
    assert order.number in page and "Completed" in page
    managed = client.get(url(shop, "managed-products")).content.decode()
    assert "Provider Insights" in managed and "Business Standard (annual)" in managed and "Active" in managed
    purchases = client.get(url(shop, "purchases"), {"provider": "m365"}).content.decode()
    assert "43.20 USD" in purchases and order.number in purchases


def test_checkout_shows_changed_prices_for_confirmation(shop, client):
    client.post(url(shop, "cart-add"), {"plan": shop.annual.pk, "quantity": 1})
    review = client.get(url(shop, "checkout")).content.decode()
    form = dict(re.findall(r'name="((?:checkout_token|price_[0-9a-f-]+))" value="([^"]+)"', review))
    with shop.scope():
        shop.rule.value = Decimal("50")
        shop.rule.save()
    response = client.post(url(shop, "checkout"), form)
    assert response.status_code == 409
    page = response.content.decode()
    assert "Prices changed" in page and "15.00 USD" in page and "was 12.00" in page
    with shop.scope():
        assert not Order.objects.exists()


def test_manage_actions_through_the_page_and_viewers_cannot_write(shop, client, make_client):
    order = place_order(shop, (shop.annual, 2))
    provision_order(str(order.pk))
    with shop.scope():
        sub = Subscription.objects.get()
    page_url = url(shop, "subscription", sub.pk)
    bad = client.post(page_url, {"action": "assign", "email": "nope"})
    assert bad.status_code == 400 and "is not a valid email address" in bad.content.decode()
    assert client.post(page_url, {"action": "assign", "email": "ann@initech.example"}).status_code == 302
    assert "ann@initech.example" in client.get(page_url).content.decode()
    viewer = make_client(shop.reseller, Role.VIEWER)
    assert viewer.post(page_url, {"action": "cancel"}).status_code == 403
    assert client.post(page_url, {"action": "cancel"}).status_code == 302
    with shop.scope():
        assert Subscription.objects.get().status == "cancelled"
    assert (
        "Business Standard (annual)"
        in client.get(url(shop, "managed-products"), {"show": "expired"}).content.decode()
    )


def _queries(client, path, params=None):
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(path, params or {}).status_code == 200
    return len(ctx.captured_queries)


def test_managed_products_and_purchases_keep_a_constant_query_count(shop, client):
    order = place_order(shop, (shop.annual, 2), (shop.monthly, 1))
    provision_order(str(order.pk))
    before = {name: _queries(client, url(shop, name)) for name in ("managed-products", "purchases")}
    for _ in range(3):
        provision_order(str(place_order(shop, (shop.annual, 1), (shop.addon, 1), (shop.monthly, 2)).pk))
    after = {name: _queries(client, url(shop, name)) for name in ("managed-products", "purchases")}
    assert after == before, "A query was added per subscription or order line: why? Prefetch or aggregate it."
    assert before["managed-products"] <= 16, f"{before}: why was a query added to Managed Products?"


def test_buy_screens_keep_a_constant_query_count(shop, client):
    from .factories import PlanFactory, ProductFactory

    paths = [url(shop, "buy"), url(shop, "buy-provider", "m365")]
    before = [_queries(client, path) for path in paths]
    for n in range(12):  # more products than a page shows, and orders for the customer
        product = ProductFactory(provider=shop.m365, name=f"Extra {n:02d}", category="Security")
        for term in ("monthly", "annual"):
            PlanFactory(product=product, attributes={"term": term})
    provision_order(str(place_order(shop, (shop.annual, 1), (shop.monthly, 2)).pk))
    after = [_queries(client, path) for path in paths]
    # Prices come from billing.pricing.price_many: providers, assignments, exchange rates (none when all
    # is USD, as here) and rules are read once for the whole page, so the count depends neither on the
    # page size, nor on the catalog, nor on the customer's subscriptions.
    assert after == before, f"{before} -> {after}: a query was added per plan, add-on or order: why?"
    assert after[0] <= 13, f"{after}: why was a query added to Buy Products?"
    assert after[1] <= 14, f"{after}: why was a query added to the provider's plans?"


def test_the_cart_survives_logout_and_belongs_to_one_user(shop, client, make_client):
    client.post(url(shop, "cart-add"), {"plan": shop.annual.pk, "quantity": 2})
    client.logout()
    client.force_login(shop.user)
    assert 'data-testid="cart-count">1<' in client.get(url(shop, "cart")).content.decode()
    colleague = make_client(shop.reseller, Role.SALES)
    assert 'data-testid="cart-count">0<' in colleague.get(url(shop, "cart")).content.decode()


def test_a_provisioning_failure_shows_on_the_order(shop, client, settings):
    settings.C360_SIMULATED_FAILURE_RATE = 1.0
    order = place_order(shop, (shop.annual, 2))
    provision_order(str(order.pk))
    page = client.get(url(shop, "order", order.pk)).content.decode()
    assert "Failed" in page and "Provisioning failed" in page and "simulated provider failure" in page
    assert "failed to provision" in client.get(url(shop, "detail")).content.decode()  # the alert
