"""Rows the invoice tests build on: subscriptions (with their order), license changes, usage days, charge
items, tax profiles and credits, created in the reseller's scope the way the app's services leave them."""

import uuid
from datetime import UTC, date, datetime
from decimal import Decimal

from billing.models import ChargeGroup, ChargeItem, Credit, TaxProfile, TaxRate, UsageDaily
from customer360.tenancy import tenant_scope
from marketplace.models import LicenseCharge, Order, StatusChange, Subscription

from ..factories import CloudAccountFactory, CustomerFactory
from ..marketplace.factories import PlanFactory, ProductFactory, ProviderFactory

OCT = date(2026, 10, 1)


def make_customer(reseller, name="Initech", **kwargs):
    return CustomerFactory(reseller=reseller, name=name, currency=kwargs.pop("currency", "USD"), **kwargs)


def make_subscription(customer, *, unit_price="10.00", unit_cost="8.00", quantity=10, start=date(2026, 9, 1),
                      frequency="monthly", term="monthly", status="active", cloud_account=None, provider="m365",
                      ended_on=None, sku=None):  # fmt: skip
    prov = ProviderFactory(code=provider)
    plan = PlanFactory(product=ProductFactory(provider=prov), **({"sku": sku} if sku else {}))
    with tenant_scope(customer.reseller_id):
        order = Order.objects.create(
            customer=customer, number=f"O-{uuid.uuid4().hex[:8]}", checkout_token=uuid.uuid4(),
            currency=customer.currency, total=Decimal("0"),
        )  # fmt: skip
        sub = Subscription.objects.create(
            customer=customer, order=order, plan=plan, provider=prov, product_type="license",
            cloud_account=cloud_account, status=status, quantity=quantity, currency=customer.currency,
            unit_price=Decimal(unit_price), unit_cost=Decimal(unit_cost), term=term, billing_frequency=frequency,
            start_date=start, renewal_date=date(2027, start.month, 1) if term != "monthly" else None,
        )  # fmt: skip
        if ended_on is not None:
            StatusChange.objects.create(
                subscription=sub, before="active", after=status,
                created_at=datetime(ended_on.year, ended_on.month, ended_on.day, 12, tzinfo=UTC),
            )  # fmt: skip
    return sub


def change_licenses(sub, before, after, on: date, kind="proration", amount="0"):
    with tenant_scope(sub.reseller_id):
        charge = LicenseCharge.objects.create(
            subscription=sub, kind=kind, quantity_before=before, quantity_after=after, effective_on=on,
            currency=sub.currency, unit_price=sub.unit_price, amount=Decimal(amount),
        )  # fmt: skip
        Subscription.objects.filter(pk=sub.pk).update(quantity=after)
        sub.refresh_from_db()
    return charge


def make_account(customer, account_id="123456789012", provider="aws"):
    return CloudAccountFactory(customer=customer, provider=provider, account_id=account_id)


def add_usage(
    account, day: date, service: str, price, cost=None, quantity="1", provider=None, currency="USD"
):
    with tenant_scope(account.reseller_id):
        return UsageDaily.objects.create(
            customer_id=account.customer_id, cloud_account=account, day=day, provider=provider or account.provider,
            service_name=service, charge_category="Usage", currency=currency, price=Decimal(price),
            cost=Decimal(cost if cost is not None else price), quantity=Decimal(quantity), row_count=1,
        )  # fmt: skip


def add_item(customer, name, *, kind="charge", method="percentage", rate=None, amount=None, basis="price",
             scope="customer", cloud_account=None, subscription=None, valid_from=date(2026, 1, 1),
             valid_until=None, recurrence="monthly", group="Support", tiers=None):  # fmt: skip
    with tenant_scope(customer.reseller_id):
        grp, _ = ChargeGroup.objects.get_or_create(customer=customer, name=group)
        item = ChargeItem(
            group=grp, customer=customer, name=name, kind=kind, method=method,
            rate=None if rate is None else Decimal(rate), amount=None if amount is None else Decimal(amount),
            tiers=tiers or [], basis=basis, currency=customer.currency, recurrence=recurrence, scope_type=scope,
            cloud_account=cloud_account, subscription=subscription, valid_from=valid_from, valid_until=valid_until,
        )  # fmt: skip
        item.set_scope_key()
        item.save()
    return item


