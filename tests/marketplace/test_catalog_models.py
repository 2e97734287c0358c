"""Catalog validation and reseller authorizations."""

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from customer360.tenancy import tenant_scope
from marketplace.models import Plan, Provider, ResellerAuthorization
from marketplace.services import (
    ProviderNotAuthorized,
    access_plan,
    authorized_providers,
    check_provider_authorized,
)

from .factories import M365_SCHEMA, PlanFactory, ProductFactory, ProviderFactory, authorize

pytestmark = pytest.mark.django_db


def test_schema_is_validated_and_normalised(db):
    provider = Provider(
        code="x", name="X", plan_filter_schema=[{"key": "tier", "choices": ["gold", ["silver", "Silver!"]]}]
    )
    provider.full_clean()
    assert provider.plan_filter_schema == [
        {
            "key": "tier",
            "label": "Tier",
            "required": False,
            "choices": [["gold", "Gold"], ["silver", "Silver!"]],
        }
    ]
    for bad, text in [
        ({"key": "tier"}, "list of attributes"),
        ([{"key": "Tier!", "choices": ["a"]}], "lowercase"),
        ([{"key": "tier", "choices": []}], "at least one choice"),
        ([{"key": "a", "choices": ["x"]}, {"key": "a", "choices": ["y"]}], "declared twice"),
    ]:
        provider.plan_filter_schema = bad
        with pytest.raises(ValidationError, match=text):
            provider.full_clean()


def test_plan_validation_messages(db):
    product = ProductFactory(provider=ProviderFactory(code="m365", plan_filter_schema=M365_SCHEMA))
    plan = Plan(product=product, sku="S1", name="P", unit_cost=Decimal("-1"), list_price=Decimal("-2"),
                min_quantity=5, max_quantity=2, attributes={"term": "weekly", "colour": "red"})  # fmt: skip
    with pytest.raises(ValidationError) as exc:
        plan.full_clean()
    errors = exc.value.message_dict
    assert errors["unit_cost"] == ["Prices cannot be negative."] and errors["list_price"] == [
        "Prices cannot be negative."
    ]
    assert "below the minimum (5)" in errors["max_quantity"][0]
    assert any("'colour' is not an attribute" in m for m in errors["attributes"])
    assert any("'weekly' is not one of" in m for m in errors["attributes"])


def test_database_refuses_negative_prices_too(db):
    with pytest.raises(IntegrityError), transaction.atomic():
        PlanFactory(unit_cost=Decimal("-0.01"))


def test_authorizations_gate_every_provider(reseller, other_reseller):
    aws, azure = ProviderFactory(code="aws"), ProviderFactory(code="azure", name="Microsoft Azure")
    authorize(reseller, aws)
    authorize(other_reseller, azure)
    aws_plan = PlanFactory(product=ProductFactory(provider=aws))
    azure_plan = PlanFactory(product=ProductFactory(provider=azure))
    with tenant_scope(reseller):
        assert list(authorized_providers()) == [aws]
        assert check_provider_authorized("aws") == aws and check_provider_authorized(aws.pk) == aws
        assert access_plan(aws_plan.pk) == aws_plan
        with pytest.raises(ProviderNotAuthorized, match="not authorized to sell Microsoft Azure"):
            check_provider_authorized(azure)
        with pytest.raises(ProviderNotAuthorized):
            access_plan(azure_plan.pk)
        assert ResellerAuthorization.objects.count() == 1  # only its own rows
    authorize(reseller, aws)  # again: nothing new
    with tenant_scope(reseller):
        assert ResellerAuthorization.objects.count() == 1
