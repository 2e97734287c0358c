"""Demo quotes (call after seed_orders in seed_demo): a handful per reseller through the real services, so
Quotes and Inquiries, the Open quotes cards and the quote reports have something to show: drafts, sent
quotes (with their PDF), one accepted and converted to an order, one declined, and an open inquiry.
Sent quotes are emailed by the demo worker like any other (to .data/mail when no SMTP server is set)."""

import random
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from accounts.models import Reseller, Role, User
from customer360.tenancy import tenant_scope
from customers.models import Contact, Customer
from marketplace.models import Plan, ProductType
from marketplace.services import authorized_providers

from .services import do_create_quote, do_reach_summary, do_update_basic_info
from .services_accept import access_quote_by_token, do_accept_quote, do_decline_quote, make_token
from .services_convert import do_convert_quote
from .services_inquiries import do_create_inquiry
from .services_lines import do_add_line
from .services_send import do_send_quote

# (status wanted, lines) for the first customers of each reseller, in this order.
PLAN = ["draft", "sent", "sent", "accepted", "declined", "draft", "sent"]


def _plans(rng, provider, count):
    plans = list(
        Plan.objects.filter(
            is_active=True,
            product__provider=provider,
            product__type=ProductType.LICENSE,
            max_quantity__isnull=True,
        ).order_by("sku")
    )
    return rng.sample(plans, min(count, len(plans)))


def _build(user, customer, provider, rng, today):
    quote = do_create_quote(user, category=provider, customer=customer, on_date=today)
    quote = do_update_basic_info(
        user, quote, name=f"{provider.name} licenses for {customer.name}"[:100],
        valid_until=today + timedelta(days=30), currency=customer.currency,
        notes="Prices as agreed on our call.", terms="Payment within 30 days of invoice.", on_date=today,
    )  # fmt: skip
    section = quote.scenarios.first().sections.first()
    added = 0
    for plan in _plans(rng, provider, rng.randint(2, 4)):
        try:
            do_add_line(
                user,
                quote,
                section,
                plan,
                quantity=rng.randint(5, 50),
                discount_percent=rng.choice([0, 0, 5]),
            )
            added += 1
        except Exception:  # a plan the customer's pricebook cannot price: leave it out
            continue
    if not added:
        return None
    return do_reach_summary(user, quote)


def seed_quotes(seed: int) -> dict:
    totals = {"quotes": 0, "converted": 0, "inquiries": 0}
    today = timezone.localdate()
    for reseller in Reseller.objects.order_by("slug"):
        rng = random.Random(f"{seed}/{reseller.slug}/quotes")
        user = User.objects.filter(reseller=reseller, role=Role.OWNER).first()
        if user is None:
            continue
        with tenant_scope(reseller):
            providers = list(authorized_providers().order_by("code"))
            customers = Customer.objects.filter(status="active", credit_limit__gt=0).order_by("-name")
            with_contact = customers.filter(pk__in=Contact.objects.filter(is_admin=True).values("customer"))
            for want, customer in zip(PLAN, with_contact[: len(PLAN)], strict=False):
                with transaction.atomic():
                    quote = _build(user, customer, rng.choice(providers), rng, today)
                    if quote is None:
                        continue
                    totals["quotes"] += 1
                    if want == "draft":
                        continue
                    admin = Contact.objects.filter(customer=customer, is_admin=True).first()
                    revision, _ = do_send_quote(
                        user, quote, to=admin.email, message="As discussed, our proposal."
                    )
                    access = access_quote_by_token(make_token(quote, revision.number), today=today)
                    contact = admin.name
                    if want == "accepted":
                        do_accept_quote(access, scenario_id=str(quote.scenarios.first().pk), name=contact)
                        try:
                            do_convert_quote(user, quote)
                            totals["converted"] += 1
                        except Exception:  # over the credit limit: the quote stays accepted
                            pass
                    elif want == "declined":
                        do_decline_quote(access, name=contact, reason="Budget moved to next quarter.")
            customer = customers.first()
            if customer is not None:
                do_create_inquiry(
                    user, customer, subject="Pricing for 200 extra seats",
                    details="Would a 12-month commitment lower the price per seat?",
                )  # fmt: skip
                totals["inquiries"] += 1
    return totals
