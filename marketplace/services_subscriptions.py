"""Managing a subscription: license count, assignments, add-ons, auto-renew, cancel.

Every change locks the subscription row (select_for_update) and the license count form carries the
count the user saw, so two users changing the same subscription at once never lose an update: the second
waits for the first, then is refused with a clear message if what it saw has changed.
"""

import uuid
from datetime import date
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.http import Http404
from django.utils import timezone

from billing.pricing import PricingError, price_for
from customer360.money import Money, quantize
from customers.activity import record_activity

from .models import (
    BillingTerm,
    LicenseAssignment,
    LicenseCharge,
    Order,
    OrderLine,
    ProductType,
    Subscription,
    SubscriptionAddOn,
)
from .services import access_addon
from .services_orders import S, _order_line, add_months, do_transition, in_currency, next_order_number

TERM_MONTHS = {BillingTerm.MONTHLY: 1, BillingTerm.ANNUAL: 12, BillingTerm.THREE_YEAR: 36}
DECREASE_AT_RENEWAL = {BillingTerm.ANNUAL, BillingTerm.THREE_YEAR}


def access_subscription(customer, subscription_id) -> Subscription:
    try:
        return Subscription.objects.select_related("plan__product", "provider", "order", "cloud_account").get(
            pk=subscription_id, customer=customer
        )
    except (Subscription.DoesNotExist, ValueError, ValidationError) as exc:
        raise Http404("No such subscription") from exc


def _locked(sub: Subscription) -> Subscription:
    return Subscription.objects.select_for_update().select_related("plan__product", "customer").get(pk=sub.pk)


def _check_active(sub: Subscription) -> None:
    if sub.status != S.ACTIVE:
        raise ValidationError(
            f"Only active subscriptions can be changed; this one is {sub.get_status_display().lower()}."
        )


def period_start(sub: Subscription) -> date:
    """The start of the current term period: the renewal date moved back by one term."""
    return max(add_months(sub.renewal_date, -TERM_MONTHS[sub.term]), sub.start_date)


def proration(sub: Subscription, unit_price, added: int, today: date) -> tuple[int, int, object]:
    """(days charged, days in the period, amount) for `added` licenses from today to the renewal date."""
    start = period_start(sub)
    period_days = max((sub.renewal_date - start).days, 1)
    days = max(min((sub.renewal_date - today).days, period_days), 0)
    amount = quantize(unit_price * added * days / period_days, sub.currency)
    return days, period_days, amount


@transaction.atomic
def do_change_license_count(actor, sub: Subscription, new_quantity: int, *, seen_quantity: int, today=None):
    """Increase now with a prorated charge recorded for billing; decrease never below the assigned
    licenses, at the renewal date for annual terms. Returns the LicenseCharge recorded (or None)."""
    today = today or timezone.localdate()
    sub = _locked(sub)
    _check_active(sub)
    if sub.product_type != ProductType.LICENSE or sub.renewal_date is None:
        raise ValidationError({"quantity": "Only license subscriptions have a license count."})
    if seen_quantity != sub.quantity:
        raise ValidationError(
            {
                "quantity": f"Someone changed the license count to {sub.quantity} meanwhile; review and try again."
            }
        )
    if new_quantity is None or new_quantity < 1:
        raise ValidationError({"quantity": "Enter a license count of at least 1."})
    sub.plan.check_quantity(new_quantity)
    if new_quantity == sub.quantity:
        raise ValidationError({"quantity": f"The subscription already has {new_quantity} licenses."})
    before = sub.quantity
    if new_quantity > before:
        added = new_quantity - before
        quote = price_for(sub.customer, sub.plan, today, added, sub.cloud_account)
        days, period_days, amount = proration(sub, quote.unit_price.amount, added, today)
        charge = LicenseCharge.objects.create(
            subscription=sub, kind=LicenseCharge.Kind.PRORATION, quantity_before=before, quantity_after=new_quantity,
            effective_on=today, days_charged=days, period_days=period_days, currency=quote.currency,
            unit_price=quote.unit_price.amount, amount=amount,
        )  # fmt: skip
        sub.quantity, sub.scheduled_quantity = new_quantity, None
        sub.save(update_fields=["quantity", "scheduled_quantity"])
        message = f"{sub.plan.name}: {before} → {new_quantity} licenses, prorated charge {Money(amount, charge.currency)}"
        changes = {"quantity": [before, new_quantity], "prorated_charge": [None, str(amount)]}
    else:
        assigned = sub.assignments.count()
        if new_quantity < assigned:
            raise ValidationError(
                {
                    "quantity": f"{assigned} licenses are assigned; unassign some before going below {assigned}."
                }
            )
        scheduled = sub.term in DECREASE_AT_RENEWAL
        effective = sub.renewal_date if scheduled else today
        charge = LicenseCharge.objects.create(
            subscription=sub, kind=LicenseCharge.Kind.SCHEDULED_DECREASE if scheduled else LicenseCharge.Kind.DECREASE,
            quantity_before=before, quantity_after=new_quantity, effective_on=effective, currency=sub.currency,
            unit_price=sub.unit_price, amount=0,
        )  # fmt: skip
        if scheduled:
            before_scheduled, sub.scheduled_quantity = sub.scheduled_quantity, new_quantity
            sub.save(update_fields=["scheduled_quantity"])
            message = f"{sub.plan.name}: decrease to {new_quantity} licenses scheduled for {effective}"
            changes = {"scheduled_quantity": [before_scheduled, new_quantity]}
        else:
            sub.quantity, sub.scheduled_quantity = new_quantity, None
            sub.save(update_fields=["quantity", "scheduled_quantity"])
            message = f"{sub.plan.name}: {before} → {new_quantity} licenses"
            changes = {"quantity": [before, new_quantity]}
    record_activity(actor, "subscription.licenses", message, obj=sub, customer=sub.customer, changes=changes)
    return charge


