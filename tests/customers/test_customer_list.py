import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from customer360.tenancy import tenant_scope
from customers.keyset import COUNT_CAP
from customers.models import ActivityLog, Contact, Customer

from ..factories import CloudAccountFactory, ContactFactory, CustomerFactory

pytestmark = pytest.mark.django_db
LIST = reverse("customers:list")


def names(response):
    return re.findall(
        r'data-testid="customer-row".*?<a href="[^"]+">([^<]+)</a>', response.content.decode(), re.S
    )


def next_href(response):
    m = re.search(r'href="([^"]+)" [^>]*rel="next"|rel="next" href="([^"]+)"', response.content.decode())
    return (m.group(1) or m.group(2)).replace("&amp;", "&") if m else None


def prev_href(response):
    m = re.search(r'rel="prev" href="([^"]+)"', response.content.decode())
    return m.group(1).replace("&amp;", "&") if m else None


def with_accounts(reseller, name, *accounts):
    c = CustomerFactory(reseller=reseller, name=name)
    for provider, number in accounts:
        CloudAccountFactory(customer=c, provider=provider, account_id=number)
    with tenant_scope(reseller):
        Customer.objects.filter(pk=c.pk).update(
            providers=sorted({p for p, _ in accounts}), cloud_account_count=len(accounts)
        )
    return c


def test_search_matches_any_part_of_the_name_in_any_case(owner_client, reseller):
    CustomerFactory(reseller=reseller, name="Blue Harbor Analytics")
    CustomerFactory(reseller=reseller, name="Red Rock Mining")
    assert names(owner_client.get(LIST, {"q": "HARBOR"})) == ["Blue Harbor Analytics"]
    assert names(owner_client.get(LIST, {"q": "rock min"})) == ["Red Rock Mining"]


def test_search_matches_account_numbers_exactly_or_by_prefix(owner_client, reseller):
    with_accounts(reseller, "Aws Co", ("aws", "123456789012"))
    with_accounts(reseller, "Azure Co", ("azure", "0f8fad5b-d9cb-469f-a165-70867728950e"))
    with_accounts(reseller, "Other Co", ("aws", "999999999999"))
    assert names(owner_client.get(LIST, {"q": "123456"})) == ["Aws Co"]
    assert names(owner_client.get(LIST, {"q": "123456789012"})) == ["Aws Co"]
    assert names(owner_client.get(LIST, {"q": "0F8FAD5B-D9CB-469F-A165-70867728950E"})) == ["Azure Co"]
    assert names(owner_client.get(LIST, {"q": "456789"})) == []  # not a prefix


def test_provider_filter_selects_one_or_more_and_combines_with_search(owner_client, reseller):
    with_accounts(reseller, "Alpha", ("aws", "100000000001"))
    with_accounts(reseller, "Beta", ("gcp", "beta-project-1"))
    with_accounts(
        reseller, "Alpha Gamma", ("azure", "0f8fad5b-d9cb-469f-a165-70867728950f"), ("gcp", "gamma-proj-22")
    )
    assert names(owner_client.get(LIST, {"provider": "gcp"})) == ["Alpha Gamma", "Beta"]
    assert names(owner_client.get(LIST, {"provider": ["aws", "azure"]})) == ["Alpha", "Alpha Gamma"]
    assert names(owner_client.get(LIST, {"provider": "gcp", "q": "alpha"})) == ["Alpha Gamma"]


def test_no_match_shows_an_empty_state_with_a_way_out(owner_client, reseller):
    CustomerFactory(reseller=reseller, name="Something")
    r = owner_client.get(LIST, {"q": "zzz-nothing"})
    assert b'data-testid="empty-state"' in r.content and b"Clear filters" in r.content


def test_empty_list_invites_to_create_the_first_customer(owner_client):
    assert b"Create the first one" in owner_client.get(LIST).content


