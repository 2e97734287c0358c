"""The customer's accept link: reading the sent revision without signing in, accepting one scenario or
declining, and every way a link is refused (tampered, foreign, expired, used, superseded, revising),
each changing nothing. CSRF holds for the anonymous form."""

import datetime
import threading

import pytest
from django.core import signing
from django.db import close_old_connections, connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from customers.models import ActivityLog, Alert
from quotes.models import Quote
from quotes.services_accept import (
    SALT,
    LinkRefused,
    Reason,
    accept_url,
    access_quote_by_token,
    do_accept_quote,
    do_decline_quote,
    make_token,
)

from ..factories import ResellerFactory
from .accept_world import QuoteWorld

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(reseller, settings):
    settings.C360_SIMULATED_PROVIDER_DELAY = 0
    return QuoteWorld(reseller)


def url(token):
    return reverse("quotes:accept", kwargs={"token": token})


def page(client, token):
    response = client.get(url(token))
    return response, response.content.decode()


def accept(client, token, scenario, name="Peter Gibbons"):
    return client.post(url(token), {"action": "accept", "scenario": str(scenario.pk), "name": name})


def test_an_anonymous_visitor_reads_the_sent_revision(world):
    quote, token = world.sent_quote()
    response, html = page(Client(), token)
    assert response.status_code == 200
    assert quote.number in html and "Acme Cloud" in html
    # Both scenarios, their lines and totals, read from the snapshot (10 x 12.00 less 10 % = 108.00).
    assert "Business Standard, annual" in html and "Business Standard, monthly" in html
    assert "Business Standard (annual)" in html and "108.00" in html
    assert html.count('type="radio"') == 2 and 'name="name"' in html
    assert response["Cache-Control"].startswith("private") and response["Referrer-Policy"] == "same-origin"


def test_the_page_shows_the_snapshot_not_later_edits(world):
    quote, token = world.sent_quote()
    with world.scope():
        Quote.objects.filter(pk=quote.pk).update(name="Renamed after sending")
    assert "Office for Initech" in page(Client(), token)[1]


def test_no_writes_on_get(world):
    quote, token = world.sent_quote()
    with world.scope():
        logs = ActivityLog.objects.count()
    client = Client()
    for _ in range(2):
        assert page(client, token)[0].status_code == 200
    with world.scope():
        assert ActivityLog.objects.count() == logs
        assert world.reload(quote).status == Quote.Status.SENT
    assert "sessionid" not in client.cookies  # an anonymous visitor gets no session either


def test_accepting_records_the_answer_logs_it_and_alerts_the_reseller(world):
    quote, token = world.sent_quote()
    chosen = world.scenario(quote, 1)
    response = accept(Client(), token, chosen, name="  Peter Gibbons ")
    assert response.status_code == 200
    assert "Thank you, Peter Gibbons" in response.content.decode()
    quote = world.reload(quote)
    assert quote.status == Quote.Status.ACCEPTED and quote.accepted_scenario == chosen
    assert quote.responded_by_name == "Peter Gibbons" and quote.responded_revision == 1
    assert quote.responded_at is not None
    with world.scope():
        log = ActivityLog.objects.get(action="quote.accepted")
        assert log.actor is None and log.actor_label == "Peter Gibbons (customer, via accept link)"
        assert log.customer == world.customer and "Business Standard, monthly" in log.message
        alert = Alert.objects.get(customer=world.customer)
        assert alert.title == f"Quote {quote.number} accepted"


def test_declining_with_a_reason(world):
    quote, token = world.sent_quote()
    response = Client().post(url(token), {"action": "decline", "name": "Bill L", "reason": "Too expensive"})
    assert response.status_code == 200 and "You declined this quote" in response.content.decode()
    quote = world.reload(quote)
    assert quote.status == Quote.Status.DECLINED and quote.decline_reason == "Too expensive"
    assert quote.accepted_scenario is None
    with world.scope():
        assert ActivityLog.objects.filter(
            action="quote.declined", actor_label="Bill L (customer, via accept link)"
        ).exists()
        assert Alert.objects.get(customer=world.customer).title == f"Quote {quote.number} declined"


