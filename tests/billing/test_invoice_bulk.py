"""The invoice run's set-based path (billing.invoicing_bulk.generate_chunk) gives the same invoices, line for
line, as the per-customer path (billing.invoicing.generate_invoice), in a number of queries that does not
grow with the chunk."""

import random
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from billing.invoicing import generate_invoice
from billing.invoicing_bulk import generate_chunk
from billing.models import CreditApplication, Invoice, InvoiceLine
from customer360.tenancy import tenant_scope
from customers.models import ActivityLog
from marketplace.models import SubscriptionAddOn

from ..marketplace.factories import AddOnFactory, ProductFactory, ProviderFactory
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
LINE_FIELDS = [
    "position", "kind", "description", "source", "provider", "service_name", "subscription_id",
    "license_charge_id", "cloud_account_id", "charge_item_id", "credit_id", "quantity", "unit_price", "amount",
    "cost", "tax_category", "tax_rate", "period_start", "period_end",
]  # fmt: skip
INVOICE_FIELDS = [
    "status",
    "currency",
    "subtotal",
    "tax",
    "credits",
    "total",
    "invoice_date",
    "due_date",
    "notes",
]


def varied_world(reseller, n=16, seed=7):
    """n customers, each with a random mix of what an invoice is made of."""
    rng = random.Random(seed)
    addon = AddOnFactory(product=ProductFactory(provider=ProviderFactory(code="m365")), sku="EXTRA-STORAGE")
    customers = []
    for i in range(n):
        currency = "EUR" if i % 7 == 6 else "USD"
        customer = make_customer(
            reseller, name=f"Varied {i:02d}", currency=currency, payment_terms_days=14 + i
        )
        customers.append(customer)
        account = make_account(customer, f"{700000000000 + i}")
        subs = []
        for k in range(rng.randint(0, 3)):
            frequency = rng.choice(["monthly", "monthly", "annual", "one_time"])
            start = rng.choice([date(2026, 3, 1), date(2026, 10, 1 + rng.randint(0, 27)), date(2025, 10, 9)])
            cancelled = rng.random() < 0.2
            sub = make_subscription(
                customer, unit_price=f"{rng.randint(1, 90)}.{rng.randint(0, 99):02d}", unit_cost="3.00",
                quantity=rng.randint(1, 20), start=start, frequency=frequency,
                term="annual" if frequency == "annual" else "monthly",
                status="cancelled" if cancelled else "active", cloud_account=account if k == 0 else None,
                ended_on=date(2026, 10, rng.randint(2, 30)) if cancelled else None,
            )  # fmt: skip
            subs.append(sub)
            if frequency != "one_time" and rng.random() < 0.4:
                before = sub.quantity
                change_licenses(sub, before, before + 3, date(2026, 10, rng.randint(2, 28)), amount="12.34")
            if frequency == "monthly" and rng.random() < 0.3:
                with tenant_scope(reseller):
                    SubscriptionAddOn.objects.create(
                        subscription=sub, addon=addon, quantity=2, currency=customer.currency,
                        unit_price=D("4.50"), unit_cost=D("3.00"),
                        created_at=datetime(2026, 10, rng.randint(1, 28), 12, tzinfo=UTC),
                    )  # fmt: skip
        for day in rng.sample(range(1, 32), rng.randint(0, 4)):
            service = rng.choice(["EC2", "S3", "", "RDS"])
            add_usage(account, date(2026, 10, day), service, f"{rng.randint(0, 400)}.{rng.randint(0, 9999):04d}",
                      cost=f"{rng.randint(0, 300)}.10", quantity=f"{rng.randint(1, 9)}.123456789",
                      currency=currency)  # fmt: skip
        if rng.random() < 0.3:
            add_usage(account, date(2026, 10, 3), "EC2", "5.00", currency="GBP")  # another currency: a note
        if rng.random() < 0.2:
            add_usage(account, date(2026, 9, 30), "EC2", "99.00", currency=currency)  # last month: not billed
        if rng.random() < 0.5:
            add_item(customer, "Support", rate="7.5")
        if rng.random() < 0.4:
            add_item(customer, "Loyalty", kind="discount", rate=str(rng.randint(5, 60)), group="Discounts")
        if rng.random() < 0.3:
            add_item(customer, "Onboarding", method="fixed", amount="150.00", recurrence="one_time",
                     valid_from=date(2026, 10, 5), group="Fees")  # fmt: skip
        if rng.random() < 0.3:
            add_item(customer, "Account care", method="tiered", scope="cloud_account", cloud_account=account,
                     tiers=[{"from": "0", "to": "100", "rate": "10"}, {"from": "100", "to": None, "rate": "2"}],
                     basis="cost", group="Fees")  # fmt: skip
        if subs and rng.random() < 0.3:
            add_item(customer, "Licence deal", kind="discount", method="fixed", amount="20.00",
                     scope="subscription", subscription=subs[0], group="Discounts")  # fmt: skip
        if rng.random() < 0.6:
            tax_customer(customer, ("State", "6.25"), ("County", "1.5"),
                         categories=rng.choice([("subscriptions", "usage", "charges"), ("charges",)]))  # fmt: skip
        for _ in range(rng.randint(0, 2)):
            give_credit(customer, f"{rng.randint(1, 300)}.00", reason=f"goodwill {i}",
                        expires_on=rng.choice([None, date(2026, 10, 15), date(2027, 1, 1)]))  # fmt: skip
    make_customer(reseller, name="Nothing to invoice")
    return customers


