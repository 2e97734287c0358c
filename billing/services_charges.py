"""Charges and discounts of a customer: computing an item on a base amount, checks and logged writes.

compute_charge is what the invoice run calls once per item in effect, with the base (the spend in the
item's scope over the period, at customer price or at cost as the item says). A negative base (a month of
refunds) counts as no spend. Discounts come back negative, charges positive; caps bound the size.
"""

import re
from decimal import Decimal, InvalidOperation

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import ProtectedError, Q
from django.shortcuts import get_object_or_404

from customer360.money import Money, quantize
from customers.activity import changed_fields, record_activity, snapshot
from customers.models import CloudAccount, Customer
from marketplace.models import Subscription

from .models_charges import ChargeGroup, ChargeItem, ChargeKind, ChargeMethod, ChargeScope

ZERO = Decimal("0")
HUNDRED = Decimal("100")
ITEM_FIELDS = ["group", "name", "kind", "method", "rate", "amount", "tiers", "basis", "min_amount"]
ITEM_FIELDS += ["max_amount", "recurrence", "scope_type", "cloud_account", "subscription"]
ITEM_FIELDS += ["valid_from", "valid_until"]
_NUMBER = r"(-?\d[\d,]*(?:\.\d+)?)"
_BAND = re.compile(rf"^\s*{_NUMBER}\s*(?:-|–|to)\s*{_NUMBER}?\s*[:=]\s*{_NUMBER}\s*%?\s*$")


# --- Tiers ------------------------------------------------------------------------------------------------


def _decimal(text: str) -> Decimal:
    return Decimal(text.replace(",", ""))


def parse_tiers(text: str) -> list[dict]:
    """'0 - 1000: 5' per line -> [{"from": "0", "to": "1000", "rate": "5"}, …]; the last band may be
    open ('5000 - : 2'). Bands must start at 0, ascend and touch (no gap, no overlap); rates 0–100 %."""
    bands, errors = [], []
    lines = [line for line in (text or "").splitlines() if line.strip()]
    for n, line in enumerate(lines, 1):
        match = _BAND.match(line)
        if not match:
            errors.append(
                f'Line {n} "{line.strip()}": write a band as "from - to: rate", e.g. "0 - 1000: 5".'
            )
            continue
        try:
            low, high, rate = (None if g is None else _decimal(g) for g in match.groups())
        except InvalidOperation:
            errors.append(f"Line {n}: not a number.")
            continue
        bands.append((n, low, high, rate))
    if not errors and not bands:
        errors.append('Give at least one band, e.g. "0 - 1000: 5".')
    for i, (n, low, high, rate) in enumerate(bands):
        if rate < 0:
            errors.append(f"Line {n}: a rate can't be negative.")
        elif rate > HUNDRED:
            errors.append(f"Line {n}: a rate can't be over 100 %.")
        if low < 0:
            errors.append(f"Line {n}: a band can't start below 0.")
        if high is not None and high <= low:
            errors.append(f"Line {n}: the band ends at or before it starts.")
        if high is None and i < len(bands) - 1:
            errors.append(f"Line {n}: only the last band may be open-ended.")
        if i == 0 and low != 0:
            errors.append(f"Line {n}: the first band starts at 0.")
        if i > 0 and bands[i - 1][2] is not None:
            previous_high = bands[i - 1][2]
            if low < previous_high:
                errors.append(
                    f"Line {n}: bands must be in ascending order without overlapping ({low} < {previous_high})."
                )
            elif low > previous_high:
                errors.append(f"Line {n}: gap between {previous_high} and {low}; bands must touch.")
    if errors:
        raise ValidationError({"tiers": errors})
    return [
        {"from": str(low), "to": None if high is None else str(high), "rate": str(rate)}
        for _, low, high, rate in bands
    ]


def format_tiers(tiers: list[dict]) -> str:
    return "\n".join(f"{b['from']} - {b['to'] or ''}: {b['rate']}" for b in tiers or [])


def tiered_amount(tiers: list[dict], base: Decimal) -> Decimal:
    """Each band's rate on the part of `base` inside the band (progressive, like income tax)."""
    total = ZERO
    for band in tiers:
        low = Decimal(band["from"])
        high = None if band["to"] is None else Decimal(band["to"])
        top = base if high is None else min(base, high)
        if top > low:
            total += (top - low) * Decimal(band["rate"]) / HUNDRED
    return total


