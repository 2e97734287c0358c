"""Converting an accepted quote to an order through checkout's place_order: quoted prices, one order at
most (twice, concurrently), a lead becoming a customer, validation that writes nothing, roles, and the
links both ways."""

import threading
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import close_old_connections, connection
from django.template import Context, Template
from django.test import RequestFactory
from django.urls import reverse

from accounts.models import Role
from customers.models import ActivityLog, Contact, Customer
from marketplace.models import Order, OrderLine, Subscription
from quotes.models import Lead, Quote
from quotes.services_accept import access_quote_by_token, do_accept_quote
from quotes.services_convert import do_convert_quote

from ..factories import UserFactory
from .accept_world import QuoteWorld

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(reseller, settings):
    settings.C360_SIMULATED_PROVIDER_DELAY = 0
    return QuoteWorld(reseller)


def accepted(world, index=0, **kwargs) -> Quote:
    quote, token = world.sent_quote(**kwargs)
    do_accept_quote(access_quote_by_token(token), scenario_id=world.scenario(quote, index).pk, name="Peter")
    return world.reload(quote)


def counts(world):
    with world.scope():
        return (
            Order.objects.count(),
            Subscription.objects.count(),
            Customer.objects.count(),
            Contact.objects.count(),
        )


def test_the_accepted_scenario_becomes_an_order_at_the_quoted_prices(world):
    quote = accepted(world, 0)
    with world.scope():
        order, created = do_convert_quote(world.owner, quote)
        assert created and order.customer == world.customer
        lines = {line.sku: line for line in OrderLine.objects.filter(order=order)}
        # 10 x 12.00 less 10 % (the quoted discount), and the add-on at 2.40: not today's undiscounted price.
        assert lines["BST-ANNUAL"].unit_price == Decimal("10.80") and lines["BST-ANNUAL"].amount == Decimal(
            "108.00"
        )
        assert lines["BST-ARCHIVE"].amount == Decimal("24.00") and order.total == Decimal("132.00")
        assert lines["BST-ANNUAL"].pricing_explanation.startswith(f"Quoted in {quote.number} rev 1")
        assert "10 % discount" in lines["BST-ANNUAL"].pricing_explanation
        assert set(lines) == {"BST-ANNUAL", "BST-ARCHIVE"}  # the other scenario is not ordered
        sub = Subscription.objects.get(order=order)
        assert sub.plan == world.shop.annual and sub.quantity == 10 and sub.addons.count() == 1
        quote = Quote.objects.get(pk=quote.pk)
        assert quote.status == Quote.Status.CONVERTED and quote.order == order and order.quote == quote
        log = ActivityLog.objects.get(action="quote.converted")
        assert log.changes["order"] == [None, order.number] and log.actor == world.owner
        placed = ActivityLog.objects.get(action="order.placed")
        assert f"from quote {quote.number} rev 1" in placed.message


def test_converting_twice_returns_the_same_order(world):
    quote = accepted(world)
    with world.scope():
        first, created = do_convert_quote(world.owner, quote)
        again, created_again = do_convert_quote(world.owner, quote)
        assert created and not created_again and again == first
        assert Order.objects.count() == 1
        assert ActivityLog.objects.filter(action="quote.converted").count() == 1


