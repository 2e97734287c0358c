"""Property tests of the invoice's Money invariants (issue 8, "Money"): over generated subscriptions,
license changes, usage, charges, discounts, taxes and credits, built into real invoices in PostgreSQL:
lines + tax − credits = total exactly; total ≥ 0; every line rounded once to the minor unit; prorating a full
period gives the full price; an upgrade then the matching downgrade nets to zero; credit notes never exceed
what was invoiced."""

from datetime import date, timedelta
from decimal import Decimal
from itertools import count
from types import SimpleNamespace

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from billing.invoicing import generate_invoice, month_bounds, prorate, subscription_lines
from billing.models import CreditApplication, InvoiceLine
from customer360.money import quantize
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

D = Decimal
prices = st.decimals(min_value=D("0.01"), max_value=D("5000"), places=4, allow_nan=False)
quantities = st.integers(min_value=1, max_value=500)
currencies = st.sampled_from(["USD", "EUR", "JPY", "KWD"])
months = st.dates(min_value=date(2020, 1, 1), max_value=date(2030, 12, 1)).map(lambda d: d.replace(day=1))


@given(price=prices, quantity=quantities, currency=currencies, month=months)
def test_prorating_a_full_period_gives_the_full_price(price, quantity, currency, month):
    first, last = month_bounds(month)
    dim = (last - first).days + 1
    assert prorate(price, quantity, dim, dim, currency) == quantize(price * quantity, currency)


def _sub(price, quantity, start):
    return SimpleNamespace(
        currency="USD", start_date=start, billing_frequency="monthly", unit_price=price, unit_cost=price,
        quantity=quantity, plan=SimpleNamespace(name="Plan", sku="P"), order=SimpleNamespace(number="O-1"),
        provider=SimpleNamespace(code="m365"), cloud_account=None,
    )  # fmt: skip


def _change(before, after, on):
    return SimpleNamespace(
        quantity_before=before, quantity_after=after, effective_on=on, kind="proration",
        get_kind_display=lambda: "change",
    )  # fmt: skip


@given(price=prices, quantity=quantities, added=quantities, day=st.integers(1, 30), month=months)
def test_an_upgrade_then_the_matching_downgrade_nets_to_zero(price, quantity, added, day, month):
    first, last = month_bounds(month)
    on = min(first + timedelta(days=day), last)
    changes = [_change(quantity, quantity + added, on), _change(quantity + added, quantity, on)]
    lines = subscription_lines(
        _sub(price, quantity, first - timedelta(days=40)), changes, None, [], first, last
    )
    plain = subscription_lines(_sub(price, quantity, first - timedelta(days=40)), [], None, [], first, last)
    assert (
        sum(ln.amount for ln in lines) == sum(ln.amount for ln in plain) == quantize(price * quantity, "USD")
    )


money = st.decimals(min_value=D("0"), max_value=D("20000"), places=3, allow_nan=False)
small_money = st.decimals(min_value=D("0.01"), max_value=D("3000"), places=2, allow_nan=False)
rates = st.decimals(min_value=D("0"), max_value=D("100"), places=4, allow_nan=False)
subscriptions = st.lists(
    st.tuples(
        prices,
        st.integers(1, 50),
        st.integers(0, 45),  # price, quantity, start offset from Sep 16
        st.one_of(st.none(), st.integers(1, 31)),  # cancelled on that day of October
        st.lists(st.tuples(st.integers(2, 31), st.integers(1, 60)), max_size=3),  # license changes
    ),
    max_size=3,
)
items = st.lists(
    st.tuples(
        st.sampled_from(["charge", "discount"]),
        st.sampled_from(["percentage", "fixed"]),
        rates,
        small_money,
        st.sampled_from(["price", "cost"]),
    ),  # fmt: skip
    max_size=3,
)
serial = count()


