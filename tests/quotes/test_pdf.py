"""The quote PDF, read back as text: what a customer sees on paper (lines, subtotals, totals, addresses,
page numbers, headers on every page), user text escaped, and a revision re-rendered identically."""

import io

import pytest
from PIL import Image
from pypdf import PdfReader

from accounts.models import Reseller
from customer360.pdf import render_pdf_result
from customer360.tenancy import tenant_scope
from quotes.pdf import STYLESHEETS, render_snapshot_html, render_snapshot_pdf
from quotes.services_send import build_snapshot

from .documents_helpers import make_lead, make_quote, sender

pytestmark = pytest.mark.django_db


def pages_text(pdf: bytes) -> list[str]:
    return [page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages]


def snapshot_of(quote, reseller, **kwargs) -> dict:
    with tenant_scope(reseller):
        quote.refresh_from_db()
        return build_snapshot(quote, **kwargs)


@pytest.fixture
def dressed_reseller(reseller, settings, tmp_path):
    """The reseller with an address and an uploaded logo (MEDIA_ROOT in a temporary folder)."""
    settings.MEDIA_ROOT = tmp_path / "media"
    buffer = io.BytesIO()
    Image.new("RGB", (120, 40), (22, 50, 79)).save(buffer, format="PNG")
    from django.core.files.base import ContentFile

    Reseller.objects.filter(pk=reseller.pk).update(
        address_line1="500 Market Street", city="San Francisco", postal_code="94105", country="US",
        email="sales@acme.example", phone="+1 415 555 0100",
    )  # fmt: skip
    reseller.refresh_from_db()
    reseller.logo.save("acme.png", ContentFile(buffer.getvalue()))
    return reseller


def test_the_pdf_shows_parties_lines_totals_and_the_acceptance_block(dressed_reseller):
    reseller = dressed_reseller
    quote = make_quote(
        reseller, sender(reseller), lines=6, scenarios=("Business Standard, annual", "Business Premium, monthly"),
        notes="Seats can be added at any time.", terms="Payment due within 30 days of invoice.",
    )  # fmt: skip
    snapshot = snapshot_of(quote, reseller, accept_link="https://crm.example/quotes/accept/abc/")
    result = render_pdf_result(render_snapshot_html(snapshot), stylesheets=STYLESHEETS)
    assert result.refused == []
    assert sorted(result.served) == [
        "https://pdf.customer360.invalid/media/reseller_logos/acme.png",
        "https://pdf.customer360.invalid/static/css/quote-pdf.css",
    ]
    text = "\n".join(pages_text(result.pdf))
    for expected in [
        "Acme Cloud", "500 Market Street", "94105 San Francisco", "sales@acme.example · +1 415 555 0100",
        "Initech", "4120 Freidrich Lane", "78744 Austin, TX", "Pat Billing", "pat@initech.example",
        quote.number, "Revision 1", "Valid until", "Office for Initech",
        "Option 1: Business Standard, annual", "Option 2: Business Premium, monthly",
        "Business Standard seats #1", "Business Standard seats #6", "BST-ANNUAL", "1 year · Monthly",
        "less 10%", "Subtotal, Licenses", "Estimated tax", "Total, option 1",
        "Seats can be added at any time.", "Payment due within 30 days of invoice.",
        "ACCEPTANCE", "https://crm.example/quotes/accept/abc/", "Signature", "Option accepted",
    ]:  # fmt: skip
        assert expected in text, expected
    # 12 x (1+2+3+4+6) + 12 x 5 less 10 % = 192 + 54 = 246.00 per scenario, no tax profile.
    assert text.count("246.00") >= 4  # section subtotal and scenario total, in each scenario
    assert "246.00 USD" in text and "0.00 USD" in text
    [logo] = PdfReader(io.BytesIO(result.pdf)).pages[0].images
    assert logo.image.size == (120, 40)


def test_page_count_grows_with_lines_and_every_page_is_numbered_with_headers(reseller):
    user = sender(reseller)
    short = render_snapshot_pdf(snapshot_of(make_quote(reseller, user, lines=1), reseller))
    long_quote = make_quote(reseller, user, lines=300, name="Three hundred lines")
    long = render_snapshot_pdf(snapshot_of(long_quote, reseller))
    short_pages, long_pages = pages_text(short), pages_text(long)
    assert len(short_pages) == 1 and "Page 1 of 1" in short_pages[0]
    assert len(long_pages) >= 8
    n = len(long_pages)
    for number, text in enumerate(long_pages, start=1):
        assert f"Page {number} of {n}" in text
        assert f"{long_quote.number} · revision 1" in text  # the running footer
    # The table header repeats at the top of every page the lines run over.
    line_pages = [t for t in long_pages if "Business Standard seats #" in t]
    assert len(line_pages) >= 7
    assert all("DESCRIPTION" in t and "UNIT PRICE" in t for t in line_pages)
    assert (
        "Business Standard seats #300" in long_pages[-1] or "Business Standard seats #300" in long_pages[-2]
    )


def test_user_text_is_escaped(reseller):
    quote = make_quote(
        reseller, sender(reseller), lines=1, name='<b>Bold</b> & "quoted"',
        description="<img src=x onerror=alert(1)>", notes="<script>alert('x')</script>\nsecond line",
    )  # fmt: skip
    snapshot = snapshot_of(quote, reseller)
    html = render_snapshot_html(snapshot)
    assert "<b>Bold</b>" not in html and "&lt;b&gt;Bold&lt;/b&gt; &amp; &quot;quoted&quot;" in html
    assert "<img src=x" not in html and "<script>" not in html
    text = "\n".join(pages_text(render_snapshot_pdf(snapshot)))
    assert '<b>Bold</b> & "quoted"' in text
    assert "<img src=x onerror=alert(1)>" in text and "<script>alert('x')</script>" in text


def test_a_lead_quote_is_addressed_to_the_lead(reseller):
    lead = make_lead(reseller)
    quote = make_quote(reseller, sender(reseller), lines=1, lead=lead)
    text = "\n".join(pages_text(render_snapshot_pdf(snapshot_of(quote, reseller))))
    for expected in [
        "Hooli Prospects",
        "1 Hacker Way",
        "94301 Palo Alto",
        "Gavin Belson",
        "gavin@hooli.example",
    ]:
        assert expected in text
    assert "Option 1" not in text  # one scenario: no "options" wording


def test_a_revision_renders_again_identically_from_its_snapshot(reseller):
    quote = make_quote(reseller, sender(reseller), lines=4)
    snapshot = snapshot_of(quote, reseller)
    first, second = render_snapshot_pdf(snapshot), render_snapshot_pdf(snapshot)
    assert pages_text(first) == pages_text(second)
    # The snapshot is plain JSON: money as strings, nothing that needs the database.
    import json

    assert json.loads(json.dumps(snapshot)) == snapshot
    line = snapshot["scenarios"][0]["sections"][0]["lines"][0]
    assert line == {
        "description": "Business Standard seats #1", "sku": "BST-ANNUAL", "quantity": 1, "term": "1 year",
        "billing_frequency": "Monthly", "unit_price": "12.0000", "discount_percent": "0.00", "amount": "12.0000",
    }  # fmt: skip
