"""The dashboard's custom-field filter in a real browser, then a customer report and its CSV download."""

import re

import pytest
from playwright.sync_api import expect

from accounts.models import Role

from ..factories import DEFAULT_PASSWORD, ResellerFactory, UserFactory
from ..reports.dashboard_world import build
from ..reports.helpers import q2, read_csv, sums

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def world():
    reseller = ResellerFactory(name="Acme Cloud", slug="acme")
    emea, amer, rows = build(reseller)
    owner = UserFactory(reseller=reseller, role=Role.OWNER, email="owner@acme.example")
    return owner, emea, amer, rows


def sign_in(page, email):
    page.goto("/accounts/login/")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(DEFAULT_PASSWORD)
    page.get_by_role("button", name="Sign in").click()


def test_filter_the_dashboard_by_region_then_download_a_customer_report(page, world, artifacts_dir):
    owner, emea, amer, rows = world
    sign_in(page, owner.email)
    expect(page.get_by_role("heading", level=1)).to_have_text("Dashboard")
    expect(page.get_by_test_id("kpi-customers").first).to_have_text("2")
    expect(page.get_by_test_id("card-customers").get_by_test_id("kpi-customers")).to_have_text("2")

    page.get_by_test_id("custom-field-filters").locator("summary").click()
    page.get_by_label("Region").select_option("EMEA")
    page.get_by_test_id("apply-filters").click()
    expect(page).to_have_url(re.compile(r"cf_region=EMEA"))
    expect(page.get_by_test_id("filters-active")).to_be_visible()
    expect(page.get_by_test_id("card-customers").get_by_test_id("kpi-customers")).to_have_text("1")
    emea_total = sums([r for r in rows if r["customer_id"] == emea.pk], lambda r: "all")["all"]
    expect(page.get_by_test_id("kpi-mtd")).to_have_text(f"{q2(emea_total['price']):,.2f} USD")
    expect(page.get_by_test_id("top-customers-spend")).to_contain_text("Emea Widgets")
    expect(page.get_by_test_id("top-customers-spend")).not_to_contain_text("Amer Gadgets")
    page.screenshot(path=artifacts_dir / "dashboard-filtered.png", full_page=True)

    # The card links keep the filter: the active customers list shows EMEA's customer only.
    page.get_by_test_id("card-customers").click()
    expect(page).to_have_url(re.compile(r"cf_region=EMEA"))
    page.get_by_role("link", name="Emea Widgets").click()
    page.get_by_test_id("menu-customer-reports").click()
    page.get_by_role("link", name="Spend by provider and service").first.click()
    expect(page.get_by_test_id("report-chart")).to_be_visible()
    expect(page.get_by_test_id("report-table")).to_contain_text("Amazon EC2")
    page.screenshot(path=artifacts_dir / "report-spend-by-service.png", full_page=True)

    with page.expect_download() as info:
        page.get_by_test_id("download-csv").click()
    download = info.value
    assert download.suggested_filename.endswith("-spend-by-service.csv")
    csv_rows = read_csv(open(download.path(), "rb").read())
    by_service = sums([r for r in rows if r["customer_id"] == emea.pk], lambda r: r["service"])
    assert {r[1]: r[2] for r in csv_rows[1:-1]} == {k: f"{q2(v['price'])}" for k, v in by_service.items()}
