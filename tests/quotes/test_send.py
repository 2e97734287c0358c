"""Sending a quote: the revision is frozen with its PDF, one email goes out (through a real SMTP server in
one test), SMTP failures retry with backoff and end as "Sending failed" with an alert, and a double send
sends one email."""

import email
import email.policy

import pytest
from django.core import mail
from django.urls import reverse

from accounts.models import Role
from customer360.celery import app as celery_app
from customer360.tenancy import tenant_scope
from customers.models import ActivityLog, Alert
from quotes.models import Quote, QuoteRevision
from quotes.services import start_next_revision
from quotes.services_send import do_send_quote
from quotes.tasks import send_quote_email

from .documents_helpers import RecordingHandler, SmtpServer, make_lead, make_quote, sender

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def run_tasks_inline(settings, tmp_path):
    # Tasks queued on commit run in the test's process; retries run at once (eager), with no wait.
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.C360_QUOTE_EMAIL_RETRY_BASE = 0
    before = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = before


@pytest.fixture
def seller_client(make_client, reseller):
    return make_client(reseller, Role.SALES)


def send(client, quote, capture, htmx=False, **data):
    payload = {"to": "pat@initech.example", "cc": client.user.email, "message": "As discussed on Monday."}
    payload.update(data)
    headers = {"HX-Request": "true"} if htmx else {}
    with capture(execute=True):
        return client.post(reverse("quotes:send", args=[quote.pk]), payload, headers=headers)


def test_send_freezes_the_revision_and_emails_the_pdf(
    seller_client, reseller, django_capture_on_commit_callbacks
):
    quote = make_quote(reseller, seller_client.user, lines=3)
    r = send(seller_client, quote, django_capture_on_commit_callbacks)
    assert r.status_code == 302 and r["Location"] == reverse("quotes:summary", args=[quote.pk])

    with tenant_scope(reseller):
        quote.refresh_from_db()
        revision = QuoteRevision.objects.get(quote=quote)
        assert quote.status == Quote.Status.SENT
        assert (revision.number, revision.delivery, revision.attempts) == (1, "sent", 1)
        assert revision.emailed_at is not None
        assert revision.snapshot["number"] == quote.number and revision.snapshot["revision"] == 1
        assert [len(s["lines"]) for s in revision.snapshot["scenarios"][0]["sections"]] == [3]
        assert revision.snapshot["scenarios"][0]["total"] == "72.00"  # 12 + 24 + 36, no tax profile
        assert str(revision.total) == "72.0000" and revision.currency == "USD"
        stored = revision.pdf.read()
        actions = list(ActivityLog.objects.filter(object_id=str(quote.pk)).values_list("action", flat=True))
    assert stored.startswith(b"%PDF")
    assert "quote.sent" in actions and "quote.emailed" in actions

    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["pat@initech.example"] and message.cc == [seller_client.user.email]
    assert message.reply_to == [seller_client.user.email]
    assert quote.number in message.subject and "Office for Initech" in message.subject
    assert "As discussed on Monday." in message.body
    accept = revision.snapshot["accept_url"]
    assert accept.startswith("http") and "/quotes/accept/" in accept and accept in message.body
    (name, content, mimetype) = message.attachments[0]
    assert (name, mimetype) == (f"{quote.number}-rev1.pdf", "application/pdf")
    assert content == stored


def test_a_double_send_sends_one_email(seller_client, reseller, django_capture_on_commit_callbacks):
    quote = make_quote(reseller, seller_client.user, lines=2)
    r = send(seller_client, quote, django_capture_on_commit_callbacks, htmx=True)
    assert r.status_code == 204 and r["HX-Redirect"] == reverse("quotes:summary", args=[quote.pk])
    r = send(seller_client, quote, django_capture_on_commit_callbacks, to="someone-else@initech.example")
    assert r.status_code == 302
    with tenant_scope(reseller):
        assert QuoteRevision.objects.filter(quote=quote).count() == 1
        revision = QuoteRevision.objects.get(quote=quote)
        # The task queued twice (a redelivery, a second worker) still sends once.
        assert send_quote_email.apply(args=[str(revision.pk)]).get() == "already sent"
        assert ActivityLog.objects.filter(action="quote.sent", object_id=str(quote.pk)).count() == 1
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["pat@initech.example"]
    page = seller_client.get(reverse("quotes:summary", args=[quote.pk]), follow=True)
    assert "already sent; it is not sent twice" in page.content.decode()


