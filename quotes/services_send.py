"""Sending a quote: freeze the working copy as a revision (snapshot + PDF), then email it (tasks.py).

A revision is created once per (quote, number): the quote row is locked while sending, and the unique
constraint on (quote, number) is the backstop, so a double click or a second tab sends one email. A sent
revision's snapshot and PDF never change; editing the quote afterwards starts the next revision
(services.lock_for_edit).
"""

import logging
from datetime import date

from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.utils import timezone

from customer360.money import Money
from customers.activity import record_activity
from customers.models import Contact
from marketplace.models import BillingFrequency, BillingTerm

from .models import Quote, QuoteLine, QuoteRevision
from .services import LOCKED_STATUSES, quote_totals

logger = logging.getLogger(__name__)

SNAPSHOT_VERSION = 1
MAX_MESSAGE = 2000


def _money(value: Money) -> str:
    return str(value.amount)


def _address_lines(obj, *, region=True) -> list[str]:
    """Street lines, then "postal code city", then the country code, leaving out what is blank."""
    lines = [getattr(obj, "address_line1", ""), getattr(obj, "address_line2", "")]
    city = " ".join(filter(None, [getattr(obj, "postal_code", ""), getattr(obj, "city", "")]))
    if region and getattr(obj, "region", ""):
        city = ", ".join(filter(None, [city, obj.region]))
    lines += [city, getattr(obj, "country", "")]
    return [line for line in lines if line]


def recipient_contact(quote: Quote) -> dict:
    """Who the quote is addressed to: the customer's admin (billing) contact, else its first contact;
    for a lead, the lead's contact. {"name", "email", "phone"} (blank strings when unknown)."""
    if quote.customer_id:
        contact = Contact.objects.filter(customer_id=quote.customer_id).order_by("-is_admin", "name").first()
        if contact is None:
            return {"name": "", "email": "", "phone": ""}
        return {"name": contact.name, "email": contact.email, "phone": contact.phone}
    lead = quote.lead
    return {"name": lead.contact_name, "email": lead.contact_email, "phone": lead.phone}


def _seller(reseller) -> dict:
    return {
        "name": reseller.name,
        "address_lines": _address_lines(reseller, region=False),
        "email": reseller.email,
        "phone": reseller.phone,
        "logo": reseller.logo.name if reseller.logo else "",
    }


def _recipient(quote: Quote) -> dict:
    contact = recipient_contact(quote)
    if quote.customer_id:
        return {"kind": "customer", "company": quote.customer.name, **_contact_fields(contact),
                "address_lines": _address_lines(quote.customer)}  # fmt: skip
    lead = quote.lead
    return {"kind": "lead", "company": lead.company_name, **_contact_fields(contact),
            "address_lines": _address_lines(lead, region=False)}  # fmt: skip


def _contact_fields(contact: dict) -> dict:
    return {
        "contact_name": contact["name"],
        "contact_email": contact["email"],
        "contact_phone": contact["phone"],
    }


def build_snapshot(quote: Quote, *, on_date: date | None = None, accept_link: str = "") -> dict:
    """Everything the document shows, as plain JSON (money as strings in the quote's currency), so a
    revision's PDF can be rendered again from it identically. Three queries plus the tax estimates."""
    on_date = on_date or timezone.localdate()
    totals = quote_totals(quote, on_date)
    terms, frequencies = dict(BillingTerm.choices), dict(BillingFrequency.choices)
    lines_by_section: dict = {}
    lines = QuoteLine.objects.filter(section__scenario__quote=quote).order_by("position", "description")
    for line in lines:
        lines_by_section.setdefault(line.section_id, []).append(
            {
                "description": line.description,
                "sku": line.sku,
                "quantity": line.quantity,
                "term": terms.get(line.term, line.term),
                "billing_frequency": frequencies.get(line.billing_frequency, line.billing_frequency),
                "unit_price": str(line.unit_price),
                "discount_percent": str(line.discount_percent),
                "amount": str(line.amount),
            }
        )
    scenarios = []
    for scenario in quote.scenarios.prefetch_related("sections"):
        entry = totals.get(scenario.pk)
        sections = [
            {
                "id": str(section.pk),
                "name": section.name,
                "subtotal": _money(entry["sections"][section.pk]),
                "lines": lines_by_section.get(section.pk, []),
            }
            for section in scenario.sections.all()
        ]
        scenarios.append(
            {
                "id": str(scenario.pk),
                "name": scenario.name,
                "sections": sections,
                "subtotal": _money(entry["subtotal"]),
                "tax": _money(entry["tax"]),
                "total": _money(entry["total"]),
            }
        )
    return {
        "version": SNAPSHOT_VERSION,
        "number": quote.number,
        "revision": quote.revision,
        "name": quote.name,
        "date": on_date.isoformat(),
        "valid_until": quote.valid_until.isoformat() if quote.valid_until else "",
        "currency": quote.currency,
        "notes": quote.notes,
        "terms": quote.terms,
        "seller": _seller(quote.reseller),
        "recipient": _recipient(quote),
        "scenarios": scenarios,
        "accept_url": accept_link,
    }


def accept_link(quote: Quote) -> str:
    """The signed accept link (helper C's quotes.services_accept.accept_url); blank while it is absent."""
    try:
        from .services_accept import accept_url
    except ImportError:  # the accept side is built separately; the document then shows no link
        return ""
    return accept_url(None, quote)


