"""Quotes for the sending and PDF tests (test_pdf*.py, test_send.py): a small catalog, a customer with
an admin contact and a billing address (or a lead), and a quote of N lines written as the builder
writes them (amounts from quotes.services.line_amount)."""

import datetime
from decimal import Decimal

from django.utils import timezone

from accounts.models import Role
from customer360.tenancy import tenant_scope
from marketplace.models import BillingFrequency, BillingTerm, Plan
from quotes.models import Lead, Quote, QuoteLine, QuoteScenario, QuoteSection
from quotes.services import line_amount

from ..factories import ContactFactory, CustomerFactory, UserFactory
from ..marketplace.factories import PlanFactory, ProductFactory, ProviderFactory, authorize


class Catalog:
    def __init__(self, reseller):
        self.provider = ProviderFactory(code="m365", name="Microsoft 365")
        authorize(reseller, self.provider)
        self.annual = Plan.objects.filter(sku="BST-ANNUAL").first() or PlanFactory(
            product=ProductFactory(provider=self.provider, name="Business Standard"), sku="BST-ANNUAL", name="Business Standard (annual)", unit_cost=Decimal("10.00"),
            list_price=Decimal("12.50"), billing_term=BillingTerm.ANNUAL, billing_frequency=BillingFrequency.MONTHLY,
        )  # fmt: skip


def sender(reseller, role=Role.SALES):
    return UserFactory(
        reseller=reseller, role=role, full_name="Sam Seller", email=f"sam@{reseller.slug}.example"
    )


def customer_with_contact(reseller, *, email="pat@initech.example"):
    customer = CustomerFactory(
        reseller=reseller, name="Initech", address_line1="4120 Freidrich Lane", city="Austin", region="TX",
        postal_code="78744", country="US",
    )  # fmt: skip
    ContactFactory(customer=customer, name="Other Person", email="other@initech.example", is_admin=False)
    ContactFactory(customer=customer, name="Pat Billing", email=email, is_admin=True)
    return customer


def make_quote(
    reseller, owner, *, lines=3, scenarios=("Business Standard, annual",), customer=None, lead=None,
    valid_days=30, name="Office for Initech", description="Business Standard seats", notes="", terms="Net 30.",
) -> Quote:  # fmt: skip
    """A draft quote; each scenario gets one section holding `lines` lines (quantity 1..n, 12.00 each,
    10 % off every fifth line)."""
    catalog = Catalog(reseller)
    plan = catalog.annual
    with tenant_scope(reseller):
        if customer is None and lead is None:
            customer = customer_with_contact(reseller)
        quote = Quote.objects.create(
            number=f"Q-2026-{Quote.objects.count() + 42:05d}", customer=customer, lead=lead,
            category=catalog.provider, name=name, currency="USD", created_by=owner, step=Quote.Step.SUMMARY,
            valid_until=timezone.localdate() + datetime.timedelta(days=valid_days), notes=notes, terms=terms,
        )  # fmt: skip
        rows = []
        for position, scenario_name in enumerate(scenarios):
            scenario = QuoteScenario.objects.create(quote=quote, name=scenario_name, position=position)
            section = QuoteSection.objects.create(scenario=scenario, name="Licenses", position=0)
            for n in range(lines):
                discount = Decimal("10") if n % 5 == 4 else Decimal("0")
                rows.append(
                    QuoteLine(
                        reseller=reseller, section=section, plan=plan, description=f"{description} #{n + 1}",
                        sku=plan.sku, quantity=n + 1, term=plan.billing_term,
                        billing_frequency=plan.billing_frequency, currency="USD", list_price=plan.list_price,
                        unit_price=Decimal("12.00"), unit_cost=plan.unit_cost, discount_percent=discount,
                        amount=line_amount(Decimal("12.00"), n + 1, discount, "USD"), position=n,
                    )
                )  # fmt: skip
        QuoteLine.objects.bulk_create(rows)
    return quote


def make_lead(reseller, **fields) -> Lead:
    values = {"company_name": "Hooli Prospects", "contact_name": "Gavin Belson", "contact_email": "gavin@hooli.example",
              "address_line1": "1 Hacker Way", "city": "Palo Alto", "postal_code": "94301", "country": "US"}  # fmt: skip
    values.update(fields)
    with tenant_scope(reseller):
        return Lead.objects.create(**values)


class RecordingHandler:
    """An aiosmtpd handler that keeps every message it accepts; `replies` are answered to DATA first
    (e.g. ["451 4.3.0 Try again later"]), then "250 OK"; `always` answers every DATA with one reply."""

    def __init__(self, replies=(), always=None):
        self.replies = list(replies)
        self.always = always
        self.messages = []  # (envelope recipients, raw bytes)
        self.attempts = 0

    async def handle_DATA(self, server, session, envelope):
        self.attempts += 1
        if self.always:
            return self.always
        if self.replies:
            return self.replies.pop(0)
        self.messages.append((list(envelope.rcpt_tos), envelope.original_content or envelope.content))
        return "250 OK"


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class SmtpServer:
    """A real SMTP server (aiosmtpd) on 127.0.0.1 for one test; `settings` points Django's SMTP backend at it."""

    def __init__(self, handler, settings=None):
        from aiosmtpd.controller import Controller

        self.handler = handler
        self.port = free_port()
        self.controller = Controller(handler, hostname="127.0.0.1", port=self.port)
        if settings is not None:
            settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
            settings.EMAIL_HOST = "127.0.0.1"
            settings.EMAIL_PORT = self.port
            settings.EMAIL_USE_TLS = False
            settings.EMAIL_HOST_USER = ""
            settings.EMAIL_HOST_PASSWORD = ""

    def __enter__(self):
        self.controller.start()
        return self

    def __exit__(self, *exc):
        self.controller.stop()
