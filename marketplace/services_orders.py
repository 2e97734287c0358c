"""Checkout, orders and the subscription state machine.

Checkout re-prices every cart line (billing.pricing), shows the user any change, checks quantities,
cloud accounts and the credit limit, and then, in one transaction, numbers the order per reseller,
writes its lines at the confirmed prices and one subscription per plan line. The checkout token that
the confirmation form carries is unique on the order, so a second submit returns the first order.
place_order() is the part shared with a quote's conversion (quotes.services_convert): everything after
the lines are priced.
"""

import calendar
import uuid
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F

from billing.pricing import PricingError
from customer360.money import Money, quantize
from customers.activity import record_activity
from customers.models import Alert, Customer

from .models import (
    BillingTerm,
    Cart,
    CartLine,
    Order,
    OrderCounter,
    OrderLine,
    ProductType,
    StatusChange,
    Subscription,
    SubscriptionAddOn,
)
from .services_cart import PricedCart, cart_lines, check_cloud_account, price_cart

S = Subscription.Status
# Subscription states and their allowed transitions, declared once; do_transition is the only way through.
TRANSITIONS = {
    S.PENDING: {S.ACTIVE, S.FAILED},
    S.FAILED: {S.PENDING},  # a retry
    S.ACTIVE: {S.CANCELLED, S.EXPIRED},
}
COUNTED = {S.ACTIVE}  # what Customer.active_subscription_count counts


class PricesChanged(Exception):
    """The cart's prices moved since the user confirmed them; carries the fresh pricing."""

    def __init__(self, priced: PricedCart, changed: list):
        super().__init__("Prices changed since you reviewed the order; please confirm the new prices.")
        self.priced = priced
        self.changed = changed


def term_end(start: date, term: str) -> date | None:
    months = {BillingTerm.MONTHLY: 1, BillingTerm.ANNUAL: 12, BillingTerm.THREE_YEAR: 36}.get(term)
    return add_months(start, months) if months else None


def add_months(day: date, months: int) -> date:
    """The same day `months` later (or earlier), clamped to the end of a shorter month."""
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def new_checkout_token() -> str:
    return str(uuid.uuid4())


def check_checkout(customer: Customer, priced: PricedCart) -> None:
    """Every reason the priced cart cannot be ordered, as one ValidationError (nothing is written)."""
    errors = list(priced.errors)
    if not priced.lines:
        errors.append("The cart is empty.")
    plans_in_cart = {p.line.plan_id for p in priced.lines if p.line.addon_id is None}
    for p in priced.lines:
        item = p.item
        if p.error:
            errors.append(f"{item.name}: {p.error}")
            continue
        if p.line.addon_id and p.line.plan_id not in plans_in_cart:
            errors.append(f"{item.name}: add it with its plan, or from the subscription in Managed Products.")
        if p.line.addon_id is None and p.line.plan.product.type == ProductType.CONSUMPTION:
            try:
                check_cloud_account(customer, p.line.plan, p.line.cloud_account_id)
            except ValidationError as exc:
                errors.extend(exc.messages)
    if not errors and priced.lines:
        limit = Money(customer.credit_limit, customer.currency)
        try:
            total = in_currency(priced.total, customer.currency, priced.lines[0].quote.on_date)
        except PricingError as exc:
            total = None
            errors.append(f"The credit limit cannot be checked: {exc}")
        if total is not None and total.amount > limit.amount:
            shown = str(priced.total) + (f" ({total})" if total.currency != priced.currency else "")
            errors.append(
                f"The order total {shown} is over {customer.name}'s credit limit of {limit}; "
                "raise the limit in Customer Information or order less."
            )
    if errors:
        raise ValidationError(errors)


def in_currency(money: Money, currency: str, on_date: date) -> Money:
    """`money` converted to `currency` through USD at the rates in effect on the date (billing's rates)."""
    from billing.pricing import exchange_rate

    if money.currency == currency:
        return money
    usd = money.amount / exchange_rate(money.currency, on_date)
    return Money(quantize(usd * exchange_rate(currency, on_date), currency), currency)


def _amount(text):
    """A confirmed price as posted back by the checkout page (anything else: not a price, so changed)."""
    try:
        amount = Decimal(text)
    except (InvalidOperation, TypeError, ValueError):
        return None
    return None if amount.is_nan() else amount