def test_an_unsendable_quote_says_why_and_changes_nothing(
    seller_client, reseller, django_capture_on_commit_callbacks
):
    quote = make_quote(reseller, seller_client.user, lines=1, scenarios=("With lines", "Empty option"))
    with tenant_scope(reseller):
        from quotes.models import QuoteLine

        QuoteLine.objects.filter(section__scenario__name="Empty option").delete()
        Quote.objects.filter(pk=quote.pk).update(name="", valid_until="2020-01-31")
    with django_capture_on_commit_callbacks(execute=True):
        r = seller_client.post(
            reverse("quotes:send", args=[quote.pk]),
            {"to": "not-an-address", "cc": ""},
            HTTP_HX_REQUEST="true",
        )
    assert r.status_code == 400
    text = r.content.decode()
    assert "Enter a valid email address." in text
    r = send(seller_client, quote, django_capture_on_commit_callbacks, htmx=True)
    text = r.content.decode()
    assert r.status_code == 400
    assert "Give the quote a name" in text
    assert "was valid until 2020-01-31" in text
    assert "Scenario “Empty option” has no lines yet." in text
    with tenant_scope(reseller):
        assert not QuoteRevision.objects.exists()
        assert Quote.objects.get(pk=quote.pk).status == Quote.Status.DRAFT
    assert mail.outbox == []


def test_viewers_and_billing_cannot_send(make_client, reseller, django_capture_on_commit_callbacks):
    quote = make_quote(reseller, None, lines=1)
    for role in (Role.VIEWER, Role.BILLING):
        client = make_client(reseller, role)
        assert send(client, quote, django_capture_on_commit_callbacks).status_code == 403
        panel = client.get(reverse("quotes:send", args=[quote.pk])).content.decode()
        assert 'data-testid="send-form"' not in panel and "Owners and sales staff send quotes" in panel
    with tenant_scope(reseller):
        assert not QuoteRevision.objects.exists()


def test_a_sent_revision_never_changes_and_the_next_one_gets_its_own_pdf(
    seller_client, reseller, django_capture_on_commit_callbacks
):
    quote = make_quote(reseller, seller_client.user, lines=2)
    send(seller_client, quote, django_capture_on_commit_callbacks)
    with tenant_scope(reseller):
        first = QuoteRevision.objects.get(quote=quote, number=1)
        first_pdf, first_snapshot = first.pdf.read(), first.snapshot
        start_next_revision(Quote.objects.get(pk=quote.pk), seller_client.user)  # what an edit does
        Quote.objects.filter(pk=quote.pk).update(name="Office for Initech, more seats")
    panel = seller_client.get(reverse("quotes:send", args=[quote.pk])).content.decode()
    assert "Send revision 2" in panel
    send(seller_client, quote, django_capture_on_commit_callbacks)
    with tenant_scope(reseller):
        first.refresh_from_db()
        second = QuoteRevision.objects.get(quote=quote, number=2)
        assert first.snapshot == first_snapshot and first.pdf.read() == first_pdf
        assert (
            second.snapshot["name"] == "Office for Initech, more seats" and second.pdf.name != first.pdf.name
        )
    assert [m.attachments[0][0] for m in mail.outbox] == [
        f"{quote.number}-rev1.pdf",
        f"{quote.number}-rev2.pdf",
    ]

    r = seller_client.get(reverse("quotes:revision-pdf", args=[quote.pk, 1]))
    assert r.status_code == 200 and r["Content-Type"] == "application/pdf"
    assert r["Content-Disposition"] == f'attachment; filename="{quote.number}-rev1.pdf"'
    assert b"".join(r.streaming_content) == first_pdf
    assert seller_client.get(reverse("quotes:revision-pdf", args=[quote.pk, 3])).status_code == 404


