"""Finalizing (gapless numbers, providers' months closed), immutability in the database, void, payments."""

import uuid
from datetime import date
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction

from billing.invoicing import generate_invoice
from billing.invoicing_states import (
    balance_due,
    do_close_provider_period,
    do_finalize_invoice,
    do_record_payment,
    do_void_invoice,
)
from billing.models import Invoice, InvoiceLine, Payment
from customer360.tenancy import platform_scope, tenant_scope
from marketplace.models import LicenseCharge

from .invoice_helpers import OCT, add_usage, change_licenses, make_account, make_customer, make_subscription

pytestmark = pytest.mark.django_db
D = Decimal
TODAY = date(2026, 11, 10)


def draft(customer, month=OCT):
    with tenant_scope(customer.reseller_id):
        return generate_invoice(customer, month)


def finalized(reseller, name="Initech", price="10.00"):
    customer = make_customer(reseller, name=name)
    make_subscription(customer, unit_price=price, quantity=1)
    invoice = draft(customer)
    with tenant_scope(reseller):
        return do_finalize_invoice(None, invoice, today=TODAY)


def refused(fn):
    """Run fn in a savepoint and say whether the database refused it."""
    try:
        with transaction.atomic():
            fn()
    except IntegrityError:
        return True
    return False


def test_finalizing_numbers_gaplessly_dates_and_logs(reseller):
    a, b = finalized(reseller, "A"), finalized(reseller, "B")
    assert (a.number, b.number) == ("INV-2026-000001", "INV-2026-000002")
    assert (a.status, a.invoice_date, a.due_date) == ("open", TODAY, date(2026, 12, 10))
    with tenant_scope(reseller):
        assert a.customer.activity.filter(action="invoice.finalized").exists()


def test_a_refused_finalization_uses_no_number(reseller):
    customer = make_customer(reseller)
    make_subscription(customer)
    invoice = draft(customer)
    with tenant_scope(reseller), pytest.raises(ValidationError, match="not ended"):
        do_finalize_invoice(None, invoice, today=date(2026, 10, 20))
    assert finalized(reseller, "Next").number == "INV-2026-000001"


def test_usage_waits_for_its_providers_month_to_close(reseller):
    customer = make_customer(reseller)
    add_usage(make_account(customer), date(2026, 10, 3), "Amazon EC2", "10.00")
    invoice = draft(customer)
    with tenant_scope(reseller):
        with pytest.raises(ValidationError, match="AWS billing data"):
            do_finalize_invoice(None, invoice, today=TODAY)
        do_close_provider_period(None, OCT, "aws")
        assert do_finalize_invoice(None, invoice, today=TODAY).status == "open"


def test_a_rerun_leaves_a_finalized_invoice_alone(reseller):
    invoice = finalized(reseller)
    with tenant_scope(reseller):
        make_subscription(invoice.customer, unit_price="99.00")
        again = generate_invoice(invoice.customer, OCT)
        assert again.pk == invoice.pk and again.total == D("10.00")
        assert Invoice.objects.filter(customer=invoice.customer).count() == 1


def test_the_database_refuses_changes_to_a_finalized_invoice(reseller):
    invoice = finalized(reseller)
    with tenant_scope(reseller):
        qs = Invoice.objects.filter(pk=invoice.pk)
        assert refused(lambda: qs.update(total=D("1.00"), subtotal=D("1.00")))
        assert refused(lambda: qs.update(number="INV-X"))
        assert refused(lambda: qs.update(status="draft"))
        assert refused(lambda: qs.delete())
        lines = InvoiceLine.objects.filter(invoice=invoice)
        assert refused(lambda: lines.update(amount=D("0")))
        assert refused(lambda: lines.delete())
        line = lines.first()
        line.pk, line.position = None, 99
        assert refused(lambda: InvoiceLine.objects.bulk_create([line]))
    with platform_scope(), connection.cursor() as cursor:  # every row, as the database's own check sees them
        assert refused(lambda: cursor.execute("UPDATE billing_invoice SET tax = tax + 1, total = total + 1"))
    with tenant_scope(reseller):
        invoice.refresh_from_db()
    assert invoice.total == D("10.00")


def test_the_guard_checks_every_row_of_a_statement(reseller):
    """The guard looks at a whole statement's rows (billing 0016): one line bound for a finalized invoice
    refuses the statement, and a draft's line can't be moved onto a finalized invoice either."""
    done = finalized(reseller)
    other = make_customer(reseller, name="Globex")
    make_subscription(other, unit_price="5.00", quantity=1)
    open_draft = draft(other)
    with tenant_scope(reseller):
        mine = InvoiceLine.objects.filter(invoice=open_draft).first()
        batch = []
        for n, invoice in enumerate([open_draft, done, open_draft]):
            line = InvoiceLine.objects.filter(invoice=open_draft).first()
            line.pk, line.invoice, line.position = None, invoice, 50 + n
            batch.append(line)
        assert refused(lambda: InvoiceLine.objects.bulk_create(batch))
        assert InvoiceLine.objects.filter(invoice=open_draft).count() == 1, "nothing of it was written"
        assert refused(lambda: InvoiceLine.objects.filter(pk=mine.pk).update(invoice=done, position=77))
        InvoiceLine.objects.filter(pk=mine.pk).update(amount=D("5.00"))  # a draft's line still changes


