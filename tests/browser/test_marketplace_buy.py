"""In the browser: filter plans, add a plan and an add-on to the cart (the top-bar count updates without a
reload), check out, and see the subscription become active in Managed Products."""

import re

import pytest
from playwright.sync_api import expect

from accounts.models import Role

from ..factories import DEFAULT_PASSWORD, ResellerFactory, UserFactory
from ..marketplace.factories_orders import Shop

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def eager_celery(settings):
    from customer360.celery import app

    settings.C360_SIMULATED_PROVIDER_DELAY = 0
    settings.C360_SIMULATED_FAILURE_RATE = 0
    before = app.conf.task_always_eager
    app.conf.task_always_eager = True  # provisioning runs when the order commits, in the server thread
    yield
    app.conf.task_always_eager = before


def test_buy_a_plan_and_an_addon_and_see_it_active(page, eager_celery, artifacts_dir):
    reseller = ResellerFactory(name="Acme Cloud", slug="acme-buy")
    user = UserFactory(reseller=reseller, role=Role.SALES, email="sales@acme-buy.example")
    shop = Shop(reseller, user=user)
    page.goto("/accounts/login/")
    page.get_by_label("Email").fill(user.email)
    page.get_by_label("Password").fill(DEFAULT_PASSWORD)
    page.get_by_role("button", name="Sign in").click()

    page.goto(f"/customers/{shop.customer.pk}/buy/m365/")
    expect(page.get_by_test_id("cart-count")).to_have_text("0")
    page.get_by_label("Term").select_option("monthly")
    rows = page.get_by_test_id("plan-row")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("Business Standard (monthly)")
    expect(rows.first).to_contain_text("13.20 USD")
    rows.first.get_by_label("Quantity of Business Standard (monthly)").fill("4")
    rows.first.get_by_test_id("add-plan").click()
    expect(page.get_by_test_id("cart-count")).to_have_text("1")
    page.get_by_text("Add ons (1)").click()
    page.get_by_test_id("add-addon").click()
    expect(page.get_by_test_id("cart-count")).to_have_text("2")
    page.screenshot(path=artifacts_dir / "marketplace-buy.png", full_page=True)

    page.get_by_test_id("cart-badge").click()
    expect(page.get_by_test_id("cart-total")).to_have_text("55.20 USD")  # 4 x 13.20 + 1 x 2.40
    page.get_by_test_id("checkout").click()
    page.get_by_test_id("place-order").click()
    expect(page).to_have_url(re.compile(r"/purchases/[0-9a-f-]+/$"))
    expect(page.get_by_test_id("order-status")).to_have_text("Completed")

    page.get_by_role("link", name="Managed Products").first.click()
    row = page.get_by_test_id("subscriptions").locator("tr", has_text="Business Standard (monthly)")
    expect(row.get_by_test_id("subscription-status")).to_have_text("Active")
    expect(page.get_by_test_id("insights")).to_contain_text("Microsoft 365")
    page.screenshot(path=artifacts_dir / "marketplace-managed.png", full_page=True)