@pytest.mark.parametrize(
    "sort,field",
    [
        ("name", "name"),
        ("accounts", "cloud_account_count"),
        ("spend", "mtd_spend"),
        ("status", "status"),
        ("created", "created_at"),
        ("subscriptions", "active_subscription_count"),
        ("providers", "providers"),
    ],
)
def test_every_column_sorts_both_ways_with_an_indicator(owner_client, reseller, sort, field):
    base = timezone.now()
    specs = [
        ("Charlie", 3, "10.00", "active", 2, ["gcp"]),
        ("alpha", 1, "30.00", "suspended", 5, ["aws", "gcp"]),
        ("Bravo", 2, "20.00", "closed", 1, ["azure"]),
    ]
    for i, (name, n, spend, status, subs, providers) in enumerate(specs):
        c = CustomerFactory(reseller=reseller, name=name, status=status)
        with tenant_scope(reseller):
            Customer.objects.filter(pk=c.pk).update(
                cloud_account_count=n,
                mtd_spend=Decimal(spend),
                active_subscription_count=subs,
                providers=providers,
                created_at=base - timedelta(days=i),
            )
    with tenant_scope(reseller):
        expected = list(Customer.objects.order_by(field, "id").values_list("name", flat=True))
    r = owner_client.get(LIST, {"sort": sort})
    assert names(r) == expected
    assert 'aria-sort="ascending"' in r.content.decode()
    r = owner_client.get(LIST, {"sort": f"-{sort}"})
    assert names(r) == expected[::-1]
    assert 'aria-sort="descending"' in r.content.decode()


def test_next_and_previous_walk_every_customer_once_in_order(owner_client, reseller):
    for i in range(23):
        CustomerFactory(reseller=reseller, name=f"Cust {i % 7:02d}")  # duplicate names: id breaks ties
    with tenant_scope(reseller):
        expected = list(Customer.objects.order_by("-name", "-id").values_list("name", flat=True))
    seen, pages, url = [], [], f"{LIST}?sort=-name&per_page=10"
    while url:
        r = owner_client.get(url)
        pages.append(url)
        seen += names(r)
        nxt = next_href(r)
        url = LIST + nxt if nxt else None
    assert seen == expected and len(pages) == 3
    r = owner_client.get(pages[-1])
    back = owner_client.get(LIST + prev_href(r))
    assert names(back) == expected[10:20]


def test_htmx_requests_get_only_the_table(owner_client, reseller):
    CustomerFactory(reseller=reseller, name="Zeta")
    r = owner_client.get(LIST, {"q": "zeta"}, headers={"HX-Request": "true"})
    assert b"Zeta" in r.content and b"<html" not in r.content and b'hx-push-url="true"' in r.content


def test_the_total_is_capped_so_it_never_counts_every_row(owner_client, reseller, monkeypatch):
    monkeypatch.setattr("customers.keyset.COUNT_CAP", 5)
    for _ in range(7):
        CustomerFactory(reseller=reseller)
    with CaptureQueriesContext(connection) as ctx:
        r = owner_client.get(LIST)
    assert b"5+ customers" in r.content
    counts = [q["sql"] for q in ctx.captured_queries if "COUNT(" in q["sql"].upper()]
    assert counts and all("LIMIT" in sql.upper() for sql in counts)
    assert COUNT_CAP == 10_000


def query_count(client, params):
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(LIST, params).status_code == 200
    return len(ctx.captured_queries)


def test_queries_per_page_do_not_depend_on_rows_per_page_or_data_size(owner_client, reseller):
    for i in range(12):
        with_accounts(reseller, f"Firm {i:03d}", ("aws", f"{200000000000 + i}"))
    small = {n: query_count(owner_client, {"per_page": n}) for n in (10, 50, 100)}
    for i in range(120):
        with_accounts(reseller, f"More {i:03d}", ("gcp", f"more-project-{i:03d}"))
    large = {n: query_count(owner_client, {"per_page": n}) for n in (10, 50, 100)}
    searched = query_count(owner_client, {"per_page": 100, "q": "more", "provider": "gcp", "sort": "-spend"})
    assert len(set(small.values()) | set(large.values())) == 1, (
        f"queries per page changed with page size or data: {small} {large}; which query was added per row, and why?"
    )
    # A search adds exactly one query (the account-number prefix lookup), whatever the size.
    assert searched == small[10] + 1, "the customer list's query count changed: why was a query added?"


def test_expand_shows_the_summary_fetched_on_demand(owner_client, reseller):
    c = with_accounts(
        reseller, "Expando", ("aws", "300000000001"), ("aws", "300000000002"), ("gcp", "expando-prj")
    )
    ContactFactory(customer=c, name="Erin Admin", is_admin=True)
    r = owner_client.get(reverse("customers:summary", args=[c.pk]), headers={"HX-Request": "true"})
    body = r.content.decode()
    assert "Erin Admin" in body and "AWS: 2" in body and "GCP: 1" in body and "0 unread" in body


