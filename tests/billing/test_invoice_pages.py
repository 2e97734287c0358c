"""Customer Invoice pages and the Invoice runs page, as billing users, owners and viewers use them."""

import csv
import io
from datetime import date
from decimal import Decimal

import pytest
from django.urls import reverse

from accounts.models import Role
from billing.invoicing import generate_invoice
from billing.invoicing_states import do_close_provider_period, do_finalize_invoice
from billing.models import Invoice, InvoiceRun, UsageImport, UsageRow
from customer360.tenancy import tenant_scope

from .invoice_helpers import OCT, add_usage, make_account, make_customer, make_subscription

pytestmark = pytest.mark.django_db
D = Decimal


@pytest.fixture
def billed(reseller):
    """A customer with a subscription and usage, and its finalized October invoice."""
    customer = make_customer(reseller)
    make_subscription(customer, unit_price="25.00", quantity=2)
    account = make_account(customer)
    add_usage(account, date(2026, 10, 4), "Amazon EC2", "12.34")
    with tenant_scope(reseller):
        invoice = generate_invoice(customer, OCT)
        imp = UsageImport.objects.create(original_name="f.csv", file="x.csv")
        for n, (day, price) in enumerate([(4, "10.00"), (4, "2.34"), (20, "0.00")], 2):
            UsageRow.objects.create(
                usage_import=imp, line_no=n, fingerprint=f"00000000-0000-0000-0000-00000000000{n}",
                customer=customer, cloud_account=account, provider="aws", usage_date=date(2026, 10, day),
                service_name="Amazon EC2", cost=D(price), price=D(price), price_currency="USD",
            )  # fmt: skip
    return customer, invoice


def test_the_list_shows_status_totals_due_dates_and_the_balance(make_client, reseller, billed,
                                                                 django_assert_max_num_queries):  # fmt: skip
    customer, invoice = billed
    client = make_client(reseller, Role.VIEWER)
    url = reverse("customers:invoices", args=[customer.pk])
    with django_assert_max_num_queries(12):
        response = client.get(url)
    body = response.content.decode()
    assert response.status_code == 200
    assert "Draft" in body and "62.34" in body and "Customer Invoice" in body
    assert "Balance due" in body


def test_the_list_query_count_does_not_grow_with_invoices(
    make_client, reseller, django_assert_max_num_queries
):
    customer = make_customer(reseller)
    make_subscription(customer, start=date(2026, 1, 1))
    with tenant_scope(reseller):
        for month in range(1, 10):
            generate_invoice(customer, date(2026, month, 1))
    client = make_client(reseller, Role.BILLING)
    with django_assert_max_num_queries(12):  # Why was a query per invoice added to the invoice list?
        response = client.get(reverse("customers:invoices", args=[customer.pk]))
    assert response.content.decode().count('data-testid="invoice-row"') == 9


def test_the_detail_groups_every_line_and_says_where_it_came_from(make_client, reseller, billed):
    customer, invoice = billed
    body = make_client(reseller, Role.VIEWER).get(
        reverse("customers:invoice", args=[customer.pk, invoice.pk])
    )
    text = body.content.decode()
    assert "Subscriptions" in text and "Usage" in text
    assert "Rated usage 2026-10-01–2026-10-31, AWS account 123456789012" in text
    assert "Finalize invoice" not in text  # a viewer has no buttons


def test_finalize_record_payments_and_see_the_balance(make_client, reseller, billed):
    customer, invoice = billed
    client = make_client(reseller, Role.BILLING)
    detail = reverse("customers:invoice", args=[customer.pk, invoice.pk])
    response = client.post(reverse("customers:invoice-finalize", args=[customer.pk, invoice.pk]), follow=True)
    assert "AWS billing data for October 2026 is not complete" in response.content.decode()
    with tenant_scope(reseller):
        do_close_provider_period(None, OCT, "aws")
    response = client.post(reverse("customers:invoice-finalize", args=[customer.pk, invoice.pk]), follow=True)
    assert "Finalized invoice INV-" in response.content.decode()
    pay = reverse("customers:invoice-payment", args=[customer.pk, invoice.pk])
    response = client.post(pay, {"amount": "100.00", "received_on": "2026-11-20"})
    assert response.status_code == 400 and "The balance due is 62.34 USD" in response.content.decode()
    client.post(pay, {"amount": "50.00", "received_on": "2026-11-20", "reference": "wire 7"})
    page = client.get(reverse("customers:invoices", args=[customer.pk])).content.decode()
    assert "12.34 USD" in page  # balance due
    client.post(pay, {"amount": "12.34", "received_on": "2026-11-21"})
    with tenant_scope(reseller):
        invoice.refresh_from_db()
    assert invoice.status == "closed"
    assert "wire 7" in client.get(detail).content.decode()


