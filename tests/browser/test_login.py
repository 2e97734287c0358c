import re

import pytest
from playwright.sync_api import expect

from accounts.models import Role

from ..factories import DEFAULT_PASSWORD, ResellerFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def owner():
    reseller = ResellerFactory(name="Acme Cloud", slug="acme")
    return UserFactory(reseller=reseller, role=Role.OWNER, email="owner@acme.example")


def sign_in(page, email, password):
    page.goto("/accounts/login/")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def test_owner_signs_in_sees_the_dashboard_and_signs_out(page, owner, artifacts_dir):
    sign_in(page, owner.email, DEFAULT_PASSWORD)

    expect(page.get_by_role("heading", level=1)).to_have_text("Dashboard")
    expect(page.get_by_test_id("reseller-name")).to_have_text("Acme Cloud")
    expect(page.get_by_test_id("user-email")).to_have_text("owner@acme.example")
    page.screenshot(path=artifacts_dir / "dashboard.png", full_page=True)

    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(re.compile(r"/accounts/login/$"))
    expect(page.get_by_role("heading", name="Sign in to Customer360")).to_be_visible()
    expect(page.get_by_test_id("reseller-name")).to_have_count(0)


def test_wrong_password_shows_the_error_on_the_login_page(page, owner):
    sign_in(page, owner.email, "not-the-password")

    expect(page.get_by_role("alert")).to_contain_text("Please enter a correct email and password")
    expect(page.get_by_role("heading", name="Sign in to Customer360")).to_be_visible()
    expect(page.get_by_label("Email")).to_have_value(owner.email)
