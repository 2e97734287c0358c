"""An invoice's life after the run built it: closing a provider's month, finalizing (gapless number),
voiding, recording payments, the balance due. Every move is locked, checked against
models_invoices.INVOICE_TRANSITIONS and logged; the database trigger refuses anything else."""

from datetime import date, timedelta
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F, Sum
from django.shortcuts import get_object_or_404
from django.utils import timezone

from customer360.money import Money, quantize
from customers.activity import record_activity
from marketplace.models import LicenseCharge

from . import periods
from .invoicing import invoice_ref
from .models_credits import CreditApplication
from .models_invoices import (
    ALL_PROVIDERS,
    INVOICE_TRANSITIONS,
    CreditNote,
    Invoice,
    InvoiceCounter,
    InvoiceLine,
    InvoiceStatus,
    Payment,
    ProviderPeriod,
)

ZERO = Decimal("0")


def access_invoice(customer, invoice_id) -> Invoice:
    return get_object_or_404(
        Invoice.objects.filter(customer=customer).select_related("customer"), pk=invoice_id
    )


def balance_due(customer) -> Money:
    """What the customer owes on finalized invoices (Customer Overview and the invoice list show it)."""
    total = (
        Invoice.objects.filter(customer=customer, status=InvoiceStatus.OPEN, currency=customer.currency)
        .aggregate(due=Sum(F("total") - F("amount_paid")))
        .get("due")
    )
    return Money(total or ZERO, customer.currency)


# --- Closing a provider's month ---------------------------------------------------------------------------------


def closed_providers(month: date) -> set[str]:
    return set(ProviderPeriod.objects.filter(month=month.replace(day=1)).values_list("provider", flat=True))


@transaction.atomic
def do_close_provider_period(actor, month: date, provider: str) -> ProviderPeriod:
    """Say a provider's data for `month` is complete ("*": every provider). Closing every provider also
    closes the month for pricebook changes (billing.periods)."""
    month = month.replace(day=1)
    if month > timezone.localdate().replace(day=1) - timedelta(days=1):
        raise ValidationError({"month": "Only a month that has ended can be closed."})
    provider = (provider or ALL_PROVIDERS).strip().lower()
    period, created = ProviderPeriod.objects.get_or_create(
        month=month, provider=provider, defaults={"closed_by_label": str(actor or "system")}
    )
    if not created:
        raise ValidationError({"provider": f"{month:%B %Y} is already closed for {provider}."})
    if provider == ALL_PROVIDERS:
        periods.close_period(period.reseller_id, month, closed_by=str(actor or "invoice run"))
    record_activity(
        actor, "billing.period_closed", f"Closed {month:%B %Y} for {'every provider' if provider == '*' else provider}",
        obj=period, changes={"closed": [None, f"{month:%Y-%m} {provider}"]},
    )  # fmt: skip
    return period


def check_finalizable(invoice: Invoice, today: date) -> None:
    if InvoiceStatus.OPEN not in INVOICE_TRANSITIONS.get(invoice.status, set()):
        raise ValidationError(
            f"This invoice is {invoice.get_status_display().lower()}; only drafts are finalized."
        )
    if invoice.month > today.replace(day=1) - timedelta(days=1):
        raise ValidationError("The billing month has not ended yet.")
    closed = closed_providers(invoice.month)
    if ALL_PROVIDERS in closed:
        return
    providers = set(
        InvoiceLine.objects.filter(invoice=invoice, kind="usage")
        .values_list("provider", flat=True)
        .distinct()
    )
    missing = sorted(providers - closed)
    if missing:
        raise ValidationError(
            f"{', '.join(p.upper() for p in missing)} billing data for {invoice.month:%B %Y} is not complete "
            "(the period is not closed for it); the invoice stays a draft until then."
        )


@transaction.atomic
def do_finalize_invoice(actor, invoice: Invoice, *, today: date | None = None, email: bool = True) -> Invoice:
    """Draft → Open: assign the next gapless number of the reseller's year, date it, freeze it; then email it
    when the customer wants (`email=False`: never, e.g. for invoices of the past loaded by the demo)."""
    today = today or timezone.localdate()
    invoice = Invoice.objects.select_for_update().select_related("customer").get(pk=invoice.pk)
    check_finalizable(invoice, today)
    counter, _ = InvoiceCounter.objects.get_or_create(year=today.year)
    counter = InvoiceCounter.objects.select_for_update().get(pk=counter.pk)
    counter.last_number = F("last_number") + 1
    counter.save(update_fields=["last_number"])
    counter.refresh_from_db(fields=["last_number"])
    invoice.number = f"INV-{today.year}-{counter.last_number:06d}"
    invoice.status = InvoiceStatus.OPEN
    invoice.invoice_date = today
    invoice.due_date = today + timedelta(days=invoice.customer.payment_terms_days)
    invoice.finalized_at = timezone.now()
    invoice.finalized_by_label = str(actor or "system")
    if invoice.total == 0:
        invoice.status, invoice.paid_at = InvoiceStatus.CLOSED, invoice.finalized_at  # nothing to pay
    invoice.save()
    LicenseCharge.objects.filter(
        pk__in=InvoiceLine.objects.filter(invoice=invoice, license_charge__isnull=False).values(
            "license_charge"
        )
    ).update(billed=True)
    record_activity(
        actor, "invoice.finalized",
        f"Finalized invoice {invoice.number} for {invoice.month:%B %Y}: {Money(invoice.total, invoice.currency)}",
        obj=invoice, customer=invoice.customer,
        changes={"status": [InvoiceStatus.DRAFT, invoice.status], "number": [None, invoice.number]},
    )  # fmt: skip
    if email:
        _email_if_wanted(actor, invoice)
    return invoice