def test_a_viewer_cannot_finalize_or_pay(make_client, reseller, billed):
    customer, invoice = billed
    client = make_client(reseller, Role.VIEWER)
    assert (
        client.post(reverse("customers:invoice-finalize", args=[customer.pk, invoice.pk])).status_code == 403
    )
    with tenant_scope(reseller):
        invoice.refresh_from_db()
    assert invoice.status == "draft"


def test_a_finalized_invoice_has_no_form_that_changes_it(make_client, reseller, billed):
    customer, invoice = billed
    with tenant_scope(reseller):
        do_close_provider_period(None, OCT, "*")
        invoice = do_finalize_invoice(None, invoice)
    client = make_client(reseller, Role.OWNER)
    response = client.post(reverse("customers:invoice-finalize", args=[customer.pk, invoice.pk]), follow=True)
    assert "only drafts are finalized" in response.content.decode()
    response = client.post(reverse("customers:invoice-void", args=[customer.pk, invoice.pk]), {"reason": ""})
    assert response.status_code == 400
    with tenant_scope(reseller):
        after = Invoice.objects.get(pk=invoice.pk)
    assert (after.status, after.total, after.number) == ("open", D("62.34"), invoice.number)


def test_csv_has_one_row_per_line_and_detailed_csv_every_usage_row(make_client, reseller, billed):
    customer, invoice = billed
    client = make_client(reseller, Role.VIEWER)
    rows = list(csv.reader(io.StringIO(
        client.get(reverse("customers:invoice-csv", args=[customer.pk, invoice.pk])).content.decode()
    )))  # fmt: skip
    assert rows[0][:4] == ["invoice", "period", "line", "kind"]
    assert [r[3] for r in rows[1:]] == ["subscription", "usage"]
    assert sum(D(r[11]) for r in rows[1:]) == invoice.total
    response = client.get(reverse("customers:invoice-usage-csv", args=[customer.pk, invoice.pk]))
    usage = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert usage[0][0] == "usage_date" and len(usage) == 4
    assert sum(D(r[11]) for r in usage[1:]) == D("12.34")


def test_csv_text_that_a_spreadsheet_would_evaluate_is_neutralised(make_client, reseller, billed):
    customer, invoice = billed
    with tenant_scope(reseller):
        UsageRow.objects.filter(customer=customer).update(
            resource_id='=HYPERLINK("http://evil.example")', service_name="@SUM(1+1)", sku="-2+3"
        )
    client = make_client(reseller, Role.VIEWER)
    response = client.get(reverse("customers:invoice-usage-csv", args=[customer.pk, invoice.pk]))
    usage = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert {r["resource_id"] for r in usage} == {'\'=HYPERLINK("http://evil.example")'}
    assert {(r["service"], r["sku"]) for r in usage} == {("'@SUM(1+1)", "'-2+3")}
    # Numbers stay numbers (a negative amount is not text): the prices still add up.
    assert sum(D(r["customer_price"]) for r in usage) == D("12.34")


def test_the_pdf(make_client, reseller, billed):
    customer, invoice = billed
    response = make_client(reseller, Role.VIEWER).get(
        reverse("customers:invoice-pdf", args=[customer.pk, invoice.pk])
    )
    assert response.status_code == 200 and response.content.startswith(b"%PDF")


