"""seed_usage: a few months of generated FOCUS usage on demo customers, through the real import."""

import pytest
from django.db.models import Sum
from django.utils import timezone

from billing.demo_usage import seed_usage
from billing.models import DailySpend
from billing.models_usage import UsageImport, UsageRow
from customer360.tenancy import tenant_scope
from customers.actuals import customer_actuals
from customers.models import Customer

from ..factories import CloudAccountFactory, CustomerFactory
from ..marketplace.factories import ProviderFactory, authorize

pytestmark = pytest.mark.django_db


def test_seed_usage_fills_the_kpis_of_demo_customers(reseller, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    authorize(reseller, *(ProviderFactory(code=c, name=c.upper()) for c in ("aws", "azure", "gcp")))
    numbers = {
        "aws": ["111111111111", "222222222222"],
        "azure": ["0f0e0d0c-0000-4000-8000-00000000000a"],
        "gcp": ["demo-project-1"],
    }
    for provider, ids in numbers.items():
        for number in ids:
            CloudAccountFactory(
                customer=CustomerFactory(reseller=reseller), provider=provider, account_id=number
            )
    totals = seed_usage(1, months=2, rows=150, accounts=3)
    assert totals["imports"] == 6 and totals["matched"] > 0 and totals["unmatched"] > 0
    today = timezone.localdate()
    with tenant_scope(reseller):
        assert UsageImport.objects.filter(status=UsageImport.Status.DONE).count() == 6
        assert not UsageRow.objects.filter(usage_date__gt=today).exists()
        this_month = DailySpend.objects.filter(day__gte=today.replace(day=1))
        assert this_month.aggregate(t=Sum("price"))["t"] > 0
        customer = Customer.objects.filter(mtd_spend__gt=0).first()
        assert customer is not None
        kpi = customer_actuals(customer, today=today)[0]
        assert kpi.value == customer.mtd_spend
