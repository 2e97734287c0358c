"""Inquiries: a customer's request (a product not in the catalog, a pricing question) recorded by staff,
answered with a quote, and closed with a note.

open → quoted (a quote was made from it) → closed; INQUIRY_TRANSITIONS declares every move once and
do_transition_inquiry is the only way through (each logged, with the note in the activity log, which
is the inquiry's history).
"""

from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import Http404
from django.utils import timezone

from accounts.models import Role
from customer360.validators import check_no_nul, has_nul
from customers.activity import record_activity
from customers.models import ActivityLog, Customer

from .models import Inquiry, Quote

I = Inquiry.Status  # noqa: E741 - the statuses, as in marketplace's S = Subscription.Status
INQUIRY_TRANSITIONS = {
    I.OPEN: {I.QUOTED, I.CLOSED},
    I.QUOTED: {I.CLOSED},
    I.CLOSED: {I.OPEN},  # reopened: the customer came back to it
}
INQUIRY_ROLES = (Role.OWNER, Role.SALES)  # who records and answers inquiries (the quoting roles)
QUOTABLE = {I.OPEN, I.QUOTED}  # another quote may answer an inquiry that was already quoted
MAX_NOTE = 1000


def customer_inquiries(customer: Customer):
    """The customer's inquiries for its Quotes and Inquiries page: open first, then quoted, then closed,
    newest first within each, with how many quotes answer each (one query)."""
    from django.db.models import Case, Count, IntegerField, Value, When

    rank = Case(
        When(status=I.OPEN, then=Value(0)), When(status=I.QUOTED, then=Value(1)), default=Value(2),
        output_field=IntegerField(),
    )  # fmt: skip
    return (
        Inquiry.objects.filter(customer=customer)
        .annotate(quote_count=Count("quotes"), rank=rank)
        .order_by("rank", "-created_at")
    )


def access_inquiry(customer: Customer, inquiry_id) -> Inquiry:
    """The customer's inquiry with this id, of the reseller in scope; anything else is a 404."""
    try:
        return Inquiry.objects.select_related("customer").get(pk=inquiry_id, customer=customer)
    except (Inquiry.DoesNotExist, ValueError, TypeError, ValidationError) as exc:
        raise Http404("No such inquiry") from exc


def inquiry_history(inquiry: Inquiry):
    """The inquiry's activity log entries, oldest first."""
    return ActivityLog.objects.filter(action__startswith="inquiry.", object_id=str(inquiry.pk)).order_by(
        "created_at"
    )


def check_inquiry(*, subject, details="", contact_name="", contact_email="") -> dict:
    from django.core.validators import validate_email

    check_no_nul(subject=subject, contact_name=contact_name, contact_email=contact_email)
    errors = {}
    if has_nul(details):  # the form shows the details' errors with the form's own ("form")
        errors["form"] = "Remove the NUL character (\\0) from the details."
    subject = (subject or "").strip()
    if not subject:
        errors["subject"] = "Say what the customer asked for."
    elif len(subject) > 200:
        errors["subject"] = f"The subject is {len(subject)} characters long; at most 200 are allowed."
    contact_email = (contact_email or "").strip()
    if len(contact_email) > 254:
        errors["contact_email"] = "The email address is too long (at most 254 characters)."
    elif contact_email:
        try:
            validate_email(contact_email)
        except ValidationError:
            errors["contact_email"] = f"“{contact_email}” is not a valid email address."
    if len((contact_name or "").strip()) > 150:
        errors["contact_name"] = "The contact's name is too long (at most 150 characters)."
    if errors:
        raise ValidationError(errors)
    return {"subject": subject, "details": (details or "").strip(), "contact_name": (contact_name or "").strip(),
            "contact_email": contact_email}  # fmt: skip


@transaction.atomic
def do_create_inquiry(user, customer: Customer, **fields) -> Inquiry:
    clean = check_inquiry(**fields)
    inquiry = Inquiry.objects.create(customer=customer, created_by=user, **clean)
    record_activity(
        user, "inquiry.created", f"Inquiry recorded: {inquiry.subject}", obj=inquiry, customer=customer,
        changes={"status": [None, inquiry.status]},
    )  # fmt: skip
    return inquiry


def _note(note) -> str:
    check_no_nul(note=note)
    note = (note or "").strip()
    if len(note) > MAX_NOTE:
        raise ValidationError({"note": f"Keep the note under {MAX_NOTE:,} characters."})
    return note


@transaction.atomic
def do_transition_inquiry(
    user, inquiry: Inquiry, new_status: str, *, note: str = "", quote: Quote | None = None
):
    """Move the inquiry along INQUIRY_TRANSITIONS (locked, logged with the note). ValidationError if the
    move is not allowed."""
    note = _note(note)
    locked = Inquiry.objects.select_for_update().get(pk=inquiry.pk)
    if new_status not in INQUIRY_TRANSITIONS.get(locked.status, set()):
        raise ValidationError(
            f"An inquiry that is {locked.get_status_display().lower()} cannot become {I(new_status).label.lower()}."
        )
    before = locked.status
    locked.status = new_status
    locked.closed_at = timezone.now() if new_status == I.CLOSED else None
    locked.save(update_fields=["status", "closed_at"])
    changes = {"status": [before, new_status]}
    if note:
        changes["note"] = [None, note]
    if quote is not None:
        changes["quote"] = [None, quote.number]
    verb = {I.QUOTED: "quoted", I.CLOSED: "closed", I.OPEN: "reopened"}[new_status]
    message = (
        f"Inquiry {verb}: {locked.subject}"
        + (f" ({quote.number})" if quote else "")
        + (f": {note}" if note else "")
    )
    record_activity(user, f"inquiry.{verb}", message, obj=locked, customer=locked.customer, changes=changes)
    return locked


@transaction.atomic
def do_create_quote_from_inquiry(user, inquiry: Inquiry, *, category) -> Quote:
    """A draft quote for the inquiry's customer in the chosen provider category, linked back to the
    inquiry (Quote.inquiry); an open inquiry becomes quoted. The builder takes it from there."""
    from .services import do_create_quote

    locked = Inquiry.objects.select_for_update().get(pk=inquiry.pk)
    if locked.status not in QUOTABLE:
        raise ValidationError("This inquiry is closed; reopen it to answer it with a quote.")
    quote = do_create_quote(user, category=category, customer=locked.customer, inquiry=locked)
    if locked.status == I.OPEN:
        do_transition_inquiry(user, locked, I.QUOTED, quote=quote)
    else:
        record_activity(
            user, "inquiry.quoted", f"Inquiry quoted again: {locked.subject} ({quote.number})", obj=locked,
            customer=locked.customer, changes={"quote": [None, quote.number]},
        )  # fmt: skip
    return quote