@pytest.mark.parametrize(
    "data, field",
    [
        ({"action": "accept", "scenario": "", "name": "Peter"}, "Choose the option you accept."),
        ({"action": "accept", "name": ""}, "Type your name to sign the answer."),
        ({"action": "decline", "name": "   "}, "Type your name to sign the answer."),
        ({"action": "steal", "name": "Peter"}, "Accept an option or decline the quote."),
    ],
)
def test_an_incomplete_answer_is_refused_and_changes_nothing(world, data, field):
    quote, token = world.sent_quote()
    if data.get("scenario") is None and data["action"] == "accept":
        data["scenario"] = str(world.scenario(quote).pk)
    response = Client().post(url(token), data)
    assert response.status_code == 400
    assert field in response.content.decode()
    assert world.reload(quote).status == Quote.Status.SENT


def test_a_scenario_of_another_quote_is_refused(world):
    quote, token = world.sent_quote()
    other, _ = world.sent_quote(name="Another")
    response = accept(Client(), token, world.scenario(other))
    assert response.status_code == 400 and "Choose one of the options shown." in response.content.decode()
    assert world.reload(quote).status == Quote.Status.SENT and world.reload(other).status == Quote.Status.SENT


def _tampered(token):
    value, signature = token.rsplit(":", 1)
    return f"{value}:{signature[:-2]}{'AA' if not signature.endswith('AA') else 'BB'}"


def test_a_tampered_link_is_a_404_page_and_changes_nothing(world):
    quote, token = world.sent_quote()
    for bad in (_tampered(token), "nonsense", token[:-1], signing.dumps({"q": str(quote.pk)}, salt=SALT)):
        response, html = page(Client(), bad)
        assert response.status_code == 404, bad
        assert "This link does not work" in html and quote.number not in html
        post = accept(Client(), bad, world.scenario(quote))
        assert post.status_code == 404
    # Signed with another salt (another feature's signature) is not an accept link either.
    foreign = signing.dumps({"q": str(quote.pk), "r": str(world.reseller.pk), "v": 1}, salt="other")
    assert page(Client(), foreign)[0].status_code == 404
    assert world.reload(quote).status == Quote.Status.SENT


def test_a_token_resigned_with_another_resellers_id_finds_nothing(world, other_reseller):
    """The lookup runs in the scope the token names: A's quote id under reseller B is not A's quote."""
    quote, token = world.sent_quote()
    forged = signing.dumps(
        {"q": str(quote.pk), "r": str(other_reseller.pk), "v": 1}, salt=SALT, compress=True
    )
    assert page(Client(), forged)[0].status_code == 404
    assert accept(Client(), forged, world.scenario(quote)).status_code == 404
    assert world.reload(quote).status == Quote.Status.SENT


def test_reseller_b_cannot_use_a_token_for_its_own_quote_on_a_quote_of_a(world):
    """A token of B's own quote, re-signed with A's quote id but B's reseller, opens nothing; and B's
    genuine token never touches A's rows."""
    b = QuoteWorld(ResellerFactory(name="Globex Cloud", slug="globex"), catalog=world)
    a_quote, _ = world.sent_quote()
    b_quote, b_token = b.sent_quote()
    mixed = signing.dumps({"q": str(a_quote.pk), "r": str(b.reseller.pk), "v": 1}, salt=SALT, compress=True)
    assert page(Client(), mixed)[0].status_code == 404
    assert accept(Client(), b_token, b.scenario(b_quote)).status_code == 200
    assert world.reload(a_quote).status == Quote.Status.SENT
    with world.scope():
        assert not ActivityLog.objects.filter(action="quote.accepted").exists()
    assert b.reload(b_quote).status == Quote.Status.ACCEPTED


def test_a_signed_in_user_of_another_reseller_sees_the_page_through_the_token(
    world, make_client, other_reseller
):
    """The middleware opens B's scope for B's user; the view opens the token's, so the link works for anyone
    who holds it (a customer's IT person may well be a user elsewhere) and reads only A's quote."""
    quote, token = world.sent_quote()
    response, html = page(make_client(other_reseller), token)
    assert response.status_code == 200 and quote.number in html