def tax_customer(customer, *rates, categories=("subscriptions", "usage", "charges")):
    """rates: (name, percent) pairs."""
    with tenant_scope(customer.reseller_id):
        objs = [
            TaxRate.objects.get_or_create(
                name=name, defaults={"rate": Decimal(pct), "country": "US", "valid_from": date(2020, 1, 1)}
            )[0]
            for name, pct in rates
        ]
        profile = TaxProfile.objects.create(customer=customer, taxable_categories=list(categories))
        profile.rates.set(objs)
    return profile


def give_credit(customer, amount, reason="goodwill", issued_on=date(2026, 9, 1), expires_on=None):
    with tenant_scope(customer.reseller_id):
        return Credit.objects.create(
            customer=customer, amount=Decimal(amount), currency=customer.currency, reason=reason,
            issued_on=issued_on, expires_on=expires_on,
        )  # fmt: skip


def invoice_rows_for(reseller, customer, cloud_account, marker: str) -> dict:
    """A finalized invoice with a line and a payment, a run with a chunk, a counter and a closed provider
    month, carrying `marker` (for the tenancy matrix's build_tenant, through billing_rows_for)."""
    from billing.models import (
        CreditNote,
        Invoice,
        InvoiceCounter,
        InvoiceLine,
        InvoiceRun,
        InvoiceRunChunk,
        Payment,
        ProviderPeriod,
    )

    with tenant_scope(reseller):
        run = InvoiceRun.objects.create(month=date(2026, 1, 1), status="done", customers_total=1, customers_done=1,
                                        started_by_label=f"{marker} Owner")  # fmt: skip
        chunk = InvoiceRunChunk.objects.create(run=run, number=1, customer_ids=[customer.pk], done=True)
        invoice = Invoice.objects.create(
            customer=customer, month=date(2026, 1, 1), currency=customer.currency, subtotal=Decimal("42.00"),
            total=Decimal("42.00"), invoice_date=date(2026, 2, 1), due_date=date(2026, 3, 3), run=run,
            notes=f"{marker} invoice",
        )  # fmt: skip
        line = InvoiceLine.objects.create(
            invoice=invoice, position=1, kind="usage", description=f"{marker} usage", source=f"{marker} account",
            cloud_account=cloud_account, amount=Decimal("42.00"), tax_category="usage",
        )  # fmt: skip
        counter = InvoiceCounter.objects.create(year=2026, last_number=1)
        Invoice.objects.filter(pk=invoice.pk).update(status="open", number=f"INV-{marker}-1")
        payment = Payment.objects.create(invoice=invoice, amount=Decimal("2.00"), currency=customer.currency,
                                         received_on=date(2026, 2, 5), reference=f"{marker} wire")  # fmt: skip
        Invoice.objects.filter(pk=invoice.pk).update(amount_paid=Decimal("2.00"))
        period = ProviderPeriod.objects.create(
            month=date(2026, 1, 1), provider="*", closed_by_label=f"{marker} Owner"
        )
        note_credit = Credit.objects.create(
            customer=customer,
            amount=Decimal("5.00"),
            currency=customer.currency,
            reason=f"{marker} credit note",
        )
        note = CreditNote.objects.create(
            invoice=invoice, credit=note_credit, number=f"CN-{marker}-1", amount=Decimal("5.00"),
            currency=customer.currency, reason=f"{marker} correction",
        )  # fmt: skip
        invoice.refresh_from_db()
    return {
        Invoice: invoice, InvoiceLine: line, Payment: payment, InvoiceRun: run, InvoiceRunChunk: chunk,
        InvoiceCounter: counter, ProviderPeriod: period, CreditNote: note,
    }  # fmt: skip