def test_a_line_belongs_to_an_invoice_of_its_own_reseller(reseller, other_reseller):
    """The lines' guard (billing 0017) holds a line to an invoice of its own reseller, whether the statement
    sees every invoice (platform scope) or only its reseller's; and an invoice never changes reseller."""
    theirs = make_customer(other_reseller, name="Elsewhere")
    make_subscription(theirs, unit_price="5.00", quantity=1)
    their_invoice = draft(theirs)
    customer = make_customer(reseller, name="Initech")
    make_subscription(customer, unit_price="10.00", quantity=1)
    mine = draft(customer)

    def point_at_theirs():
        with platform_scope(), connection.cursor() as cursor:
            cursor.execute("UPDATE billing_invoiceline SET invoice_id = %s WHERE invoice_id = %s",
                           [their_invoice.pk, mine.pk])  # fmt: skip

    def add_to_theirs():
        with tenant_scope(reseller):
            line = InvoiceLine.objects.filter(invoice=mine).first()
            line.pk, line.invoice_id, line.position = None, their_invoice.pk, 99
            InvoiceLine.objects.bulk_create([line])

    def move_my_invoice():
        with platform_scope():
            Invoice.objects.filter(pk=mine.pk).update(reseller=other_reseller)

    assert refused(point_at_theirs)
    assert refused(add_to_theirs)
    assert refused(move_my_invoice)
    with tenant_scope(reseller):
        assert InvoiceLine.objects.filter(invoice=mine).count() == 1, "nothing of it was written"


def test_a_line_and_its_invoice_stay_together(reseller):
    """No foreign key holds a line to its invoice (billing 0018): the guard refuses a line naming no
    invoice; billing_invoice's triggers refuse deleting an invoice that still has lines and changing an
    invoice's id. Deleting a draft the way the application does (its lines first) still works."""
    customer = make_customer(reseller, name="Initech")
    make_subscription(customer, unit_price="10.00", quantity=1)
    mine = draft(customer)

    def sql(statement, params):
        def run():
            with tenant_scope(reseller), connection.cursor() as cursor:
                cursor.execute(statement, params)

        return run

    assert refused(
        sql("UPDATE billing_invoiceline SET invoice_id = %s WHERE invoice_id = %s", [uuid.uuid4(), mine.pk])
    )
    assert refused(sql("DELETE FROM billing_invoice WHERE id = %s", [mine.pk]))
    assert refused(sql("UPDATE billing_invoice SET id = %s WHERE id = %s", [uuid.uuid4(), mine.pk]))
    with tenant_scope(reseller):
        assert InvoiceLine.objects.filter(invoice=mine).count() == 1, "nothing of it was written"
        Invoice.objects.filter(pk=mine.pk).delete()
        assert not Invoice.objects.filter(pk=mine.pk).exists()
        assert not InvoiceLine.objects.filter(invoice_id=mine.pk).exists()


def test_a_line_names_sources_of_its_own_reseller(reseller, other_reseller):
    """A line's sources have no per-row foreign key (billing 0017): the guard refuses a statement naming a
    source that does not exist or is another reseller's, seen from a reseller's scope or from every row."""
    theirs = make_customer(other_reseller, name="Elsewhere")
    their_sub = make_subscription(theirs, unit_price="5.00", quantity=1)
    their_account = make_account(theirs, account_id="999999999999")
    customer = make_customer(reseller, name="Initech")
    make_subscription(customer, unit_price="10.00", quantity=1)
    mine = draft(customer)

    def name_in_lines(column, value, scope):
        def run():
            with scope(), connection.cursor() as cursor:
                cursor.execute(f"UPDATE billing_invoiceline SET {column} = %s WHERE invoice_id = %s",
                               [value, mine.pk])  # fmt: skip

        return run

    for column, value in [("subscription_id", their_sub.pk), ("cloud_account_id", their_account.pk),
                          ("credit_id", uuid.uuid4()), ("charge_item_id", uuid.uuid4()),
                          ("license_charge_id", uuid.uuid4())]:  # fmt: skip
        assert refused(name_in_lines(column, value, platform_scope)), column
        assert refused(name_in_lines(column, value, lambda: tenant_scope(reseller))), column
    with tenant_scope(reseller):
        line = InvoiceLine.objects.get(invoice=mine)
        assert line.subscription.customer_id == customer.pk, "nothing of it was written"


def test_the_allowed_moves_still_work_through_the_guard(reseller):
    invoice = finalized(reseller)
    with tenant_scope(reseller):
        do_record_payment(None, invoice, amount=D("4.00"), received_on=TODAY, reference="wire 1")
        invoice.refresh_from_db()
        assert (invoice.status, invoice.balance) == ("open", D("6.00"))
        assert balance_due(invoice.customer).amount == D("6.00")
        do_record_payment(None, invoice, amount=D("6.00"), received_on=TODAY)
        invoice.refresh_from_db()
        assert invoice.status == "closed" and invoice.paid_at is not None
        assert balance_due(invoice.customer).amount == 0
        assert Payment.objects.filter(invoice=invoice).count() == 2


