"""In the browser, end to end: a sales user builds a quote in the customer's Quotes and Inquiries, sends
it; the customer opens the emailed accept link in a fresh browser (no sign-in) and accepts; the sales
user converts it and sees the order, which links back to the quote."""

import re

import pytest
from django.core import mail
from playwright.sync_api import expect

from accounts.models import Role

from ..factories import DEFAULT_PASSWORD, ResellerFactory, UserFactory
from ..marketplace.factories_orders import Shop

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def eager_celery(settings, tmp_path):
    from customer360.celery import app

    settings.C360_SIMULATED_PROVIDER_DELAY = 0
    settings.C360_SIMULATED_FAILURE_RATE = 0
    settings.MEDIA_ROOT = tmp_path  # the revision's PDF
    before = app.conf.task_always_eager
    app.conf.task_always_eager = True  # the email goes out when the send commits, in the server thread
    yield
    app.conf.task_always_eager = before


def test_build_send_accept_and_convert_a_quote(
    page, browser, live_server, eager_celery, settings, artifacts_dir
):
    settings.SITE_URL = live_server.url  # the emailed link points at this server
    reseller = ResellerFactory(name="Acme Cloud", slug="acme-quotes")
    user = UserFactory(reseller=reseller, role=Role.SALES, email="sales@acme-quotes.example")
    shop = Shop(reseller, user=user)
    page.goto("/accounts/login/")
    page.get_by_label("Email").fill(user.email)
    page.get_by_label("Password").fill(DEFAULT_PASSWORD)
    page.get_by_role("button", name="Sign in").click()

    # Build: Create Quote in the customer's Quotes and Inquiries, the Microsoft 365 tile, then the steps.
    page.goto(f"/customers/{shop.customer.pk}/quotes/")
    page.get_by_role("button", name="Create Quote").click()
    page.locator("[data-testid=category-tile][value=m365]").click()
    page.get_by_label("Name").fill("Office for Initech")
    page.get_by_role("button", name="Save and continue").click()
    items = page.get_by_label("Plan or add-on").first
    annual = items.locator("option", has_text="Business Standard (annual)").first.get_attribute("value")
    items.select_option(value=annual)
    page.get_by_label("Quantity").first.fill("10")
    page.get_by_role("button", name="Add line").first.click()
    expect(page.get_by_test_id("quote-line")).to_have_count(1)
    expect(page.get_by_test_id("line-amount").first).to_have_text("120.00")  # 10 x 12.00 (cost + 20 %)
    page.reload()  # "Continue to summary" is outside the htmx-swapped scenarios, so it enables on reload
    page.get_by_role("button", name="Continue to summary").click()

    # Send: the email (with the accept link) goes out when the send commits.
    page.get_by_test_id("send-form").locator("input[name=to]").fill("peter@initech.example")
    page.get_by_test_id("send-quote").click()
    expect(page.get_by_test_id("revision-row")).to_have_count(1)
    summary_url = page.url
    message = next(m for m in mail.outbox if "peter@initech.example" in m.to)
    link = re.search(r"https?://\S+/quotes/accept/\S+/", message.body).group(0)
    assert link.startswith(live_server.url)

    # The customer: a fresh browser context, no session.
    customer = browser.new_context(viewport={"width": 1280, "height": 800})
    try:
        outside = customer.new_page()
        outside.goto(link)
        expect(outside.get_by_test_id("accept-form")).to_be_visible()
        expect(outside.get_by_test_id("scenario-total")).to_contain_text("120.00 USD")
        outside.get_by_role("radio").first.check()
        outside.get_by_label("Your name").fill("Peter Gibbons")
        outside.screenshot(path=artifacts_dir / "quote-accept-open.png", full_page=True)
        outside.get_by_test_id("accept-submit").click()
        expect(outside.get_by_test_id("accept-state")).to_contain_text("Thank you, Peter Gibbons")
        outside.reload()  # the link is used up now
        expect(outside.get_by_test_id("accept-state")).to_contain_text("This quote was already accepted")
        outside.screenshot(path=artifacts_dir / "quote-accept-done.png", full_page=True)
    finally:
        customer.close()

    # Convert, as the sales user, from the quote's summary; the order links back.
    page.goto(summary_url)
    expect(page.get_by_test_id("convert-panel")).to_contain_text("Peter Gibbons accepted")
    page.get_by_test_id("convert-panel").screenshot(path=artifacts_dir / "quote-convert-panel.png")
    page.get_by_test_id("convert-submit").click()
    expect(page).to_have_url(re.compile(r"/purchases/[0-9a-f-]+/$"))
    expect(page.get_by_test_id("order-from-quote")).to_contain_text("From quote Q-")
    expect(page.get_by_test_id("order-status")).to_have_text("Completed")
    page.screenshot(path=artifacts_dir / "quote-converted-order.png", full_page=True)
    page.get_by_test_id("order-from-quote").get_by_role("link").click()
    expect(page.get_by_test_id("convert-panel")).to_contain_text("Converted to an order")
