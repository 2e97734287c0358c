"""manage.py seed_demo: deterministic, consistent demo data, and safe to run twice."""

import re
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db.models import Count
from django.test import Client

from accounts.models import Reseller, Role, User
from customer360.tenancy import tenant_scope
from customers.models import ActivityLog, Alert, CloudAccount, Contact, Customer
from marketplace.models import Subscription

pytestmark = pytest.mark.django_db

PASSWORD = "demo-pass-4821"
ACCOUNT_FORMATS = {
    "aws": re.compile(r"^\d{12}$"),
    "azure": re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"),
    "m365": re.compile(r"^[a-z][a-z0-9]*-\d{5}\.onmicrosoft\.com$"),
    "gcp": re.compile(r"^[a-z][a-z0-9-]{4,28}[a-z0-9]$"),
    "gws": re.compile(r"^[a-z][a-z0-9]*\d+\.(com|co\.uk|de|ca|com\.au|fr|nl|ie|es)$"),
}


@pytest.fixture(autouse=True)
def fast_hasher(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def seed(**options) -> str:
    out = StringIO()
    args = {"resellers": 2, "customers": 30, "seed": 7, "password": PASSWORD, "usage_months": 0,
            "no_history": True, **options}  # fmt: skip
    call_command("seed_demo", stdout=out, **args)
    return out.getvalue()


def snapshot() -> dict:
    """Every reseller's customer names (by id) and cloud account numbers (by id)."""
    data = {}
    for reseller in Reseller.objects.order_by("slug"):
        with tenant_scope(reseller):
            data[reseller.slug] = (
                sorted(Customer.objects.values_list("id", "name")),
                sorted(CloudAccount.objects.values_list("id", "provider", "account_id")),
            )
    return data


def test_counts_users_and_roles():
    output = seed(big_reseller_customers=45)
    resellers = list(Reseller.objects.order_by("created_at"))
    assert [r.slug for r in resellers] == ["northwind", "bluepeak"]
    assert User.objects.count() == 2 * 4 + 1
    admin = User.objects.get(email="admin@platform.example")
    assert admin.is_superuser and admin.reseller is None
    for reseller, expected in zip(resellers, (45, 30), strict=True):
        roles = dict(User.objects.filter(reseller=reseller).values_list("email", "role"))
        assert roles == {f"{role}@{reseller.slug}.example": role for role in Role.values}
        with tenant_scope(reseller):
            assert Customer.objects.count() == expected
            assert Contact.objects.filter(is_admin=True).count() == expected
            assert Contact.objects.values("customer").distinct().count() == expected
            # The list's subscription column agrees with the demo orders' active subscriptions.
            for customer in Customer.objects.filter(active_subscription_count__gt=0):
                assert (
                    customer.active_subscription_count
                    == Subscription.objects.filter(customer=customer, status="active").count()
                )
            assert ActivityLog.objects.filter(action="customer.created").count() == expected
            assert Alert.objects.exists()
            # Roughly two accounts per customer, never more than five.
            per_customer = Customer.objects.annotate(n=Count("cloud_accounts")).values_list("n", flat=True)
            assert max(per_customer) <= 5 and 1 <= sum(per_customer) / expected <= 3
    assert "owner@northwind.example" in output and f"Password: {PASSWORD}" in output


def test_denormalised_columns_match_the_accounts():
    seed()
    for reseller in Reseller.objects.all():
        with tenant_scope(reseller):
            live = CloudAccount.objects.exclude(status=CloudAccount.Status.CLOSED)
            expected = {}
            for customer_id, provider in live.values_list("customer_id", "provider"):
                expected.setdefault(customer_id, []).append(provider)
            for c in Customer.objects.all():
                providers = expected.get(c.pk, [])
                assert c.providers == sorted(set(providers)), c.name
                assert c.cloud_account_count == len(providers), c.name
            # Every tenant row carries its customer's reseller.
            assert not CloudAccount.objects.exclude(customer__reseller=reseller).exists()
            assert not Contact.objects.exclude(customer__reseller=reseller).exists()


def test_account_ids_valid_and_unique():
    seed(resellers=3)
    from customer360.tenancy import platform_scope

    with platform_scope():
        accounts = list(CloudAccount.objects.values_list("provider", "account_id"))
    assert len(accounts) > 100
    assert len(set(accounts)) == len(accounts)
    providers = {p for p, _ in accounts}
    assert providers == set(ACCOUNT_FORMATS)
    for provider, number in accounts:
        assert ACCOUNT_FORMATS[provider].match(number), (provider, number)
        assert number == number.lower()
        if provider == "gcp":
            assert 6 <= len(number) <= 30 and "--" not in number


def test_deterministic():
    seed()
    first = snapshot()
    seed(reset=True)
    assert snapshot() == first
    seed(reset=True, seed=8)
    assert snapshot() != first


def test_refuses_a_second_run():
    seed()
    before = snapshot()
    with pytest.raises(CommandError, match=r"already has 2 reseller\(s\); run seed_demo --reset"):
        seed()
    assert snapshot() == before


def test_if_empty_seeds_an_empty_database_and_is_quiet_otherwise():
    seed(if_empty=True)
    assert Reseller.objects.count() == 2
    before = snapshot()
    output = seed(if_empty=True, resellers=4)
    assert "already present" in output and "owner@bluepeak.example" in output
    assert f"Password: {PASSWORD}" in output
    assert snapshot() == before


def test_reset_removes_other_data_first():
    seed()
    Reseller.objects.create(name="Someone Else", slug="someone")
    seed(reset=True)
    assert set(Reseller.objects.values_list("slug", flat=True)) == {"northwind", "bluepeak"}


def test_demo_users_can_log_in():
    seed()
    for email in ("owner@northwind.example", "viewer@bluepeak.example", "admin@platform.example"):
        assert Client().login(email=email, password=PASSWORD), email
    assert not Client().login(email="owner@northwind.example", password="wrong")
    client = Client()
    client.login(email="sales@bluepeak.example", password=PASSWORD)
    bluepeak, northwind = Reseller.objects.get(slug="bluepeak"), Reseller.objects.get(slug="northwind")
    with tenant_scope(bluepeak):
        mine = Customer.objects.order_by("name").first()
    with tenant_scope(northwind):
        theirs = Customer.objects.order_by("name").first()
    page = client.get("/customers/")
    assert page.status_code == 200
    assert mine.name in page.content.decode()
    assert client.get(f"/customers/{mine.pk}/").status_code == 200
    assert client.get(f"/customers/{theirs.pk}/").status_code == 404


def test_bench_refuses_a_database_not_named_bench():
    with pytest.raises(CommandError, match="only runs on a database whose name contains 'bench'"):
        call_command("bench_customers", stdout=StringIO())


def test_the_demo_has_invoices_and_quotes_in_every_state(settings, tmp_path):
    from billing.models import Invoice
    from quotes.models import Quote

    settings.MEDIA_ROOT = tmp_path
    out = seed(resellers=1, no_history=False, usage_months=3)  # usage in the two invoiced months
    assert "Invoices:" in out and "Quotes:" in out
    reseller = Reseller.objects.get()
    with tenant_scope(reseller):
        statuses = set(Invoice.objects.values_list("status", flat=True))
        assert {"open", "closed"} <= statuses, statuses  # finalized; some paid in full, some not
        assert not Invoice.objects.filter(status="draft").exists()
        assert {"draft", "sent", "declined"} <= set(Quote.objects.values_list("status", flat=True))
        assert Quote.objects.filter(status__in=["accepted", "converted"]).exists()
