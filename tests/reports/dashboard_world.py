"""Two customers in two regions (a choice custom field), each with usage this month on its own provider,
subscriptions, an open quote and an overdue invoice: what the dashboard tests and the browser test read."""

from datetime import timedelta

from django.utils import timezone

from customer360.tenancy import tenant_scope
from customers.models import Customer
from customers.services_custom_fields import do_create_definition, do_set_custom_field_values

from ..billing.invoice_helpers import make_account, make_customer, make_subscription
from .helpers import add_raw_usage
from .test_commerce_reports import _invoice, _quote


def this_month_days():
    today = timezone.localdate()
    first = today.replace(day=1)
    return sorted({first, first + timedelta(days=(today - first).days // 2), today})


def build(reseller):
    today = timezone.localdate()
    emea = make_customer(reseller, "Emea Widgets")
    amer = make_customer(reseller, "Amer Gadgets")
    with tenant_scope(reseller):
        do_create_definition(None, label="Region", key="region", type="choice", choices=["EMEA", "AMER"])
        do_set_custom_field_values(None, emea, {"region": "EMEA"})
        do_set_custom_field_values(None, amer, {"region": "AMER"})
        Customer.objects.filter(pk=emea.pk).update(providers=["aws"])
        Customer.objects.filter(pk=amer.pk).update(providers=["azure"])
    rows = add_raw_usage({"aws": make_account(emea, "210987654321", "aws")}, this_month_days(), seed=1)
    amer_rows = add_raw_usage(
        {"azure": make_account(amer, "99999999-2222-3333-4444-555555555555", "azure")},
        this_month_days(),
        seed=5,
    )
    rows += amer_rows
    make_subscription(emea, quantity=10, unit_price="12.00", provider="aws", sku="EMEA-1")
    sub = make_subscription(amer, quantity=3, unit_price="240.00", frequency="annual", term="annual",
                            provider="azure", sku="AMER-1")  # fmt: skip
    with tenant_scope(reseller):
        type(sub).objects.filter(pk=sub.pk).update(renewal_date=today + timedelta(days=10), auto_renew=False)
    _quote(emea, "Q-EMEA", "sent", total="500.00")
    _quote(amer, "Q-AMER", "draft", sent=False)
    month = today.replace(day=1)
    _invoice(emea, "INV-EMEA", month, today - timedelta(days=40), "300.00", paid="100.00")
    _invoice(amer, "INV-AMER", month, today + timedelta(days=10), "900.00")
    return emea, amer, rows