def test_preview_renders_the_working_copy_without_saving(seller_client, reseller):
    from pypdf import PdfReader

    quote = make_quote(reseller, seller_client.user, lines=2)
    r = seller_client.get(reverse("quotes:preview-pdf", args=[quote.pk]))
    assert r.status_code == 200 and r["Content-Type"] == "application/pdf"
    assert r["Cache-Control"] == "private, no-store"
    import io

    text = PdfReader(io.BytesIO(r.content)).pages[0].extract_text()
    assert "Draft preview: not sent" in text and quote.number in text
    with tenant_scope(reseller):
        assert not QuoteRevision.objects.exists()
        assert Quote.objects.get(pk=quote.pk).status == Quote.Status.DRAFT


def test_email_with_the_pdf_through_a_real_smtp_server(
    settings, reseller, django_capture_on_commit_callbacks
):
    user = sender(reseller)
    quote = make_quote(reseller, user, lines=2)
    with SmtpServer(RecordingHandler(), settings) as server, tenant_scope(reseller):
        with django_capture_on_commit_callbacks(execute=True):
            do_send_quote(user, quote, to="pat@initech.example", cc=user.email, message="Hello Pat")
    assert len(server.handler.messages) == 1
    recipients, raw = server.handler.messages[0]
    assert sorted(recipients) == sorted(["pat@initech.example", user.email])
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    assert parsed["To"] == "pat@initech.example" and parsed["Cc"] == user.email
    body = parsed.get_body(preferencelist=("plain",)).get_content()
    assert "Hello Pat" in body and "/quotes/accept/" in body
    [attachment] = list(parsed.iter_attachments())
    assert attachment.get_filename() == f"{quote.number}-rev1.pdf"
    assert attachment.get_content_type() == "application/pdf"
    assert attachment.get_content().startswith(b"%PDF")
    with tenant_scope(reseller):
        assert QuoteRevision.objects.get(quote=quote).delivery == "sent"


def test_a_refused_email_is_retried_and_then_sent(settings, reseller, django_capture_on_commit_callbacks):
    user = sender(reseller)
    quote = make_quote(reseller, user, lines=1)
    handler = RecordingHandler(replies=["451 4.3.0 Mailbox busy, try again later"])
    with SmtpServer(handler, settings), tenant_scope(reseller):
        with django_capture_on_commit_callbacks(execute=True):
            do_send_quote(user, quote, to="pat@initech.example")
        revision = QuoteRevision.objects.get(quote=quote)
    assert handler.attempts == 2 and len(handler.messages) == 1
    assert (revision.delivery, revision.attempts, revision.delivery_error) == ("sent", 2, "")


def test_retry_backoff_doubles(settings):
    from quotes.tasks import retry_countdown

    settings.C360_QUOTE_EMAIL_RETRY_BASE = 60
    assert [retry_countdown(n) for n in range(3)] == [60, 120, 240]


