"""A small sellable catalog, a priced customer, and orders placed through the services (as the app does)."""

import uuid
from decimal import Decimal

from billing.models import PricebookAssignment
from billing.models_pricebook import Method, Scope
from customer360.tenancy import tenant_scope
from customers.models import CloudProvider
from marketplace.models import BillingTerm, ProductType

from ..billing.factories import AssignmentFactory, PricebookFactory, RuleFactory
from ..factories import CloudAccountFactory, CustomerFactory, UserFactory
from .factories import M365_SCHEMA, AddOnFactory, PlanFactory, ProductFactory, ProviderFactory, authorize


class Shop:
    """m365 (licenses, schema filters, an add-on) and azure (consumption) for one reseller, and a customer
    whose pricebook marks cost up 20% (so a plan costing 10.00 sells at 12.00)."""

    def __init__(self, reseller, *, credit_limit=Decimal("10000.00"), user=None, customer=None):
        self.reseller = reseller
        self.m365 = ProviderFactory(code="m365", name="Microsoft 365", plan_filter_schema=M365_SCHEMA,
                                    kind="licenses")  # fmt: skip
        self.azure = ProviderFactory(code="azure", name="Microsoft Azure")
        authorize(reseller, self.m365, self.azure)
        self.product = ProductFactory(provider=self.m365, name="Business Standard", category="Productivity")
        self.annual = PlanFactory(
            product=self.product, sku="BST-ANNUAL", name="Business Standard (annual)", max_quantity=300,
            unit_cost=Decimal("10.00"), list_price=Decimal("12.50"), billing_term=BillingTerm.ANNUAL,
            attributes={"term": "annual", "billing": "monthly", "segment": "commercial"},
        )  # fmt: skip
        self.monthly = PlanFactory(
            product=self.product, sku="BST-MONTHLY", name="Business Standard (monthly)",
            unit_cost=Decimal("11.00"), list_price=Decimal("14.00"), billing_term=BillingTerm.MONTHLY,
            attributes={"term": "monthly", "billing": "monthly", "segment": "commercial"},
        )  # fmt: skip
        self.addon = AddOnFactory(product=self.product, sku="BST-ARCHIVE", name="Exchange Archiving",
                                  unit_cost=Decimal("2.00"), list_price=Decimal("3.00"))  # fmt: skip
        self.addon.plans.add(self.annual, self.monthly)
        self.compute = ProductFactory(provider=self.azure, name="Azure Plan", category="Compute",
                                      type=ProductType.CONSUMPTION)  # fmt: skip
        self.azure_plan = PlanFactory(product=self.compute, sku="AZ-PLAN", name="Azure plan", billing_term="none",
                                      billing_frequency="usage", unit_cost=Decimal("0"), list_price=Decimal("0"))  # fmt: skip
        self.customer = customer or CustomerFactory(
            reseller=reseller, name="Initech", credit_limit=credit_limit
        )
        self.user = user or UserFactory(reseller=reseller)
        self.azure_account = CloudAccountFactory(customer=self.customer, provider=CloudProvider.AZURE,
                                                 account_id="11111111-2222-3333-4444-555555555555")  # fmt: skip
        book = PricebookFactory(reseller=reseller, provider=self.m365, name="Initech M365")
        self.rule = RuleFactory(
            pricebook=book, scope_type=Scope.PROVIDER, method=Method.MARKUP, value=Decimal("20")
        )
        AssignmentFactory(pricebook=book, customer=self.customer, level=PricebookAssignment.Level.CUSTOMER)

    def scope(self):
        return tenant_scope(self.reseller)


