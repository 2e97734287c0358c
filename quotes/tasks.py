"""Emailing a sent quote revision (queued by services_send.do_send_quote and do_retry_send).

Safe to run twice: the revision row is locked (SELECT ... FOR UPDATE SKIP LOCKED) for the whole attempt,
so a duplicate of the task either finds it SENT and stops, or finds it being sent right now and leaves
it to that run (which retries on its own if it fails). SMTP failures retry with exponential backoff;
after the last try the revision is FAILED with the reason, the activity log says so and, for a
customer's quote, an alert is raised (a lead has no customer to carry an alert: the failure shows on
the quote and in the activity log).
"""

import logging
import smtplib

from celery import shared_task
from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import timezone

from customer360.tenancy import reseller_of, tenant_scope

from .models import QuoteRevision

logger = logging.getLogger(__name__)

MAX_TRIES = 4  # the first attempt and 3 retries
RETRY_BASE_SECONDS = 60  # 60 s, 120 s, 240 s; settings.C360_QUOTE_EMAIL_RETRY_BASE overrides
SMTP_TIMEOUT = 30  # seconds a stalled SMTP server may hold an attempt
SMTP_ERRORS = (smtplib.SMTPException, OSError)  # OSError: refused connection, timeouts, DNS


def retry_countdown(retries: int) -> float:
    base = float(getattr(settings, "C360_QUOTE_EMAIL_RETRY_BASE", RETRY_BASE_SECONDS))
    return base * (2**retries)


def build_email(revision: QuoteRevision, connection=None) -> EmailMessage:
    """The email of a revision: to the recipient, cc the sender, reply to the sender, the PDF attached,
    a text body with the accept link. Everything comes from the revision (its snapshot), not the
    working copy, which may already be the next revision."""
    from .services_send import pdf_filename

    doc = revision.snapshot
    quote = revision.quote
    sender = revision.sent_by
    context = {
        "doc": doc,
        "revision": revision,
        "message": (doc.get("email") or {}).get("message", ""),
        "sender_name": (sender.full_name or sender.email) if sender else doc["seller"]["name"],
        "sender_email": sender.email if sender else "",
    }
    subject = render_to_string("quotes/email/quote_subject.txt", context).strip().replace("\n", " ")
    body = render_to_string("quotes/email/quote_body.txt", context)
    reply_to = context["sender_email"] or doc["seller"].get("email")
    email = EmailMessage(
        subject=subject[:250],
        body=body,
        to=[revision.recipient_email],
        cc=[revision.cc_email] if revision.cc_email else [],
        reply_to=[reply_to] if reply_to else [],
        connection=connection,
        headers={"X-Customer360-Quote": f"{quote.number} rev {revision.number}"},
    )
    with revision.pdf.open("rb") as pdf:
        email.attach(pdf_filename(quote.number, revision.number), pdf.read(), "application/pdf")
    return email


@shared_task(bind=True, max_retries=MAX_TRIES - 1, time_limit=300, soft_time_limit=280)
def send_quote_email(self, revision_id: str) -> str:
    """Email one revision. Returns what happened: "sent", "already sent", "busy", "retrying", "failed"."""
    reseller_id = reseller_of(QuoteRevision, revision_id)
    if reseller_id is None:
        return "gone"
    with tenant_scope(reseller_id):
        return _attempt(self, revision_id)


def _attempt(task, revision_id: str) -> str:
    error = None
    with transaction.atomic():
        revision = (
            QuoteRevision.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("quote", "sent_by")
            .filter(pk=revision_id)
            .first()
        )
        if revision is None:
            return "busy"  # another run holds the row and is sending it now
        if revision.delivery == QuoteRevision.Delivery.SENT:
            return "already sent"
        # SENDING is what this transaction holds while it talks to the SMTP server; other readers see
        # the row's last committed state (queued) until it ends as SENT, queued for a retry or FAILED.
        revision.delivery = QuoteRevision.Delivery.SENDING
        revision.attempts += 1
        try:
            connection = get_connection(timeout=SMTP_TIMEOUT)
            build_email(revision, connection).send()
        except SMTP_ERRORS as exc:
            error = f"{type(exc).__name__}: {exc}"[:480]
        if error is None:
            revision.delivery = QuoteRevision.Delivery.SENT
            revision.emailed_at = timezone.now()
            revision.delivery_error = ""
            revision.save(update_fields=["delivery", "attempts", "emailed_at", "delivery_error"])
            _log_sent(revision)
            return "sent"
        last_try = task.request.retries >= task.max_retries
        revision.delivery = QuoteRevision.Delivery.FAILED if last_try else QuoteRevision.Delivery.QUEUED
        revision.delivery_error = error
        revision.save(update_fields=["delivery", "attempts", "delivery_error"])
        if last_try:
            _report_failure(revision, error)
    if last_try:
        logger.warning(
            "quote revision %s: giving up after %s tries: %s", revision_id, revision.attempts, error
        )
        return "failed"
    countdown = retry_countdown(task.request.retries)
    logger.info("quote revision %s: %s; retrying in %ss", revision_id, error, countdown)
    raise task.retry(countdown=countdown, exc=None)


def _log_sent(revision: QuoteRevision) -> None:
    from customers.activity import record_activity

    quote = revision.quote
    record_activity(
        None, "quote.emailed",
        f"Quote {quote.number} revision {revision.number} emailed to {revision.recipient_email}",
        obj=quote, customer=quote.customer, changes={"delivery": ["queued", "sent"]},
    )  # fmt: skip


def _report_failure(revision: QuoteRevision, error: str) -> None:
    from customers.activity import record_activity
    from customers.models import Alert
    from customers.services import do_raise_alert

    quote = revision.quote
    title = f"Quote {quote.number} revision {revision.number} could not be emailed"
    message = (
        f"Sending to {revision.recipient_email} failed {revision.attempts} times. Last error: {error}. "
        "Check the address and the mail server, then use “Retry sending” on the quote."
    )
    record_activity(
        None, "quote.send_failed", f"{title}: {error}", obj=quote, customer=quote.customer,
        changes={"delivery": ["queued", "failed"]},
    )  # fmt: skip
    if quote.customer_id:
        do_raise_alert(
            quote.customer, kind=Alert.Kind.GENERAL, severity=Alert.Severity.WARNING, title=title[:200],
            message=message,
        )  # fmt: skip
