"""Roles: viewers read, owners / sales / billing write (and are logged), platform staff live in the admin."""

import pytest
from django.test import Client
from django.urls import reverse

from accounts.models import Role, User
from customers.models import ActivityLog, Customer

from ..factories import DEFAULT_PASSWORD, CustomerFactory

pytestmark = pytest.mark.django_db


def general_form(customer, **changes) -> dict:
    data = {
        "name": customer.name,
        "status": customer.status,
        "currency": customer.currency,
        "address_line1": customer.address_line1,
        "address_line2": customer.address_line2,
        "city": customer.city,
        "region": customer.region,
        "postal_code": customer.postal_code,
        "country": customer.country,
        "payment_method": customer.payment_method,
        "payment_terms_days": customer.payment_terms_days,
        "credit_limit": customer.credit_limit,
        "saas_credit_threshold": customer.saas_credit_threshold or "",
        "billing_email": customer.billing_email,
        **({"email_invoices": "on"} if customer.email_invoices else {}),  # a checkbox: absent when unticked
    }
    data.update(changes)
    return data


def create_form(**changes) -> dict:
    data = {
        "name": "Vandelay Industries",
        "status": "active",
        "currency": "USD",
        "city": "New York",
        "country": "US",
        "payment_method": "invoice",
        "payment_terms_days": 30,
        "credit_limit": "5000.00",
        "admin_name": "Art Vandelay",
        "admin_email": "art@vandelay.example",
        "admin_phone": "",
    }
    data.update(changes)
    return data


def platform_staff_client() -> Client:
    User.objects.create_superuser("staff@customer360.example", DEFAULT_PASSWORD)
    client = Client()
    assert client.login(email="staff@customer360.example", password=DEFAULT_PASSWORD)
    return client


def test_a_viewer_reads_the_list_the_profile_and_the_general_page(make_client, reseller):
    viewer = make_client(reseller, Role.VIEWER)
    customer = CustomerFactory(reseller=reseller, name="Initech")
    r = viewer.get(reverse("customers:list"))
    assert r.status_code == 200 and b"Initech" in r.content
    assert viewer.get(reverse("customers:detail", args=[customer.pk])).status_code == 200
    r = viewer.get(reverse("customers:general", args=[customer.pk]))
    assert r.status_code == 200 and b"Initech" in r.content


def test_a_viewer_cannot_save_the_general_form(make_client, reseller, in_scope):
    viewer = make_client(reseller, Role.VIEWER)
    customer = CustomerFactory(reseller=reseller, name="Initech", city="Austin")
    r = viewer.post(
        reverse("customers:general", args=[customer.pk]),
        general_form(customer, name="Renamed", city="Dallas"),
    )
    assert r.status_code == 403
    with in_scope(reseller):
        customer.refresh_from_db()
        assert (customer.name, customer.city) == ("Initech", "Austin")
        assert not ActivityLog.objects.exists()


def test_a_viewer_cannot_create_a_customer(make_client, reseller, in_scope):
    viewer = make_client(reseller, Role.VIEWER)
    assert viewer.get(reverse("customers:create")).status_code == 200  # the form can be looked at
    r = viewer.post(reverse("customers:create"), create_form())
    assert r.status_code == 403
    with in_scope(reseller):
        assert not Customer.objects.exists()
        assert not ActivityLog.objects.exists()


@pytest.mark.parametrize("role", [Role.OWNER, Role.SALES, Role.BILLING])
def test_writers_create_customers_and_the_activity_log_says_who(make_client, reseller, in_scope, role):
    client = make_client(reseller, role)
    r = client.post(reverse("customers:create"), create_form())
    with in_scope(reseller):
        customer = Customer.objects.get(name="Vandelay Industries")
        assert r.status_code == 302 and r["Location"] == reverse("customers:detail", args=[customer.pk])
        admin = customer.contacts.get()
        assert (admin.name, admin.email, admin.is_admin) == ("Art Vandelay", "art@vandelay.example", True)
        entry = ActivityLog.objects.get(action="customer.created")
        assert entry.actor == client.user
        assert entry.customer == customer
        assert entry.reseller_id == reseller.pk


@pytest.mark.parametrize("role", [Role.OWNER, Role.SALES, Role.BILLING])
def test_writers_save_the_general_form(make_client, reseller, in_scope, role):
    client = make_client(reseller, role)
    customer = CustomerFactory(reseller=reseller, name="Initech", city="Austin")
    r = client.post(reverse("customers:general", args=[customer.pk]), general_form(customer, city="Dallas"))
    assert r.status_code == 302
    with in_scope(reseller):
        customer.refresh_from_db()
        assert customer.city == "Dallas"
        entry = ActivityLog.objects.get(action="customer.updated")
        assert entry.actor == client.user and entry.changes == {"city": ["Austin", "Dallas"]}


def test_platform_staff_are_sent_to_the_admin_and_see_every_reseller_there(reseller, other_reseller):
    CustomerFactory(reseller=reseller, name="Initech")
    CustomerFactory(reseller=other_reseller, name="Hooli")
    staff = platform_staff_client()
    r = staff.get("/")
    assert r.status_code == 302 and r["Location"] == reverse("admin:index")
    r = staff.get(reverse("customers:list"))
    assert r.status_code == 302 and r["Location"] == reverse("admin:index")
    r = staff.get(reverse("admin:customers_customer_changelist"))
    assert r.status_code == 200
    assert b"Initech" in r.content and b"Hooli" in r.content
    assert b"Acme Cloud" in r.content and b"Globex Cloud" in r.content  # the reseller column


def test_platform_staff_open_any_resellers_customer_in_the_admin(reseller):
    customer = CustomerFactory(reseller=reseller, name="Initech")
    staff = platform_staff_client()
    r = staff.get(reverse("admin:customers_customer_change", args=[customer.pk]))
    assert r.status_code == 200 and b"Initech" in r.content


@pytest.mark.parametrize("role", [Role.OWNER, Role.VIEWER])
def test_reseller_users_without_is_staff_cannot_open_the_admin(make_client, reseller, role):
    client = make_client(reseller, role)
    CustomerFactory(reseller=reseller, name="Initech")
    for url in (reverse("admin:index"), reverse("admin:customers_customer_changelist")):
        r = client.get(url)
        assert r.status_code == 302
        assert r["Location"].startswith(reverse("admin:login") + "?next=")
        assert b"Initech" not in r.content


def test_a_reseller_user_can_never_be_a_superuser(db):
    from django.db import IntegrityError, transaction

    from accounts.models import Role
    from tests.factories import ResellerFactory, UserFactory

    with pytest.raises(IntegrityError), transaction.atomic():
        UserFactory(reseller=ResellerFactory(), role=Role.OWNER, is_superuser=True)


def test_marking_an_alert_read_never_redirects_off_site(make_client, reseller):
    from tests.factories import AlertFactory

    client = make_client(reseller)
    alert = AlertFactory(customer__reseller=reseller)
    url = reverse("customers:alert-read", args=[alert.customer_id, alert.pk])
    r = client.post(url, {"next": "https://evil.example/phish"})
    assert r.status_code == 302 and r["Location"] == reverse("customers:detail", args=[alert.customer_id])
    r = client.post(url, {"next": "/customers/"})
    assert r["Location"] == "/customers/"
