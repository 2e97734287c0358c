"""Building an invoice: subscription proration, license changes, usage grouping, charges, tax, credits."""

from datetime import date
from decimal import Decimal

import pytest

from billing.invoicing import generate_invoice
from billing.models import CreditApplication, Invoice, InvoiceLine
from customer360.tenancy import tenant_scope

from .invoice_helpers import (
    OCT,
    add_item,
    add_usage,
    change_licenses,
    give_credit,
    make_account,
    make_customer,
    make_subscription,
    tax_customer,
)

pytestmark = pytest.mark.django_db
D = Decimal


def build(customer, month=OCT):
    with tenant_scope(customer.reseller_id):
        invoice = generate_invoice(customer, month)
        lines = list(InvoiceLine.objects.filter(invoice=invoice).order_by("position")) if invoice else []
    return invoice, lines


def amounts(lines, kind=None):
    return [ln.amount for ln in lines if kind is None or ln.kind == kind]


def test_a_full_month_is_the_full_price(reseller):
    customer = make_customer(reseller)
    make_subscription(customer, unit_price="12.50", quantity=4)
    invoice, lines = build(customer)
    assert amounts(lines) == [D("50.00")]
    assert (invoice.subtotal, invoice.tax, invoice.credits, invoice.total) == (D("50"), 0, 0, D("50"))
    assert "order" in lines[0].source and lines[0].subscription_id is not None
    assert (invoice.invoice_date, invoice.due_date) == (date(2026, 11, 1), date(2026, 12, 1))  # 30-day terms


def test_a_mid_month_start_and_a_cancellation_are_prorated_by_day(reseller):
    customer = make_customer(reseller)
    make_subscription(customer, unit_price="31.00", quantity=1, start=date(2026, 10, 11))  # 21 of 31 days
    make_subscription(
        customer, unit_price="31.00", quantity=2, status="cancelled", ended_on=date(2026, 10, 6)
    )  # billed Oct 1-5: 5 days
    _, lines = build(customer)
    assert sorted(amounts(lines, "subscription")) == [D("10.00"), D("21.00")]
    assert any("21/31 days" in ln.description for ln in lines)


def test_a_subscription_cancelled_before_the_month_is_not_billed(reseller):
    customer = make_customer(reseller)
    make_subscription(customer, status="cancelled", ended_on=date(2026, 9, 20))
    invoice, _ = build(customer)
    assert invoice is None


def test_license_changes_are_prorated_from_their_day_and_an_upgrade_then_downgrade_nets_to_zero(reseller):
    customer = make_customer(reseller)
    sub = make_subscription(customer, unit_price="31.00", quantity=10)
    change_licenses(sub, 10, 15, date(2026, 10, 22))  # +5 for 10 days = 50.00
    _, lines = build(customer)
    assert amounts(lines, "subscription") == [D("310.00")]
    assert amounts(lines, "license_change") == [D("50.00")]
    assert lines[1].license_charge_id is not None

    other = make_customer(reseller, name="Hooli")
    sub2 = make_subscription(other, unit_price="9.99", quantity=3)
    change_licenses(sub2, 3, 7, date(2026, 10, 9))
    change_licenses(sub2, 7, 3, date(2026, 10, 9), kind="decrease")
    invoice, lines = build(other)
    assert sum(amounts(lines, "license_change")) == 0
    assert invoice.total == D("29.97")


def test_usage_is_grouped_by_cloud_account_and_service(reseller):
    customer = make_customer(reseller)
    a, b = make_account(customer, "111111111111"), make_account(customer, "222222222222")
    add_usage(a, date(2026, 10, 1), "Amazon EC2", "10.005")
    add_usage(a, date(2026, 10, 2), "Amazon EC2", "10.005")
    add_usage(a, date(2026, 10, 2), "Amazon S3", "1.00")
    add_usage(b, date(2026, 10, 31), "Amazon EC2", "5.00")
    add_usage(b, date(2026, 11, 1), "Amazon EC2", "99.00")  # next month: not on this invoice
    _, lines = build(customer)
    with tenant_scope(customer.reseller_id):
        usage = {
            (ln.cloud_account.account_id, ln.service_name): ln.amount for ln in lines if ln.kind == "usage"
        }
    assert usage == {
        ("111111111111", "Amazon EC2"): D("20.01"),
        ("111111111111", "Amazon S3"): D("1.00"),
        ("222222222222", "Amazon EC2"): D("5.00"),
    }
    assert all("account" in ln.source for ln in lines)