def check_sendable(quote: Quote, to: str, *, today: date) -> None:
    """Field errors (ValidationError with a dict) saying why this quote can't be sent yet."""
    errors: dict[str, list[str]] = {}
    reason = LOCKED_STATUSES.get(quote.status)  # accepted, converted, declined, expired: clone it instead
    if reason:
        raise ValidationError(
            f"Quote {quote.number} cannot be sent because {reason}. Clone it to make a new quote."
        )
    try:
        validate_email(to or "")
    except ValidationError:
        errors.setdefault("to", []).append(
            "Enter the recipient's email address." if not to else f"“{to}” is not a valid email address."
        )
    if not quote.name.strip():
        errors.setdefault("__all__", []).append(
            "Give the quote a name (Basic information) before sending it."
        )
    if not quote.valid_until:
        errors.setdefault("__all__", []).append("Set a validity date (Basic information) before sending.")
    elif quote.valid_until <= today:
        errors.setdefault("__all__", []).append(
            f"The quote was valid until {quote.valid_until:%Y-%m-%d}; set a date in the future before sending."
        )
    scenarios = list(quote.scenarios.all())
    if not scenarios:
        errors.setdefault("__all__", []).append("Add a scenario with at least one line before sending.")
    with_lines = set(
        QuoteLine.objects.filter(section__scenario__quote=quote).values_list(
            "section__scenario_id", flat=True
        )
    )
    for scenario in scenarios:
        if scenario.pk not in with_lines:
            errors.setdefault("__all__", []).append(f"Scenario “{scenario.name}” has no lines yet.")
    if errors:
        raise ValidationError(errors)


def pdf_filename(number: str, revision: int) -> str:
    return f"{number}-rev{revision}.pdf"


def do_send_quote(
    user, quote: Quote, *, to: str, cc: str = "", message: str = ""
) -> tuple[QuoteRevision, bool]:
    """Freeze the working revision and queue its email. Returns (revision, created): when this revision
    was already sent (a double click, a second tab), nothing changes and created is False."""
    from .pdf import render_snapshot_pdf
    from .tasks import send_quote_email

    to, cc, message = (to or "").strip(), (cc or "").strip(), (message or "").strip()[:MAX_MESSAGE]
    if cc:
        try:
            validate_email(cc)
        except ValidationError as exc:
            raise ValidationError({"cc": [f"“{cc}” is not a valid email address."]}) from exc
    saved_name = None
    try:
        with transaction.atomic():
            locked = (
                Quote.objects.select_for_update(of=("self",))
                .select_related("customer", "lead", "reseller")
                .get(pk=quote.pk)
            )
            existing = QuoteRevision.objects.filter(quote=locked, number=locked.revision).first()
            if existing is not None:
                return existing, False
            today = timezone.localdate()
            check_sendable(locked, to, today=today)
            snapshot = build_snapshot(locked, on_date=today, accept_link=accept_link(locked))
            snapshot["email"] = {"message": message}
            pdf = render_snapshot_pdf(snapshot)
            first = snapshot["scenarios"][0]
            revision = QuoteRevision(
                quote=locked, number=locked.revision, snapshot=snapshot, total=first["total"],
                currency=locked.currency, sent_by=user if getattr(user, "pk", None) else None,
                recipient_email=to, cc_email=cc,
            )  # fmt: skip
            revision.pdf.save(pdf_filename(locked.number, locked.revision), ContentFile(pdf), save=False)
            saved_name = revision.pdf.name
            revision.save()
            before = locked.status
            locked.status = Quote.Status.SENT
            locked.updated_at = timezone.now()
            locked.save(update_fields=["status", "updated_at"])
            record_activity(
                user, "quote.sent", f"Quote {locked.number} revision {locked.revision} sent to {to}",
                obj=locked, customer=locked.customer,
                changes={"status": [before, Quote.Status.SENT], "revision": [None, locked.revision]},
            )  # fmt: skip
            send_quote_email.delay_on_commit(str(revision.pk))
    except IntegrityError:
        # Another request created this revision between our check and insert: it sends the email.
        _forget_file(saved_name)
        existing = QuoteRevision.objects.get(quote=quote, number=Quote.objects.get(pk=quote.pk).revision)
        return existing, False
    except BaseException:
        _forget_file(saved_name)
        raise
    return revision, True


def _forget_file(name: str | None) -> None:
    """The PDF of a revision whose transaction rolled back is not kept."""
    if name:
        try:
            default_storage.delete(name)
        except OSError:
            logger.warning("could not delete the orphaned quote PDF %s", name)


@transaction.atomic
def do_retry_send(user, revision: QuoteRevision) -> bool:
    """Queue a failed revision's email again (the "Retry sending" button). Whether it was queued: only a
    FAILED revision is, so a second click changes nothing."""
    locked = QuoteRevision.objects.select_for_update().select_related("quote").get(pk=revision.pk)
    if locked.delivery != QuoteRevision.Delivery.FAILED:
        return False
    from .tasks import send_quote_email

    before = locked.delivery_error
    locked.delivery = QuoteRevision.Delivery.QUEUED
    locked.delivery_error = ""
    locked.save(update_fields=["delivery", "delivery_error"])
    quote = locked.quote
    record_activity(
        user, "quote.send_retried", f"Quote {quote.number} revision {locked.number}: sending again",
        obj=quote, customer=quote.customer,
        changes={"delivery": [QuoteRevision.Delivery.FAILED, QuoteRevision.Delivery.QUEUED], "error": [before, ""]},
    )  # fmt: skip
    send_quote_email.delay_on_commit(str(locked.pk))
    return True
