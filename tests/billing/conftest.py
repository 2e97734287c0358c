from datetime import date
from decimal import Decimal

import pytest

from customer360.tenancy import tenant_scope

from ..factories import CloudAccountFactory, CustomerFactory
from ..marketplace.factories import PlanFactory, ProductFactory, ProviderFactory, authorize


@pytest.fixture
def aws(db):
    return ProviderFactory(code="aws", name="AWS")


@pytest.fixture
def acme(reseller, aws):
    """The `reseller` fixture, authorized for AWS (so it has AWS master pricebooks)."""
    authorize(reseller, aws)
    return reseller


@pytest.fixture
def customer(acme):
    return CustomerFactory(reseller=acme, name="Initech", currency="USD")


@pytest.fixture
def account(customer):
    return CloudAccountFactory(customer=customer, provider="aws", account_id="123456789012")


@pytest.fixture
def product(aws):
    return ProductFactory(provider=aws, name="EC2 Reserved", category="Compute")


@pytest.fixture
def plan(product):
    return PlanFactory(
        product=product, sku="EC2-RI-1Y", unit_cost=Decimal("10.00"), list_price=Decimal("12.50")
    )


@pytest.fixture
def scope(acme):
    with tenant_scope(acme):
        yield


DAY = date(2025, 3, 15)
