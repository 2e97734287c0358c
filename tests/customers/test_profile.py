import pytest
from django.urls import reverse

from customers.models import ActivityLog, Alert, Customer

from ..factories import ActivityLogFactory, AlertFactory, CustomerFactory

pytestmark = pytest.mark.django_db


def test_marking_an_alert_read_updates_the_panel_and_the_log(owner_client, reseller, in_scope):
    c = CustomerFactory(reseller=reseller)
    alert = AlertFactory(customer=c, title="Budget nearly used")
    r = owner_client.post(
        reverse("customers:alert-read", args=[c.pk, alert.pk]), headers={"HX-Request": "true"}
    )
    assert r.status_code == 200 and b"Budget nearly used" in r.content and b"Mark read" not in r.content
    with in_scope(reseller):
        alert.refresh_from_db()
        assert alert.is_read and alert.read_at is not None
        assert ActivityLog.objects.get(action="alert.read").changes == {"is_read": [False, True]}
    # Marking it again changes nothing.
    owner_client.post(reverse("customers:alert-read", args=[c.pk, alert.pk]))
    with in_scope(reseller):
        assert ActivityLog.objects.filter(action="alert.read").count() == 1


def test_activity_log_is_newest_first_paged_and_served_live_to_the_profile(owner_client, reseller):
    c = CustomerFactory(reseller=reseller)
    for i in range(30):
        ActivityLogFactory(customer=c, message=f"Event number {i:02d}")
    r = owner_client.get(reverse("customers:activity", args=[c.pk]))
    body = r.content.decode()
    assert body.index("Event number 29") < body.index("Event number 05")
    assert "Event number 04" not in body and "Older ›" in body  # 25 per page
    live = owner_client.get(
        reverse("customers:activity", args=[c.pk]), {"live": "1"}, headers={"HX-Request": "true"}
    )
    assert b"Event number 29" in live.content and b"<html" not in live.content
    assert b'hx-trigger="every 10s"' in owner_client.get(reverse("customers:detail", args=[c.pk])).content


def test_editing_general_information_logs_before_and_after(owner_client, reseller, in_scope):
    c = CustomerFactory(reseller=reseller, name="Before Name", city="Austin")
    data = {
        "name": "After Name",
        "status": "active",
        "currency": "USD",
        "city": "Dallas",
        "country": "US",
        "payment_method": "invoice",
        "payment_terms_days": "45",
        "credit_limit": "10000.00",
    }
    r = owner_client.post(reverse("customers:general", args=[c.pk]), data)
    assert r.status_code == 302
    with in_scope(reseller):
        entry = ActivityLog.objects.get(action="customer.updated")
        assert entry.changes["name"] == ["Before Name", "After Name"]
        assert entry.changes["city"] == ["Austin", "Dallas"]
        assert entry.changes["payment_terms_days"] == [30, 45]
        assert "credit_limit" not in entry.changes
    r = owner_client.post(reverse("customers:general", args=[c.pk]), {**data, "payment_terms_days": "abc"})
    assert r.status_code == 200 and b'id="id_payment_terms_days_errors"' in r.content
    with in_scope(reseller):
        assert Customer.objects.get(pk=c.pk).payment_terms_days == 45
        assert Alert.objects.count() == 0


def test_the_profile_costs_the_same_queries_whatever_the_customers_history(owner_client, reseller):
    from datetime import date, timedelta
    from decimal import Decimal

    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from billing.models import DailySpend
    from customer360.tenancy import tenant_scope

    quiet = CustomerFactory(reseller=reseller)
    busy = CustomerFactory(reseller=reseller)
    for _ in range(40):
        ActivityLogFactory(customer=busy)
        AlertFactory(customer=busy)
    with tenant_scope(reseller):
        DailySpend.objects.bulk_create(
            DailySpend(
                customer=busy,
                day=date(2026, 11, 1) - timedelta(days=d),
                provider=p,
                currency="USD",
                price=Decimal("10"),
                cost=Decimal("8"),
            )  # fmt: skip
            for d in range(90)
            for p in ("aws", "gcp")
        )

    def queries(customer):
        with CaptureQueriesContext(connection) as ctx:
            assert owner_client.get(reverse("customers:detail", args=[customer.pk])).status_code == 200
        return len(ctx.captured_queries)

    assert queries(busy) == queries(quiet), "the profile's query count grew with the customer's data: why?"
    # 16: the payment position (balance due + overdue + last month's balance, last payment, credit balance) is 3.
    assert queries(busy) <= 16, "the profile gained a query: why was it added?"


def test_a_reseller_wide_alert_is_on_the_dashboard_first_and_can_be_marked_read(reseller, owner_client):
    from customer360.tenancy import tenant_scope
    from customers.services import do_raise_alert

    customer = CustomerFactory(reseller=reseller, name="Initech")
    with tenant_scope(reseller):
        for n in range(6):
            do_raise_alert(customer, kind=Alert.Kind.GENERAL, title=f"Customer alert {n}")
        wide = do_raise_alert(None, kind=Alert.Kind.GENERAL, title="Export of all customers failed",
                              message="The bucket does not exist.")  # fmt: skip
        Alert.objects.filter(pk=wide.pk).update(created_at=wide.created_at.replace(year=2020))  # the oldest
    page = owner_client.get(reverse("dashboard")).content.decode()
    assert "<strong>All customers</strong>: Export of all customers failed" in page
    assert page.index("Export of all customers failed") < page.index("Customer alert 5")
    response = owner_client.post(reverse("customers:reseller-alert-read", args=[wide.pk]))
    assert response.status_code == 302
    with tenant_scope(reseller):
        wide.refresh_from_db()
        assert wide.is_read
    page = owner_client.get(reverse("dashboard")).content.decode()
    assert "<strong>All customers</strong>" not in page  # no longer unread (the activity log keeps it)