def state(reseller):
    """Every invoice with its lines, the credit applied and the credit log, by customer name."""
    with tenant_scope(reseller):
        invoices = {}
        for inv in Invoice.objects.select_related("customer").order_by("customer__name"):
            lines = [
                tuple(getattr(ln, f) for f in LINE_FIELDS)
                for ln in InvoiceLine.objects.filter(invoice=inv).order_by("position")
            ]
            applied = sorted(
                (str(a.credit_id), a.amount, a.applied_on)
                for a in CreditApplication.objects.filter(invoice_ref=f"invoice {inv.pk}")
            )
            invoices[inv.customer.name] = (tuple(getattr(inv, f) for f in INVOICE_FIELDS), lines, applied)
        log = sorted(
            (a.customer_id, a.message.split(" to invoice ")[0], str(sorted(a.changes.items())))
            for a in ActivityLog.objects.filter(action="credit.applied")
        )
        return invoices, log


def forget(reseller):
    with tenant_scope(reseller):
        Invoice.objects.all().delete()  # drafts: the guard allows it
        CreditApplication.objects.all().delete()
        ActivityLog.objects.filter(action="credit.applied").delete()


def all_ids(reseller):
    with tenant_scope(reseller):
        from customers.models import Customer

        return list(Customer.objects.order_by("pk").values_list("pk", flat=True))


def test_the_chunk_gives_the_per_customer_invoices_line_for_line(reseller):
    customers = varied_world(reseller)
    with tenant_scope(reseller):
        for customer in customers:
            generate_invoice(customer, OCT)
    expected = state(reseller)
    assert len(expected[0]) >= 12 and expected[1], "the world must give invoices and credit applied"
    kinds = {line[1] for _, lines, _ in expected[0].values() for line in lines}
    assert kinds == {"subscription", "license_change", "usage", "charge", "discount", "tax", "credit"}
    forget(reseller)
    with tenant_scope(reseller):
        ids = all_ids(reseller)
        results = generate_chunk(ids[:7], OCT)
        generate_chunk(ids[7:], OCT)
    assert state(reseller) == expected
    assert set(results) == set(ids[:7])


def test_a_second_chunk_run_rebuilds_the_drafts_in_place_and_leaves_finalized_invoices(reseller):
    varied_world(reseller, n=8, seed=3)
    ids = all_ids(reseller)
    with tenant_scope(reseller):
        first = generate_chunk(ids, OCT)
    before, _ = state(reseller)
    with tenant_scope(reseller):
        done = Invoice.objects.select_related("customer").get(pk=next(pk for pk in first.values() if pk))
        Invoice.objects.filter(pk=done.pk).update(status="open", number="INV-2026-1")
        # New usage of the finalized invoice's customer: its invoice must not change.
        add_usage(make_account(done.customer, "123123123123"), date(2026, 10, 4), "S3", "1.00")
        again = generate_chunk(ids, OCT)
    after, _ = state(reseller)
    assert again == first, "every draft rebuilt in place, the finalized invoice left as it was"
    finalized = done.customer.name
    assert after[finalized][0][0] == "open"
    assert after[finalized][1:] == before[finalized][1:]
    assert {name: value[1:] for name, value in after.items()} == {
        name: value[1:] for name, value in before.items()
    }
    with tenant_scope(reseller):
        assert Invoice.objects.count() == len(before)
        assert CreditApplication.objects.count() == sum(len(applied) for _, _, applied in before.values())


def test_a_stale_draft_is_removed_when_nothing_is_left_to_invoice(reseller):
    customer = make_customer(reseller)
    sub = make_subscription(customer)
    with tenant_scope(reseller):
        assert generate_chunk([customer.pk], OCT)[customer.pk] is not None
        sub.status = "expired"
        sub.save(update_fields=["status"])  # ended with no history: nothing to bill
        assert generate_chunk([customer.pk], OCT) == {customer.pk: None}
        assert not Invoice.objects.exists()


def chunk_queries(reseller, ids) -> list[str]:
    with tenant_scope(reseller), CaptureQueriesContext(connection) as ctx:
        generate_chunk(ids, OCT)
    return [q["sql"] for q in ctx.captured_queries]


def uniform_world(reseller, n):
    """n customers with one of everything, so every query of a chunk runs whatever customers it holds."""
    for i in range(n):
        customer = make_customer(reseller, name=f"Uniform {i:02d}")
        account = make_account(customer, f"{600000000000 + i}")
        sub = make_subscription(customer, unit_price="20.00", quantity=3, cloud_account=account)
        change_licenses(sub, 3, 5, date(2026, 10, 12))
        add_usage(account, date(2026, 10, 2), "EC2", "40.00")
        add_item(customer, "Support", rate="7.5")
        add_item(customer, "Loyalty", kind="discount", rate="5", group="Discounts")
        tax_customer(customer, ("State", "6.25"))
        give_credit(customer, "10.00")


def test_a_chunk_takes_the_same_queries_for_3_customers_as_for_15(reseller):
    uniform_world(reseller, 18)
    ids = all_ids(reseller)
    small, big = chunk_queries(reseller, ids[:3]), chunk_queries(reseller, ids[3:18])
    assert len(small) == len(big) <= 26, "a query per customer crept into the chunk: why?\n" + "\n".join(big)
    rebuild_small, rebuild_big = chunk_queries(reseller, ids[:3]), chunk_queries(reseller, ids[3:18])
    assert len(rebuild_small) == len(rebuild_big) <= 26, "\n".join(rebuild_big)