@transaction.atomic
def do_assign_license(actor, sub: Subscription, email: str) -> LicenseAssignment:
    email = (email or "").strip()
    try:
        if len(email) > 254:  # the column's length; validate_email allows longer
            raise ValidationError("too long")
        validate_email(email)
    except ValidationError as exc:
        raise ValidationError({"email": f"'{email}' is not a valid email address."}) from exc
    sub = _locked(sub)
    _check_active(sub)
    if sub.product_type != ProductType.LICENSE:
        raise ValidationError({"email": "Only license subscriptions have licenses to assign."})
    if sub.assignments.filter(email__iexact=email).exists():
        raise ValidationError({"email": f"{email} already has a license of this subscription."})
    used = sub.assignments.count()
    if used >= sub.quantity:
        raise ValidationError({"email": f"All {sub.quantity} licenses are assigned; add licenses first."})
    assignment = LicenseAssignment.objects.create(subscription=sub, email=email)
    record_activity(
        actor, "subscription.assigned", f"Assigned a {sub.plan.name} license to {email}", obj=sub,
        customer=sub.customer, changes={"assigned": [used, used + 1], "email": [None, email]},
    )  # fmt: skip
    return assignment


@transaction.atomic
def do_unassign_license(actor, sub: Subscription, assignment_id) -> None:
    sub = _locked(sub)
    assignment = LicenseAssignment.objects.filter(subscription=sub, pk=assignment_id).first()
    if assignment is None:
        raise Http404("No such assignment")
    used = sub.assignments.count()
    assignment.delete()
    record_activity(
        actor, "subscription.unassigned", f"Unassigned the {sub.plan.name} license of {assignment.email}",
        obj=sub, customer=sub.customer, changes={"assigned": [used, used - 1], "email": [assignment.email, None]},
    )  # fmt: skip


