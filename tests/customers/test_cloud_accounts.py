import time

import pytest
from celery.contrib.testing.worker import start_worker
from django.core.exceptions import ValidationError
from django.test import override_settings
from django.urls import reverse

from customer360.celery import app as celery_app
from customers.cloud_accounts import check_account_number
from customers.models import ActivityLog, CloudAccount, Customer

from ..factories import CloudAccountFactory, CustomerFactory

GUID = "0f8fad5b-d9cb-469f-a165-70867728950e"


@pytest.mark.parametrize(
    "provider,raw,stored",
    [
        ("aws", "123456789012", "123456789012"),
        ("aws", "1234-5678-9012", "123456789012"),
        ("azure", GUID.upper(), GUID),
        ("m365", "Contoso.onmicrosoft.com", "contoso.onmicrosoft.com"),
        ("m365", GUID, GUID),
        ("gcp", "acme-prod-4821", "acme-prod-4821"),
        ("gws", "example.com", "example.com"),
    ],
)
def test_good_account_numbers_are_accepted_and_normalised(provider, raw, stored):
    assert check_account_number(provider, raw) == stored


@pytest.mark.parametrize(
    "provider,raw",
    [
        ("aws", "12345678901"),  # 11 digits
        ("aws", "12345678901a"),
        ("azure", "not-a-guid"),
        ("azure", GUID[:-1]),
        ("gcp", "1acme-project"),  # must start with a letter
        ("gcp", "short"),  # under 6 characters
        ("gcp", "ends-with-hyphen-"),
        ("gcp", "Has_Underscore"),
        ("gws", "no-dot"),
        ("m365", ""),
    ],
)
def test_bad_account_numbers_are_refused_with_the_expected_format(provider, raw):
    with pytest.raises(ValidationError):
        check_account_number(provider, raw)


@pytest.mark.django_db
def test_linking_an_account_updates_the_customer_and_the_activity_log(owner_client, reseller, in_scope):
    customer = CustomerFactory(reseller=reseller)
    url = reverse("customers:cloud-accounts", args=[customer.pk])
    r = owner_client.post(
        url, {"link-provider": "azure", "link-account_number": GUID.upper(), "link-name": "Prod"}
    )
    assert r.status_code == 302
    with in_scope(reseller):
        account = CloudAccount.objects.get(customer=customer)
        assert account.account_id == GUID
        customer.refresh_from_db()
        assert customer.providers == ["azure"] and customer.cloud_account_count == 1
        entry = ActivityLog.objects.get(action="cloud_account.linked")
        assert entry.customer_id == customer.pk and entry.actor == owner_client.user
    assert GUID.encode() in owner_client.get(url).content


@pytest.mark.django_db
def test_a_bad_id_shows_the_error_under_the_field_and_saves_nothing(owner_client, reseller, in_scope):
    customer = CustomerFactory(reseller=reseller)
    url = reverse("customers:cloud-accounts", args=[customer.pk])
    r = owner_client.post(url, {"link-provider": "aws", "link-account_number": "12345"})
    assert r.status_code == 400
    assert b"AWS account id: 12 digits" in r.content
    assert b'id="id_link-account_number_errors"' in r.content
    with in_scope(reseller):
        assert CloudAccount.objects.count() == 0
        assert ActivityLog.objects.count() == 0


@pytest.mark.django_db
def test_an_account_of_another_resellers_customer_is_a_duplicate(
    owner_client, reseller, other_reseller, in_scope
):
    CloudAccountFactory(
        customer=CustomerFactory(reseller=other_reseller, name="Hidden Co"), account_id="123456789012"
    )
    customer = CustomerFactory(reseller=reseller)
    r = owner_client.post(
        reverse("customers:cloud-accounts", args=[customer.pk]),
        {"link-provider": "aws", "link-account_number": "123456789012"},
    )
    assert r.status_code == 400
    assert b"already linked to a customer" in r.content
    assert b"Hidden Co" not in r.content  # the other reseller's customer is not revealed
    with in_scope(reseller):
        assert CloudAccount.objects.count() == 0


@pytest.mark.django_db(transaction=True)
@override_settings(C360_SIMULATED_PROVIDER_DELAY=0.2)
def test_requested_aws_account_is_provisioned_by_a_real_worker(owner_client, reseller, in_scope):
    customer = CustomerFactory(reseller=reseller)
    url = reverse("customers:cloud-accounts", args=[customer.pk])
    with start_worker(celery_app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
        r = owner_client.post(url, {"request-name": "Production"})
        assert r.status_code == 302
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            with in_scope(reseller):
                account = CloudAccount.objects.get(customer=customer)
            if account.status == "active":
                break
            time.sleep(0.2)
    assert account.status == "active"
    assert len(account.account_id) == 12 and account.account_id.isdigit()
    with in_scope(reseller):
        steps = list(
            ActivityLog.objects.filter(object_id=str(account.pk))
            .order_by("created_at")
            .values_list("changes", flat=True)
        )
        assert [s["status"] for s in steps] == [
            [None, "requested"],
            ["requested", "provisioning"],
            ["provisioning", "active"],
        ]
        assert Customer.objects.get(pk=customer.pk).cloud_account_count == 1


@pytest.mark.django_db
def test_provisioning_twice_changes_nothing_the_second_time(reseller, in_scope, settings):
    from customers.tasks import provision_requested_account

    settings.C360_SIMULATED_PROVIDER_DELAY = 0
    customer = CustomerFactory(reseller=reseller)
    account = CloudAccountFactory(customer=customer, account_id="", status="requested")
    provision_requested_account(str(account.pk))
    with in_scope(reseller):
        account.refresh_from_db()
        number = account.account_id
        assert account.status == "active"
        log_count = ActivityLog.objects.count()
    provision_requested_account(str(account.pk))
    with in_scope(reseller):
        account.refresh_from_db()
        assert account.account_id == number and ActivityLog.objects.count() == log_count


@pytest.mark.django_db
def test_viewers_cannot_link_accounts(make_client, reseller, in_scope):
    viewer = make_client(reseller, "viewer")
    customer = CustomerFactory(reseller=reseller)
    r = viewer.post(
        reverse("customers:cloud-accounts", args=[customer.pk]),
        {"link-provider": "aws", "link-account_number": "123456789012"},
    )
    assert r.status_code == 403
    with in_scope(reseller):
        assert CloudAccount.objects.count() == 0
