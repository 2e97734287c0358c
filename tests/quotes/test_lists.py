"""The quote lists: /quotes/ and a customer's Quotes and Inquiries page (search, status tabs, expired hidden,
sorting, pages, htmx partial, tiles, menu), and their query counts."""

import re
from decimal import Decimal

import pytest
from django.urls import reverse

from accounts.models import Role
from customer360.tenancy import tenant_scope
from quotes.models import Quote

from ..factories import DEFAULT_PASSWORD, CustomerFactory, UserFactory
from .factories import LEAD_DATA, start_quote

pytestmark = pytest.mark.django_db


@pytest.fixture
def c(client, shop):
    client.login(email=shop.user.email, password=DEFAULT_PASSWORD)
    return client


def set_status(quote, status, **fields):
    with tenant_scope(quote.reseller_id):
        Quote.objects.filter(pk=quote.pk).update(status=status, **fields)


def numbers(response) -> list[str]:
    return re.findall(r"Q-\d{4}-\d{5}", response.content.decode())


@pytest.fixture
def quotes(shop):
    """A draft for the shop's customer, a sent quote for another customer, a lead's draft, an expired one."""
    other = CustomerFactory(reseller=shop.reseller, name="Vandelay Industries")
    draft = start_quote(shop, lines=[(shop.annual, 2, 0)])
    sent = start_quote(shop, customer=other, lines=[(shop.annual, 5, 0)])
    set_status(sent, Quote.Status.SENT, name="Vandelay latex import")
    lead = start_quote(shop, lead_data=LEAD_DATA)
    expired = start_quote(shop)
    set_status(expired, Quote.Status.EXPIRED)
    return {"draft": draft, "sent": sent, "lead": lead, "expired": expired, "other": other}


def test_all_tab_hides_expired_quotes_unless_asked(c, quotes):
    url = reverse("quotes:list")
    shown = numbers(c.get(url))
    assert set(shown) == {quotes[k].number for k in ("draft", "sent", "lead")}
    assert quotes["expired"].number in numbers(c.get(url, {"show_expired": "true"}))
    assert numbers(c.get(url, {"status": "expired"})) == [quotes["expired"].number]


def test_status_tabs(c, quotes):
    url = reverse("quotes:list")
    drafts = c.get(url, {"status": "draft"})
    assert set(numbers(drafts)) == {quotes["draft"].number, quotes["lead"].number}
    assert numbers(c.get(url, {"status": "sent"})) == [quotes["sent"].number]
    assert numbers(c.get(url, {"status": "converted"})) == []
    page = drafts.content.decode()
    assert re.search(r'aria-current="page"[^>]*data-testid="tab-draft">Drafts<span class="n">2</span>', page)


@pytest.mark.parametrize(
    "q, expected",
    [
        ("00002", ["sent"]),
        ("vandelay", ["sent"]),
        ("latex", ["sent"]),
        ("umbrella", ["lead"]),
        ("initech", ["draft"]),
    ],
)
def test_search_by_number_customer_lead_and_name(c, quotes, q, expected):
    found = numbers(c.get(reverse("quotes:list"), {"q": q}))
    assert found == [quotes[k].number for k in expected]


def test_rows_show_recipient_status_and_amount(c, quotes):
    page = c.get(reverse("quotes:list")).content.decode()
    assert "Lead: Umbrella Prospects" in page
    assert reverse("customers:quotes", args=[quotes["other"].pk]) in page
    assert "62.50 USD" in page  # 5 x list price 12.50 (Vandelay has no pricebook): the first scenario
    assert "24.00 USD" in page  # 2 x 12.00 from Initech's pricebook


def test_sorting_by_amount(c, quotes):
    url = reverse("quotes:list")
    ascending = numbers(c.get(url, {"sort": "total"}))
    assert ascending[-1] == quotes["sent"].number
    assert numbers(c.get(url, {"sort": "-total"}))[0] == quotes["sent"].number


def test_htmx_renders_only_the_table_and_pages_push_the_url(c, shop):
    for _ in range(27):
        start_quote(shop)
    url = reverse("quotes:list")
    full = c.get(url).content.decode()
    assert "<html" in full and "Page 1 of 2" in full
    partial = c.get(url, {"page": 2}, HTTP_HX_REQUEST="true").content.decode()
    assert "<html" not in partial and 'id="quote-table"' in partial
    assert len(numbers(c.get(url, {"page": 2}))) == 2
    assert re.search(r'rel="prev"[^>]*hx-push-url="true"', partial)


def test_empty_states(c, shop):
    assert "No quotes yet." in c.get(reverse("quotes:list")).content.decode()
    assert "No quote matches." in c.get(reverse("quotes:list"), {"q": "nothing"}).content.decode()
    page = c.get(reverse("customers:quotes", args=[shop.customer.pk])).content.decode()
    assert "Initech has no quotes yet." in page


def test_the_customers_quotes_and_inquiries_page(c, shop, quotes):
    url = reverse("customers:quotes", args=[shop.customer.pk])
    response = c.get(url)
    page = response.content.decode()
    assert numbers(response) == [quotes["draft"].number]  # this customer's quotes only
    assert 'aria-current="page">Quotes and Inquiries</a>' in page  # the customer menu
    assert "Create Quote" in page and 'data-testid="category-tile"' in page
    assert re.search(r"Microsoft 365</span>.*?1 product<", page, re.S)  # the tile's product count
    assert re.search(r"Microsoft Azure</span>.*?1 product<", page, re.S)
    drafts = c.get(url, {"status": "draft"}, HTTP_HX_REQUEST="true").content.decode()
    assert quotes["draft"].number in drafts and "Create Quote" not in drafts


def test_viewers_see_lists_without_create_buttons(client, shop, quotes):
    viewer = UserFactory(reseller=shop.reseller, role=Role.VIEWER)
    client.login(email=viewer.email, password=DEFAULT_PASSWORD)
    page = client.get(reverse("quotes:list")).content.decode()
    assert quotes["draft"].number in page and reverse("quotes:new") not in page
    customer_page = client.get(reverse("customers:quotes", args=[shop.customer.pk])).content.decode()
    assert "category-tile" not in customer_page


def test_the_quotes_link_in_the_top_navigation(c, shop):
    page = c.get(reverse("quotes:list")).content.decode()
    assert f'<a href="{reverse("quotes:list")}" aria-current="page">Quotes</a>' in page


def test_list_query_count(c, shop, django_assert_max_num_queries):
    for i in range(12):
        quote = start_quote(shop, lines=[(shop.annual, i + 1, Decimal("0"))])
        if i % 3 == 0:
            start_quote(shop, lead_data=LEAD_DATA)
        if i % 4 == 0:
            set_status(quote, Quote.Status.SENT)
    # session, user, tab counts, page count, rows (recipient and amount joined), reseller (top bar).
    with django_assert_max_num_queries(6, info="the Quotes list: a query per row? why was one added?"):
        response = c.get(reverse("quotes:list"))
    assert len(numbers(response)) == 16
    # + the customer, the tiles, and the Inquiries section below the list (its own query).
    with django_assert_max_num_queries(
        9, info="a customer's quotes: a query per row or tile? why was one added?"
    ):
        c.get(reverse("customers:quotes", args=[shop.customer.pk]))