@transaction.atomic
def do_buy_addon(actor, sub: Subscription, addon_id, quantity: int, today=None) -> Order:
    """Buy an add-on for an active subscription: an order of one line at today's price for the customer."""
    today = today or timezone.localdate()
    sub = _locked(sub)
    _check_active(sub)
    try:
        addon = access_addon(addon_id)
    except Exception as exc:  # DoesNotExist, a malformed id
        raise ValidationError({"addon": "Choose one of the plan's add-ons."}) from exc
    if not addon.plans.filter(pk=sub.plan_id).exists():
        raise ValidationError({"addon": f"{addon.name} does not attach to {sub.plan.name}."})
    if quantity is None or quantity < 1:
        raise ValidationError({"quantity": "Enter a quantity of at least 1."})
    quote = price_for(sub.customer, addon, today, quantity, sub.cloud_account)
    customer = sub.customer
    try:
        over = in_currency(quote.amount, customer.currency, today).amount > customer.credit_limit
    except PricingError as exc:
        raise ValidationError({"quantity": f"The credit limit cannot be checked: {exc}"}) from exc
    if over:
        limit = Money(customer.credit_limit, customer.currency)
        raise ValidationError({"quantity": f"{quote.amount} is over the credit limit of {limit}."})
    order = Order.objects.create(
        customer=customer, number=next_order_number(today), checkout_token=uuid.uuid4(), currency=quote.currency,
        total=quote.amount.amount, placed_by=actor if getattr(actor, "pk", None) else None,
        placed_by_label=str(actor or "system"), status=Order.Status.COMPLETED,
    )  # fmt: skip
    OrderLine.objects.bulk_create([_order_line(order, sub, sub.plan, addon, quantity, quote)])
    SubscriptionAddOn.objects.create(
        subscription=sub, addon=addon, quantity=quantity, currency=quote.currency, unit_price=quote.unit_price.amount,
        unit_cost=quantize(quote.cost.amount / quantity, quote.currency, Decimal("0.0001")),
    )  # fmt: skip
    record_activity(
        actor, "subscription.addon", f"Bought {quantity} x {addon.name} for {sub.plan.name} ({order.number})",
        obj=sub, customer=customer, changes={"addon": [None, addon.sku], "amount": [None, str(quote.amount)]},
    )  # fmt: skip
    return order


@transaction.atomic
def do_set_auto_renew(actor, sub: Subscription, value: bool) -> Subscription:
    sub = _locked(sub)
    _check_active(sub)
    if sub.auto_renew != value:
        sub.auto_renew = value
        sub.save(update_fields=["auto_renew"])
        record_activity(
            actor, "subscription.auto_renew", f"{sub.plan.name}: auto-renew {'on' if value else 'off'}",
            obj=sub, customer=sub.customer, changes={"auto_renew": [not value, value]},
        )  # fmt: skip
    return sub


def do_cancel_subscription(actor, sub: Subscription) -> Subscription:
    sub, moved = do_transition(sub, S.CANCELLED, actor=actor, note="cancelled by the reseller")
    if not moved:
        raise ValidationError(f"A {sub.get_status_display().lower()} subscription cannot be cancelled.")
    return sub


@transaction.atomic
def do_renew_or_expire(sub: Subscription, today: date) -> str:
    """At (or after) the renewal date: auto-renewing subscriptions start a new term with any scheduled
    decrease applied; the others expire. Returns what happened ("renewed", "expired" or "" if not due)."""
    sub = _locked(sub)
    if sub.status != S.ACTIVE or sub.renewal_date is None or sub.renewal_date > today:
        return ""
    if not sub.auto_renew:
        do_transition(sub, S.EXPIRED, note=f"term ended {sub.renewal_date} without auto-renew")
        return "expired"
    before = {"quantity": sub.quantity, "renewal_date": sub.renewal_date}
    while sub.renewal_date <= today:
        sub.renewal_date = add_months(sub.renewal_date, TERM_MONTHS[sub.term])
    if sub.scheduled_quantity:  # never below the licenses assigned since the decrease was scheduled
        sub.quantity = max(sub.scheduled_quantity, sub.assignments.count())
        sub.scheduled_quantity = None
    sub.save(update_fields=["quantity", "scheduled_quantity", "renewal_date"])
    changes = {
        "renewal_date": [before["renewal_date"].isoformat(), sub.renewal_date.isoformat()],
        **({"quantity": [before["quantity"], sub.quantity]} if sub.quantity != before["quantity"] else {}),
    }
    record_activity(
        None, "subscription.renewed", f"{sub.plan.name} renewed until {sub.renewal_date}", obj=sub,
        customer=sub.customer, changes=changes,
    )  # fmt: skip
    return "renewed"


def due_renewals(today: date):
    return Subscription.objects.filter(status=S.ACTIVE, renewal_date__lte=today).order_by(
        "renewal_date", "pk"
    )