@pytest.mark.django_db
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    subs=subscriptions,
    usage=st.lists(
        st.tuples(st.integers(1, 31), st.sampled_from(["EC2", "S3", "RDS"]), money, money),
        max_size=6,
        unique_by=lambda u: (u[0], u[1]),
    ),  # fmt: skip
    items=items,
    taxes=st.lists(rates, max_size=3, unique=True),
    credits=st.lists(small_money, max_size=3),
)
def test_invoice_money_invariants(reseller, subs, usage, items, taxes, credits):
    with transaction.atomic():  # each example on its own, rolled back after
        check_invariants(reseller, subs, usage, items, taxes, credits)
        transaction.set_rollback(True)


def check_invariants(reseller, subs, usage, items, taxes, credits):
    n = next(serial)
    customer = make_customer(reseller, name=f"Prop {n}")
    for price, quantity, offset, cancelled, changes in subs:
        ended = date(2026, 10, cancelled) if cancelled else None
        sub = make_subscription(
            customer, unit_price=str(price), quantity=quantity, start=date(2026, 9, 16) + timedelta(days=offset),
            status="cancelled" if ended else "active", ended_on=ended,
        )  # fmt: skip
        current = quantity
        for day, new in sorted(changes):
            if new != current:
                change_licenses(
                    sub, current, new, date(2026, 10, day), kind="proration" if new > current else "decrease"
                )
                current = new
    account = make_account(customer, f"{n:012d}")
    for day, service, price, cost in usage:
        add_usage(account, date(2026, 10, day), service, str(price), cost=str(cost))
    for i, (kind, method, rate, amount, basis) in enumerate(items):
        add_item(customer, f"Item {i}", kind=kind, method=method, rate=str(rate) if method == "percentage" else None,
                 amount=str(amount) if method == "fixed" else None, basis=basis, group=f"G{i}")  # fmt: skip
    if taxes:
        tax_customer(customer, *[(f"Rate {n}-{i}", str(r)) for i, r in enumerate(taxes)])
    for amount in credits:
        give_credit(customer, str(amount))

    with tenant_scope(reseller):
        invoice = generate_invoice(customer, OCT)
        if invoice is None:
            return
        lines = list(InvoiceLine.objects.filter(invoice=invoice))
        applied = sum((a.amount for a in CreditApplication.objects.filter(credit__customer=customer)), D(0))
    assert all(ln.amount == quantize(ln.amount, "USD") for ln in lines), "every line is rounded once"
    subtotal = sum((ln.amount for ln in lines if ln.kind not in ("tax", "credit")), D(0))
    tax = sum((ln.amount for ln in lines if ln.kind == "tax"), D(0))
    credit = -sum((ln.amount for ln in lines if ln.kind == "credit"), D(0))
    assert (invoice.subtotal, invoice.tax, invoice.credits) == (subtotal, tax, credit)
    assert invoice.total == subtotal + tax - credit, "lines + tax − credits = total, exactly"
    assert invoice.total >= 0 and subtotal >= 0 and tax >= 0
    assert credit == applied <= sum(credits, D(0)), "credits used are what the credit table shows applied"
    assert credit == min(sum(credits, D(0)), subtotal + tax), "credit pays what it can, never more than due"


@pytest.mark.django_db
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    price=st.decimals(min_value=D("0.01"), max_value=D("999"), places=2),
    notes=st.lists(small_money, max_size=6),
)
def test_credit_notes_never_exceed_what_was_invoiced(reseller, price, notes):
    from django.core.exceptions import ValidationError

    from billing.invoicing_states import do_finalize_invoice, do_issue_credit_note
    from billing.models import CreditNote

    with transaction.atomic():
        customer = make_customer(reseller, name=f"CN {next(serial)}")
        make_subscription(customer, unit_price=str(price), quantity=1)
        with tenant_scope(reseller):
            invoice = do_finalize_invoice(None, generate_invoice(customer, OCT), today=date(2026, 11, 5))
            issued = D(0)
            for amount in notes:
                try:
                    do_issue_credit_note(None, invoice, amount=amount, reason="correction")
                    issued += amount
                except ValidationError:
                    assert issued + amount > invoice.total, "a note within what is left must be accepted"
            total = sum((n.amount for n in CreditNote.objects.filter(invoice=invoice)), D(0))
            assert total == issued <= invoice.total
        transaction.set_rollback(True)
