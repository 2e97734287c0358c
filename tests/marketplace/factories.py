"""Catalog factories. Catalog rows are platform-level; authorizations go through the service, as in the admin."""

from decimal import Decimal

import factory
from factory.django import DjangoModelFactory

from customer360.tenancy import tenant_scope
from marketplace.models import AddOn, Plan, Product, ProductType, Provider
from marketplace.services import do_authorize_provider

M365_SCHEMA = [
    {
        "key": "term",
        "label": "Term",
        "choices": [["monthly", "Monthly"], ["annual", "Annual"], ["three_year", "3 years"]],
    },
    {
        "key": "billing",
        "label": "Billing frequency",
        "choices": [["monthly", "Monthly"], ["annual", "Annual"]],
    },
    {
        "key": "segment",
        "label": "Segment",
        "choices": [["commercial", "Commercial"], ["education", "Education"]],
    },
]


class ProviderFactory(DjangoModelFactory):
    class Meta:
        model = Provider
        django_get_or_create = ("code",)

    code = "aws"
    name = factory.LazyAttribute(
        lambda o: {
            "aws": "AWS",
            "azure": "Microsoft Azure",
            "m365": "Microsoft 365",
            "gcp": "Google Cloud",
            "gws": "Google Workspace",
        }.get(o.code, o.code.title())
    )
    kind = Provider.Kind.CLOUD
    plan_filter_schema = factory.LazyFunction(list)


class ProductFactory(DjangoModelFactory):
    class Meta:
        model = Product

    provider = factory.SubFactory(ProviderFactory)
    name = factory.Sequence(lambda n: f"Product {n}")
    category = "Compute"
    type = ProductType.LICENSE


class PlanFactory(DjangoModelFactory):
    class Meta:
        model = Plan

    product = factory.SubFactory(ProductFactory)
    sku = factory.Sequence(lambda n: f"SKU-{n:05d}")
    name = factory.Sequence(lambda n: f"Plan {n}")
    unit_cost = Decimal("10.00")
    list_price = Decimal("12.50")


class AddOnFactory(DjangoModelFactory):
    class Meta:
        model = AddOn

    product = factory.SubFactory(ProductFactory)
    sku = factory.Sequence(lambda n: f"ADD-{n:05d}")
    name = factory.Sequence(lambda n: f"Add-on {n}")
    unit_cost = Decimal("2.00")
    list_price = Decimal("3.00")


def authorize(reseller, *providers):
    """Authorize the reseller for the providers (creating its master pricebooks), as platform staff do."""
    with tenant_scope(reseller):
        return [do_authorize_provider(None, reseller, p) for p in providers]
