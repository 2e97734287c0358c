"""Chromium reports no Content Security Policy violation on any page of the demo, for any role.

The demo data (manage.py seed_demo, small) is crawled as owner, sales, billing and viewer: from the
dashboard, every same-origin link is followed (downloads, the admin and sign-out aside), one page per URL
pattern, the pages of the customer with the most data first so that its invoices, inquiries and charges
are reached. Every page records `securitypolicyviolation` events (a listener installed before any script of
the page runs) and console errors naming the policy. Then a few htmx interactions swap content in place
(list filtering, rows per page and the next page, a row's summary, adding to the cart), since swapped
content can violate the policy too. The test fails listing each page, directive and blocked source.
"""

import heapq
import re
import sys
from datetime import date
from decimal import Decimal
from urllib.parse import urlsplit

import pytest
from django.core.management import call_command
from django.db.models import Count
from django.urls import Resolver404, resolve

from accounts.models import Reseller, User
from billing.exports.services import do_create_export
from billing.models_charges import ChargeItem, ChargeKind, ChargeMethod
from billing.models_tax import TaxRate
from billing.services_charges import do_create_charge_group, do_save_charge_item
from billing.services_tax import do_save_tax_rate
from customer360.tenancy import tenant_scope
from customers.models import Customer
from customers.services_custom_fields import do_create_definition
from quotes.models import Quote
from quotes.services_inquiries import do_create_inquiry

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "crawl-pass-3971"
ROLES = ["owner", "sales", "billing", "viewer"]
MAX_PAGES = 120  # per role; each URL pattern is visited once, so the demo needs about 60
SKIP = re.compile(r"^/(admin|accounts/logout)/|\.(csv|xlsx|pdf|gz|parquet)$|/pdf/$|/files/\d+/$")
# Pages the owner's crawl must reach, so a pattern that stops being linked (or loses its demo data) fails here.
OWNER_MUST_REACH = {
    "dashboard", "customers:list", "customers:detail", "customers:create", "customers:custom-fields",
    "customers:cloud-billing", "customers:cloud-accounts", "customers:managed-products", "customers:subscription",
    "customers:buy", "customers:buy-provider", "customers:cart", "customers:purchases", "customers:order",
    "customers:quotes", "customers:inquiry-new", "customers:inquiry", "customers:tax-profile", "customers:credits",
    "customers:charges", "customers:invoices", "customers:invoice", "marketplace:catalog",
    "quotes:list", "quotes:new", "quotes:discount-limits", "quotes:recipients", "quotes:basic",
    "quotes:scenarios", "quotes:summary", "quotes:accept",
    "billing:usage_imports", "billing:usage_unmatched", "billing:usage_import", "billing:invoice_runs",
    "billing:invoice_run", "billing:exports", "billing:export_new", "billing:export", "billing:export_edit",
    "billing:tax_rates", "billing:tax_rate", "customers:custom-field-edit", "customers:custom-field-delete",
    "customers:charge-edit", "customers:custom-fields-customer", "customers:options", "customers:general",
    "reports:customer-reports", "reports:customer-spend-by-service", "reports:top-customers", "reports:mrr",
}  # fmt: skip

# Installed before any script of each page: collects what Chromium reports to the page.
RECORD_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", function (e) {
  window.__cspViolations.push({directive: e.violatedDirective, blocked: e.blockedURI,
                               sample: e.sample, source: e.sourceFile + ":" + e.lineNumber});
});
"""


@pytest.fixture
def demo(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    call_command(
        "seed_demo", resellers=1, customers=11, seed=3, password=PASSWORD, usage_months=2, verbosity=0
    )
    reseller = Reseller.objects.get()
    with tenant_scope(reseller):
        # The customer with the most kinds of data (an invoice first), given an inquiry, and a sent quote
        # (its summary shows the accept link): their pages are crawled first, so that every page is reached.
        kinds = ["invoices", "orders", "subscriptions", "quotes"]
        counted = Customer.objects.annotate(**{f"n_{k}": Count(k, distinct=True) for k in kinds})
        rich = max(counted, key=lambda c: (c.n_invoices > 0, sum(getattr(c, f"n_{k}") > 0 for k in kinds)))
        owner = User.objects.get(email=f"owner@{reseller.slug}.example")
        do_create_inquiry(owner, rich, subject="Pricing for 300 seats", details="Annual, paid monthly?")
        # What the demo does not make: a custom field, a charge, a tax rate and a billing export.
        do_create_definition(owner, label="Region", key="region", type="choice", choices=["EMEA", "AMER"])
        group = do_create_charge_group(owner, rich, "Support")
        do_save_charge_item(owner, ChargeItem(
            name="Premium support", kind=ChargeKind.CHARGE, method=ChargeMethod.PERCENTAGE, rate=Decimal("10"),
            valid_from=date(2026, 1, 1), group=group, customer=rich,
        ))  # fmt: skip
        do_save_tax_rate(owner, TaxRate(name="California state", rate=Decimal("7.25"), country="us",
                                        valid_from=date(2026, 1, 1)))  # fmt: skip
        do_create_export(
            owner, name="Monthly FOCUS", customer=rich, period_kind="last_month", month=None, providers=[],
            cloud_account_ids=[], format="csv", basis="resale", destination="download",
            settings={"prefix": "focus"}, schedule="monthly",
        )  # fmt: skip
        sent = Quote.objects.filter(status=Quote.Status.SENT).order_by("created_at").first()
    return reseller, {str(rich.pk), str(sent.pk)}, rich


def view_name(path: str) -> str | None:
    try:
        return resolve(path).view_name
    except Resolver404:
        return None


def sign_in(page, email):
    page.goto("/accounts/login/")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r"/$"))


class Recorder:
    """Violations per page: the page's own events, and console errors that name the policy."""

    def __init__(self, page):
        self.page, self.console, self.found = page, [], []
        page.on("console", self.on_console)

    def on_console(self, message):
        if message.type == "error" and "Content Security Policy" in message.text:
            self.console.append(message.text)

    def check(self, where: str):
        events = self.page.evaluate("window.__cspViolations || []")
        for v in events:
            self.found.append(
                f"{where}: {v['directive']} blocked {v['blocked'] or '-'} {v['sample']!r} ({v['source']})"
            )
        self.found += [f"{where}: console: {text}" for text in self.console]
        self.console.clear()
        self.page.evaluate("window.__cspViolations = []")