@pytest.mark.django_db(transaction=True)
def test_a_concurrent_double_click_places_one_order(reseller, settings):
    settings.C360_SIMULATED_PROVIDER_DELAY = 0
    world = QuoteWorld(reseller)
    quote = accepted(world)
    results, errors, barrier = [], [], threading.Barrier(2)

    def click():
        try:
            with world.scope():
                barrier.wait(timeout=10)
                results.append(do_convert_quote(world.owner, quote))
        except Exception as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)
        finally:
            close_old_connections()
            connection.close()

    threads = [threading.Thread(target=click) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors, errors
    assert len({order.pk for order, _ in results}) == 1
    assert sorted(created for _, created in results) == [False, True]
    with world.scope():
        assert Order.objects.count() == 1


def test_a_leads_quote_creates_the_customer_first(world):
    lead = world.lead()
    quote = accepted(world, lead=lead)
    with world.scope():
        before = Customer.objects.count()
        order, created = do_convert_quote(world.owner, quote, credit_limit="500")
        customer = order.customer
        assert Customer.objects.count() == before + 1
        assert (
            customer.name == "Hooli Prospects" and customer.currency == "USD" and customer.city == "Palo Alto"
        )
        assert customer.credit_limit == Decimal("500")
        admin = Contact.objects.get(customer=customer)
        assert admin.is_admin and admin.email == "gavin@hooli.example" and admin.name == "Gavin B"
        assert Lead.objects.get(pk=lead.pk).customer == customer
        quote = Quote.objects.get(pk=quote.pk)
        assert quote.customer == customer and quote.lead == lead and quote.order == order
        assert ActivityLog.objects.filter(action="lead.converted", customer=customer).exists()
        assert ActivityLog.objects.filter(action="customer.created", customer=customer).exists()


def test_a_refused_leads_order_leaves_no_customer_behind(world):
    lead = world.lead()
    quote = accepted(world, lead=lead)
    before = counts(world)
    with world.scope():
        with pytest.raises(ValidationError, match="credit limit"):
            do_convert_quote(world.owner, quote, credit_limit="10")  # the order is 132.00
        assert Lead.objects.get(pk=lead.pk).customer is None
        assert Quote.objects.get(pk=quote.pk).status == Quote.Status.ACCEPTED
        with pytest.raises(ValidationError, match="negative"):
            do_convert_quote(world.owner, quote, credit_limit="-5")
    assert counts(world) == before


def test_checkouts_validation_applies_and_writes_nothing(world):
    quote = accepted(world)
    with world.scope():
        Customer.objects.filter(pk=world.customer.pk).update(credit_limit=Decimal("100"))
    before = counts(world)
    with world.scope(), pytest.raises(ValidationError, match="over Initech's credit limit"):
        do_convert_quote(world.owner, quote)
    assert counts(world) == before
    assert world.reload(quote).status == Quote.Status.ACCEPTED and world.reload(quote).order is None


def test_only_accepted_quotes_convert(world):
    quote, _ = world.sent_quote()
    with world.scope(), pytest.raises(ValidationError, match="only a quote the customer accepted"):
        do_convert_quote(world.owner, quote)
    assert counts(world)[0] == 0


def test_roles(world):
    quote = accepted(world)
    with world.scope():
        for role in (Role.BILLING, Role.VIEWER):
            with pytest.raises(PermissionDenied):
                do_convert_quote(UserFactory(reseller=world.reseller, role=role), quote)
        order, created = do_convert_quote(UserFactory(reseller=world.reseller, role=Role.SALES), quote)
        assert created


def _consumption_quote(world):
    shop = world.shop
    return accepted(
        world, scenarios={"Azure": [(shop.azure_plan, 1, Decimal(0)), (shop.annual, 2, Decimal(0))]}
    )


def test_a_consumption_line_needs_one_of_the_customers_accounts(world, other_reseller):
    quote = _consumption_quote(world)
    with world.scope():
        line = next(
            line for line in quote.accepted_scenario.sections.get().lines.all() if line.sku == "AZ-PLAN"
        )
        with pytest.raises(ValidationError, match="billed by consumption"):
            do_convert_quote(world.owner, quote)
        with pytest.raises(ValidationError, match="billed by consumption"):
            do_convert_quote(world.owner, quote, cloud_accounts={str(line.pk): "not-an-id"})
        assert Order.objects.count() == 0
        order, _ = do_convert_quote(
            world.owner, quote, cloud_accounts={str(line.pk): str(world.shop.azure_account.pk)}
        )
        sub = Subscription.objects.get(order=order, plan=world.shop.azure_plan)
        assert sub.cloud_account == world.shop.azure_account


def test_another_customers_account_is_refused(world):
    from ..factories import CloudAccountFactory, CustomerFactory

    quote = _consumption_quote(world)
    stranger = CloudAccountFactory(customer=CustomerFactory(reseller=world.reseller), provider="azure",
                                   account_id="22222222-2222-3333-4444-555555555555")  # fmt: skip
    with world.scope():
        line = next(
            line for line in quote.accepted_scenario.sections.get().lines.all() if line.sku == "AZ-PLAN"
        )
        with pytest.raises(ValidationError, match="billed by consumption"):
            do_convert_quote(world.owner, quote, cloud_accounts={str(line.pk): str(stranger.pk)})
        assert Order.objects.count() == 0


def test_the_convert_button_places_the_order_and_the_order_links_back(world, make_client):
    quote = accepted(world)
    client = make_client(world.reseller, Role.SALES)
    summary = f"/quotes/{quote.pk}/summary/"
    response = client.post(reverse("quotes:convert", args=[quote.pk]), {"next": summary})
    quote = world.reload(quote)
    assert response.status_code == 302
    assert response["Location"] == reverse("customers:order", args=[world.customer.pk, quote.order.pk])
    page = client.get(response["Location"]).content.decode()
    assert "From quote" in page and quote.number in page and reverse("quotes:detail", args=[quote.pk]) in page
    again = client.post(reverse("quotes:convert", args=[quote.pk]), {"next": summary}, follow=True)
    assert "was already converted" in again.content.decode()
    with world.scope():
        assert Order.objects.count() == 1


def test_a_refused_conversion_goes_back_with_the_reason(world, make_client):
    quote, _ = world.sent_quote()
    client = make_client(world.reseller, Role.OWNER)
    summary = f"/quotes/{quote.pk}/summary/"
    response = client.post(reverse("quotes:convert", args=[quote.pk]), {"next": summary})
    assert response.status_code == 302 and response["Location"] == summary
    response = client.post(reverse("quotes:convert", args=[quote.pk]), {"next": "https://evil.example/"})
    assert response["Location"] == reverse("customers:detail", args=[world.customer.pk])
    viewer = make_client(world.reseller, Role.VIEWER)
    assert viewer.post(reverse("quotes:convert", args=[quote.pk])).status_code == 403
    assert viewer.get(reverse("quotes:convert", args=[quote.pk])).status_code == 405


def test_the_convert_panel(world):
    quote = _consumption_quote(world)
    request = RequestFactory().get("/")
    request.user = world.owner
    template = Template("{% load quotes_convert %}{% convert_panel quote %}")
    with world.scope():
        html = template.render(Context({"quote": quote, "request": request, "user": world.owner}))
    assert "Accepted: convert to an order" in html and 'name="cloud_account_' in html
    assert world.shop.azure_account.account_id in html and "Convert to order" in html
    request.user = UserFactory(reseller=world.reseller, role=Role.VIEWER)
    with world.scope():
        html = template.render(Context({"quote": quote, "request": request}))
    assert "Convert to order" not in html and "Owners and sales users convert" in html
    request.user = world.owner
    lead_quote = accepted(world, lead=world.lead(company_name="Lead Co"))
    with world.scope():
        html = template.render(Context({"quote": lead_quote, "request": request}))
    assert "Credit limit of the new customer" in html and "Lead Co is a lead" in html
