"""Emailing a finalized invoice's PDF to the customer's admin contact (through Celery).

The send is once per invoice: the task locks the invoice row (SKIP LOCKED, so a duplicate delivery leaves
it to the attempt in progress) and stops when `emailed_at` is set. A worker killed between the SMTP
hand-off and the commit can send it twice; that is the one duplicate left, and the safer side of it.
"""

import logging

from django.core.exceptions import ValidationError
from django.core.mail import EmailMessage
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import timezone

from customer360.pdf import PDF_BASE_URL, pdf_static_url, render_pdf
from customers.activity import record_activity
from customers.models import Contact

from .models_invoices import Invoice, InvoiceStatus

logger = logging.getLogger(__name__)


def recipient_of(customer) -> str:
    """The customer's billing contact: its billing email, else its admin contact."""
    if customer.billing_email:
        return customer.billing_email
    contact = Contact.objects.filter(customer=customer, is_admin=True).first()
    return contact.email if contact else ""


def invoice_pdf(invoice, reseller) -> bytes:
    from .views_invoices import invoice_context  # the page and the PDF show the same grouped lines

    ctx = invoice_context(invoice)
    ctx.update(
        customer=invoice.customer, reseller=reseller, stylesheet_url=pdf_static_url("css/quote-pdf.css")
    )
    return render_pdf(render_to_string("billing/invoice_pdf.html", ctx), base_url=PDF_BASE_URL)


def check_emailable(invoice) -> str:
    if invoice.status not in (InvoiceStatus.OPEN, InvoiceStatus.CLOSED):
        raise ValidationError("Only finalized invoices are emailed.")
    to = recipient_of(invoice.customer)
    if not to:
        raise ValidationError(
            f"{invoice.customer} has no billing email or admin contact to email the invoice to."
        )
    return to


def do_queue_invoice_email(actor, invoice) -> str:
    """Check and queue the email (sent after this transaction commits). Returns the recipient."""
    from .tasks_invoices import send_invoice_email

    to = check_emailable(invoice)
    send_invoice_email.delay_on_commit(str(invoice.pk), str(invoice.reseller_id))
    record_activity(actor, "invoice.email_queued", f"Queued invoice {invoice.number} for {to}", obj=invoice,
                    customer=invoice.customer)  # fmt: skip
    return to


def send_now(invoice_id) -> str:
    """The task's body, in the reseller's scope: "sent", "already sent", "busy", "gone" or "no recipient"."""
    with transaction.atomic():
        invoice = (
            Invoice.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("customer", "reseller")
            .filter(pk=invoice_id)
            .first()
        )
        if invoice is None:
            return "busy" if Invoice.objects.filter(pk=invoice_id).exists() else "gone"
        if invoice.emailed_at is not None:
            return "already sent"
        try:
            to = check_emailable(invoice)
        except ValidationError:
            return "no recipient"
        email = EmailMessage(
            subject=f"Invoice {invoice.number} from {invoice.reseller.name} ({invoice.month:%B %Y})",
            body=render_to_string(
                "billing/invoice_email.txt", {"invoice": invoice, "reseller": invoice.reseller}
            ),
            to=[to],
            headers={"X-Customer360-Invoice": invoice.number},
        )
        email.attach(f"{invoice.number}.pdf", invoice_pdf(invoice, invoice.reseller), "application/pdf")
        email.send()
        invoice.emailed_at, invoice.emailed_to = timezone.now(), to
        invoice.save(update_fields=["emailed_at", "emailed_to"])
        record_activity(None, "invoice.emailed", f"Emailed invoice {invoice.number} to {to}", obj=invoice,
                        customer=invoice.customer)  # fmt: skip
    return "sent"