def test_an_email_that_keeps_failing_ends_as_failed_with_an_alert_and_can_be_retried(
    settings, seller_client, reseller, django_capture_on_commit_callbacks
):
    quote = make_quote(reseller, seller_client.user, lines=1)
    refusing = RecordingHandler(always="451 4.3.0 Mailbox busy, try again later")
    with SmtpServer(refusing, settings):
        send(seller_client, quote, django_capture_on_commit_callbacks)
    assert refusing.attempts == 4 and refusing.messages == []
    with tenant_scope(reseller):
        revision = QuoteRevision.objects.get(quote=quote)
        assert (revision.delivery, revision.attempts) == ("failed", 4)
        assert "451" in revision.delivery_error and "Mailbox busy" in revision.delivery_error
        alert = Alert.objects.get(customer=quote.customer)
        assert quote.number in alert.title and "could not be emailed" in alert.title
        assert ActivityLog.objects.filter(action="quote.send_failed", object_id=str(quote.pk)).exists()

    panel = seller_client.get(reverse("quotes:send", args=[quote.pk])).content.decode()
    assert "Sending failed: SMTPDataError" in panel and "Mailbox busy" in panel
    assert 'data-testid="retry-send"' in panel

    accepting = RecordingHandler()
    with SmtpServer(accepting, settings), django_capture_on_commit_callbacks(execute=True):
        r = seller_client.post(reverse("quotes:retry-send", args=[quote.pk, 1]), HTTP_HX_REQUEST="true")
    assert r.status_code == 200 and len(accepting.messages) == 1
    with tenant_scope(reseller):
        revision.refresh_from_db()
        assert (revision.delivery, revision.delivery_error) == ("sent", "")
        assert ActivityLog.objects.filter(action="quote.send_retried", object_id=str(quote.pk)).count() == 1
    # A second click on a revision that is no longer failed changes nothing.
    r = seller_client.post(reverse("quotes:retry-send", args=[quote.pk, 1]))
    assert r.status_code == 302 and len(accepting.messages) == 1


def test_a_lead_quote_that_fails_shows_it_on_the_quote_and_the_log(
    settings, reseller, django_capture_on_commit_callbacks
):
    user = sender(reseller)
    quote = make_quote(reseller, user, lines=1, lead=make_lead(reseller))
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", 9  # nothing listens: connection refused
    with tenant_scope(reseller), django_capture_on_commit_callbacks(execute=True):
        revision, created = do_send_quote(user, quote, to="gavin@hooli.example")
    with tenant_scope(reseller):
        revision.refresh_from_db()
        assert (
            created and revision.delivery == "failed" and "ConnectionRefusedError" in revision.delivery_error
        )
        assert not Alert.objects.exists()  # a lead has no customer to carry an alert
        entry = ActivityLog.objects.get(action="quote.send_failed")
        assert entry.customer_id is None and quote.number in entry.message


def test_an_accepted_quote_is_not_sent_again(seller_client, reseller, django_capture_on_commit_callbacks):
    quote = make_quote(reseller, seller_client.user, lines=1)
    with tenant_scope(reseller):
        Quote.objects.filter(pk=quote.pk).update(status=Quote.Status.ACCEPTED)
    panel = seller_client.get(reverse("quotes:send", args=[quote.pk])).content.decode()
    assert 'data-testid="send-form"' not in panel and "not sent again because it was accepted" in panel
    r = send(seller_client, quote, django_capture_on_commit_callbacks, htmx=True)
    assert r.status_code == 400 and "cannot be sent because it was accepted" in r.content.decode()
    with tenant_scope(reseller):
        assert not QuoteRevision.objects.exists()
    assert mail.outbox == []


def test_the_send_panel_reads_a_fixed_number_of_queries(
    seller_client, reseller, django_assert_max_num_queries
):
    quote = make_quote(reseller, seller_client.user, lines=1)
    with tenant_scope(reseller):
        for number in (1, 2, 3, 4):
            QuoteRevision.objects.create(
                quote=quote, number=number, snapshot={}, total="12", currency="USD", sent_by=seller_client.user,
                recipient_email="pat@initech.example", delivery="sent",
            )  # fmt: skip
        Quote.objects.filter(pk=quote.pk).update(revision=5)
    # session, user, the layout's reseller, quote, revisions with their senders, the recipient contact
    with django_assert_max_num_queries(6, info="the Send panel: why was a query added?"):
        r = seller_client.get(reverse("quotes:send", args=[quote.pk]))
    assert r.content.decode().count('data-testid="revision-row"') == 4