def _changed_prices(priced: PricedCart, confirmed: dict) -> list:
    """[(line, confirmed unit price, current unit price)] for each line whose price moved."""
    changed = []
    for p in priced.lines:
        seen = confirmed.get(str(p.line.pk))
        now = p.quote.unit_price.amount if p.quote else None
        if seen is None or now is None or _amount(seen) != now:
            changed.append((p.line, seen, now))
    if set(confirmed) - {str(p.line.pk) for p in priced.lines}:
        changed.append((None, None, None))  # a line was removed in another tab
    return changed


def next_order_number(on_date: date) -> str:
    """O-<year>-<5 digits>, per reseller: the counter row is locked until the order commits."""
    counter, _ = OrderCounter.objects.get_or_create(year=on_date.year)
    OrderCounter.objects.filter(pk=counter.pk).update(last_number=F("last_number") + 1)
    counter = OrderCounter.objects.select_for_update().get(pk=counter.pk)
    return f"O-{on_date.year}-{counter.last_number:05d}"


def do_checkout(user, customer: Customer, *, token: str, confirmed: dict, on_date=None) -> tuple[Order, bool]:
    """Place the order for the user's cart. Returns (order, created). The same token again returns the
    order it made (double click, back button, two tabs). Raises PricesChanged or ValidationError."""
    try:
        token = uuid.UUID(str(token))
    except ValueError as exc:
        raise ValidationError("This checkout form has expired; review the cart again.") from exc
    try:
        with transaction.atomic():
            return _checkout(user, customer, token, confirmed, on_date)
    except IntegrityError:
        existing = Order.objects.filter(checkout_token=token, customer=customer).first()
        if existing is None:
            raise
        return existing, False


def _checkout(user, customer, token, confirmed, on_date):
    """The cart-specific part of checkout: the locked cart, priced today, confirmed by the user."""
    cart = Cart.objects.select_for_update().filter(user=user, customer=customer).first()
    if cart is None:
        existing = existing_order(customer, token)
        if existing is not None:
            return existing, False
        raise ValidationError("The cart is empty.")
    priced = price_cart(customer, cart_lines(cart), on_date)

    def confirm(priced):
        changed = _changed_prices(priced, confirmed)
        if changed:
            raise PricesChanged(priced, changed)

    order, created = place_order(user, customer, token=token, priced=priced, source="cart", confirm=confirm)
    if created:
        CartLine.objects.filter(cart=cart).delete()
    return order, created


def existing_order(customer: Customer, token) -> Order | None:
    """The order a checkout token already made (None if none); another customer's token is refused."""
    existing = Order.objects.filter(checkout_token=token).first()
    if existing is not None and existing.customer_id != customer.pk:
        raise ValidationError("This checkout form belongs to another customer.")
    return existing


def place_order(
    user, customer: Customer, *, token, priced: PricedCart, source: str, confirm=None
) -> tuple[Order, bool]:
    """The one way an order is placed, shared by the cart's checkout and a quote's conversion: the
    token's order if it exists (idempotency), else check_checkout's validation, `confirm(priced)` (a
    last look before anything is written: the cart's price confirmation), the order numbered per
    reseller, one subscription per plan line, the order lines at the priced amounts, the activity log
    and the provisioning task. `source` says where the lines came from ("cart", "quote Q-2026-00042").
    Runs inside the caller's transaction; returns (order, created)."""
    from .tasks import provision_order

    existing = existing_order(customer, token)
    if existing is not None:
        return existing, False
    check_checkout(customer, priced)
    if confirm is not None:
        confirm(priced)
    today = priced.lines[0].quote.on_date
    order = Order.objects.create(
        customer=customer, number=next_order_number(today), checkout_token=token, currency=priced.currency,
        total=priced.total.amount, placed_by=user, placed_by_label=str(user),
    )  # fmt: skip
    subscriptions = {}
    for p in (p for p in priced.lines if p.line.addon_id is None):
        plan, quote = p.line.plan, p.quote
        sub = Subscription.objects.create(
            customer=customer, order=order, plan=plan, provider=plan.product.provider,
            product_type=plan.product.type, cloud_account=p.line.cloud_account, quantity=p.line.quantity,
            currency=quote.currency, unit_price=quote.unit_price.amount,
            unit_cost=quantize(quote.cost.amount / p.line.quantity, quote.currency, Decimal("0.0001")),
            term=plan.billing_term, billing_frequency=plan.billing_frequency, start_date=today,
            renewal_date=term_end(today, plan.billing_term),
        )  # fmt: skip
        StatusChange.objects.create(subscription=sub, after=S.PENDING, note=f"Ordered in {order.number}",
                                    actor_label=str(user))  # fmt: skip
        subscriptions[plan.pk] = sub
    lines = []
    for p in priced.lines:
        sub = subscriptions[p.line.plan_id]
        if p.line.addon_id:
            SubscriptionAddOn.objects.create(
                subscription=sub, addon=p.line.addon, quantity=p.line.quantity, currency=p.quote.currency,
                unit_price=p.quote.unit_price.amount,
                unit_cost=quantize(p.quote.cost.amount / p.line.quantity, p.quote.currency, Decimal("0.0001")),
            )  # fmt: skip
        lines.append(_order_line(order, sub, p.line.plan, p.line.addon, p.line.quantity, p.quote))
    OrderLine.objects.bulk_create(lines)
    changes = {"status": [None, order.status], "total": [None, str(priced.total)]}
    origin = ""
    if source != "cart":
        origin, changes["source"] = f" from {source}", [None, source]
    record_activity(
        user, "order.placed", f"Placed order {order.number}{origin} ({len(lines)} lines, {priced.total})",
        obj=order, customer=customer, changes=changes,
    )  # fmt: skip
    provision_order.delay_on_commit(str(order.pk))
    return order, True


