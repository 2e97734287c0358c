"""Pricebook factories. Rows are created inside their reseller's scope, as the app does."""

from datetime import date
from decimal import Decimal

import factory
from factory.django import DjangoModelFactory

from billing.models import ExchangeRate, Pricebook, PricebookAssignment, PricebookRule
from billing.models_pricebook import Method, Scope

from ..factories import TenantFactory
from ..marketplace.factories import ProviderFactory
from .invoice_helpers import invoice_rows_for


class PricebookFactory(TenantFactory):
    class Meta:
        model = Pricebook

    reseller = factory.SubFactory("tests.factories.ResellerFactory")
    provider = factory.SubFactory(ProviderFactory)
    name = factory.Sequence(lambda n: f"Pricebook {n}")
    kind = Pricebook.Kind.CUSTOM
    currency = "USD"
    valid_from = date(2020, 1, 1)


class RuleFactory(TenantFactory):
    class Meta:
        model = PricebookRule

    pricebook = factory.SubFactory(PricebookFactory)
    reseller = factory.SelfAttribute("pricebook.reseller")
    scope_type = Scope.PROVIDER
    method = Method.MARKUP
    value = Decimal("10")
    valid_from = date(2020, 1, 1)


class AssignmentFactory(TenantFactory):
    class Meta:
        model = PricebookAssignment

    pricebook = factory.SubFactory(PricebookFactory)
    reseller = factory.SelfAttribute("pricebook.reseller")
    provider = factory.SelfAttribute("pricebook.provider")
    valid_from = date(2020, 1, 1)


class ExchangeRateFactory(DjangoModelFactory):
    class Meta:
        model = ExchangeRate

    currency = "EUR"
    rate = Decimal("0.9")
    effective_date = date(2020, 1, 1)


def billing_rows_for(reseller, customer, cloud_account, marker: str) -> dict:
    """One row of every billing and marketplace tenant model for `reseller`, carrying `marker`
    (for the tenancy matrix's build_tenant in tests/foundation/conftest.py)."""
    from billing.models import BillingPeriod, PricebookChange
    from customer360.tenancy import tenant_scope
    from marketplace.models import ResellerAuthorization

    from ..marketplace.factories import authorize

    provider = ProviderFactory(code=cloud_account.provider)
    authorize(reseller, provider)
    book = PricebookFactory(reseller=reseller, provider=provider, name=f"{marker} Book")
    rule = RuleFactory(pricebook=book, note=f"{marker} rule")
    assignment = AssignmentFactory(pricebook=book, customer=customer, cloud_account=cloud_account)
    with tenant_scope(reseller):
        change = PricebookChange.objects.create(
            pricebook=book, action=PricebookChange.Action.CREATE_BOOK, status=PricebookChange.Status.APPLIED,
            requested_by_label=f"{marker} Owner", message=f"{marker} created",
        )  # fmt: skip
        period = BillingPeriod.objects.create(month=date(2020, 1, 1))
        authorization = ResellerAuthorization.objects.get(provider=provider)
    return {
        Pricebook: book, PricebookRule: rule, PricebookAssignment: assignment, PricebookChange: change,
        BillingPeriod: period, ResellerAuthorization: authorization,
        **billing_config_rows_for(reseller, customer, cloud_account, marker),
        **invoice_rows_for(reseller, customer, cloud_account, marker),
    }  # fmt: skip


def billing_config_rows_for(reseller, customer, cloud_account, marker: str) -> dict:
    """A tax rate and profile, a credit and its application, a charge group and item, marked."""
    from billing.models import ChargeGroup, ChargeItem, Credit, CreditApplication, TaxProfile, TaxRate
    from billing.models_charges import ChargeMethod, ChargeScope
    from customer360.tenancy import tenant_scope

    with tenant_scope(reseller):
        rate = TaxRate.objects.create(
            name=f"{marker} State", rate=Decimal("7.25"), country="US", region=f"{marker} Region",
            valid_from=date(2020, 1, 1),
        )  # fmt: skip
        profile = TaxProfile.objects.create(
            customer=customer, tax_id=f"{marker}-TAX", exempt=True, exemption_certificate=f"{marker}-EXEMPT"
        )
        profile.rates.set([rate])
        credit = Credit.objects.create(
            customer=customer, amount=Decimal("50.00"), currency=customer.currency, reason=f"{marker} goodwill",
            issued_by_label=f"{marker} Owner",
        )  # fmt: skip
        application = CreditApplication.objects.create(
            credit=credit, amount=Decimal("10.00"), applied_on=date(2026, 1, 31), invoice_ref=f"{marker}-INV"
        )
        group = ChargeGroup.objects.create(customer=customer, name=f"{marker} Support")
        item = ChargeItem(
            group=group, customer=customer, name=f"{marker} premium support", method=ChargeMethod.PERCENTAGE,
            rate=Decimal("5"), currency=customer.currency, scope_type=ChargeScope.CLOUD_ACCOUNT,
            cloud_account=cloud_account, valid_from=date(2020, 1, 1),
        )  # fmt: skip
        item.set_scope_key()
        item.save()
    return {
        TaxRate: rate, TaxProfile: profile, Credit: credit, CreditApplication: application,
        ChargeGroup: group, ChargeItem: item,
    }  # fmt: skip
