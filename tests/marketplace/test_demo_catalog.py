"""seed_catalog: several hundred plans, deterministic, idempotent, and every reseller ready to price."""

from datetime import date

import pytest

from billing.models import Pricebook, PricebookAssignment
from billing.pricing import UsageLine, price_for
from customer360.tenancy import tenant_scope
from marketplace.demo_catalog import seed_catalog
from marketplace.models import AddOn, Plan, Provider, ResellerAuthorization
from marketplace.services import authorized_providers

from ..factories import CloudAccountFactory, CustomerFactory, ResellerFactory

pytestmark = pytest.mark.django_db


def prices():
    return {p.sku: (p.unit_cost, p.list_price, p.attributes) for p in Plan.objects.all()}


def test_seed_catalog_is_realistic_deterministic_and_idempotent():
    resellers = [
        ResellerFactory(slug="north", default_currency="USD"),
        ResellerFactory(slug="blue", default_currency="GBP"),
    ]
    for i, reseller in enumerate(resellers):
        for n in range(12):
            customer = CustomerFactory(reseller=reseller)
            CloudAccountFactory(customer=customer, account_id=f"{i}{n:011d}")
    result = seed_catalog(42)
    assert result["plans"] >= 300 and Plan.objects.count() == result["plans"]
    assert set(Provider.objects.values_list("code", flat=True)) >= {
        "aws",
        "azure",
        "m365",
        "gcp",
        "gws",
        "acronis",
    }
    assert AddOn.objects.count() >= 8
    first = prices()
    seed_catalog(42)
    assert prices() == first  # same seed, same catalog; nothing duplicated
    for reseller in resellers:
        with tenant_scope(reseller):
            codes = set(authorized_providers().values_list("code", flat=True))
            assert {"aws", "azure", "m365", "gcp", "gws", "acronis"} <= codes
            assert ResellerAuthorization.objects.count() == len(codes)
            for code in codes:
                assert (
                    PricebookAssignment.objects.filter(provider__code=code, customer__isnull=True).count()
                    == 1
                )
                assert (
                    Pricebook.objects.filter(
                        provider__code=code, kind="custom", name__endswith="standard"
                    ).count()
                    == 1
                )
            customer = (
                PricebookAssignment.objects.filter(provider__code="m365", customer__isnull=False)
                .first()
                .customer
            )
            plan = Plan.objects.get(sku="CFQ7-MICROSOFT-365-E3-ANM-COM")
            quote = price_for(customer, plan, date(2025, 7, 1))
            assert quote.pricebook.name == "Key accounts" and quote.rule.product == plan.product
            line = UsageLine(
                provider="aws",
                usage_date=date(2025, 7, 1),
                cost=100,
                list_cost=110,
                service_category="Storage",
            )
            assert price_for(customer, line).amount.currency == reseller.default_currency