def _order_line(order, sub, plan, addon, quantity, quote) -> OrderLine:
    item = addon or plan
    return OrderLine(
        order=order, subscription=sub, plan=plan, addon=addon, sku=item.sku,
        description=f"{item.name}" + (f" (add-on to {plan.name})" if addon else ""), quantity=quantity,
        currency=quote.currency, unit_price=quote.unit_price.amount, amount=quote.amount.amount,
        cost=quote.cost.amount, pricing_explanation=quote.explanation,
    )  # fmt: skip


def refresh_active_subscription_count(customer_id) -> None:
    """Recompute the customer list's denormalised column from the subscriptions."""
    count = Subscription.objects.filter(customer_id=customer_id, status__in=COUNTED).count()
    Customer.objects.filter(pk=customer_id).update(active_subscription_count=count)


@transaction.atomic
def do_transition(
    sub: Subscription, new_status: str, *, actor=None, note: str = ""
) -> tuple[Subscription, bool]:
    """Move a subscription along TRANSITIONS (locked, logged, history kept). (sub, False) if not allowed."""
    sub = Subscription.objects.select_for_update().select_related("plan", "customer").get(pk=sub.pk)
    if new_status not in TRANSITIONS.get(sub.status, set()):
        return sub, False
    before = sub.status
    sub.status = new_status
    fields = ["status"]
    if new_status == S.FAILED:
        sub.failure_reason = note[:300]
        fields.append("failure_reason")
    sub.save(update_fields=fields)
    StatusChange.objects.create(
        subscription=sub, before=before, after=new_status, note=note[:300], actor_label=str(actor or "system")
    )
    record_activity(
        actor, "subscription.status", f"{sub.plan.name}: {sub.get_status_display().lower()}"
        + (f" ({note})" if note else ""), obj=sub, customer=sub.customer, changes={"status": [before, new_status]},
    )  # fmt: skip
    if before in COUNTED or new_status in COUNTED:
        refresh_active_subscription_count(sub.customer_id)
    return sub, True


@transaction.atomic
def do_settle_order(order: Order) -> Order:
    """Set the order's status from its subscriptions once none is pending; a failure raises one alert."""
    from customers.services import do_raise_alert

    order = Order.objects.select_for_update().select_related("customer").get(pk=order.pk)
    statuses = list(order.subscriptions.values_list("status", flat=True))
    if S.PENDING in statuses:
        return order
    failed = statuses.count(S.FAILED)
    new = (
        Order.Status.COMPLETED
        if not failed
        else Order.Status.FAILED
        if failed == len(statuses)
        else Order.Status.PARTIALLY_FAILED
    )
    if new == order.status:
        return order
    before, order.status = order.status, new
    order.save(update_fields=["status"])
    record_activity(
        None, "order.status", f"Order {order.number}: {order.get_status_display().lower()}", obj=order,
        customer=order.customer, changes={"status": [before, new]},
    )  # fmt: skip
    if failed:
        do_raise_alert(
            order.customer, kind=Alert.Kind.PROVISIONING_FAILED, severity=Alert.Severity.WARNING,
            title=f"Order {order.number}: {failed} of {len(statuses)} subscription(s) failed to provision",
            message="The provider refused the request; see the order in Managed Products.",
        )  # fmt: skip
    return order


def renewal_in(sub: Subscription, today: date) -> timedelta | None:
    return (sub.renewal_date - today) if sub.renewal_date else None