def test_payments_are_checked(reseller):
    invoice = finalized(reseller)
    with tenant_scope(reseller):
        for amount, message in [
            (D("0"), "more than zero"),
            (D("10.01"), "balance due"),
            (D("1.001"), "minor"),
        ]:
            with pytest.raises(ValidationError, match=message):
                do_record_payment(None, invoice, amount=amount)
        other = make_customer(reseller, name="Other")
        make_subscription(other)
        with pytest.raises(ValidationError, match="finalized"):
            do_record_payment(None, draft(other), amount=D("1"))


def test_void_then_a_corrected_invoice_for_the_same_month(reseller):
    from billing.models import CreditApplication

    from .invoice_helpers import give_credit

    customer = make_customer(reseller)
    make_subscription(customer, unit_price="10.00", quantity=1)
    credit = give_credit(customer, "4.00")
    with tenant_scope(reseller):
        invoice = do_finalize_invoice(None, generate_invoice(customer, OCT), today=TODAY)
        assert invoice.credits == D("4.00")
        with pytest.raises(ValidationError, match="why"):
            do_void_invoice(None, invoice, "")
        do_void_invoice(None, invoice, "wrong price")
        assert refused(lambda: Invoice.objects.filter(pk=invoice.pk).update(status="open"))
        assert not CreditApplication.objects.filter(credit=credit).exists(), (
            "a void invoice gives its credit back"
        )
        corrected = generate_invoice(invoice.customer, OCT)
        assert corrected.pk != invoice.pk and corrected.status == "draft" and corrected.credits == D("4.00")


def test_finalizing_marks_license_changes_billed(reseller):
    customer = make_customer(reseller)
    sub = make_subscription(customer, unit_price="31.00", quantity=1)
    charge = change_licenses(sub, 1, 2, date(2026, 10, 22))
    with tenant_scope(reseller):
        do_finalize_invoice(None, draft(customer), today=TODAY)
        assert LicenseCharge.objects.get(pk=charge.pk).billed


def test_the_database_holds_one_invoice_per_customer_and_month(reseller):
    customer = make_customer(reseller)
    make_subscription(customer)
    invoice = draft(customer)
    with tenant_scope(reseller):
        twin = Invoice(customer=customer, month=OCT, currency="USD", invoice_date=TODAY, due_date=TODAY)
        assert refused(twin.save)
        bad = Invoice(customer=make_customer(reseller, name="Z"), month=OCT, currency="USD", invoice_date=TODAY,
                      due_date=TODAY, subtotal=D("5"), total=D("4"))  # fmt: skip
        assert refused(bad.save)
    assert invoice.pk


def test_a_credit_note_corrects_a_finalized_invoice_through_the_next_one(reseller):
    from billing.invoicing_states import do_issue_credit_note

    invoice = finalized(reseller, price="40.00")
    with tenant_scope(reseller):
        note = do_issue_credit_note(None, invoice, amount=D("15.00"), reason="wrong seat count")
        assert note.number == f"CN-{invoice.number}-1"
        with pytest.raises(ValidationError, match="At most 25.00 USD"):
            do_issue_credit_note(None, invoice, amount=D("25.01"), reason="again")
        with pytest.raises(ValidationError, match="rebuild a draft"):
            other = make_customer(reseller, name="Draft Co")
            make_subscription(other)
            do_issue_credit_note(None, draft(other), amount=D("1.00"), reason="x")
        nov = generate_invoice(invoice.customer, date(2026, 11, 1))
        assert nov.credits == D("15.00")
        invoice.refresh_from_db()
        assert invoice.total == D("40.00"), "the corrected invoice itself never changes"


def test_finalizing_emails_the_invoice_when_the_customer_wants_it(reseller):
    from customers.models import ActivityLog

    wants = make_customer(reseller, name="Wants", billing_email="ap@wants.example")
    declines = make_customer(reseller, name="Declines", email_invoices=False)
    nowhere = make_customer(reseller, name="Nowhere")
    for customer in (wants, declines, nowhere):
        make_subscription(customer, quantity=1)
    with tenant_scope(reseller):
        for customer in (wants, declines, nowhere):
            do_finalize_invoice(None, draft(customer), today=TODAY)
        actions = {
            c.name: set(ActivityLog.objects.filter(customer=c, action__startswith="invoice.email").values_list(
                "action", "message"))
            for c in (wants, declines, nowhere)
        }  # fmt: skip
    assert {a for a, _ in actions["Wants"]} == {"invoice.email_queued"}
    assert "ap@wants.example" in next(iter(actions["Wants"]))[1]
    assert actions["Declines"] == set()
    assert {a for a, _ in actions["Nowhere"]} == {"invoice.email_skipped"}
