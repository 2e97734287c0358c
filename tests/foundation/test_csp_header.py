"""The Content Security Policy: enforced on every page with a fresh nonce, no 'unsafe-*' source, and no
template that would need one (inline style attributes, event handlers, scripts or styles without the nonce).
The browser side (Chromium reports no violation on any page of the demo) is tests/browser/test_csp_crawl.py."""

import re
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client

from accounts.models import Role

from ..factories import DEFAULT_PASSWORD, CustomerFactory, UserFactory

pytestmark = pytest.mark.django_db

NONCE = re.compile(r"'nonce-([A-Za-z0-9+/=]+)'")
# Rendered server-side by WeasyPrint, never by a browser: the policy does not apply to them.
PDF_TEMPLATES = {"billing/templates/billing/invoice_pdf.html", "quotes/templates/quotes/pdf/quote.html"}


def directives(response) -> dict[str, list[str]]:
    header = response.headers["Content-Security-Policy"]
    return {part.split()[0]: part.split()[1:] for part in header.split(";") if part.strip()}


def nonce_of(response) -> str:
    found = NONCE.findall(response.headers["Content-Security-Policy"])
    assert found, "the policy carries no nonce"
    assert len(set(found)) == 1, "script-src and style-src carry different nonces"
    return found[0]


@pytest.fixture
def pages(reseller, owner_client, in_scope):
    with in_scope(reseller):
        customer = CustomerFactory(reseller=reseller)
    return owner_client, ["/", "/customers/", f"/customers/{customer.pk}/", "/quotes/", "/billing/exports/"]


def test_every_page_is_enforced_with_a_nonce_and_no_unsafe_source(pages):
    client, urls = pages
    for url in [*urls, "/accounts/login/"]:
        response = (client if url != "/accounts/login/" else Client()).get(url)
        assert response.status_code == 200, url
        assert "Content-Security-Policy-Report-Only" not in response.headers, url
        policy = directives(response)
        header = response.headers["Content-Security-Policy"]
        assert "unsafe-" not in header, f"{url}: {header}"
        nonce = nonce_of(response)
        assert policy["default-src"] == ["'self'"]
        assert policy["script-src"] == ["'self'", f"'nonce-{nonce}'"]
        assert policy["style-src"] == ["'self'", f"'nonce-{nonce}'"]
        assert policy["img-src"] == ["'self'", "data:"]
        assert policy["frame-ancestors"] == ["'none'"]
        assert policy["form-action"] == ["'self'"]
        assert policy["base-uri"] == ["'none'"]
        assert policy["object-src"] == ["'none'"]
        # The page's scripts carry this response's nonce, and its markup has no style attribute.
        html = response.content.decode()
        assert f'nonce="{nonce}"' in html, url
        assert not re.search(r"<[^>]+\sstyle=", html), f"{url} has a style attribute"


def test_the_nonce_differs_on_every_response(pages):
    client, urls = pages
    nonces = [nonce_of(client.get(url)) for url in urls for _ in range(2)]
    assert len(set(nonces)) == len(nonces)


def test_an_htmx_partial_is_under_the_policy_too(pages):
    client, _ = pages
    response = client.get("/customers/", headers={"HX-Request": "true", "HX-Target": "customer-table"})
    assert response.status_code == 200
    assert "unsafe-" not in response.headers["Content-Security-Policy"]
    assert "<script" not in response.content.decode()


def test_admin_pages_are_under_the_same_policy(reseller):
    """Django's admin needs no inline script or style, so it keeps the same policy (a reseller's admin here)."""
    UserFactory(reseller=reseller, role=Role.OWNER, email="staff@acme.example", is_staff=True)
    client = Client()
    assert client.login(email="staff@acme.example", password=DEFAULT_PASSWORD)
    for url in ["/admin/", "/admin/login/"]:
        response = client.get(url)
        assert response.status_code in (200, 302), url
        assert "unsafe-" not in response.headers["Content-Security-Policy"], url
        assert directives(response)["script-src"][0] == "'self'"


def test_no_browser_template_needs_an_unsafe_source():
    """A template with style="", an on*= handler, or a <script>/<style> without the nonce would be blocked."""
    root = Path(settings.BASE_DIR)
    templates = [
        p
        for p in root.glob("**/templates/**/*.html")
        if ".venv" not in p.parts and str(p.relative_to(root)) not in PDF_TEMPLATES
    ]
    assert len(templates) > 80
    found = []
    for path in templates:
        text = path.read_text()
        for pattern in (
            r"\sstyle=",
            r"\son[a-z]+=",
            r"<script(?![^>]*\b(src|nonce)=)",
            r"<style(?![^>]*\bnonce=)",
        ):
            found += [f"{path.relative_to(root)}: {m.group(0)!r}" for m in re.finditer(pattern, text)]
    assert not found, "\n".join(found)
