"""Customer options: the test drive. Verbs as in customers.services (access_*, check_*, do_*)."""

import datetime

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from .activity import changed_fields, record_activity, snapshot
from .models import Alert, CloudProvider, Customer, TestDrive
from .models.options import TEST_DRIVE_MAX_DAYS
from .services import do_raise_alert

LOGGED_FIELDS = ["enabled", "status", "started_on", "length_days", "expires_on", "allowed_providers"]
PROVIDER_ORDER = [p.value for p in CloudProvider]
_S = TestDrive.Status
# Status changes a test drive may make, declared once; do_update_test_drive and do_expire_test_drive
# are the only writers.
TEST_DRIVE_TRANSITIONS = {
    _S.DISABLED: {_S.ACTIVE},  # switched on
    _S.ACTIVE: {_S.EXPIRED, _S.DISABLED},  # past its last day (daily task), or switched off
    _S.EXPIRED: {_S.ACTIVE, _S.DISABLED},  # extended or restarted, or switched off
}


def _set_status(drive: TestDrive, status: str) -> None:
    if status != drive.status and status not in TEST_DRIVE_TRANSITIONS[drive.status]:
        raise ValueError(f"a test drive cannot go from {drive.status} to {status}")
    drive.status = status


def access_test_drive(customer: Customer) -> TestDrive | None:
    """The customer's test drive, or None when it was never set up."""
    return TestDrive.objects.filter(customer=customer).first()


def check_test_drive(
    drive: TestDrive,
    *,
    enabled: bool,
    length_days: int,
    started_on: datetime.date | None,
    allowed_providers: list[str],
    today: datetime.date,
) -> None:
    """Validate a change of `drive` (its stored state) to the given settings. Errors are keyed by field."""
    errors: dict[str, list[str]] = {}
    if length_days is None or not 1 <= length_days <= TEST_DRIVE_MAX_DAYS:
        errors["length_days"] = [f"Choose a length from 1 to {TEST_DRIVE_MAX_DAYS} days."]
    unknown = [p for p in allowed_providers if p not in PROVIDER_ORDER]
    if unknown:
        errors["allowed_providers"] = [f"Unknown cloud provider: {', '.join(unknown)}."]
    if enabled:
        if not allowed_providers:
            errors["allowed_providers"] = ["Choose at least one cloud provider the customer may try."]
        if started_on is None:
            errors["started_on"] = ["Enter the day the test drive starts."]
        # A test drive that is switched on, or given a new start date, starts today or later; one that
        # is already running keeps its (past) start date.
        starting = drive._state.adding or not drive.enabled or started_on != drive.started_on
        if started_on is not None and starting and started_on < today:
            errors["started_on"] = [
                f"A test drive cannot start in the past; choose today ({today.isoformat()}) or later."
            ]
        elif started_on is not None and started_on.year > today.year + 1:  # (9999-12-31 + days overflows)
            errors["started_on"] = [f"Choose a start date before {today.year + 2}."]
        window_changed = starting or length_days != drive.length_days
        if started_on is not None and "length_days" not in errors and "started_on" not in errors:
            ends = started_on + datetime.timedelta(days=length_days)
            if window_changed and ends < today:
                needed = (today - started_on).days
                hint = (
                    f"choose at least {needed} days"
                    if needed <= TEST_DRIVE_MAX_DAYS
                    else "give it a new start date"
                )
                errors["length_days"] = [
                    f"With {length_days} days this test drive would have expired on {ends.isoformat()}; "
                    f"{hint}, or disable the test drive."
                ]
    if errors:
        raise ValidationError(errors)


@transaction.atomic
def do_update_test_drive(
    actor,
    customer: Customer,
    *,
    enabled: bool,
    length_days: int,
    started_on: datetime.date | None,
    allowed_providers: list[str],
    today: datetime.date | None = None,
) -> tuple[TestDrive, dict]:
    """Switch the customer's test drive on or off and set its window and providers.

    Returns (test drive, {field: [before, after]}); every change is written to the activity log."""
    today = today or timezone.localdate()
    # Lock the customer so concurrent saves queue up (the first one may create the test drive).
    list(Customer.objects.select_for_update().filter(pk=customer.pk).values_list("pk"))
    drive = TestDrive.objects.filter(customer=customer).first()
    is_new = drive is None
    drive = drive or TestDrive(customer=customer)
    before = {} if is_new else _logged(drive)
    providers = [p for p in PROVIDER_ORDER if p in set(allowed_providers)]
    check_test_drive(
        drive,
        enabled=enabled,
        length_days=length_days,
        started_on=started_on,
        allowed_providers=list(allowed_providers),
        today=today,
    )
    window_changed = (
        is_new or not drive.enabled or started_on != drive.started_on or length_days != drive.length_days
    )
    if not enabled:
        status = TestDrive.Status.DISABLED
        # Switched off, the start date means nothing: keep the last one, and switching back on
        # asks for a new one (today or later).
        started_on = drive.started_on
    elif window_changed:
        status = TestDrive.Status.ACTIVE
    else:
        # Same window: an expired drive stays expired; one past its last day is left for the daily
        # task, which logs the expiry and raises the alert.
        status = drive.status
    drive.enabled = enabled
    drive.length_days = length_days
    drive.started_on = started_on
    drive.allowed_providers = providers
    _set_status(drive, status)
    if not is_new:
        pending = changed_fields(before, _logged(drive))
        pending.pop("expires_on", None)  # derived by the database on save
        if not pending:
            return drive, {}
    drive.updated_at = timezone.now()
    drive.full_clean()
    drive.save()
    drive.refresh_from_db(fields=["expires_on"])  # computed by the database
    changes = changed_fields(before, _logged(drive))
    if changes:
        record_activity(
            actor,
            "test_drive.updated",
            _update_message(drive, before),
            obj=drive,
            customer=customer,
            changes=changes,
        )
    return drive, changes


