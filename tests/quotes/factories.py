"""Quote rows for tests: one of every quotes model for a reseller (the tenancy matrix's build_tenant)."""

import datetime
from decimal import Decimal

from customer360.tenancy import tenant_scope


def quote_rows_for(reseller, customer, owner, order_line, marker: str) -> dict:
    """One row of every quotes model for `reseller`, carrying `marker` where it is text. `order_line` (from
    order_rows_for) gives the catalog plan; the accepted, converted quote points at its order."""
    from quotes.models import (
        DiscountLimit,
        Inquiry,
        Lead,
        Quote,
        QuoteCounter,
        QuoteLine,
        QuoteRevision,
        QuoteScenario,
        QuoteSection,
    )

    low = marker.lower()
    plan = order_line.plan
    money = {
        "currency": "USD",
        "list_price": Decimal("15"),
        "unit_price": Decimal("12"),
        "unit_cost": Decimal("10"),
    }
    with tenant_scope(reseller):
        lead = Lead.objects.create(
            company_name=f"{marker} Prospect",
            contact_name=f"{marker} Buyer",
            contact_email=f"{low}@lead.example",
        )
        inquiry = Inquiry.objects.create(
            customer=customer,
            subject=f"{marker} inquiry",
            details=f"{marker} wants a quote",
            created_by=owner,
        )
        counter = QuoteCounter.objects.create(year=2026, last_number=2)
        quote = Quote.objects.create(
            number="Q-2026-00001", status=Quote.Status.SENT, step=Quote.Step.SUMMARY, customer=customer,
            category=plan.product.provider, inquiry=inquiry, name=f"{marker} quote",
            valid_until=datetime.date(2099, 12, 31), currency="USD", notes=f"{marker} notes",
            terms=f"{marker} terms", created_by=owner,
        )  # fmt: skip
        Quote.objects.create(
            number="Q-2026-00002", lead=lead, category=plan.product.provider, name=f"{marker} lead quote",
            currency="USD", created_by=owner,
        )  # fmt: skip
        scenario = QuoteScenario.objects.create(quote=quote, name=f"{marker} scenario")
        section = QuoteSection.objects.create(scenario=scenario, name=f"{marker} section")
        line = QuoteLine.objects.create(
            section=section, plan=plan, description=f"{marker} line", sku=plan.sku, quantity=3,
            term=plan.billing_term, billing_frequency=plan.billing_frequency, amount=Decimal("36"),
            pricing_explanation=f"{marker} pricing", **money,
        )  # fmt: skip
        revision = QuoteRevision.objects.create(
            quote=quote, number=1, snapshot={"name": f"{marker} quote"}, total=Decimal("36"), currency="USD",
            sent_by=owner, recipient_email=f"{low}@customer.example", delivery=QuoteRevision.Delivery.SENT,
        )  # fmt: skip
        limit = DiscountLimit.objects.create(role="sales", max_percent=Decimal("10"))
    return {
        Lead: lead, Inquiry: inquiry, QuoteCounter: counter, Quote: quote, QuoteScenario: scenario,
        QuoteSection: section, QuoteLine: line, QuoteRevision: revision, DiscountLimit: limit,
    }  # fmt: skip


# --- The builder's tests (quotes.services) ---------------------------------------------------------------

LEAD_DATA = {
    "company_name": "Umbrella Prospects", "contact_name": "Alice Buyer", "contact_email": "alice@umbrella.example",
    "phone": "+1 555 0100", "address_line1": "1 Main St", "city": "Springfield", "postal_code": "12345",
    "country": "US", "currency": "USD",
}  # fmt: skip


def start_quote(shop, *, user=None, customer=None, lead_data=None, lines=(), on_date=None):
    """A draft quote in the shop's m365 category through the services (for the shop's customer unless a
    lead is given), with (item, quantity, discount) lines in its first section."""
    from quotes.services import do_create_quote
    from quotes.services_lines import do_add_line

    user = user or shop.user
    with tenant_scope(shop.reseller):
        quote = do_create_quote(
            user, category=shop.m365, customer=None if lead_data else (customer or shop.customer),
            lead_data=lead_data, on_date=on_date,
        )  # fmt: skip
        section = quote.scenarios.get().sections.get()
        for item, quantity, discount in lines:
            do_add_line(
                user, quote, section, item, quantity=quantity, discount_percent=discount, on_date=on_date
            )
        quote.refresh_from_db()
    return quote


def mark_sent(quote, user=None):
    """What sending does to the working revision, for tests of what comes after: the frozen revision row
    and the status (the sending helper's service does this for real)."""
    from quotes.models import Quote, QuoteRevision

    with tenant_scope(quote.reseller_id):
        revision = QuoteRevision.objects.create(
            quote=quote, number=quote.revision, snapshot={"name": quote.name, "revision": quote.revision},
            total=Decimal("0"), currency=quote.currency, sent_by=user, recipient_email="buyer@customer.example",
            delivery=QuoteRevision.Delivery.SENT,
        )  # fmt: skip
        Quote.objects.filter(pk=quote.pk).update(status=Quote.Status.SENT, step=Quote.Step.SUMMARY)
        quote.refresh_from_db()
    return revision
