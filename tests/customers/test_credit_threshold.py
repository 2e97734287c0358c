from datetime import date
from decimal import Decimal

import pytest
from django.core import mail
from django.urls import reverse

from billing.models import DailySpend
from customer360.celery import app as celery_app
from customer360.tenancy import tenant_scope
from customers.models import ActivityLog, Alert
from customers.services_credit import do_check_credit_threshold
from customers.tasks import check_credit_thresholds

from ..factories import ContactFactory, CustomerFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def run_tasks_inline():
    # Tasks queued on commit run in the test's process, so the email they send lands in mail.outbox.
    before = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = before


def saas(customer, day, amount):
    with tenant_scope(customer.reseller):
        DailySpend.objects.update_or_create(
            customer=customer,
            day=day,
            provider="dropbox",
            currency=customer.currency,
            is_saas=True,
            defaults={"price": Decimal(amount), "cost": Decimal(amount)},
        )


def check(customer, today, django_capture_on_commit_callbacks):
    with tenant_scope(customer.reseller), django_capture_on_commit_callbacks(execute=True):
        return do_check_credit_threshold(customer, today=today)


def test_one_alert_and_one_email_per_crossing(reseller, django_capture_on_commit_callbacks):
    c = CustomerFactory(reseller=reseller, saas_credit_threshold=Decimal("500.00"), currency="USD")
    ContactFactory(customer=c, is_admin=True, email="admin@client.example")
    saas(c, date(2026, 11, 2), "300")
    assert check(c, date(2026, 11, 2), django_capture_on_commit_callbacks) is None
    saas(c, date(2026, 11, 3), "250")  # 550 >= 500: a crossing
    alert = check(c, date(2026, 11, 3), django_capture_on_commit_callbacks)
    assert alert is not None and "550.00 USD" in alert.title
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["admin@client.example"]
    saas(c, date(2026, 11, 4), "100")  # still over: nothing new
    assert check(c, date(2026, 11, 4), django_capture_on_commit_callbacks) is None
    # A new month starts under the threshold (re-armed); crossing again raises a second alert.
    assert check(c, date(2026, 12, 1), django_capture_on_commit_callbacks) is None
    saas(c, date(2026, 12, 5), "600")
    assert check(c, date(2026, 12, 5), django_capture_on_commit_callbacks) is not None
    with tenant_scope(reseller):
        assert Alert.objects.filter(kind="credit_threshold").count() == 2
        assert ActivityLog.objects.filter(action="credit_threshold.rearmed").count() == 1
    assert len(mail.outbox) == 2


def test_raising_the_threshold_in_general_rearms_and_lowering_it_alerts(owner_client, reseller, in_scope):
    c = CustomerFactory(reseller=reseller, currency="USD")
    ContactFactory(customer=c, is_admin=True)
    today = date.today()
    saas(c, today, "120")
    data = {
        "name": c.name,
        "status": "active",
        "currency": "USD",
        "payment_method": "invoice",
        "payment_terms_days": "30",
        "credit_limit": "10000",
        "saas_credit_threshold": "100",
    }
    owner_client.post(reverse("customers:general", args=[c.pk]), data)
    with in_scope(reseller):
        assert Alert.objects.filter(kind="credit_threshold").count() == 1
    owner_client.post(reverse("customers:general", args=[c.pk]), {**data, "saas_credit_threshold": "0"})
    assert (
        b"more than zero"
        in owner_client.post(
            reverse("customers:general", args=[c.pk]), {**data, "saas_credit_threshold": "-1"}
        ).content
    )
    with in_scope(reseller):
        assert Alert.objects.filter(kind="credit_threshold").count() == 1


def test_the_daily_task_checks_every_resellers_customers(reseller, other_reseller):
    mine = CustomerFactory(reseller=reseller, saas_credit_threshold=Decimal("10"))
    theirs = CustomerFactory(reseller=other_reseller, saas_credit_threshold=Decimal("10"))
    CustomerFactory(reseller=reseller)  # no threshold: never checked
    saas(mine, date(2026, 11, 1), "11")
    saas(theirs, date(2026, 11, 1), "11")
    assert check_credit_thresholds("2026-11-02") == 2
    assert check_credit_thresholds("2026-11-02") == 0  # safe to run twice