def _logged(drive: TestDrive) -> dict:
    """The logged fields, with providers by name ("AWS, Google Cloud") so the log reads well."""
    values = snapshot(drive, LOGGED_FIELDS)
    values["allowed_providers"] = ", ".join(drive.provider_labels)
    return values


def _update_message(drive: TestDrive, before: dict) -> str:
    if drive.enabled and not before.get("enabled"):
        return f"Test drive enabled until {drive.expires_on.isoformat()}"
    if not drive.enabled and before.get("enabled"):
        return "Test drive disabled"
    return "Test drive settings updated"


def check_test_drive_allows(
    customer: Customer, provider: str, *, today: datetime.date | None = None
) -> TestDrive:
    """The customer's test drive if it lets them use `provider` today; otherwise a ValidationError
    saying why (codes: test_drive_disabled, test_drive_not_started, test_drive_expired,
    test_drive_provider). Expiry is judged by the date, so it holds before the daily task has run."""
    today = today or timezone.localdate()
    drive = TestDrive.objects.filter(customer=customer).first()
    if drive is None or not drive.enabled:
        raise ValidationError(f"{customer} has no test drive enabled.", code="test_drive_disabled")
    if drive.status == TestDrive.Status.EXPIRED or today > drive.expires_on:
        raise ValidationError(
            f"The test drive of {customer} expired on {drive.expires_on.isoformat()}.",
            code="test_drive_expired",
        )
    if today < drive.started_on:
        raise ValidationError(
            f"The test drive of {customer} starts on {drive.started_on.isoformat()}.",
            code="test_drive_not_started",
        )
    if provider not in drive.allowed_providers:
        label = CloudProvider(provider).label if provider in PROVIDER_ORDER else provider
        raise ValidationError(
            f"The test drive of {customer} does not include {label}.", code="test_drive_provider"
        )
    return drive


@transaction.atomic
def do_expire_test_drive(drive_id, *, today: datetime.date | None = None) -> bool:
    """Mark one test drive expired, log it and alert the reseller. Returns False (and does nothing)
    when it is not an active test drive past its last day, so running it twice changes nothing."""
    today = today or timezone.localdate()
    drive = (
        TestDrive.objects.select_for_update()
        .select_related("customer")
        .filter(pk=drive_id, status=TestDrive.Status.ACTIVE, expires_on__lt=today)
        .first()
    )
    if drive is None:
        return False
    _set_status(drive, TestDrive.Status.EXPIRED)
    drive.updated_at = timezone.now()
    drive.save(update_fields=["status", "updated_at"])
    ended = drive.expires_on.isoformat()
    record_activity(
        None,
        "test_drive.expired",
        f"Test drive expired (last day {ended})",
        obj=drive,
        customer=drive.customer,
        changes={"status": [TestDrive.Status.ACTIVE.value, TestDrive.Status.EXPIRED.value]},
    )
    do_raise_alert(
        drive.customer,
        kind=Alert.Kind.GENERAL,
        severity=Alert.Severity.WARNING,
        title="Test drive expired",
        message=f"The test drive of {drive.customer} ended on {ended}. Extend it or give it a new start "
        "date under Customer options to let the customer continue.",
    )
    return True


def expire_due_test_drives(*, today: datetime.date | None = None) -> int:
    """Expire the active test drives of the reseller in scope that are past their last day."""
    today = today or timezone.localdate()
    due = TestDrive.objects.filter(status=TestDrive.Status.ACTIVE, expires_on__lt=today).values_list(
        "pk", flat=True
    )
    return sum(do_expire_test_drive(pk, today=today) for pk in list(due))