VALID = {
    "name": "Umbrella Corp",
    "status": "active",
    "currency": "EUR",
    "address_line1": "1 Main St",
    "city": "Berlin",
    "postal_code": "10115",
    "country": "de",
    "payment_method": "invoice",
    "payment_terms_days": "30",
    "credit_limit": "5000",
    "admin_name": "Alice Admin",
    "admin_email": "alice@umbrella.example",
}


def test_create_customer_saves_it_with_its_admin_contact_and_logs_it(owner_client, reseller, in_scope):
    r = owner_client.post(reverse("customers:create"), VALID)
    assert r.status_code == 302
    with in_scope(reseller):
        c = Customer.objects.get(name="Umbrella Corp")
        assert c.country == "DE" and c.currency == "EUR" and c.credit_limit == Decimal("5000")
        assert Contact.objects.get(customer=c, is_admin=True).email == "alice@umbrella.example"
        assert ActivityLog.objects.filter(customer=c, action="customer.created").count() == 1
    assert r["Location"] == reverse("customers:detail", args=[c.pk])


@pytest.mark.parametrize(
    "field,value,message",
    [
        ("name", "   ", "This field is required."),
        ("country", "D1", "two-letter country code"),
        ("credit_limit", "-5", "cannot be negative"),
        ("admin_email", "not-an-email", "Enter a valid email address."),
        ("currency", "XXX", "Select a valid choice."),
    ],
)
def test_create_customer_with_bad_input_shows_the_error_at_the_field_and_saves_nothing(
    owner_client, reseller, in_scope, field, value, message
):
    r = owner_client.post(reverse("customers:create"), {**VALID, field: value})
    assert r.status_code == 200
    body = r.content.decode()
    assert f'id="id_{field}_errors"' in body and message in body
    with in_scope(reseller):
        assert (
            Customer.objects.count() == 0
            and Contact.objects.count() == 0
            and ActivityLog.objects.count() == 0
        )


def test_a_short_prefix_matching_many_accounts_drops_no_customer(owner_client, reseller, monkeypatch):
    monkeypatch.setattr("customers.filtersets.ACCOUNT_MATCH_LIMIT", 1)
    with_accounts(reseller, "First", ("aws", "777000000001"))
    with_accounts(reseller, "Second", ("aws", "777000000002"), ("aws", "777000000003"))
    with_accounts(reseller, "Third", ("aws", "888000000001"))
    assert names(owner_client.get(LIST, {"q": "777"})) == ["First", "Second"]
    assert b"2 customers" in owner_client.get(LIST, {"q": "777"}).content


def test_account_search_follows_renames_and_moves(owner_client, reseller):
    """An account-number match is listed once its customer's name stops matching the term (the search
    reads the customer's name copied onto the account by database triggers, kept on rename)."""
    from customer360.tenancy import tenant_scope
    from customers.models import CloudAccount, Customer

    from ..factories import CloudAccountFactory

    harbor = CustomerFactory(reseller=reseller, name="Harbor Freight")
    other = CustomerFactory(reseller=reseller, name="Quayside Ltd")
    account = CloudAccountFactory(
        customer=harbor, provider="m365", account_id="harborfreight.onmicrosoft.com"
    )
    with tenant_scope(reseller):
        assert CloudAccount.objects.get(pk=account.pk).customer_name == "Harbor Freight"
        Customer.objects.filter(pk=harbor.pk).update(name="Anchor Supplies")  # not through the ORM's save
        assert CloudAccount.objects.get(pk=account.pk).customer_name == "Anchor Supplies"
    r = owner_client.get(reverse("customers:list"), {"q": "harbor"})
    assert "Anchor Supplies" in r.content.decode()
    with tenant_scope(reseller):
        account.customer = other
        account.save()
        assert CloudAccount.objects.get(pk=account.pk).customer_name == "Quayside Ltd"
    r = owner_client.get(reverse("customers:list"), {"q": "harbor"})
    assert "Quayside Ltd" in r.content.decode() and "Anchor Supplies" not in r.content.decode()
