import re

import pytest
from playwright.sync_api import expect

from accounts.models import Role
from customer360.tenancy import tenant_scope
from customers.models import Customer

from ..factories import (
    DEFAULT_PASSWORD,
    CloudAccountFactory,
    ContactFactory,
    CustomerFactory,
    ResellerFactory,
    UserFactory,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def owner():
    reseller = ResellerFactory(name="Acme Cloud", slug="acme")
    for name, provider, number in [
        ("Blue Harbor Analytics", "aws", "123456789012"),
        ("Red Rock Mining", "gcp", "red-rock-prod-1"),
        ("Green Field Farms", "azure", "0f8fad5b-d9cb-469f-a165-70867728950e"),
        ("Yellow Sun Energy", "aws", "555555555555"),
    ]:
        c = CustomerFactory(reseller=reseller, name=name)
        CloudAccountFactory(customer=c, provider=provider, account_id=number)
        ContactFactory(customer=c, is_admin=True, name=f"{name.split()[0]} Admin")
        with tenant_scope(reseller):
            Customer.objects.filter(pk=c.pk).update(providers=[provider], cloud_account_count=1)
    return UserFactory(reseller=reseller, role=Role.OWNER, email="owner@acme.example")


def rows(page):
    return page.get_by_test_id("customer-row").locator("td:nth-child(2) a")


def test_search_filter_sort_expand_and_open_a_customer(page, owner, artifacts_dir):
    page.goto("/accounts/login/")
    page.get_by_label("Email").fill(owner.email)
    page.get_by_label("Password").fill(DEFAULT_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("link", name="Customers", exact=True).click()
    expect(rows(page)).to_have_count(4)

    # (1) Results follow the search box as the user types, and the URL follows.
    page.get_by_test_id("customer-search").press_sequentially("harb", delay=40)
    expect(rows(page)).to_have_text(["Blue Harbor Analytics"])
    expect(page).to_have_url(re.compile(r"q=harb"))
    page.get_by_test_id("customer-search").fill("12345678")
    page.get_by_test_id("customer-search").press("End")  # an account-number prefix
    expect(rows(page)).to_have_text(["Blue Harbor Analytics"])
    page.get_by_test_id("customer-search").fill("")
    page.get_by_test_id("customer-search").dispatch_event("input")
    expect(rows(page)).to_have_count(4)

    # (2) Provider filter, one or more.
    page.get_by_label("Google Cloud").check()
    expect(rows(page)).to_have_text(["Red Rock Mining"])
    expect(page).to_have_url(re.compile(r"provider=gcp"))
    page.get_by_label("AWS").check()
    expect(rows(page)).to_have_text(["Blue Harbor Analytics", "Red Rock Mining", "Yellow Sun Energy"])
    page.get_by_label("Google Cloud").uncheck()
    page.get_by_label("AWS").uncheck()
    expect(rows(page)).to_have_count(4)

    # (4) Sort by a column heading, both ways, with a visible indicator.
    page.locator("th a[data-sort=name]").click()
    expect(page.locator("th[aria-sort=descending]")).to_contain_text("Name")
    expect(rows(page).first).to_have_text("Yellow Sun Energy")
    expect(page).to_have_url(re.compile(r"sort=-name"))
    page.locator("th a[data-sort=name]").click()
    expect(rows(page).first).to_have_text("Blue Harbor Analytics")

    # (3) Expand a row: the summary is fetched on demand.
    page.get_by_role("button", name="Show summary of Green Field Farms").click()
    expect(page.get_by_test_id("customer-summary").filter(has_text="Green Admin")).to_be_visible()
    expect(page.get_by_test_id("customer-summary").filter(has_text="Green Admin")).to_contain_text("AZURE: 1")
    page.screenshot(path=artifacts_dir / "customer-list.png", full_page=True)

    # Double-click opens the profile.
    page.get_by_test_id("customer-row").filter(has_text="Red Rock Mining").locator(
        "td:nth-child(4)"
    ).dblclick()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Red Rock Mining")
    expect(page.get_by_test_id("customer-overview")).to_contain_text("Red Admin")
    page.screenshot(path=artifacts_dir / "customer-profile.png", full_page=True)


def test_rows_per_page_still_works_after_the_table_was_swapped(page, owner):
    with tenant_scope(owner.reseller_id):
        for i in range(12):
            CustomerFactory(reseller=owner.reseller, name=f"Zeta {i:02d}")
    page.goto("/accounts/login/")
    page.get_by_label("Email").fill(owner.email)
    page.get_by_label("Password").fill(DEFAULT_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.goto("/customers/")
    expect(rows(page)).to_have_count(16)
    page.locator("#id_status").select_option("active")  # htmx replaces the table and its Rows select
    expect(page).to_have_url(re.compile(r"status=active"))
    page.locator("#per-page").select_option("10")
    expect(rows(page)).to_have_count(10)
    expect(page).to_have_url(re.compile(r"per_page=10"))
    page.locator("#per-page").select_option("25")  # and again, on the table that change brought
    expect(rows(page)).to_have_count(16)
    expect(page).to_have_url(re.compile(r"per_page=25"))
