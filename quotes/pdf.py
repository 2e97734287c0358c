"""The quote document: a snapshot (services_send.build_snapshot) → HTML (templates/quotes/pdf/) → PDF.

Rendering works from the snapshot alone, never from the live quote, so a sent revision's PDF can be
rendered again identically. Every piece of user text reaches the page through Django's autoescaping;
the only URLs in the document are the project's own stylesheet and the reseller's logo, both on
customer360.pdf's private origin.
"""

from datetime import date
from decimal import Decimal, InvalidOperation

from django.template.loader import render_to_string

from customer360.money import quantize
from customer360.pdf import PDF_BASE_URL, pdf_logo_url, render_pdf

STYLESHEETS = ("css/quote-pdf.css",)  # static/, applied by customer360.pdf (parsed once per renderer)


def money(value: str, currency: str) -> str:
    """ "1234.5" → "1,234.50" (the currency's minor unit, thousands separated)."""
    try:
        return f"{quantize(Decimal(value), currency):,}"
    except (InvalidOperation, TypeError, ValueError):
        return str(value)


def unit_price(value: str, currency: str) -> str:
    """A unit price keeps up to 4 decimals when it has them (usage rates), else the minor unit."""
    try:
        amount = Decimal(value)
    except (InvalidOperation, TypeError, ValueError):
        return str(value)
    rounded = quantize(amount, currency)
    if rounded == amount:
        return f"{rounded:,}"
    return f"{quantize(amount, currency, Decimal('0.0001')).normalize():,f}"


def percent(value: str) -> str:
    try:
        amount = Decimal(value)
    except (InvalidOperation, TypeError, ValueError):
        return ""
    return "" if not amount else f"{amount.normalize():f}%"


def long_date(value: str) -> str:
    try:
        day = date.fromisoformat(value)
    except (TypeError, ValueError):
        return ""
    return f"{day.day} {day:%B %Y}"


def document_context(snapshot: dict, *, draft: bool = False) -> dict:
    """The template's context: the snapshot with amounts and dates formatted for print."""
    currency = snapshot["currency"]
    scenarios = []
    for index, scenario in enumerate(snapshot["scenarios"], start=1):
        sections = []
        for section in scenario["sections"]:
            lines = [
                {
                    **line,
                    "unit_price": unit_price(line["unit_price"], currency),
                    "discount": percent(line["discount_percent"]),
                    "amount": money(line["amount"], currency),
                }
                for line in section["lines"]
            ]
            sections.append({**section, "lines": lines, "subtotal": money(section["subtotal"], currency)})
        scenarios.append(
            {
                **scenario,
                "index": index,
                "sections": sections,
                "line_count": sum(len(s["lines"]) for s in sections),
                "subtotal": money(scenario["subtotal"], currency),
                "tax": money(scenario["tax"], currency),
                "total": money(scenario["total"], currency),
            }
        )
    seller = snapshot["seller"]
    return {
        "doc": snapshot,
        "draft": draft,
        "currency": currency,
        "date": long_date(snapshot["date"]),
        "valid_until": long_date(snapshot["valid_until"]),
        "seller": seller,
        "logo_url": pdf_logo_url(seller["logo"]) if seller.get("logo") else "",
        "recipient": snapshot["recipient"],
        "scenarios": scenarios,
    }


def render_snapshot_html(snapshot: dict, *, draft: bool = False) -> str:
    return render_to_string("quotes/pdf/quote.html", document_context(snapshot, draft=draft))


def render_snapshot_pdf(snapshot: dict, *, draft: bool = False, timeout: float | None = None) -> bytes:
    """The PDF of a snapshot (customer360.pdf's restricted fetcher and time limit)."""
    return render_pdf(
        render_snapshot_html(snapshot, draft=draft),
        base_url=PDF_BASE_URL,
        stylesheets=STYLESHEETS,
        timeout=timeout,
    )
