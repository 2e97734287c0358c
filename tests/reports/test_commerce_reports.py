"""The customer reports on subscriptions and licenses, quotes, and invoices with aging."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from billing.models_invoices import Invoice, Payment
from customer360.tenancy import tenant_scope
from marketplace.models import LicenseAssignment
from quotes.models import Quote, QuoteRevision

from ..billing.invoice_helpers import make_subscription
from .helpers import num, page_table, read_csv, read_xlsx

pytestmark = pytest.mark.django_db


def url(name, customer, fmt=""):
    return reverse(f"reports:customer-{name}{'-' + fmt if fmt else ''}", args=[customer.pk])


def test_subscriptions_report_counts_purchased_against_assigned_licenses(owner_client, customer):
    a = make_subscription(customer, quantity=10, unit_price="12.00", sku="SKU-A", start=date(2026, 1, 1))
    b = make_subscription(customer, quantity=5, unit_price="120.00", frequency="annual", term="annual",
                          sku="SKU-B", start=date(2026, 1, 1))  # fmt: skip
    make_subscription(customer, quantity=7, status="cancelled", sku="SKU-C", start=date(2026, 1, 1))
    with tenant_scope(customer.reseller_id):
        for i in range(4):
            LicenseAssignment.objects.create(subscription=a, email=f"user{i}@initech.example")
        LicenseAssignment.objects.create(subscription=b, email="boss@initech.example")
        product_a, product_b = a.plan.product.name, b.plan.product.name
    response = owner_client.get(url("subscriptions", customer), {"start": "2026-01-01", "end": "2026-12-31",
                                                                 "status": "active"})  # fmt: skip
    table = page_table(response.content.decode())
    rows = {r[0]: r for r in table[1:-1]}
    assert set(rows) == {product_a, product_b}  # the cancelled one is filtered out
    assert [int(num(x)) for x in rows[product_a][3:7]] == [1, 10, 4, 6]
    assert [int(num(x)) for x in rows[product_b][3:7]] == [1, 5, 1, 4]
    assert num(rows[product_a][8]) == Decimal("120.00")  # 10 x 12.00 a month
    assert num(rows[product_b][8]) == Decimal("50.00")  # 5 x 120.00 a year, over 12 months
    assert "Licenses assigned vs purchased" in response.content.decode()
    xlsx = read_xlsx(owner_client.get(url("subscriptions", customer, "xlsx"), {"status": "active"}).content)
    assert xlsx[-1][0] == "Total" and xlsx[-1][4] == 15 and xlsx[-1][5] == 5
    every = page_table(owner_client.get(url("subscriptions", customer), {"status": ""}).content.decode())
    assert len(every) - 2 == 3


def _quote(customer, number, status, *, sent=True, total="100.00", created=None):
    with tenant_scope(customer.reseller_id):
        from marketplace.models import Provider

        category, _ = Provider.objects.get_or_create(code="m365", defaults={"name": "Microsoft 365"})
        q = Quote.objects.create(number=number, status=status, customer=customer, category=category,
                                 currency="USD", created_at=created or timezone.now())  # fmt: skip
        if sent:
            QuoteRevision.objects.create(quote=q, number=1, snapshot={}, total=Decimal(total), currency="USD",
                                         recipient_email="buyer@initech.example")  # fmt: skip
    return q


def test_quotes_report_gives_sent_accepted_and_the_conversion_rate(owner_client, customer):
    _quote(customer, "Q-1", Quote.Status.DRAFT, sent=False)
    _quote(customer, "Q-2", Quote.Status.SENT)
    _quote(customer, "Q-3", Quote.Status.ACCEPTED, total="250.00")
    _quote(customer, "Q-5", Quote.Status.DECLINED)
    _quote(customer, "Q-OLD", Quote.Status.ACCEPTED, created=datetime(2020, 1, 1, tzinfo=UTC))
    response = owner_client.get(url("quotes", customer))
    html = response.content.decode()
    summary = page_table(html)
    numbers = sorted(r[0] for r in summary[1:-1])
    assert numbers == ["Q-1", "Q-2", "Q-3", "Q-5"]  # Q-OLD is outside the twelve months
    assert "Conversion rate" in html and "33.3%" in html  # 1 accepted of 3 sent
    assert "250.00 USD" in html  # the accepted value
    csv_rows = read_csv(owner_client.get(url("quotes", customer, "csv")).content)
    assert sorted(r[0] for r in csv_rows[1:-1]) == numbers
    xlsx_rows = read_xlsx(owner_client.get(url("quotes", customer, "xlsx")).content)  # ":" in the title
    assert [r[0] for r in xlsx_rows] == [r[0] for r in csv_rows]


def _invoice(customer, number, month, due, total, paid="0", status="open"):
    with tenant_scope(customer.reseller_id):
        inv = Invoice.objects.create(
            customer=customer, month=month, status=status, number=number, currency="USD",
            subtotal=Decimal(total), total=Decimal(total), amount_paid=Decimal(paid),
            invoice_date=month, due_date=due,
        )  # fmt: skip
        if Decimal(paid):
            Payment.objects.create(invoice=inv, amount=Decimal(paid), currency="USD", received_on=month)
    return inv


def test_invoices_report_puts_balances_in_aging_buckets(owner_client, customer):
    today = timezone.localdate()
    m = today.replace(day=1)
    months = [(m - timedelta(days=31 * i)).replace(day=1) for i in range(6)]
    _invoice(customer, "INV-1", months[0], today + timedelta(days=5), "100.00")  # current
    _invoice(customer, "INV-2", months[1], today - timedelta(days=10), "200.00", paid="50.00")  # 1-30
    _invoice(customer, "INV-3", months[2], today - timedelta(days=45), "300.00")  # 31-60
    _invoice(customer, "INV-4", months[3], today - timedelta(days=75), "400.00")  # 61-90
    _invoice(customer, "INV-5", months[4], today - timedelta(days=120), "500.00")  # 90+
    _invoice(
        customer, "INV-6", months[5], today - timedelta(days=150), "600.00", paid="600.00", status="closed"
    )
    response = owner_client.get(url("invoices", customer))
    html = response.content.decode()
    rows = {r[0]: r for r in page_table(html)[1:-1]}
    assert rows["INV-2"][5] == "150.00" and rows["INV-2"][6] == "1" and rows["INV-2"][10] == "1-30 days"
    assert rows["INV-5"][10] == "90+ days" and rows["INV-6"][10] == "" and rows["INV-6"][5] == "0.00"
    chart = dict((r[0], r[1]) for r in page_table(html, testid=None)[1:])
    assert chart == {"Current": "100.00", "1-30 days": "150.00", "31-60 days": "300.00",
                     "61-90 days": "400.00", "90+ days": "500.00"}  # fmt: skip
    csv_rows = read_csv(owner_client.get(url("invoices", customer, "csv")).content)
    assert csv_rows[-1][5] == "1450.00"  # the balances' total
    closed = page_table(owner_client.get(url("invoices", customer), {"status": "closed"}).content.decode())
    assert [r[0] for r in closed[1:-1]] == ["INV-6"]


def test_downloads_never_hand_a_spreadsheet_a_formula(owner_client, customer):
    import io

    from openpyxl import load_workbook

    _quote(customer, '=HYPERLINK("x")', Quote.Status.SENT)  # quote numbers: 20 characters at most
    _quote(customer, "@SUM(A1)", Quote.Status.SENT)
    csv_rows = read_csv(owner_client.get(url("quotes", customer, "csv")).content)
    assert sorted(r[0] for r in csv_rows[1:-1]) == ['\'=HYPERLINK("x")', "'@SUM(A1)"]
    ws = load_workbook(io.BytesIO(owner_client.get(url("quotes", customer, "xlsx")).content)).active
    cells = [row[0] for row in ws.iter_rows(min_row=2, max_row=3)]
    assert {c.value for c in cells} == {'=HYPERLINK("x")', "@SUM(A1)"}
    assert {c.data_type for c in cells} == {"s"}  # text, not a formula