def crawl(page, recorder, origin: str, preferred: set[str]) -> list[str]:
    """Visits one page per URL pattern reachable by links; returns the view names visited."""
    queue, queued, visited = [(0, 0, "/")], {"/"}, []
    seen_views, counter = set(), 0
    while queue and len(visited) < MAX_PAGES:
        _, _, path = heapq.heappop(queue)
        name = view_name(urlsplit(path).path)
        if name is None or name in seen_views:
            continue
        seen_views.add(name)
        response = page.goto(path)
        assert response is not None and response.status == 200, f"{path}: {response and response.status}"
        visited.append(name)
        recorder.check(path)
        links = page.eval_on_selector_all("a[href]:not([download])", "els => els.map(e => e.href)")
        # The quote's accept link is in a copy box, not a link: the customer's page is part of the app too.
        links += page.eval_on_selector_all("input#share-url", "els => els.map(e => e.value)")
        for href in links:
            parts = urlsplit(href)
            if f"{parts.scheme}://{parts.netloc}" != origin or SKIP.search(parts.path):
                continue
            target = parts.path + (f"?{parts.query}" if parts.query else "")
            if target in queued or view_name(parts.path) in seen_views:
                continue
            queued.add(target)
            counter += 1
            first = any(pk in parts.path for pk in preferred)
            heapq.heappush(queue, (0 if first else 1, counter, target))
    return visited


def htmx_interactions(page, recorder, rich):
    """Content swapped in by htmx is checked too: filtering, paging, a row's summary, the cart."""
    page.goto("/customers/")
    with page.expect_response(re.compile(r"/customers/\?")):
        page.locator("#per-page").select_option("10")
    with page.expect_response(re.compile(r"/customers/\?")):
        page.locator("#id_status").select_option(index=1)
    with page.expect_response(re.compile(r"/customers/\?")):
        page.locator("#id_status").select_option(index=0)
    next_page = page.get_by_role("link", name="Next ›")
    if next_page.count():
        with page.expect_response(re.compile(r"page=")):
            next_page.click()
    summary = page.locator("button[data-summary-url]").first
    with page.expect_response(re.compile(r"/summary/")):
        summary.click()
    page.wait_for_timeout(100)
    recorder.check("/customers/ (htmx: filter, rows per page, next page, row summary)")

    page.goto("/quotes/")
    page.locator("#quote-expired").check()
    page.wait_for_load_state("networkidle")
    recorder.check("/quotes/ (htmx: show expired)")

    page.goto(f"/customers/{rich.pk}/buy/")
    add = page.locator("form[hx-post*='/cart/add/'] button[type=submit]").first
    if add.count():
        with page.expect_response(re.compile(r"/cart/add/")):
            add.click()
        recorder.check(f"/customers/{rich.pk}/buy/ (htmx: add to the cart)")


def test_no_page_of_the_demo_violates_the_content_security_policy(browser, live_server, demo, capsys):
    reseller, preferred, rich = demo
    crawled, missing, violations = {}, set(), []
    for role in ROLES:
        context = browser.new_context(base_url=live_server.url, viewport={"width": 1280, "height": 800})
        context.set_default_timeout(10_000)
        context.add_init_script(RECORD_VIOLATIONS)
        page = context.new_page()
        recorder = Recorder(page)
        sign_in(page, f"{role}@{reseller.slug}.example")
        visited = crawl(page, recorder, live_server.url, preferred)
        crawled[role] = len(visited)
        if role == "owner":
            missing = OWNER_MUST_REACH - set(visited)
            htmx_interactions(page, recorder, rich)
        violations += [f"[{role}] {v}" for v in recorder.found]
        context.close()
    summary = ", ".join(f"{role} {n}" for role, n in crawled.items())
    with capsys.disabled():
        sys.stderr.write(f"\nCSP crawl, pages per role: {summary}\n")
    assert not violations, f"Content Security Policy violations (pages per role: {summary}):\n" + "\n".join(
        violations
    )
    assert not missing, f"the crawl no longer reaches {sorted(missing)} (pages per role: {summary})"
    assert min(crawled.values()) >= 20, f"pages per role: {summary}"
