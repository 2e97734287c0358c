"""Customer Overview's payment information and the Available credit card: balance due (and overdue), last
payment, unused credit balance, available credit against the end of last month."""

import re
from datetime import date
from decimal import Decimal

import pytest
from django.urls import reverse

from billing.invoicing import generate_invoice
from billing.invoicing_states import do_finalize_invoice, do_record_payment
from billing.services_credits import do_issue_credit
from customer360.tenancy import tenant_scope

from ..billing.invoice_helpers import make_customer, make_subscription

pytestmark = pytest.mark.django_db
D = Decimal


def text_of(page: str, testid: str) -> str:
    match = re.search(rf'data-testid="{testid}">(.*?)</dd>', page, re.S)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", match.group(1))).strip()


def card(page: str, label: str) -> str:
    match = re.search(rf'<div class="label">{label}</div>(.*?)</div>\s*</div>', page, re.S)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", match.group(1))).strip()


def test_the_overview_shows_what_is_owed_paid_and_credited(reseller, owner_client):
    customer = make_customer(reseller, credit_limit=D("1000.00"))
    make_subscription(customer, unit_price="100.00", quantity=1)  # 100.00 for September
    with tenant_scope(reseller):
        invoice = generate_invoice(customer, date(2026, 9, 1))
        # Finalized as of 1 October: due 31 October, so it is overdue today.
        invoice = do_finalize_invoice(None, invoice, today=date(2026, 10, 1))
        do_record_payment(None, invoice, amount=D("40.00"), received_on=date(2026, 11, 20))
        do_issue_credit(None, customer, amount=D("25.00"), reason="Goodwill")
    page = owner_client.get(reverse("customers:detail", args=[customer.pk])).content.decode()

    assert text_of(page, "balance-due").startswith("60.00 USD · 60.00 overdue")
    assert text_of(page, "last-payment") == f"40.00 USD on 20 Nov 2026 ({invoice.number})"
    assert text_of(page, "credit-balance").startswith("25.00 USD")
    # Nothing was owed at the end of last month (the invoice was finalized this month): 1,000 then, 940 now.
    assert card(page, "Available credit") == "940.00 USD ▼ -60.00 vs the end of last month"


def test_a_customer_with_no_invoices_owes_nothing(reseller, owner_client):
    customer = make_customer(reseller, credit_limit=D("500.00"))
    page = owner_client.get(reverse("customers:detail", args=[customer.pk])).content.decode()
    assert text_of(page, "balance-due").startswith("0.00 USD ·")
    assert "overdue" not in text_of(page, "balance-due")
    assert text_of(page, "last-payment") == "None yet"
    assert card(page, "Available credit") == "500.00 USD no change vs the end of last month"