def test_an_expired_link_is_a_410_page_and_changes_nothing(world):
    quote, token = world.sent_quote(valid_until=timezone.localdate() + datetime.timedelta(days=1))
    with world.scope():
        Quote.objects.filter(pk=quote.pk).update(
            valid_until=timezone.localdate() - datetime.timedelta(days=1)
        )
    response, html = page(Client(), token)
    assert response.status_code == 410 and "This quote has expired" in html and 'type="radio"' not in html
    assert accept(Client(), token, world.scenario(quote)).status_code == 410
    assert world.reload(quote).status == Quote.Status.SENT  # the expiry task moves the status, not a visit
    with world.scope():
        Quote.objects.filter(pk=quote.pk).update(
            status=Quote.Status.EXPIRED, valid_until=timezone.localdate() + datetime.timedelta(days=5)
        )
    assert page(Client(), token)[0].status_code == 410


def test_the_link_is_valid_through_its_last_day(world):
    quote, token = world.sent_quote(valid_until=timezone.localdate())
    assert page(Client(), token)[0].status_code == 200


def test_an_used_link_is_a_409_page_and_a_second_answer_changes_nothing(world):
    quote, token = world.sent_quote()
    first, second = world.scenario(quote, 0), world.scenario(quote, 1)
    assert accept(Client(), token, first, name="Peter").status_code == 200
    response, html = page(Client(), token)
    assert response.status_code == 409 and "This quote was already accepted" in html and "Peter" in html
    again = accept(Client(), token, second, name="Someone else")
    assert again.status_code == 409
    declined = Client().post(url(token), {"action": "decline", "name": "Someone else"})
    assert declined.status_code == 409
    quote = world.reload(quote)
    assert quote.status == Quote.Status.ACCEPTED and quote.accepted_scenario == first
    assert quote.responded_by_name == "Peter"
    with world.scope():
        assert ActivityLog.objects.filter(action__in=["quote.accepted", "quote.declined"]).count() == 1


def test_a_superseded_revision_says_so_and_the_new_link_works(world):
    quote, old_token = world.sent_quote()
    with world.scope():
        Quote.objects.filter(pk=quote.pk).update(revision=2, status=Quote.Status.DRAFT)
    # Being edited (revision 2 not sent yet): the old link no longer takes answers.
    response, html = page(Client(), old_token)
    assert response.status_code == 409 and "This quote is being revised" in html
    world.send(quote)
    response, html = page(Client(), old_token)
    assert response.status_code == 410 and "This quote has been revised" in html and "latest" in html
    assert accept(Client(), old_token, world.scenario(quote)).status_code == 410
    assert world.reload(quote).status == Quote.Status.SENT
    new_token = make_token(world.reload(quote))
    assert accept(Client(), new_token, world.scenario(quote)).status_code == 200
    assert world.reload(quote).responded_revision == 2


def test_a_quote_never_sent_has_no_working_link(world):
    quote = world.quote()
    assert page(Client(), make_token(quote))[0].status_code == 404


def test_csrf_is_enforced_for_the_anonymous_form_and_the_cookie_makes_it_pass(world):
    quote, token = world.sent_quote()
    client = Client(enforce_csrf_checks=True)
    refused = accept(client, token, world.scenario(quote))
    assert refused.status_code == 403
    assert world.reload(quote).status == Quote.Status.SENT
    response = client.get(url(token))  # sets the CSRF cookie, renders the token into the form
    csrf = response.context["csrf_token"]
    assert "csrftoken" in client.cookies
    ok = client.post(
        url(token),
        {
            "action": "accept",
            "scenario": str(world.scenario(quote).pk),
            "name": "P",
            "csrfmiddlewaretoken": str(csrf),
        },
    )
    assert ok.status_code == 200
    assert world.reload(quote).status == Quote.Status.ACCEPTED


def test_accept_url_is_absolute_from_the_request_or_site_url(world, settings, rf):
    quote, token = world.sent_quote()
    settings.SITE_URL = "https://crm.example.com"
    assert accept_url(None, quote) == f"https://crm.example.com/quotes/accept/{token}/"
    request = rf.get("/", HTTP_HOST="127.0.0.1:8000")
    assert accept_url(request, quote) == f"http://127.0.0.1:8000/quotes/accept/{token}/"