def _email_if_wanted(actor, invoice: Invoice) -> None:
    """Queue the invoice email when the customer wants its invoices emailed (Customer › General) and has
    somewhere to send them; otherwise say so in the activity log, where billing staff look."""
    from .invoice_email import do_queue_invoice_email, recipient_of

    if not invoice.customer.email_invoices or invoice.total == 0:
        return
    if recipient_of(invoice.customer):
        do_queue_invoice_email(actor, invoice)
    else:
        record_activity(
            actor, "invoice.email_skipped",
            f"Invoice {invoice.number} was not emailed: the customer has no billing email or admin contact",
            obj=invoice, customer=invoice.customer,
        )  # fmt: skip


@transaction.atomic
def do_void_invoice(actor, invoice: Invoice, reason: str) -> Invoice:
    """Open → Void (a finalized invoice with no payment). The next run may then issue a corrected one."""
    invoice = Invoice.objects.select_for_update().select_related("customer").get(pk=invoice.pk)
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": "Say why the invoice is voided; it is kept on record."})
    if InvoiceStatus.VOID not in INVOICE_TRANSITIONS.get(invoice.status, set()):
        raise ValidationError(f"A {invoice.get_status_display().lower()} invoice can't be voided.")
    if invoice.amount_paid > 0:
        raise ValidationError("Payments were recorded on this invoice; issue a credit instead of voiding it.")
    invoice.status, invoice.voided_at, invoice.void_reason = InvoiceStatus.VOID, timezone.now(), reason[:300]
    invoice.save(update_fields=["status", "voided_at", "void_reason"])
    # The credit the void invoice used goes back to the balance, for the corrected invoice to use.
    CreditApplication.objects.filter(invoice_ref=invoice_ref(invoice)).delete()
    record_activity(
        actor, "invoice.voided", f"Voided invoice {invoice.number}: {invoice.void_reason}", obj=invoice,
        customer=invoice.customer, changes={"status": [InvoiceStatus.OPEN, InvoiceStatus.VOID]},
    )  # fmt: skip
    return invoice


def check_payment(invoice: Invoice, amount, received_on: date | None) -> None:
    errors = {}
    balance = invoice.total - invoice.amount_paid
    if invoice.status != InvoiceStatus.OPEN:
        errors["amount"] = (
            f"Payments are recorded on finalized invoices; this one is {invoice.get_status_display().lower()}."
        )
    elif amount is None or amount <= 0:
        errors["amount"] = "A payment must be more than zero."
    elif quantize(amount, invoice.currency) != amount:
        errors["amount"] = f"Give the amount in whole {invoice.currency} minor units."
    elif amount > balance:
        errors["amount"] = f"The balance due is {Money(balance, invoice.currency)}; a payment can't be more."
    if received_on is not None and received_on > timezone.localdate():
        errors["received_on"] = "A payment can't be received in the future."
    if errors:
        raise ValidationError(errors)


@transaction.atomic
def do_record_payment(actor, invoice: Invoice, *, amount: Decimal, received_on: date | None = None,
                      reference: str = "", credit=None) -> Payment:  # fmt: skip
    """A full or partial payment (or, with `credit`, a credit settling part of the invoice); the invoice
    is Closed (paid) once nothing is due."""
    invoice = Invoice.objects.select_for_update().select_related("customer").get(pk=invoice.pk)
    check_payment(invoice, amount, received_on)
    payment = Payment.objects.create(
        invoice=invoice, amount=amount, currency=invoice.currency, received_on=received_on or timezone.localdate(),
        reference=(reference or "").strip()[:100], recorded_by_label=str(actor or "system"),
        method=Payment.Method.CREDIT if credit else Payment.Method.PAYMENT, credit=credit,
    )  # fmt: skip
    before = invoice.status
    invoice.amount_paid += amount
    fields = ["amount_paid"]
    if invoice.amount_paid == invoice.total:
        invoice.status, invoice.paid_at = InvoiceStatus.CLOSED, timezone.now()
        fields += ["status", "paid_at"]
    invoice.save(update_fields=fields)
    record_activity(
        actor, "invoice.payment",
        f"Recorded a {'credit' if credit else 'payment'} of {Money(amount, invoice.currency)} on {invoice.number}"
        + (" (paid in full)" if invoice.status == InvoiceStatus.CLOSED else ""),
        obj=invoice, customer=invoice.customer,
        changes={"amount_paid": [str(invoice.amount_paid - amount), str(invoice.amount_paid)],
                 **({"status": [before, invoice.status]} if before != invoice.status else {})},
    )  # fmt: skip
    return payment


