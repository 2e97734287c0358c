"""Customer tasks: test drive expiry and credit thresholds (daily, CELERY_BEAT_SCHEDULE), threshold emails,
and the simulated provider side of AWS account requests."""

import datetime
import logging
import random
import time

from celery import shared_task
from django.conf import settings
from django.core.mail import send_mail
from django.utils import timezone

from customer360.tenancy import each_reseller_scope, platform_scope, reseller_of, tenant_scope

from .models import Alert, CloudAccount, Contact, Customer
from .services_test_drive import expire_due_test_drives

logger = logging.getLogger(__name__)


@shared_task
def expire_test_drives(today: str | None = None) -> int:
    """Move every active test drive past its last day to "expired", logging it and raising an alert.

    Idempotent: only active test drives change, so a second run (or a retried one) does nothing.
    `today` (ISO date) is for tests and catching up; it defaults to the current date."""
    day = datetime.date.fromisoformat(today) if today else timezone.localdate()
    expired = 0
    # Resellers are not tenant-scoped; each one's test drives are read and written in its own scope.
    for _ in each_reseller_scope():
        expired += expire_due_test_drives(today=day)
    if expired:
        logger.info("expired %d test drive(s) as of %s", expired, day.isoformat())
    return expired


# The simulated provider side of an AWS account request (a real integration would call AWS Organizations).
def _new_aws_number() -> str:
    with platform_scope():  # uniqueness is platform-wide
        while True:
            number = f"{random.randrange(10**11, 10**12):012d}"
            if not CloudAccount.objects.filter(provider="aws", account_id=number).exists():
                return number


@shared_task(time_limit=120, soft_time_limit=100)
def provision_requested_account(account_id: str) -> None:
    """requested -> provisioning -> active. Safe to run twice: each step only moves forward."""
    from .services import do_advance_account_request

    reseller_id = reseller_of(CloudAccount, account_id)
    if reseller_id is None:
        return
    delay = float(getattr(settings, "C360_SIMULATED_PROVIDER_DELAY", 2.0))
    with tenant_scope(reseller_id):
        account = CloudAccount.objects.get(pk=account_id)
        if account.status == CloudAccount.Status.REQUESTED:
            account, _ = do_advance_account_request(account, CloudAccount.Status.PROVISIONING)
        if account.status == CloudAccount.Status.PROVISIONING:
            time.sleep(delay)
            do_advance_account_request(account, CloudAccount.Status.ACTIVE, account_number=_new_aws_number())


@shared_task(time_limit=60, soft_time_limit=50)
def email_credit_threshold_alert(alert_id: str) -> None:
    """Email the customer's admin contact about a credit threshold alert. Safe to run twice: an alert
    that was already emailed is not emailed again."""
    reseller_id = reseller_of(Alert, alert_id)
    if reseller_id is None:
        return
    with tenant_scope(reseller_id):
        alert = Alert.objects.select_related("customer").get(pk=alert_id)
        contact = Contact.objects.filter(customer=alert.customer, is_admin=True).first()
        if alert.emailed_at or contact is None:
            return
        send_mail(alert.title, alert.message, None, [contact.email])
        Alert.objects.filter(pk=alert.pk).update(emailed_at=timezone.now())


@shared_task
def check_credit_thresholds(today: str | None = None) -> int:
    """Daily: re-check every customer with a threshold (spend rolls over at the start of a month)."""
    from .services_credit import do_check_credit_threshold

    day = datetime.date.fromisoformat(today) if today else timezone.localdate()
    raised = 0
    for _ in each_reseller_scope():
        for customer in Customer.objects.filter(saas_credit_threshold__isnull=False).iterator():
            raised += do_check_credit_threshold(customer, today=day) is not None
    return raised