def test_charges_then_tax_per_component_then_credits(reseller):
    customer = make_customer(reseller)
    account = make_account(customer)
    add_usage(account, date(2026, 10, 5), "Amazon EC2", "1000.00", cost="800.00")
    make_subscription(customer, unit_price="100.00", quantity=1)
    add_item(
        customer, "Premium support", rate="10", basis="cost", scope="cloud_account", cloud_account=account
    )
    add_item(customer, "Loyalty", kind="discount", rate="5", group="Discounts")  # 5% of 1100 = 55
    tax_customer(customer, ("State", "6"), ("County", "1.25"))
    give_credit(customer, "100.00")
    invoice, lines = build(customer)
    kinds = [ln.kind for ln in lines]
    assert kinds.index("charge") > kinds.index("usage")
    assert kinds.index("tax") > kinds.index("discount")
    assert kinds[-1] == "credit"
    assert amounts(lines, "charge") == [D("80.00")]  # 10% of the account's cost
    # The discount is split over what it discounts: 100 of subscriptions, 1000 of usage.
    assert sorted(amounts(lines, "discount")) == [D("-50.00"), D("-5.00")]
    taxed = {ln.description: ln.amount for ln in lines if ln.kind == "tax"}
    # Net taxable: subscriptions 95, usage 950, charges 80; each component rounded on its own.
    assert taxed == {
        "State 6 % on subscriptions and licenses": D("5.70"),
        "County 1.25 % on subscriptions and licenses": D("1.19"),
        "State 6 % on usage (rated consumption)": D("57.00"),
        "County 1.25 % on usage (rated consumption)": D("11.88"),
        "State 6 % on support charges and service fees": D("4.80"),
        "County 1.25 % on support charges and service fees": D("1.00"),
    }
    assert invoice.subtotal == D("1125.00")
    assert invoice.tax == sum(taxed.values())
    assert invoice.credits == D("100.00")
    assert invoice.total == invoice.subtotal + invoice.tax - invoice.credits == D("1106.57")


def test_a_credit_never_makes_the_invoice_negative_and_the_rest_carries_forward(reseller):
    customer = make_customer(reseller)
    make_subscription(customer, unit_price="30.00", quantity=1)
    credit = give_credit(customer, "100.00")
    invoice, _ = build(customer)
    assert (invoice.credits, invoice.total) == (D("30.00"), D("0.00"))
    nov, _ = build(customer, date(2026, 11, 1))
    assert nov.credits == D("30.00")
    with tenant_scope(reseller):
        assert sum(a.amount for a in CreditApplication.objects.filter(credit=credit)) == D("60.00")


def test_rebuilding_a_draft_gives_back_its_credit_first(reseller):
    customer = make_customer(reseller)
    make_subscription(customer, unit_price="30.00", quantity=1)
    credit = give_credit(customer, "50.00")
    first, _ = build(customer)
    again, _ = build(customer)
    assert again.pk == first.pk and again.credits == D("30.00")
    with tenant_scope(reseller):
        assert sum(a.amount for a in CreditApplication.objects.filter(credit=credit)) == D("30.00")
        assert Invoice.objects.filter(customer=customer).count() == 1


def test_a_discount_never_takes_the_invoice_below_zero(reseller):
    customer = make_customer(reseller)
    make_subscription(customer, unit_price="20.00", quantity=1)
    add_item(customer, "Big", kind="discount", method="fixed", amount="15.00", group="D")
    add_item(customer, "Bigger", kind="discount", method="fixed", amount="15.00", group="E")
    invoice, lines = build(customer)
    assert amounts(lines, "discount") == [D("-15.00"), D("-5.00")]
    assert invoice.total == 0
    assert "capped" in lines[-1].description


def test_one_time_charges_bill_once_in_their_month(reseller):
    customer = make_customer(reseller)
    make_subscription(customer)
    add_item(customer, "Onboarding", method="fixed", amount="250.00", recurrence="one_time",
             valid_from=date(2026, 10, 15))  # fmt: skip
    _, oct_lines = build(customer)
    _, nov_lines = build(customer, date(2026, 11, 1))
    assert amounts(oct_lines, "charge") == [D("250.00")]
    assert amounts(nov_lines, "charge") == []


def test_an_expired_charge_does_not_apply(reseller):
    customer = make_customer(reseller)
    make_subscription(customer)
    add_item(customer, "Old fee", method="fixed", amount="5.00", valid_until=date(2026, 9, 30))
    _, lines = build(customer)
    assert amounts(lines, "charge") == []


def test_spend_in_another_currency_is_left_out_and_said(reseller):
    customer = make_customer(reseller)
    account = make_account(customer)
    add_usage(account, date(2026, 10, 5), "Amazon EC2", "10.00")
    add_usage(account, date(2026, 10, 6), "Amazon EC2", "10.00", currency="EUR")
    invoice, lines = build(customer)
    assert amounts(lines) == [D("10.00")]
    assert "another currency" in invoice.notes


def test_an_annual_subscription_bills_its_year_in_the_month_it_starts(reseller):
    customer = make_customer(reseller)
    make_subscription(customer, unit_price="120.00", quantity=2, frequency="annual", term="annual",
                      start=date(2025, 10, 20))  # fmt: skip
    invoice, lines = build(customer)
    assert amounts(lines) == [D("240.00")]
    nov, _ = build(customer, date(2026, 11, 1))
    assert nov is None