# --- Computing --------------------------------------------------------------------------------------------


def compute_charge(item: ChargeItem, base: Money) -> Money:
    """The item's amount on `base` (in the item's currency), rounded once, negative for a discount."""
    if base.currency != item.currency:
        raise ValueError(f"{item} is in {item.currency}; the base is in {base.currency}")
    spend = max(base.amount, ZERO)
    if item.method == ChargeMethod.PERCENTAGE:
        raw = spend * (item.rate or ZERO) / HUNDRED
    elif item.method == ChargeMethod.FIXED:
        raw = item.amount or ZERO
    else:
        raw = tiered_amount(item.tiers, spend)
    if item.min_amount is not None:
        raw = max(raw, item.min_amount)
    if item.max_amount is not None:
        raw = min(raw, item.max_amount)
    return Money(-raw if item.kind == ChargeKind.DISCOUNT else raw, item.currency)


# --- Lookups ----------------------------------------------------------------------------------------------


def access_charge_group(customer, group_id) -> ChargeGroup:
    return get_object_or_404(ChargeGroup.objects.filter(customer=customer), pk=group_id)


def access_charge_item(customer, item_id) -> ChargeItem:
    return get_object_or_404(ChargeItem.objects.filter(customer=customer).select_related("group"), pk=item_id)


def scope_accounts(customer):
    return CloudAccount.objects.filter(customer=customer).order_by("provider", "account_id")


def scope_subscriptions(customer):
    return Subscription.objects.filter(customer=customer).select_related("plan").order_by("-created_at")


# --- Checks and writes ------------------------------------------------------------------------------------


def _percent_error(value):
    if value is None:
        return None
    if value < 0:
        return "A rate can't be negative."
    if value > HUNDRED:
        return "A rate can't be over 100 %."
    return None


def normalise_item(item: ChargeItem) -> None:
    """Clear what the chosen method and scope don't use, so a stale value never prices anything."""
    if item.method != ChargeMethod.PERCENTAGE:
        item.rate = None
    if item.method != ChargeMethod.FIXED:
        item.amount = None
    if item.method != ChargeMethod.TIERED:
        item.tiers = []
    if item.scope_type != ChargeScope.CLOUD_ACCOUNT:
        item.cloud_account = None
    if item.scope_type != ChargeScope.SUBSCRIPTION:
        item.subscription = None
    item.currency = item.customer.currency
    item.set_scope_key()


def check_charge_item(item: ChargeItem) -> None:
    """Every reason an item can't be saved, on the field it concerns."""
    errors = {}
    if item.group_id and item.group.customer_id != item.customer_id:
        errors["group"] = "Choose one of this customer's groups."
    if item.method == ChargeMethod.PERCENTAGE:
        if item.rate is None:
            errors["rate"] = "Give the percentage."
        elif problem := _percent_error(item.rate):
            errors["rate"] = problem
    if item.method == ChargeMethod.FIXED:
        if item.amount is None:
            errors["amount"] = "Give the amount."
        elif item.amount < 0:
            errors["amount"] = "Give a positive amount; choose the kind Discount to take money off."
    if item.method == ChargeMethod.TIERED and not item.tiers:
        errors["tiers"] = 'Give at least one band, e.g. "0 - 1000: 5".'
    for field in ("amount", "min_amount", "max_amount"):
        value = getattr(item, field)
        if value is not None and field not in errors:
            if value < 0:
                errors[field] = "Caps and amounts can't be negative."
            elif quantize(value, item.currency) != value:
                errors[field] = f"Give whole {item.currency} minor units."
    if item.min_amount is not None and item.max_amount is not None and item.max_amount < item.min_amount:
        errors["max_amount"] = "The maximum is below the minimum."
    target = {ChargeScope.CLOUD_ACCOUNT: item.cloud_account, ChargeScope.SUBSCRIPTION: item.subscription}
    if item.scope_type in target:
        chosen = target[item.scope_type]
        field = item.scope_type
        if chosen is None:
            errors[field] = f"Choose the {'cloud account' if field == 'cloud_account' else 'subscription'}."
        elif chosen.customer_id != item.customer_id:
            errors[field] = "That belongs to another customer; choose one of this customer's."
    if item.valid_from and item.valid_until and item.valid_until < item.valid_from:
        errors["valid_until"] = "The end date is before the start date."
    elif item.valid_from and item.name and not errors:
        clash = (
            ChargeItem.objects.filter(customer_id=item.customer_id, name=item.name, scope_key=item.scope_key)
            .exclude(pk=item.pk)
            .filter(Q(valid_until__isnull=True) | Q(valid_until__gte=item.valid_from))
        )
        if item.valid_until is not None:
            clash = clash.filter(valid_from__lte=item.valid_until)
        other = clash.order_by("valid_from").first()
        if other is not None:
            until = other.valid_until.isoformat() if other.valid_until else "no end"
            errors["valid_from"] = (
                f'"{item.name}" on {item.scope_label.lower()} already runs from {other.valid_from.isoformat()} '
                f"to {until}; end it first or pick other dates."
            )
    if errors:
        raise ValidationError(errors)


