"""The reseller's catalog page: authorized providers only, filters built from the provider's schema."""

from decimal import Decimal

import pytest
from django.urls import reverse

from accounts.models import Role

from .factories import M365_SCHEMA, PlanFactory, ProductFactory, ProviderFactory, authorize

pytestmark = pytest.mark.django_db
URL = reverse("marketplace:catalog")


@pytest.fixture
def catalog(reseller):
    m365 = ProviderFactory(code="m365", name="Microsoft 365", plan_filter_schema=M365_SCHEMA)
    azure = ProviderFactory(code="azure", name="Microsoft Azure")
    product = ProductFactory(provider=m365, name="Business Standard", category="Productivity")
    PlanFactory(product=product, sku="STD-A", name="Standard annual", list_price=Decimal("12.5"),
                attributes={"term": "annual", "billing": "monthly", "segment": "commercial"})  # fmt: skip
    PlanFactory(
        product=product,
        sku="STD-M",
        name="Standard monthly",
        attributes={"term": "monthly", "segment": "education"},
    )
    PlanFactory(product=ProductFactory(provider=azure, name="Reserved VMs"), sku="AZ-SECRET")
    authorize(reseller, m365)
    return m365


def test_only_authorized_providers_with_their_schema_filters(catalog, make_client, reseller):
    client = make_client(reseller, Role.VIEWER)
    page = client.get(URL).content.decode()
    assert "Microsoft 365" in page and "Microsoft Azure" not in page and "AZ-SECRET" not in page
    for label in ("Term", "Billing frequency", "Segment", "Any segment", "Education"):
        assert label in page
    assert "STD-A" in page and "STD-M" in page and "12.50 USD" in page
    assert client.get(URL, {"provider": "azure"}).status_code == 404


def test_schema_filter_narrows_and_htmx_gets_the_table_only(catalog, owner_client):
    response = owner_client.get(
        URL, {"provider": "m365", "attr_term": "annual"}, headers={"HX-Request": "true"}
    )
    page = response.content.decode()
    assert "<html" not in page and 'id="plan-results"' in page
    assert "STD-A" in page and "STD-M" not in page
    page = owner_client.get(URL, {"provider": "m365", "q": "monthly"}).content.decode()
    assert "STD-M" in page and "STD-A" not in page
