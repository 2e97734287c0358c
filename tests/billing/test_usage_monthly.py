"""The monthly usage rollup (billing.UsageMonthly) stays the sum of the daily rollup whatever writes it: the
ORM, an import's upsert, an update moving a day into another month, a delete, a customer's cascade; and the
invoice reads it."""

from datetime import date
from decimal import Decimal

import pytest
from django.db import connection
from django.db.models import Count, Sum
from django.db.models.functions import TruncMonth

from billing.invoicing import generate_invoice
from billing.models import UsageDaily, UsageMonthly
from customer360.tenancy import tenant_scope

from .invoice_helpers import OCT, add_usage, make_account, make_customer

pytestmark = pytest.mark.django_db
D = Decimal
KEY = ["customer_id", "month", "cloud_account_id", "provider", "service_name", "currency"]


def monthly(reseller) -> dict:
    with tenant_scope(reseller):
        return {
            tuple(r[k] for k in KEY): (r["cost"], r["price"], r["quantity"], r["day_rows"])
            for r in UsageMonthly.objects.values(*KEY, "cost", "price", "quantity", "day_rows")
        }


def daily_summed(reseller) -> dict:
    with tenant_scope(reseller):
        rows = (
            UsageDaily.objects.annotate(month=TruncMonth("day"))
            .values(*KEY)
            .annotate(c=Sum("cost"), p=Sum("price"), q=Sum("quantity"), n=Count("id"))
        )
        return {tuple(r[k] for k in KEY): (r["c"], r["p"], r["q"], r["n"]) for r in rows}


def test_every_write_of_the_daily_rollup_reaches_the_monthly_one(reseller):
    customer = make_customer(reseller)
    account = make_account(customer)
    add_usage(account, date(2026, 10, 1), "AmazonEC2", "10.00", cost="7.00")
    add_usage(account, date(2026, 10, 31), "AmazonEC2", "2.50", quantity="3")
    add_usage(account, date(2026, 10, 5), "AmazonS3", "1.25")
    sept = add_usage(account, date(2026, 9, 30), "AmazonEC2", "4.00")
    assert monthly(reseller) == daily_summed(reseller)
    key = (customer.pk, OCT, account.pk, "aws", "AmazonEC2", "USD")
    assert monthly(reseller)[key] == (D("9.5000"), D("12.5000"), D("4"), 2)

    with tenant_scope(reseller), connection.cursor() as cursor:
        # The import's upsert adds to a day that has a row already (ON CONFLICT DO UPDATE).
        cursor.execute(
            """INSERT INTO billing_usagedaily (id, reseller_id, customer_id, cloud_account_id, day, provider,
                   service_name, charge_category, currency, cost, price, quantity, row_count)
               VALUES (gen_random_uuid(), %s, %s, %s, '2026-10-01', 'aws', 'AmazonEC2', 'Usage', 'USD', 1, 1, 1, 1)
               ON CONFLICT ON CONSTRAINT usagedaily_one_row_per_key DO UPDATE
               SET cost = billing_usagedaily.cost + EXCLUDED.cost, price = billing_usagedaily.price + EXCLUDED.price,
                   quantity = billing_usagedaily.quantity + EXCLUDED.quantity""",
            [reseller.pk, customer.pk, account.pk],
        )  # fmt: skip
        UsageDaily.objects.filter(pk=sept.pk).update(day=date(2026, 10, 2))  # moves into October
    assert monthly(reseller) == daily_summed(reseller)
    assert monthly(reseller)[key] == (D("14.5000"), D("17.5000"), D("6"), 3)
    assert not any(k[1] == date(2026, 9, 1) for k in monthly(reseller)), "September's only row moved out"

    with tenant_scope(reseller):
        UsageDaily.objects.filter(service_name="AmazonS3").delete()
        assert monthly(reseller) == daily_summed(reseller)
        assert len(monthly(reseller)) == 1
        customer.delete()  # its accounts and daily rows go by cascade, and with them the monthly rows
        assert not UsageMonthly.objects.exists()


def test_the_invoice_reads_the_month_of_the_monthly_rollup(reseller):
    customer = make_customer(reseller)
    account = make_account(customer)
    add_usage(account, date(2026, 10, 3), "AmazonEC2", "10.004")
    add_usage(account, date(2026, 10, 4), "AmazonEC2", "10.004")
    add_usage(account, date(2026, 11, 1), "AmazonEC2", "99.00")  # next month: not on October's invoice
    add_usage(account, date(2026, 10, 4), "AmazonEC2", "5.00", currency="EUR")
    with tenant_scope(reseller):
        invoice = generate_invoice(customer, OCT)
        (line,) = invoice.lines.filter(kind="usage")
    assert line.amount == D("20.01"), "the month's sum, rounded once"
    assert "1 days of usage in another currency than USD are not invoiced." in invoice.notes
