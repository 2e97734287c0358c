"""Simulated provider side of an AWS account request (a real integration would call AWS Organizations)."""

import random
import time

from celery import shared_task
from django.conf import settings

from customer360.tenancy import platform_scope, tenant_scope

from .models import CloudAccount


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

    with platform_scope():
        row = CloudAccount.objects.filter(pk=account_id).values("reseller_id").first()
    if row is None:
        return
    delay = float(getattr(settings, "C360_SIMULATED_PROVIDER_DELAY", 2.0))
    with tenant_scope(row["reseller_id"]):
        account = CloudAccount.objects.get(pk=account_id)
        if account.status == CloudAccount.Status.REQUESTED:
            account, _ = do_advance_account_request(account, CloudAccount.Status.PROVISIONING)
        if account.status == CloudAccount.Status.PROVISIONING:
            time.sleep(delay)
            do_advance_account_request(account, CloudAccount.Status.ACTIVE, account_number=_new_aws_number())
