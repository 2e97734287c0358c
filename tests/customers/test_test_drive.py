import datetime
import re

import pytest
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from accounts.models import Role
from customers import tasks
from customers.models import ActivityLog, Alert, TestDrive
from customers.services_test_drive import check_test_drive_allows, do_update_test_drive

from ..factories import CustomerFactory
from .factories_fields import TestDriveFactory

pytestmark = pytest.mark.django_db
TODAY = timezone.localdate()
DAY = datetime.timedelta(days=1)


def options_url(c):
    return reverse("customers:options", args=[c.pk])


def field_errors(response, name):
    m = re.search(rf'id="id_{name}_errors"[^>]*>(.*?)</ul>', response.content.decode(), re.S)
    return re.findall(r"<li>(.*?)</li>", m.group(1)) if m else []


def post_data(**overrides):
    data = {
        "enabled": "on",
        "started_on": TODAY.isoformat(),
        "length_days": "30",
        "allowed_providers": ["aws"],
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def test_enabling_a_test_drive_sets_its_expiry_and_is_logged(owner_client, reseller, in_scope):
    c = CustomerFactory(reseller=reseller)
    page = owner_client.get(options_url(c))
    assert page.status_code == 200 and "Not set up" in page.content.decode()
    r = owner_client.post(options_url(c), post_data(allowed_providers=["azure", "aws"]))
    assert r.status_code == 302
    with in_scope(reseller):
        drive = TestDrive.objects.get(customer=c)
        entry = ActivityLog.objects.get(action="test_drive.updated", customer=c)
    assert drive.status == TestDrive.Status.ACTIVE and drive.enabled
    assert drive.expires_on == TODAY + 30 * DAY
    assert drive.allowed_providers == ["aws", "azure"]
    assert entry.changes["status"] == [None, "active"]
    assert entry.changes["expires_on"] == [None, (TODAY + 30 * DAY).isoformat()]
    assert entry.message == f"Test drive enabled until {(TODAY + 30 * DAY).isoformat()}"
    page = owner_client.get(options_url(c)).content.decode()
    days_left = re.search(r'data-testid="test-drive-days-left">\s*(.*?)</div>', page, re.S).group(1)
    assert days_left.strip() == "30 days"
    assert (TODAY + 30 * DAY).strftime("%Y-%m-%d") in page


@pytest.mark.parametrize(
    "overrides, field, message",
    [
        ({"length_days": "0"}, "length_days", "Choose a length from 1 to 90 days."),
        ({"length_days": "91"}, "length_days", "Choose a length from 1 to 90 days."),
        ({"length_days": "abc"}, "length_days", "Enter a whole number of days."),
        ({"allowed_providers": None}, "allowed_providers", "Choose at least one cloud provider"),
        ({"allowed_providers": ["oracle"]}, "allowed_providers", "Select a valid choice"),
        ({"started_on": (TODAY - DAY).isoformat()}, "started_on", "cannot start in the past"),
        ({"started_on": ""}, "started_on", "Enter the day the test drive starts."),
        ({"started_on": "next week"}, "started_on", "Enter a date as YYYY-MM-DD"),
    ],
)
def test_bad_settings_are_refused_under_the_field_and_nothing_is_saved(
    owner_client, reseller, in_scope, overrides, field, message
):
    c = CustomerFactory(reseller=reseller)
    r = owner_client.post(options_url(c), post_data(**overrides))
    assert r.status_code == 200
    assert any(message in e for e in field_errors(r, field)), field_errors(r, field)
    with in_scope(reseller):
        assert not TestDrive.objects.exists()
        assert not ActivityLog.objects.filter(customer=c).exists()


def test_a_running_test_drive_keeps_its_past_start(owner_client, reseller, in_scope):
    drive = TestDriveFactory(customer=CustomerFactory(reseller=reseller), started_on=TODAY - 10 * DAY)
    c = drive.customer
    started = (TODAY - 10 * DAY).isoformat()
    # Changing the providers of a running test drive is fine...
    assert (
        owner_client.post(
            options_url(c), post_data(started_on=started, allowed_providers=["gcp"])
        ).status_code
        == 302
    )
    # ...moving its start to another past day is not...
    r = owner_client.post(options_url(c), post_data(started_on=(TODAY - 5 * DAY).isoformat()))
    assert "cannot start in the past" in field_errors(r, "started_on")[0]
    # ...nor shortening it so that it would already have expired.
    r = owner_client.post(options_url(c), post_data(started_on=started, length_days="5"))
    assert field_errors(r, "length_days") == [
        f"With 5 days this test drive would have expired on {(TODAY - 5 * DAY).isoformat()}; "
        "choose at least 10 days, or disable the test drive."
    ]
    with in_scope(reseller):
        drive.refresh_from_db()
        assert drive.allowed_providers == ["gcp"] and drive.length_days == 30
        assert ActivityLog.objects.filter(action="test_drive.updated").count() == 1


def test_disabling_and_re_enabling(owner_client, reseller, in_scope):
    drive = TestDriveFactory(customer=CustomerFactory(reseller=reseller), started_on=TODAY - 10 * DAY)
    c = drive.customer
    assert owner_client.post(options_url(c), post_data(enabled=None)).status_code == 302
    with in_scope(reseller):
        drive.refresh_from_db()
        assert (drive.enabled, drive.status) == (False, TestDrive.Status.DISABLED)
        assert ActivityLog.objects.get(action="test_drive.updated").message == "Test drive disabled"
    # Saving it again unchanged writes nothing (the start date of a disabled test drive is kept).
    r = owner_client.post(options_url(c), post_data(enabled=None), follow=True)
    assert "Nothing changed." in r.content.decode()
    with in_scope(reseller):
        assert ActivityLog.objects.filter(action="test_drive.updated").count() == 1
    # Switched back on, it starts afresh: the form offers today, and a past start is refused.
    page = owner_client.get(options_url(c)).content.decode()
    assert f'value="{TODAY.isoformat()}"' in page
    r = owner_client.post(options_url(c), post_data(started_on=(TODAY - 10 * DAY).isoformat()))
    assert "cannot start in the past" in field_errors(r, "started_on")[0]
    assert owner_client.post(options_url(c), post_data()).status_code == 302
    with in_scope(reseller):
        drive.refresh_from_db()
        assert drive.status == TestDrive.Status.ACTIVE and drive.expires_on == TODAY + 30 * DAY


def test_an_expired_test_drive_can_be_extended(owner_client, reseller, in_scope):
    drive = TestDriveFactory(
        customer=CustomerFactory(reseller=reseller),
        started_on=TODAY - 40 * DAY,
        status=TestDrive.Status.EXPIRED,
    )
    c = drive.customer
    page = owner_client.get(options_url(c)).content.decode()
    assert "The test drive expired" in page
    started = (TODAY - 40 * DAY).isoformat()
    # Saving without extending keeps it expired.
    owner_client.post(options_url(c), post_data(started_on=started, allowed_providers=["aws", "gcp"]))
    with in_scope(reseller):
        drive.refresh_from_db()
        assert drive.status == TestDrive.Status.EXPIRED
    owner_client.post(options_url(c), post_data(started_on=started, length_days="60"))
    with in_scope(reseller):
        drive.refresh_from_db()
        assert drive.status == TestDrive.Status.ACTIVE and drive.expires_on == TODAY + 20 * DAY


def test_check_allows_only_an_active_test_drive_and_its_providers(reseller, in_scope):
    def code(customer, provider, today=TODAY):
        with in_scope(reseller):
            try:
                check_test_drive_allows(customer, provider, today=today)
            except ValidationError as exc:
                return exc.code, exc.messages[0]
        return None

    running = TestDriveFactory(customer=CustomerFactory(reseller=reseller, name="Running"))
    assert code(running.customer, "aws") is None
    assert code(running.customer, "azure") == (
        "test_drive_provider",
        "The test drive of Running does not include Microsoft Azure.",
    )
    # Past its last day it is refused even though the daily task has not marked it expired yet.
    last_day = running.started_on + 30 * DAY
    assert code(running.customer, "aws", today=last_day) is None
    assert code(running.customer, "aws", today=last_day + DAY) == (
        "test_drive_expired",
        f"The test drive of Running expired on {last_day.isoformat()}.",
    )
    past = TestDriveFactory(customer=CustomerFactory(reseller=reseller), started_on=TODAY - 31 * DAY)
    assert code(past.customer, "aws")[0] == "test_drive_expired"
    expired = TestDriveFactory(customer=CustomerFactory(reseller=reseller), status=TestDrive.Status.EXPIRED)
    assert code(expired.customer, "aws")[0] == "test_drive_expired"
    future = TestDriveFactory(customer=CustomerFactory(reseller=reseller), started_on=TODAY + 3 * DAY)
    assert code(future.customer, "aws")[0] == "test_drive_not_started"
    disabled = TestDriveFactory(
        customer=CustomerFactory(reseller=reseller), enabled=False, status=TestDrive.Status.DISABLED
    )
    assert code(disabled.customer, "aws")[0] == "test_drive_disabled"
    assert code(CustomerFactory(reseller=reseller), "aws")[0] == "test_drive_disabled"


def test_the_task_expires_each_due_test_drive_exactly_once(reseller, other_reseller, in_scope):
    due = TestDriveFactory(customer=CustomerFactory(reseller=reseller), started_on=TODAY - 31 * DAY)
    last_day = TestDriveFactory(customer=CustomerFactory(reseller=reseller), started_on=TODAY - 30 * DAY)
    theirs = TestDriveFactory(customer=CustomerFactory(reseller=other_reseller), started_on=TODAY - 45 * DAY)

    assert tasks.expire_test_drives() == 2
    assert tasks.expire_test_drives() == 0  # the second run changes nothing
    for drive, reseller_ in ((due, reseller), (theirs, other_reseller)):
        with in_scope(reseller_):
            drive.refresh_from_db()
            assert drive.status == TestDrive.Status.EXPIRED
            entries = ActivityLog.objects.filter(customer=drive.customer, action="test_drive.expired")
            assert entries.count() == 1
            assert entries.get().changes == {"status": ["active", "expired"]}
            alerts = Alert.objects.filter(customer=drive.customer)
            assert alerts.count() == 1
            assert (alerts.get().kind, alerts.get().title) == (Alert.Kind.GENERAL, "Test drive expired")
    with in_scope(reseller):
        last_day.refresh_from_db()
        assert last_day.status == TestDrive.Status.ACTIVE
        assert not Alert.objects.filter(customer=last_day.customer).exists()
    # A day later the other one is due; run through Celery's own call path.
    assert tasks.expire_test_drives.apply(kwargs={"today": (TODAY + DAY).isoformat()}).get() == 1


def test_the_task_is_scheduled_daily():
    entry = settings.CELERY_BEAT_SCHEDULE["expire-test-drives"]
    assert entry["task"] == tasks.expire_test_drives.name == "customers.tasks.expire_test_drives"
    assert entry["schedule"].hour == {0}


def test_the_database_holds_the_invariants(reseller, in_scope):
    c = CustomerFactory(reseller=reseller)
    with in_scope(reseller):
        for bad in (
            {"length_days": 91},
            {"enabled": True, "status": TestDrive.Status.DISABLED},
            {"enabled": False, "status": TestDrive.Status.ACTIVE},
            {"allowed_providers": []},
        ):
            fields = {
                "enabled": True,
                "status": "active",
                "started_on": TODAY,
                "allowed_providers": ["aws"],
                **bad,
            }
            with pytest.raises(IntegrityError), transaction.atomic():
                TestDrive.objects.create(customer=c, **fields)
        with pytest.raises(ValidationError):
            do_update_test_drive(
                None, c, enabled=True, length_days=0, started_on=TODAY, allowed_providers=["aws"]
            )


def test_a_viewer_cannot_change_options(make_client, reseller, in_scope):
    c = CustomerFactory(reseller=reseller)
    client = make_client(reseller, Role.VIEWER)
    page = client.get(options_url(c))
    assert (
        page.status_code == 200 and "Your role can view this page but not change it." in page.content.decode()
    )
    assert client.post(options_url(c), post_data()).status_code == 403
    with in_scope(reseller):
        assert not TestDrive.objects.exists()


def test_another_resellers_customer_is_a_404(owner_client, other_reseller, in_scope):
    drive = TestDriveFactory(customer=CustomerFactory(reseller=other_reseller))
    assert owner_client.get(options_url(drive.customer)).status_code == 404
    assert owner_client.post(options_url(drive.customer), post_data(enabled=None)).status_code == 404
    with in_scope(other_reseller):
        drive.refresh_from_db()
        assert drive.enabled
