"""Inquiries inside a customer: record, list, answer with a quote that links back, close with a note,
reopen; roles; transitions declared once; another customer's or reseller's inquiry is a 404."""

import pytest
from django.core.exceptions import ValidationError
from django.template import Context, Template
from django.urls import reverse

from accounts.models import Role
from customers.models import ActivityLog
from quotes.models import Inquiry, Quote
from quotes.services_inquiries import (
    INQUIRY_TRANSITIONS,
    do_create_inquiry,
    do_create_quote_from_inquiry,
    do_transition_inquiry,
)

from ..factories import CustomerFactory
from .accept_world import QuoteWorld

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(reseller):
    return QuoteWorld(reseller)


def new_url(world):
    return reverse("customers:inquiry-new", args=[world.customer.pk])


def detail_url(world, inquiry):
    return reverse("customers:inquiry", args=[world.customer.pk, inquiry.pk])


def test_the_whole_flow_through_the_pages(world, make_client):
    client = make_client(world.reseller, Role.SALES)
    assert client.get(new_url(world)).status_code == 200
    response = client.post(new_url(world), {"subject": "300 seats of Teams Phone?", "details": "Not in the catalog",
                                            "contact_name": "Milton", "contact_email": "milton@initech.example"})  # fmt: skip
    with world.scope():
        inquiry = Inquiry.objects.get()
    assert response.status_code == 302 and response["Location"] == detail_url(world, inquiry)
    assert inquiry.status == Inquiry.Status.OPEN and inquiry.created_by == client.user
    page = client.get(detail_url(world, inquiry)).content.decode()
    assert "300 seats of Teams Phone?" in page and "Create quote from inquiry" in page and "Milton" in page
    response = client.post(detail_url(world, inquiry), {"action": "quote", "category": "m365"})
    with world.scope():
        quote = Quote.objects.get(inquiry=inquiry)
        inquiry.refresh_from_db()
        assert quote.customer == world.customer
    assert response.status_code == 302 and response["Location"] == reverse("quotes:basic", args=[quote.pk])
    assert inquiry.status == Inquiry.Status.QUOTED
    page = client.get(detail_url(world, inquiry)).content.decode()
    assert quote.number in page and reverse("quotes:detail", args=[quote.pk]) in page
    response = client.post(
        detail_url(world, inquiry), {"action": "close", "note": "Customer chose the quote"}
    )
    assert response.status_code == 302
    with world.scope():
        inquiry.refresh_from_db()
        assert inquiry.status == Inquiry.Status.CLOSED and inquiry.closed_at is not None
        actions = list(
            ActivityLog.objects.filter(object_id=str(inquiry.pk))
            .order_by("created_at")
            .values_list("action", flat=True)
        )
    assert actions == ["inquiry.created", "inquiry.quoted", "inquiry.closed"]
    page = client.get(detail_url(world, inquiry)).content.decode()
    assert "Customer chose the quote" in page and "Create quote from inquiry" not in page and "Reopen" in page


def test_the_list_on_the_quotes_and_inquiries_page(world, make_client, django_assert_max_num_queries):
    with world.scope():
        for subject in ("First", "Second"):
            do_create_inquiry(world.owner, world.customer, subject=subject)
        closed = do_create_inquiry(world.owner, world.customer, subject="Old one")
        do_transition_inquiry(world.owner, closed, Inquiry.Status.CLOSED, note="done")
        other = CustomerFactory(reseller=world.reseller, name="Someone Else")
        do_create_inquiry(world.owner, other, subject="Not this customer's")
    template = Template("{% include 'quotes/_customer_inquiries.html' %}")
    with (
        world.scope(),
        django_assert_max_num_queries(
            1,
        ) as queries,
    ):
        html = template.render(Context({"customer": world.customer, "user": world.owner}))
    assert len(queries) <= 1, "the inquiries list is one query: why was one added?"
    assert html.index("Second") < html.index("Old one") and "Not this customer" not in html
    assert "New inquiry" in html
    page = make_client(world.reseller, Role.OWNER).get(reverse("customers:quotes", args=[world.customer.pk]))
    assert "Inquiries" in page.content.decode() and "Old one" in page.content.decode()


