"""Sign-in throttling: 5 failures for one email from one address lock that pair for the cool-down period,
with a clear message; other users behind the same address (a proxy) and the same user elsewhere still
sign in; the lock lifts after the cool-down."""

from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from ..factories import DEFAULT_PASSWORD, UserFactory

pytestmark = pytest.mark.django_db
LOGIN = reverse("login")


def sign_in(email, password, address):
    client = Client(REMOTE_ADDR=address)
    response = client.post(LOGIN, {"username": email, "password": password})
    return response, client


def signed_in(client) -> bool:
    return client.get(reverse("dashboard")).status_code == 200


def test_five_failures_lock_the_email_at_that_address_only(reseller):
    alice, bob = UserFactory(reseller=reseller), UserFactory(reseller=reseller)
    for attempt in range(5):
        response, _ = sign_in(alice.email, "wrong password", "10.0.0.1")
        assert response.status_code in (200, 429), attempt
    # The right password no longer helps from there: refused with the reason, not signed in.
    response, client = sign_in(alice.email, DEFAULT_PASSWORD, "10.0.0.1")
    assert response.status_code == 429
    page = response.content.decode()
    assert "Too many failed sign-ins for this email from your address" in page and "15 minutes" in page
    assert not signed_in(client)
    # Everyone else behind that address (a proxy, an office) still signs in; so does Alice elsewhere.
    response, client = sign_in(bob.email, DEFAULT_PASSWORD, "10.0.0.1")
    assert response.status_code == 302 and signed_in(client)
    response, client = sign_in(alice.email, DEFAULT_PASSWORD, "10.0.0.2")
    assert response.status_code == 302 and signed_in(client)


def test_four_failures_do_not_lock_and_a_success_resets_the_count(reseller):
    alice = UserFactory(reseller=reseller)
    for _ in range(4):
        response, _ = sign_in(alice.email, "wrong password", "10.0.0.9")
        assert response.status_code == 200
        assert "Please enter a correct email" in response.content.decode()
    response, client = sign_in(alice.email, DEFAULT_PASSWORD, "10.0.0.9")
    assert response.status_code == 302 and signed_in(client)
    for _ in range(4):  # counted from zero again
        sign_in(alice.email, "wrong password", "10.0.0.9")
    response, client = sign_in(alice.email, DEFAULT_PASSWORD, "10.0.0.9")
    assert response.status_code == 302


def test_the_lock_lifts_after_the_cool_down(reseller):
    alice = UserFactory(reseller=reseller)
    for _ in range(5):
        sign_in(alice.email, "wrong password", "10.0.0.5")
    assert sign_in(alice.email, DEFAULT_PASSWORD, "10.0.0.5")[0].status_code == 429
    AccessAttempt.objects.update(attempt_time=timezone.now() - timedelta(minutes=16))
    response, client = sign_in(alice.email, DEFAULT_PASSWORD, "10.0.0.5")
    assert response.status_code == 302 and signed_in(client)


def test_the_admin_sign_in_is_throttled_too(reseller):
    staff = UserFactory(reseller=reseller, is_staff=True)
    client = Client(REMOTE_ADDR="10.0.0.7")
    for _ in range(5):
        client.post(reverse("admin:login"), {"username": staff.email, "password": "wrong password"})
    response = client.post(reverse("admin:login"), {"username": staff.email, "password": DEFAULT_PASSWORD})
    assert response.status_code == 429
