"""The dashboard's monthly rollup follows the usage data: an import, or unmatched rows attached to their
customer, rebuild it as soon as they commit (billing.signals.usage_rolled_up), and the data version
that the cached dashboard figures are keyed on changes with them."""

import pytest
from django.db.models import Sum

from billing.models import DailySpend
from billing.services_usage import do_assign_unmatched
from customer360.celery import app as celery_app
from customer360.tenancy import tenant_scope
from reports.cache import data_version
from reports.models import SpendMonth
from reports.rollup import fresh, rebuild

from ..billing.focus_files import accounts_of, generate, import_file
from ..factories import CloudAccountFactory, CustomerFactory, ResellerFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def run_tasks_inline(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    before = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = before


def spend_by_customer(model):
    return {
        r["customer_id"]: r["p"]
        for r in model.objects.values("customer_id").annotate(p=Sum("price")).order_by()
    }


def test_an_import_rebuilds_the_monthly_rollup_when_it_commits(tmp_path, django_capture_on_commit_callbacks):
    path = generate(tmp_path, "aws", "1.2", 200)
    reseller = ResellerFactory()
    customer = CustomerFactory(reseller=reseller)
    for number in sorted(accounts_of(path)):
        CloudAccountFactory(customer=customer, provider="aws", account_id=number)
    with tenant_scope(reseller):
        assert rebuild() >= 0 and fresh() and not SpendMonth.objects.exists()
        with django_capture_on_commit_callbacks(execute=True):
            record = import_file(path)
        assert record.rows_matched == 200
        assert fresh(), "the import's commit should have rebuilt the monthly rollup"
        assert spend_by_customer(SpendMonth) == spend_by_customer(DailySpend) != {}


def test_attaching_unmatched_rows_changes_the_data_version_and_rebuilds(
    tmp_path, django_capture_on_commit_callbacks
):
    path = generate(tmp_path, "gcp", "1.3", 120)
    reseller = ResellerFactory()
    accounts = sorted(accounts_of(path))
    first = CustomerFactory(reseller=reseller)
    CloudAccountFactory(customer=first, provider="gcp", account_id=accounts[0])
    other = CustomerFactory(reseller=reseller)
    with tenant_scope(reseller):
        with django_capture_on_commit_callbacks(execute=True):
            import_file(path)
        version = data_version()
        assert fresh() and not SpendMonth.objects.filter(customer=other).exists()
        with django_capture_on_commit_callbacks(execute=True):
            attached = do_assign_unmatched(None, other, provider="gcp", account_id=accounts[1])
        assert attached > 0
        assert data_version() != version, "cached dashboard figures would outlive the attached rows"
        assert fresh()
        assert spend_by_customer(SpendMonth) == spend_by_customer(DailySpend)
        assert SpendMonth.objects.filter(customer=other).exists()