def test_bad_input_is_refused_with_field_errors(world, make_client):
    client = make_client(world.reseller, Role.OWNER)
    response = client.post(new_url(world), {"subject": "  ", "contact_email": "not-an-email"})
    html = response.content.decode()
    assert (
        response.status_code == 400
        and "Say what the customer asked for." in html
        and "is not a valid email" in html
    )
    with world.scope():
        inquiry = do_create_inquiry(world.owner, world.customer, subject="Pricing question")
    response = client.post(detail_url(world, inquiry), {"action": "quote", "category": "nope"})
    assert response.status_code == 400 and "Choose one of the categories" in response.content.decode()
    response = client.post(detail_url(world, inquiry), {"action": "close", "note": "x" * 1001})
    assert response.status_code == 400 and "under 1,000 characters" in response.content.decode()
    with world.scope():
        inquiry.refresh_from_db()
        assert inquiry.status == Inquiry.Status.OPEN and not Quote.objects.exists()


def test_transitions_are_declared_once_and_enforced(world):
    assert INQUIRY_TRANSITIONS[Inquiry.Status.OPEN] == {Inquiry.Status.QUOTED, Inquiry.Status.CLOSED}
    with world.scope():
        inquiry = do_create_inquiry(world.owner, world.customer, subject="Q")
        with pytest.raises(ValidationError, match="cannot become open"):
            do_transition_inquiry(world.owner, inquiry, Inquiry.Status.OPEN)
        do_transition_inquiry(world.owner, inquiry, Inquiry.Status.CLOSED, note="no longer needed")
        with pytest.raises(ValidationError, match="closed; reopen it"):
            do_create_quote_from_inquiry(world.owner, inquiry, category=world.shop.m365)
        assert not Quote.objects.exists()
        do_transition_inquiry(world.owner, inquiry, Inquiry.Status.OPEN, note="back again")
        first = do_create_quote_from_inquiry(world.owner, inquiry, category=world.shop.m365)
        second = do_create_quote_from_inquiry(world.owner, inquiry, category=world.shop.azure)
        inquiry.refresh_from_db()
        assert inquiry.status == Inquiry.Status.QUOTED
        assert set(inquiry.quotes.all()) == {first, second}
        assert (
            ActivityLog.objects.filter(object_id=str(inquiry.pk)).count() == 5
        )  # recorded, closed, reopened, quoted twice


def test_roles(world, make_client):
    with world.scope():
        inquiry = do_create_inquiry(world.owner, world.customer, subject="Q")
    for role in (Role.VIEWER, Role.BILLING):
        client = make_client(world.reseller, role)
        assert client.get(detail_url(world, inquiry)).status_code == 200
        assert client.post(new_url(world), {"subject": "x"}).status_code == 403
        assert client.post(detail_url(world, inquiry), {"action": "close"}).status_code == 403
    page = make_client(world.reseller, Role.VIEWER).get(detail_url(world, inquiry)).content.decode()
    assert "Create quote from inquiry" not in page
    with world.scope():
        assert Inquiry.objects.count() == 1 and Inquiry.objects.get().status == Inquiry.Status.OPEN


def test_another_customers_inquiry_is_a_404(world, make_client, other_reseller):
    with world.scope():
        other = CustomerFactory(reseller=world.reseller, name="Other")
        inquiry = do_create_inquiry(world.owner, other, subject="Theirs")
    client = make_client(world.reseller, Role.OWNER)
    assert client.get(reverse("customers:inquiry", args=[world.customer.pk, inquiry.pk])).status_code == 404
    assert (
        client.post(
            reverse("customers:inquiry", args=[world.customer.pk, inquiry.pk]), {"action": "close"}
        ).status_code
        == 404
    )
    stranger = make_client(other_reseller, Role.OWNER)
    assert stranger.get(reverse("customers:inquiry", args=[other.pk, inquiry.pk])).status_code == 404