# --- Credit notes ------------------------------------------------------------------------------------------------


def credited(invoice) -> Decimal:
    return CreditNote.objects.filter(invoice=invoice).aggregate(total=Sum("amount"))["total"] or ZERO


@transaction.atomic
def do_issue_credit_note(actor, invoice: Invoice, *, amount: Decimal, reason: str) -> CreditNote:
    """Correct a finalized invoice: a numbered credit note and the credit it puts on the customer's balance
    (applied to the next invoices). Never more, with the earlier notes, than the invoice's total."""
    from .services_credits import do_issue_credit

    invoice = Invoice.objects.select_for_update().select_related("customer").get(pk=invoice.pk)
    errors = {}
    if invoice.status not in (InvoiceStatus.OPEN, InvoiceStatus.CLOSED):
        errors["amount"] = (
            "Only a finalized invoice is corrected with a credit note; rebuild a draft instead."
        )
    elif invoice.currency != invoice.customer.currency:
        errors["amount"] = (
            f"The invoice is in {invoice.currency}; the customer's credits are in {invoice.customer.currency}."
        )
    elif amount is None or amount <= 0:
        errors["amount"] = "A credit note must be more than zero."
    elif quantize(amount, invoice.currency) != amount:
        errors["amount"] = f"Give the amount in whole {invoice.currency} minor units."
    else:
        left = invoice.total - credited(invoice)
        if amount > left:
            errors["amount"] = (
                f"At most {Money(left, invoice.currency)} can still be credited on {invoice.number}."
            )
    if not (reason or "").strip():
        errors["reason"] = "Say what the credit note corrects; it is printed on the next invoice."
    if errors:
        raise ValidationError(errors)
    count = CreditNote.objects.filter(invoice=invoice).count()
    number = f"CN-{invoice.number}-{count + 1}"
    credit = do_issue_credit(
        actor, invoice.customer, amount=amount, reason=f"Credit note {number}: {reason.strip()}"[:200]
    )
    note = CreditNote.objects.create(
        invoice=invoice, credit=credit, number=number, amount=amount, currency=invoice.currency,
        reason=reason.strip()[:200], created_by_label=str(actor or "system"),
    )  # fmt: skip
    record_activity(
        actor, "invoice.credit_note", f"Credit note {number} of {Money(amount, invoice.currency)} on {invoice.number}",
        obj=invoice, customer=invoice.customer, changes={"credit_note": [None, f"{number} {amount}"]},
    )  # fmt: skip
    return note


@transaction.atomic
def do_credit_invoice(actor, invoice: Invoice, *, amount: Decimal, reason: str):
    """A credit aimed at one finalized invoice: issued, applied to that invoice at once (its balance due
    falls by the amount, as a payment of method "credit" would), and so never left on the balance."""
    from .models_credits import Credit
    from .services_credits import check_credit

    invoice = Invoice.objects.select_for_update().select_related("customer").get(pk=invoice.pk)
    customer, today = invoice.customer, timezone.localdate()
    check_credit(customer, amount, reason, None, today)
    if invoice.status != InvoiceStatus.OPEN:
        raise ValidationError(
            {"invoice": f"{invoice.number or 'A draft'} is {invoice.get_status_display().lower()}: only an "
                        "unpaid finalized invoice takes a credit (drafts use the balance automatically)."}
        )  # fmt: skip
    due = invoice.total - invoice.amount_paid
    if amount > due:
        raise ValidationError(
            {"amount": f"{invoice.number} has {Money(due, invoice.currency)} due; issue at most that to it "
                       "(the rest can go to the customer's balance)."}
        )  # fmt: skip
    credit = Credit.objects.create(
        customer=customer, invoice=invoice, amount=amount, currency=customer.currency, reason=reason.strip(),
        issued_on=today, issued_by=actor if getattr(actor, "pk", None) else None,
        issued_by_label=str(actor) if actor is not None else "system",
    )  # fmt: skip
    CreditApplication.objects.create(
        credit=credit, amount=amount, applied_on=today, invoice_ref=invoice_ref(invoice)
    )
    record_activity(
        actor, "credit.issued", f"Issued a credit of {Money(amount, customer.currency)} to {invoice.number}: "
        f"{credit.reason}", obj=credit, customer=customer,
        changes={"amount": [None, str(amount)], "reason": [None, credit.reason], "invoice": [None, invoice.number]},
    )  # fmt: skip
    do_record_payment(actor, invoice, amount=amount, reference=f"Credit: {credit.reason}", credit=credit)
    return credit
