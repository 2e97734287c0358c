"""A credit issued to one finalized invoice settles part of it at once: the balance due falls, the invoice
closes when nothing is left, the credit is used (never on the balance), and bad targets are refused."""

from datetime import date
from decimal import Decimal

import pytest
from django.urls import reverse

from accounts.models import Role
from billing.invoicing import generate_invoice
from billing.invoicing_states import balance_due, do_finalize_invoice
from billing.models import Credit, Invoice, Payment
from billing.services_credits import available_credit
from customer360.tenancy import tenant_scope

from .invoice_helpers import make_customer, make_subscription

pytestmark = pytest.mark.django_db
D = Decimal
SEP = date(2026, 9, 1)


def open_invoice(reseller, name="Initech", price="100.00"):
    customer = make_customer(reseller, name=name)
    make_subscription(customer, unit_price=price, quantity=1)
    with tenant_scope(reseller):
        return do_finalize_invoice(None, generate_invoice(customer, SEP), today=date(2026, 10, 5))


def test_a_credit_to_an_invoice_settles_it_from_the_credits_page(reseller, make_client):
    invoice = open_invoice(reseller)
    customer = invoice.customer
    client = make_client(reseller, Role.BILLING)
    url = reverse("customers:credits", args=[customer.pk])
    page = client.get(url).content.decode()
    assert f"{invoice.number} (September 2026), 100.00 USD due" in page

    response = client.post(url, {"invoice": invoice.pk, "amount": "30.00", "reason": "SLA breach"})
    assert response.status_code == 302
    with tenant_scope(reseller):
        invoice.refresh_from_db()
        assert (invoice.status, invoice.amount_paid) == ("open", D("30.00"))
        assert balance_due(customer).amount == D("70.00")
        credit = Credit.objects.get()
        assert credit.invoice_id == invoice.pk
        # Used on the invoice at once: nothing of it waits on the balance for the next invoice.
        assert available_credit(customer, date(2026, 11, 1)).amount == 0
        payment = Payment.objects.get()
        assert (payment.method, payment.credit_id, payment.amount) == ("credit", credit.pk, D("30.00"))
        assert customer.activity.filter(action="credit.issued", message__contains=invoice.number).exists()
    listing = client.get(url).content.decode()
    assert "to invoice <a" in listing and invoice.number in listing

    client.post(url, {"invoice": invoice.pk, "amount": "70.00", "reason": "Rest waived"})
    with tenant_scope(reseller):
        invoice.refresh_from_db()
        assert (invoice.status, invoice.amount_paid) == ("closed", D("100.00"))


@pytest.mark.parametrize(
    "data, field, message",
    [
        ({"amount": "100.01", "reason": "Too much"}, "amount", "100.00 USD due"),
        ({"amount": "10", "reason": "x", "expires_on": "2099-01-01"}, "expires_on", "used at once"),
    ],
)
def test_bad_credits_to_an_invoice_are_refused_on_their_field(reseller, make_client, data, field, message):
    invoice = open_invoice(reseller)
    client = make_client(reseller, Role.BILLING)
    response = client.post(
        reverse("customers:credits", args=[invoice.customer_id]), {"invoice": invoice.pk, **data}
    )
    assert response.status_code == 400
    form = response.context["form"]
    assert message in " ".join(form.errors[field])
    with tenant_scope(reseller):
        assert not Credit.objects.exists() and not Payment.objects.exists()


def test_another_customers_or_a_paid_invoice_is_not_a_choice(reseller, make_client):
    mine, theirs = open_invoice(reseller, "Mine"), open_invoice(reseller, "Theirs", price="50.00")
    client = make_client(reseller, Role.BILLING)
    url = reverse("customers:credits", args=[mine.customer_id])
    response = client.post(url, {"invoice": theirs.pk, "amount": "5", "reason": "x"})
    assert response.status_code == 400 and "invoice" in response.context["form"].errors
    client.post(url, {"invoice": mine.pk, "amount": "100.00", "reason": "all"})
    with tenant_scope(reseller):
        assert Invoice.objects.get(pk=mine.pk).status == "closed"
    response = client.post(url, {"invoice": mine.pk, "amount": "1", "reason": "again"})
    assert response.status_code == 400 and "invoice" in response.context["form"].errors


def test_the_last_payment_on_the_overview_is_money_received_not_a_credit(reseller, owner_client):
    invoice = open_invoice(reseller)
    with tenant_scope(reseller):
        from billing.services_credits import do_issue_credit

        do_issue_credit(None, invoice.customer, amount=D("10.00"), reason="Goodwill", invoice=invoice)
    page = owner_client.get(reverse("customers:detail", args=[invoice.customer_id])).content.decode()
    assert 'data-testid="last-payment"><span class="muted">None yet' in page