def _snapshot(item) -> dict:
    values = snapshot(item, ITEM_FIELDS)
    values["tiers"] = format_tiers(item.tiers).replace("\n", "; ")  # readable in the activity log
    return values


@transaction.atomic
def do_save_charge_item(actor, item: ChargeItem) -> ChargeItem:
    created = item._state.adding
    before = {} if created else _snapshot(ChargeItem.objects.get(pk=item.pk))
    normalise_item(item)
    check_charge_item(item)
    try:
        with transaction.atomic():
            item.save()
    except IntegrityError as exc:  # the exclusion constraint, when a concurrent save slipped past the check
        raise ValidationError(
            {"valid_from": "An item of this name and scope already covers some of these dates."}
        ) from exc
    after = _snapshot(item)
    changes = (
        {k: [None, v] for k, v in after.items() if v not in (None, "", [])}
        if created
        else changed_fields(before, after)
    )
    if changes:
        record_activity(
            actor, "charge.created" if created else "charge.updated",
            f"{'Added' if created else 'Changed'} {item.get_kind_display().lower()} {item.name} ({item.group})",
            obj=item, customer=item.customer, changes=changes,
        )  # fmt: skip
    return item


@transaction.atomic
def do_delete_charge_item(actor, item: ChargeItem) -> None:
    # An invoice run's chunk holds its customers' rows while it writes lines naming their charge items (the
    # lines have no per-row foreign key, billing 0017): with the customer's row taken first, a delete waits
    # for such a run to commit and then sees its lines (ProtectedError below).
    list(Customer.objects.select_for_update().filter(pk=item.customer_id).values_list("pk", flat=True))
    record_activity(
        actor, "charge.deleted", f"Removed {item.get_kind_display().lower()} {item.name} ({item.group})",
        obj=item, customer=item.customer, changes={k: [v, None] for k, v in _snapshot(item).items() if v not in (None, "")},
    )  # fmt: skip
    try:
        with transaction.atomic():
            item.delete()
    except ProtectedError as exc:  # invoice lines point at it (billing.InvoiceLine.charge_item)
        raise ValidationError(
            f'{item.name} is on invoices already; set its "effective until" date to end it instead.'
        ) from exc


@transaction.atomic
def do_create_charge_group(actor, customer, name: str) -> ChargeGroup:
    name = (name or "").strip()
    if not name:
        raise ValidationError({"name": "Give the group a name."})
    if ChargeGroup.objects.filter(customer=customer, name__iexact=name).exists():
        raise ValidationError({"name": f'This customer already has a group "{name}".'})
    group = ChargeGroup.objects.create(customer=customer, name=name)
    record_activity(
        actor, "charge_group.created", f"Added charge group {name}", obj=group, customer=customer,
        changes={"name": [None, name]},
    )  # fmt: skip
    return group


@transaction.atomic
def do_delete_charge_group(actor, group: ChargeGroup) -> None:
    if group.items.exists():
        raise ValidationError("Remove the group's items first.")
    record_activity(
        actor, "charge_group.deleted", f"Removed charge group {group.name}", obj=group, customer=group.customer,
        changes={"name": [group.name, None]},
    )  # fmt: skip
    group.delete()