def place_order(shop, *lines, user=None, customer=None):
    """Put (item, quantity) lines in the cart and check out at the current prices; returns the order."""
    from marketplace.models import AddOn
    from marketplace.services_cart import cart_lines, do_add_to_cart, price_cart
    from marketplace.services_orders import do_checkout, new_checkout_token

    user, customer = user or shop.user, customer or shop.customer
    with shop.scope():
        for item, quantity in lines:
            if isinstance(item, AddOn):
                plan = item.plans.order_by("pk").first()
                do_add_to_cart(user, customer, plan_id=plan.pk, addon_id=item.pk, quantity=quantity)
            else:
                account = shop.azure_account.pk if item.product.type == ProductType.CONSUMPTION else None
                do_add_to_cart(user, customer, plan_id=item.pk, quantity=quantity, cloud_account_id=account)
        from marketplace.services_cart import access_cart

        priced = price_cart(customer, cart_lines(access_cart(user, customer)))
        confirmed = {str(p.line.pk): str(p.quote.unit_price.amount) for p in priced.lines}
        order, _ = do_checkout(user, customer, token=new_checkout_token(), confirmed=confirmed)
        return order


def order_rows_for(reseller, customer, cloud_account, owner, marker: str) -> dict:
    """One row of every cart/order/subscription model for `reseller`, carrying `marker` where it is text
    (for the tenancy matrix's build_tenant). The catalog rows are platform-level, so they carry no marker."""
    from datetime import date

    from marketplace.models import (
        Cart,
        CartLine,
        LicenseAssignment,
        LicenseCharge,
        Order,
        OrderCounter,
        OrderLine,
        StatusChange,
        Subscription,
        SubscriptionAddOn,
    )

    low = marker.lower()
    provider = ProviderFactory(code=cloud_account.provider)
    product = ProductFactory(provider=provider, name=f"Matrix product {reseller.slug}")
    plan = PlanFactory(product=product, sku=f"MX-{reseller.slug}", name=f"Matrix plan {reseller.slug}")
    addon = AddOnFactory(product=product, sku=f"MXA-{reseller.slug}", name=f"Matrix add-on {reseller.slug}")
    addon.plans.add(plan)
    money = {"currency": "USD", "unit_price": Decimal("12.00")}
    with tenant_scope(reseller):
        cart = Cart.objects.create(user=owner, customer=customer)
        line = CartLine.objects.create(cart=cart, plan=plan, quantity=3)
        counter = OrderCounter.objects.create(year=2026, last_number=1)
        order = Order.objects.create(
            customer=customer, number="O-2026-00001", checkout_token=uuid.uuid4(), currency="USD",
            total=Decimal("36.00"), placed_by=owner, placed_by_label=f"{marker} Owner",
        )  # fmt: skip
        sub = Subscription.objects.create(
            customer=customer, order=order, plan=plan, provider=provider, product_type=ProductType.LICENSE,
            quantity=3, unit_cost=Decimal("10"), term=BillingTerm.ANNUAL, billing_frequency="monthly",
            start_date=date(2026, 1, 1), renewal_date=date(2027, 1, 1), status=Subscription.Status.ACTIVE,
            failure_reason=f"{marker} note", **money,
        )  # fmt: skip
        order_line = OrderLine.objects.create(
            order=order, subscription=sub, plan=plan, sku=plan.sku, description=f"{marker} line", quantity=3,
            amount=Decimal("36.00"), cost=Decimal("30"), pricing_explanation=f"{marker} pricing", **money,
        )  # fmt: skip
        extra = SubscriptionAddOn.objects.create(subscription=sub, addon=addon, quantity=1, unit_cost=Decimal("2"),
                                                 **money)  # fmt: skip
        change = StatusChange.objects.create(subscription=sub, after="active", note=f"{marker} provisioned")
        assignment = LicenseAssignment.objects.create(subscription=sub, email=f"{low}-user@example.com")
        charge = LicenseCharge.objects.create(
            subscription=sub, kind=LicenseCharge.Kind.PRORATION, quantity_before=2, quantity_after=3,
            effective_on=date(2026, 6, 1), amount=Decimal("6.00"), **money,
        )  # fmt: skip
    return {
        Cart: cart, CartLine: line, OrderCounter: counter, Order: order, Subscription: sub, OrderLine: order_line,
        SubscriptionAddOn: extra, StatusChange: change, LicenseAssignment: assignment, LicenseCharge: charge,
    }  # fmt: skip
