"""The daily expiry: sent quotes past their validity date become EXPIRED, per reseller, logged, once."""

import datetime

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from customers.models import ActivityLog
from quotes.models import Quote
from quotes.tasks_expiry import do_expire_quotes, expire_quotes

from ..factories import ResellerFactory
from .accept_world import QuoteWorld

pytestmark = pytest.mark.django_db
TODAY = datetime.date(2026, 11, 26)


@pytest.fixture
def world(reseller):
    return QuoteWorld(reseller)


def status(world, quote):
    return world.reload(quote).status


def test_sent_quotes_past_their_date_expire_and_others_do_not(world):
    day = datetime.timedelta(days=1)
    today = timezone.localdate()
    late, _ = world.sent_quote(valid_until=today + day)
    last_day, _ = world.sent_quote(valid_until=today + 2 * day)
    draft = world.quote(valid_until=today + day)
    accepted, _ = world.sent_quote(valid_until=today + day)
    with world.scope():
        Quote.objects.filter(pk=accepted.pk).update(status=Quote.Status.ACCEPTED)
    run_on = today + 2 * day
    assert do_expire_quotes(run_on) == 1
    assert status(world, late) == Quote.Status.EXPIRED
    assert status(world, last_day) == Quote.Status.SENT  # valid through its last day
    assert status(world, draft) == Quote.Status.DRAFT  # a draft offered nothing: it stays a draft
    assert status(world, accepted) == Quote.Status.ACCEPTED
    with world.scope():
        log = ActivityLog.objects.get(action="quote.expired")
        assert log.customer == world.customer and log.changes == {"status": ["sent", "expired"]}
        assert late.number in log.message


def test_running_twice_changes_nothing_more(world):
    quote, _ = world.sent_quote(valid_until=timezone.localdate())
    later = timezone.localdate() + datetime.timedelta(days=3)
    assert expire_quotes(later.isoformat()) == 1
    assert expire_quotes(later.isoformat()) == 0
    with world.scope():
        assert ActivityLog.objects.filter(action="quote.expired").count() == 1
    assert status(world, quote) == Quote.Status.EXPIRED


def test_each_reseller_is_expired_in_its_own_scope(world):
    other = QuoteWorld(ResellerFactory(name="Globex Cloud", slug="globex"), catalog=world)
    mine, _ = world.sent_quote(valid_until=timezone.localdate())
    theirs, _ = other.sent_quote(valid_until=timezone.localdate())
    assert do_expire_quotes(timezone.localdate() + datetime.timedelta(days=1)) == 2
    assert status(world, mine) == status(other, theirs) == Quote.Status.EXPIRED
    with other.scope():
        log = ActivityLog.objects.get(action="quote.expired")
        assert log.reseller_id == other.reseller.pk and theirs.number in log.message


def test_the_accept_link_of_an_expired_quote_is_refused(world):
    quote, token = world.sent_quote(valid_until=timezone.localdate())
    do_expire_quotes(timezone.localdate() + datetime.timedelta(days=1))
    response = Client().get(reverse("quotes:accept", kwargs={"token": token}))
    assert response.status_code == 410


def test_the_task_is_scheduled_daily_and_registered():
    from customer360.celery import app

    entry = settings.CELERY_BEAT_SCHEDULE["expire-quotes"]
    assert entry["task"] == "quotes.tasks_expiry.expire_quotes"
    assert entry["task"] in app.tasks  # autodiscovery loads quotes.tasks; QuotesConfig.ready() loads this one
