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
