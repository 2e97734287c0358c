"""Demo orders and subscriptions, after the demo catalog (call after seed_catalog in seed_demo).

`seed_orders(seed)` places a few orders for the first customers of every reseller through the real
services (cart, checkout at the pricebook's prices, provisioning transitions), so Managed Products,
Provider Insights and Purchased Products have something to show. `seed_bulk_subscriptions()` is the
benchmark's path to 10,000 subscriptions on one customer: every price still comes from
billing.pricing.price_for (once per plan), the rows are written with bulk_create.
"""

import random
import uuid
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from accounts.models import Reseller, Role, User
from billing.pricing import PricingError, price_for
from customer360.money import quantize
from customer360.tenancy import tenant_scope
from customers.models import Customer

from .models import Order, OrderLine, Plan, ProductType, StatusChange, Subscription
from .services import authorized_providers
from .services_cart import access_cart, cart_lines, do_add_to_cart, price_cart
from .services_orders import (
    S,
    do_checkout,
    do_settle_order,
    do_transition,
    next_order_number,
    refresh_active_subscription_count,
    term_end,
)


def _license_plans(rng, count):
    plans = list(
        Plan.objects.filter(
            is_active=True,
            product__type=ProductType.LICENSE,
            product__provider__in=authorized_providers(),
            max_quantity__isnull=True,
        )
        .select_related("product__provider")
        .order_by("sku")
    )
    return rng.sample(plans, min(count, len(plans)))


def seed_orders(seed: int, customers_per_reseller: int = 5) -> dict:
    """A few orders per reseller (2-4 plans each), provisioned; one subscription in five failed."""
    totals = {"orders": 0, "subscriptions": 0}
    for reseller in Reseller.objects.order_by("slug"):
        rng = random.Random(f"{seed}/{reseller.slug}/orders")
        user = (
            User.objects.filter(reseller=reseller, role=Role.SALES).first()
            or User.objects.filter(reseller=reseller).first()
        )
        if user is None:
            continue
        with tenant_scope(reseller), transaction.atomic():
            customers = Customer.objects.filter(credit_limit__gt=0, status="active").order_by("name")
            for customer in customers[:customers_per_reseller]:
                for plan in _license_plans(rng, rng.randint(2, 4)):
                    try:
                        do_add_to_cart(user, customer, plan_id=plan.pk, quantity=rng.randint(5, 40))
                    except Exception:  # a plan this customer's pricebook cannot price: leave it out
                        continue
                priced = price_cart(customer, cart_lines(access_cart(user, customer)))
                confirmed = {str(p.line.pk): str(p.quote.unit_price.amount) for p in priced.lines if p.quote}
                try:
                    order, _ = do_checkout(user, customer, token=str(uuid.uuid4()), confirmed=confirmed)
                except Exception:  # over the credit limit, nothing priced: an empty demo customer
                    continue
                for sub in order.subscriptions.all():
                    ok = rng.random() > 0.2
                    do_transition(sub, S.ACTIVE if ok else S.FAILED,
                                  note="provisioned (demo)" if ok else "provider refused (demo)")  # fmt: skip
                    totals["subscriptions"] += 1
                do_settle_order(order)
                totals["orders"] += 1
    return totals


def unit_cost(quote):
    return quantize(quote.cost.amount / quote.quantity, quote.currency, Decimal("0.0001"))


def seed_bulk_subscriptions(customer, count: int, *, seed: int = 1, per_order: int = 50) -> int:
    """`count` active subscriptions for one customer in orders of `per_order` lines (benchmarks)."""
    rng = random.Random(f"{seed}/bulk/{customer.pk}")
    today = timezone.localdate()
    with tenant_scope(customer.reseller_id), transaction.atomic():
        quotes = {}
        for plan in _license_plans(rng, 60):
            try:
                quotes[plan] = price_for(customer, plan, today, plan.min_quantity)
            except (PricingError, ValidationError):
                continue
        plans = list(quotes)
        made = 0
        while made < count:
            n = min(per_order, count - made)
            picks = [(p, p.min_quantity + rng.randint(0, 49)) for p in (rng.choice(plans) for _ in range(n))]
            picks = [(p, min(q, p.max_quantity or q)) for p, q in picks]
            currency = quotes[picks[0][0]].currency
            picks = [(p, q) for p, q in picks if quotes[p].currency == currency]
            total = sum(quotes[p].unit_price.amount * q for p, q in picks)
            order = Order.objects.create(
                customer=customer, number=next_order_number(today), checkout_token=uuid.uuid4(), currency=currency,
                total=total, placed_by_label="benchmark", status=Order.Status.COMPLETED,
            )  # fmt: skip
            subs = Subscription.objects.bulk_create([
                Subscription(
                    customer=customer, order=order, plan=p, provider=p.product.provider, product_type=p.product.type,
                    quantity=q, currency=currency, unit_price=quotes[p].unit_price.amount,
                    unit_cost=unit_cost(quotes[p]), term=p.billing_term, billing_frequency=p.billing_frequency,
                    start_date=today, renewal_date=term_end(today, p.billing_term), status=S.ACTIVE,
                )
                for p, q in picks
            ])  # fmt: skip
            OrderLine.objects.bulk_create([
                OrderLine(
                    order=order, subscription=s, plan=s.plan, sku=s.plan.sku, description=s.plan.name,
                    quantity=s.quantity, currency=currency, unit_price=s.unit_price,
                    amount=s.unit_price * s.quantity, cost=s.unit_cost * s.quantity,
                    pricing_explanation=quotes[s.plan].explanation,
                )
                for s in subs
            ])  # fmt: skip
            StatusChange.objects.bulk_create(
                [StatusChange(subscription=s, after=S.ACTIVE, note="benchmark data") for s in subs]
            )
            made += len(subs)
        refresh_active_subscription_count(customer.pk)
    return made
