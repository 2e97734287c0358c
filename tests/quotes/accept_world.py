"""Sent quotes for the accept, convert, expiry and inquiry tests: the marketplace's Shop catalog (m365
licenses with an add-on, azure consumption; the customer's pricebook marks cost up 20 %), a quote with
two scenarios written as the builder writes them, and "sent" as quotes.services_send freezes it (its
build_snapshot), without rendering a PDF or emailing."""

import datetime
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from accounts.models import Role
from customer360.tenancy import tenant_scope
from quotes.models import Lead, Quote, QuoteLine, QuoteRevision, QuoteScenario, QuoteSection
from quotes.services import line_amount, next_quote_number
from quotes.services_accept import make_token

from ..billing.factories import AssignmentFactory, PricebookFactory, RuleFactory
from ..factories import CloudAccountFactory, CustomerFactory, UserFactory
from ..marketplace.factories import authorize
from ..marketplace.factories_orders import Shop


class QuoteWorld:
    def __init__(self, reseller, *, credit_limit=Decimal("10000.00"), catalog=None):
        """`catalog`: another QuoteWorld whose catalog this reseller sells too (the catalog is platform-wide)."""
        self.reseller = reseller
        self.owner = UserFactory(reseller=reseller, role=Role.OWNER, full_name="Olive Owner")
        if catalog is None:
            self.shop = Shop(reseller, credit_limit=credit_limit, user=self.owner)
        else:
            self.shop = SecondShop(reseller, catalog.shop, credit_limit=credit_limit, user=self.owner)
        self.customer = self.shop.customer

    def scope(self):
        return tenant_scope(self.reseller)

    def lead(self, **fields) -> Lead:
        values = {"company_name": "Hooli Prospects", "contact_name": "Gavin B", "contact_email": "gavin@hooli.example",
                  "currency": "USD", "city": "Palo Alto", "country": "US"}  # fmt: skip
        values.update(fields)
        with self.scope():
            return Lead.objects.create(**values)

    def quote(self, *, lead=None, valid_until=None, scenarios=None, name="Office for Initech") -> Quote:
        """A draft with scenarios {name: [(item, quantity, discount %), ...]} (two by default)."""
        shop = self.shop
        scenarios = scenarios or {
            "Business Standard, annual": [(shop.annual, 10, Decimal("10")), (shop.addon, 10, Decimal("0"))],
            "Business Standard, monthly": [(shop.monthly, 10, Decimal("0"))],
        }
        today = timezone.localdate()
        with self.scope(), transaction.atomic():
            quote = Quote.objects.create(
                number=next_quote_number(today), customer=None if lead else self.customer, lead=lead,
                category=shop.m365, name=name, currency="USD", created_by=self.owner, step=Quote.Step.SUMMARY,
                valid_until=valid_until or today + datetime.timedelta(days=30), terms="Net 30.",
            )  # fmt: skip
            for position, (scenario_name, lines) in enumerate(scenarios.items()):
                scenario = QuoteScenario.objects.create(quote=quote, name=scenario_name, position=position)
                section = QuoteSection.objects.create(scenario=scenario, name="Licenses", position=0)
                for n, (item, quantity, discount) in enumerate(lines):
                    self.line(section, item, quantity, discount, position=n)
        return quote

    def line(self, section, item, quantity, discount=Decimal(0), position=0) -> QuoteLine:
        """A line priced as the customer's pricebook does (cost + 20 %)."""
        from marketplace.models import AddOn

        plan = item.plans.order_by("pk").first() if isinstance(item, AddOn) else item
        unit = (item.unit_cost * Decimal("1.2")).quantize(Decimal("0.01"))
        return QuoteLine.objects.create(
            section=section, plan=plan, addon=item if isinstance(item, AddOn) else None, description=item.name,
            sku=item.sku, quantity=quantity, term=plan.billing_term, billing_frequency=plan.billing_frequency,
            currency="USD", list_price=item.list_price, unit_price=unit, unit_cost=item.unit_cost,
            discount_percent=discount, amount=line_amount(unit, quantity, discount, "USD"), position=position,
        )  # fmt: skip

    def send(self, quote: Quote) -> QuoteRevision:
        """Freeze the working revision as services_send does (snapshot, status SENT), minus PDF and email."""
        from quotes.services_send import build_snapshot

        with self.scope():
            quote = Quote.objects.select_related("customer", "lead", "reseller").get(pk=quote.pk)
            snapshot = build_snapshot(quote, accept_link="")
            revision = QuoteRevision.objects.create(
                quote=quote, number=quote.revision, snapshot=snapshot, total=Decimal(snapshot["scenarios"][0]["total"]),
                currency=quote.currency, sent_by=self.owner, recipient_email="buyer@initech.example",
                delivery=QuoteRevision.Delivery.SENT,
            )  # fmt: skip
            Quote.objects.filter(pk=quote.pk).update(status=Quote.Status.SENT)
        return revision

    def sent_quote(self, **kwargs) -> tuple[Quote, str]:
        """A sent quote and its accept token."""
        quote = self.quote(**kwargs)
        self.send(quote)
        quote = self.reload(quote)
        return quote, make_token(quote)

    def reload(self, quote) -> Quote:
        with self.scope():
            return Quote.objects.select_related("customer", "lead", "order", "accepted_scenario").get(
                pk=quote.pk
            )

    def scenario(self, quote, index=0) -> QuoteScenario:
        with self.scope():
            return QuoteScenario.objects.filter(quote=quote).order_by("position")[index]


class SecondShop:
    """Shop's catalog, sold by another reseller to its own customer (same 20 % markup)."""

    def __init__(self, reseller, shop: Shop, *, credit_limit, user):
        from billing.models import PricebookAssignment
        from billing.models_pricebook import Method, Scope
        from customers.models import CloudProvider

        for name in ("m365", "azure", "product", "annual", "monthly", "addon", "compute", "azure_plan"):
            setattr(self, name, getattr(shop, name))
        self.reseller, self.user = reseller, user
        authorize(reseller, shop.m365, shop.azure)
        self.customer = CustomerFactory(reseller=reseller, name="Globex Customer", credit_limit=credit_limit)
        self.azure_account = CloudAccountFactory(customer=self.customer, provider=CloudProvider.AZURE,
                                                 account_id="99999999-2222-3333-4444-555555555555")  # fmt: skip
        book = PricebookFactory(reseller=reseller, provider=shop.m365, name="Globex M365")
        RuleFactory(pricebook=book, scope_type=Scope.PROVIDER, method=Method.MARKUP, value=Decimal("20"))
        AssignmentFactory(pricebook=book, customer=self.customer, level=PricebookAssignment.Level.CUSTOMER)