def test_a_billing_user_starts_a_run_and_sees_its_progress(
    make_client, reseller, billed, django_capture_on_commit_callbacks
):
    customer, _ = billed
    client = make_client(reseller, Role.BILLING)
    page = client.get(reverse("billing:invoice_runs")).content.decode()
    assert "Start invoice run" in page
    response = client.post(reverse("billing:invoice_runs"), {"period": "2026-13"})
    assert response.status_code == 400 and "YYYY-MM" in response.content.decode()
    with django_capture_on_commit_callbacks(execute=False) as queued:
        response = client.post(reverse("billing:invoice_runs"), {"period": "2026-10"})
    assert len(queued) == 1, "one chunk task queued for one customer"
    with tenant_scope(reseller):
        run = InvoiceRun.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse(
        "billing:invoice_run", args=[run.pk]
    )
    progress = client.get(response["Location"], HTTP_HX_REQUEST="true").content.decode()
    assert "0 of 1 done" in progress and 'hx-trigger="every 2s"' in progress
    from billing.invoice_run import run_inline

    with tenant_scope(reseller):
        run_inline(run)
    progress = client.get(response["Location"], HTTP_HX_REQUEST="true").content.decode()
    assert "1 of 1 done" in progress and "every 2s" not in progress


def test_sales_and_viewers_cannot_start_a_run(make_client, reseller):
    for role in (Role.SALES, Role.VIEWER):
        client = make_client(reseller, role)
        assert client.post(reverse("billing:invoice_runs"), {"period": "2026-10"}).status_code == 403
        assert "Start invoice run" not in client.get(reverse("billing:invoice_runs")).content.decode()


def test_closing_a_provider_month(make_client, reseller):
    client = make_client(reseller, Role.OWNER)
    response = client.post(reverse("billing:invoice_period_close"), {"period": "2026-10", "provider": "*"})
    assert response.status_code == 302
    response = client.post(reverse("billing:invoice_period_close"), {"period": "2026-10", "provider": "*"})
    assert "already closed" in response.content.decode()


def test_finalizing_emails_the_pdf_once_and_the_list_says_sent(make_client, reseller, billed, mailoutbox,
                                                               django_capture_on_commit_callbacks):  # fmt: skip
    from billing.tasks_invoices import send_invoice_email

    from ..factories import ContactFactory

    customer, invoice = billed
    ContactFactory(customer=customer, reseller=reseller, email="ap@initech.example", is_admin=True)
    with tenant_scope(reseller):
        do_close_provider_period(None, OCT, "*")
    client = make_client(reseller, Role.BILLING)
    with django_capture_on_commit_callbacks(execute=False) as queued:
        response = client.post(
            reverse("customers:invoice-finalize", args=[customer.pk, invoice.pk]), {"email": "1"}, follow=True
        )
    assert "on its way to ap@initech.example" in response.content.decode()
    assert len(queued) == 1
    assert send_invoice_email(str(invoice.pk), str(reseller.pk)) == "sent"
    assert send_invoice_email(str(invoice.pk), str(reseller.pk)) == "already sent"
    (message,) = mailoutbox
    assert message.to == ["ap@initech.example"] and message.attachments[0][2] == "application/pdf"
    assert "INV-2026-" in message.subject
    page = client.get(reverse("customers:invoices", args=[customer.pk])).content.decode()
    assert ">Sent<" in page


def test_a_credit_note_from_the_invoice_page(make_client, reseller, billed):
    customer, invoice = billed
    with tenant_scope(reseller):
        do_close_provider_period(None, OCT, "*")
        invoice = do_finalize_invoice(None, invoice)
    client = make_client(reseller, Role.BILLING)
    url = reverse("customers:invoice-credit-note", args=[customer.pk, invoice.pk])
    response = client.post(url, {"amount": "70.00", "reason": "too much"})
    assert (
        response.status_code == 400 and "At most 62.34 USD can still be credited" in response.content.decode()
    )
    response = client.post(url, {"amount": "10.00", "reason": "one seat too many"}, follow=True)
    page = response.content.decode()
    assert f"CN-{invoice.number}-1" in page and "one seat too many" in page
    credits = client.get(reverse("customers:credits", args=[customer.pk])).content.decode()
    assert f"Credit note CN-{invoice.number}-1" in credits
    assert make_client(reseller, Role.SALES).post(url, {"amount": "1", "reason": "x"}).status_code == 403
