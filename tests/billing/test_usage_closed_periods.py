"""A closed provider month locks its usage: late rows are counted and left out, and unmatched rows of that
month stay unmatched when their account is linked later (the month's invoices are final)."""

import csv
from collections import Counter
from datetime import date

import pytest

from billing.invoicing_states import do_close_provider_period
from billing.models_usage import UsageDaily, UsageRow
from billing.services_usage import do_assign_unmatched
from customer360.tenancy import tenant_scope

from ..factories import CloudAccountFactory, CustomerFactory, ResellerFactory
from .focus_files import accounts_of, generate, import_file

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def rows_by_month(path) -> Counter:
    with open(path, newline="") as f:
        return Counter(
            date.fromisoformat(r["ChargePeriodStart"][:10]).replace(day=1) for r in csv.DictReader(f)
        )


def test_rows_of_a_closed_provider_month_are_counted_and_not_imported(tmp_path):
    path = generate(tmp_path, "aws", "1.2", 300)
    months = rows_by_month(path)
    closed_month = min(months)
    reseller = ResellerFactory()
    customer = CustomerFactory(reseller=reseller)
    for number in sorted(accounts_of(path)):
        CloudAccountFactory(customer=customer, provider="aws", account_id=number)
    with tenant_scope(reseller):
        do_close_provider_period(None, closed_month, "azure")  # another provider's close changes nothing
        do_close_provider_period(None, closed_month, "aws")
        record = import_file(path)
        assert record.rows_closed_period == months[closed_month]
        assert record.rows_new == 300 - months[closed_month]
        assert record.rows_read == record.rows_new + record.rows_duplicate + record.rows_closed_period
        assert not UsageRow.objects.filter(
            usage_date__gte=closed_month, usage_date__lt=_next(closed_month)
        ).exists()
        assert not UsageDaily.objects.filter(day__gte=closed_month, day__lt=_next(closed_month)).exists()
        # A later, open month imported as usual.
        assert UsageRow.objects.filter(usage_date__gte=_next(closed_month)).count() == record.rows_new


def test_closing_every_provider_locks_too_and_the_import_page_says_so(tmp_path, client):
    from accounts.models import Role

    from ..factories import UserFactory

    path = generate(tmp_path, "gcp", "1.3", 120)
    months = rows_by_month(path)
    closed_month = min(months)
    reseller = ResellerFactory()
    with tenant_scope(reseller):
        do_close_provider_period(None, closed_month, "*")
        record = import_file(path)
    assert record.rows_closed_period == months[closed_month]
    client.force_login(UserFactory(reseller=reseller, role=Role.BILLING))
    page = client.get(f"/billing/usage/{record.pk}/").content.decode()
    assert "In closed periods" in page and f"<strong>{months[closed_month]}</strong>" in page


def test_unmatched_rows_of_a_closed_month_stay_unmatched_when_the_account_is_linked(tmp_path):
    path = generate(tmp_path, "azure", "1.2", 200)
    months = rows_by_month(path)
    reseller = ResellerFactory()
    customer = CustomerFactory(reseller=reseller)
    with tenant_scope(reseller):
        record = import_file(path)
        assert record.rows_unmatched == 200
        closed_month = min(months)
        do_close_provider_period(None, closed_month, "azure")
        attached = 0
        for number in sorted(accounts_of(path)):
            attached += do_assign_unmatched(None, customer, provider="azure", account_id=number)
        assert attached == 200 - months[closed_month]
        late = UsageRow.objects.filter(usage_date__gte=closed_month, usage_date__lt=_next(closed_month))
        assert late.count() == months[closed_month] and not late.filter(customer__isnull=False).exists()


def _next(month: date) -> date:
    return date(month.year + month.month // 12, month.month % 12 + 1, 1)