def test_access_reasons(world):
    quote, token = world.sent_quote()
    assert access_quote_by_token(token).reason is None
    late = timezone.localdate() + datetime.timedelta(days=31)
    assert access_quote_by_token(token, today=late).reason == Reason.EXPIRED
    assert access_quote_by_token("x:y").reason == Reason.TAMPERED


def test_the_service_relocks_and_rechecks(world):
    """An Access read before another answer landed is refused when it is used (the page was stale)."""
    quote, token = world.sent_quote()
    stale = access_quote_by_token(token)
    do_decline_quote(access_quote_by_token(token), name="First")
    with pytest.raises(LinkRefused) as exc:
        do_accept_quote(stale, scenario_id=world.scenario(quote).pk, name="Second")
    assert exc.value.reason == Reason.ANSWERED
    assert world.reload(quote).status == Quote.Status.DECLINED


@pytest.mark.django_db(transaction=True)
def test_two_answers_at_once_leave_exactly_one(reseller, settings):
    world = QuoteWorld(reseller)
    quote, token = world.sent_quote()
    scenario_id = world.scenario(quote).pk
    results, barrier = [], threading.Barrier(2)

    def answer(kind):
        try:
            access = access_quote_by_token(token)
            barrier.wait(timeout=10)
            if kind == "accept":
                do_accept_quote(access, scenario_id=scenario_id, name="A")
            else:
                do_decline_quote(access, name="D")
            results.append(kind)
        except LinkRefused:
            results.append("refused")
        finally:
            close_old_connections()
            connection.close()

    threads = [threading.Thread(target=answer, args=(k,)) for k in ("accept", "decline")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert sorted(results).count("refused") == 1, results
    with world.scope():
        assert ActivityLog.objects.filter(action__in=["quote.accepted", "quote.declined"]).count() == 1


def test_the_pdf_of_the_revision_through_the_link(world, settings, tmp_path):
    from django.core.files.base import ContentFile

    from quotes.models import QuoteRevision

    settings.MEDIA_ROOT = tmp_path
    quote, token = world.sent_quote()
    with world.scope():
        revision = QuoteRevision.objects.get(quote=quote)
        revision.pdf.save("Q-rev1.pdf", ContentFile(b"%PDF-1.7 the sent revision"), save=True)
    pdf_url = reverse("quotes:accept-pdf", kwargs={"token": token})
    assert pdf_url in page(Client(), token)[1]
    response = Client().get(pdf_url)
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    assert b"".join(response.streaming_content) == b"%PDF-1.7 the sent revision"
    assert f"{quote.number}-rev1.pdf" in response["Content-Disposition"]
    assert Client().get(reverse("quotes:accept-pdf", kwargs={"token": _tampered(token)})).status_code == 404
    accept(Client(), token, world.scenario(quote))
    assert Client().get(pdf_url).status_code == 200  # the customer keeps their copy after answering
    with world.scope():
        Quote.objects.filter(pk=quote.pk).update(revision=2, status=Quote.Status.SENT)
    world.send(quote)
    with world.scope():
        Quote.objects.filter(pk=quote.pk).update(status=Quote.Status.SENT)
    assert Client().get(pdf_url).status_code == 404  # superseded: the latest link has the latest PDF


def test_the_link_in_a_sent_revision_opens_this_page(world, settings, tmp_path):
    """quotes.services_send puts accept_url(None, quote) (settings.SITE_URL) into the revision it sends."""
    from urllib.parse import urlsplit

    from quotes.services_send import do_send_quote

    settings.MEDIA_ROOT = tmp_path
    settings.SITE_URL = "https://crm.example.com"
    quote = world.quote()
    with world.scope():
        revision, created = do_send_quote(world.owner, quote, to="buyer@initech.example")
    link = revision.snapshot["accept_url"]
    assert created and link.startswith("https://crm.example.com/quotes/accept/")
    response, html = page(Client(), urlsplit(link).path.split("/")[-2])
    assert response.status_code == 200 and quote.number in html and "Download the PDF" in html
