"""Scenarios, sections and lines of a quote, their prices (billing.pricing) and the discount limits.

A line's unit price is what the recipient's pricebook gives on the day it is added or re-priced: the
customer's own pricebook, or for a lead the reseller's default one (billing.pricing falls back to it for
a customer with no assignment). It is converted to the quote's currency at that day's rates, and the
amount is always services.line_amount(), the one formula.
"""

import uuid
from decimal import Decimal, InvalidOperation

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from accounts.models import Role
from billing.pricing import BatchPricer, PricingError
from customer360.money import Money, quantize
from customer360.validators import check_no_nul
from customers.activity import changed_fields, record_activity
from customers.models import Customer
from marketplace.models import AddOn, Plan
from marketplace.services_orders import in_currency

from .models import DiscountLimit, Quote, QuoteLine, QuoteScenario, QuoteSection
from .services import HUNDRED, line_amount, lock_for_edit, touch

UNIT = Decimal("0.0001")  # the precision of per-unit cost and list price on a line
LIMIT_ROLES = [Role.OWNER, Role.SALES]  # the roles that write quotes, so the ones a limit applies to


# --- Discount limits ---------------------------------------------------------------------------------------


def discount_limit(role: str) -> Decimal:
    """The largest line discount `role` may give: the owner's row, else 100 % for the owner, 0 % for others."""
    row = DiscountLimit.objects.filter(role=role).values_list("max_percent", flat=True).first()
    if row is not None:
        return row
    return HUNDRED if role == Role.OWNER else Decimal(0)


def discount_limits() -> dict:
    """{role: max percent} for every role that writes quotes, defaults filled in (one query)."""
    rows = dict(DiscountLimit.objects.values_list("role", "max_percent"))
    return {role: rows.get(role, HUNDRED if role == Role.OWNER else Decimal(0)) for role in LIMIT_ROLES}


def check_discount(user, percent, *, field: str | None = "discount_percent", what: str = "") -> Decimal:
    """The discount as a Decimal if the user's role may give it; else a ValidationError on `field`."""
    try:
        percent = Decimal(percent or 0)
    except (InvalidOperation, TypeError) as exc:
        raise _error(field, f"{what}Enter the discount as a number of percent.") from exc
    if percent < 0 or percent > 100:
        raise _error(field, f"{what}A discount is between 0 and 100 %.")
    limit = discount_limit(user.role)
    if percent > limit:
        role = Role(user.role).label if user.role in Role.values else user.role
        raise _error(
            field,
            f"{what}A discount of {percent.normalize():f} % is over the {limit.normalize():f} % limit for the "
            f"{role} role. The reseller's owner sets the limits in Discount limits.",
        )
    return percent


def _error(field, message) -> ValidationError:
    return ValidationError({field: message}) if field else ValidationError(message)


@transaction.atomic
def do_set_discount_limits(user, limits: dict) -> dict:
    """Set {role: max percent}; only the reseller's owner may. Returns the changes."""
    if user.role != Role.OWNER:
        raise PermissionDenied("Only the reseller's owner can change discount limits.")
    errors = {}
    for role, value in limits.items():
        if role not in LIMIT_ROLES:
            errors[role] = "Discount limits apply to the owner and sales roles."
        elif value is None or not Decimal(0) <= Decimal(value) <= HUNDRED:
            errors[role] = "Enter a percentage between 0 and 100."
    if errors:
        raise ValidationError(errors)
    before = {role: str(v) for role, v in discount_limits().items()}
    for role, value in limits.items():
        DiscountLimit.objects.update_or_create(role=role, defaults={"max_percent": Decimal(value)})
    changes = changed_fields(before, {role: str(v) for role, v in discount_limits().items()})
    if changes:
        record_activity(user, "quote.discount_limits", "Quote discount limits changed", changes=changes)
    return changes


# --- Pricing -----------------------------------------------------------------------------------------------


def pricing_customer(quote: Quote) -> Customer:
    """Whom billing.pricing prices for. A lead has no Customer row: an unsaved customer of the reseller (its
    fresh id matches no customer-level assignment) makes billing.pricing fall back to the reseller's default
    pricebook, or list price in the quote's currency when there is none."""
    if quote.customer_id:
        return quote.customer
    return Customer(reseller_id=quote.reseller_id, currency=quote.currency, name=quote.recipient_name)


def priced_values(quote: Quote, pricer: BatchPricer, item, quantity, discount_percent) -> dict:
    """The QuoteLine fields that come from the price: unit, list and cost per unit in the quote's currency,
    the amount and the explanation. Raises ValidationError (quantity, authorization, no exchange rate)."""
    try:
        price = pricer.quote(item, quantity)
        day, currency = price.on_date, quote.currency
        unit = in_currency(price.unit_price, currency, day).amount
        list_unit = _per_unit(price.list_price, quantity, currency, day)
        cost_unit = _per_unit(price.cost, quantity, currency, day)
    except PricingError as exc:
        raise ValidationError(str(exc)) from exc
    except PermissionDenied as exc:  # ProviderNotAuthorized
        raise ValidationError(str(exc)) from exc
    explanation = price.explanation
    if price.currency != currency:
        explanation += f" Converted from {price.currency} to {currency} at the rates in effect on {day}."
    return {
        "currency": currency, "unit_price": unit, "list_price": list_unit, "unit_cost": cost_unit,
        "amount": line_amount(unit, quantity, discount_percent, currency), "pricing_explanation": explanation,
    }  # fmt: skip


def _per_unit(money: Money, quantity, currency: str, day) -> Decimal:
    unit = quantize(money.amount / Decimal(quantity), exp=UNIT)
    if money.currency == currency:
        return unit
    return in_currency(Money(unit, money.currency), currency, day).amount


def line_item(line: QuoteLine):
    return line.addon if line.addon_id else line.plan


def reprice_lines(quote: Quote, on_date=None) -> int:
    """Re-price every line of the quote from today's pricebook, in one pass. All or nothing: a line that
    cannot be priced any more is a ValidationError naming it. Returns how many lines changed."""
    lines = list(
        QuoteLine.objects.filter(section__scenario__quote=quote).select_related(
            "plan__product__provider", "addon__product__provider"
        )
    )
    if not lines:
        return 0
    pricer = BatchPricer(
        pricing_customer(quote), {line_item(x) for x in lines}, on_date or timezone.localdate()
    )
    errors, changed = [], 0
    fields = ["currency", "unit_price", "list_price", "unit_cost", "amount", "pricing_explanation"]
    for line in lines:
        try:
            values = priced_values(quote, pricer, line_item(line), line.quantity, line.discount_percent)
        except ValidationError as exc:
            errors.append(f"{line.description}: {' '.join(exc.messages)}")
            continue
        if any(getattr(line, k) != v for k, v in values.items() if k != "pricing_explanation"):
            changed += 1
        for k, v in values.items():
            setattr(line, k, v)
    if errors:
        raise ValidationError(errors)
    QuoteLine.objects.bulk_update(lines, fields)
    return changed


@transaction.atomic
def do_refresh_prices(user, quote: Quote, on_date=None) -> int:
    """ "Refresh prices": every line at today's price. Returns how many lines changed."""
    quote = lock_for_edit(user, quote)
    changed = reprice_lines(quote, on_date)
    touch(quote)
    record_activity(
        user, "quote.repriced", f"Quote {quote.number}: prices refreshed ({changed} changed)", obj=quote,
        customer=quote.customer,
    )  # fmt: skip
    return changed


# --- Lines -------------------------------------------------------------------------------------------------


def _plan_for_addon(addon: AddOn, scenario: QuoteScenario) -> Plan:
    """The plan an add-on line belongs to: one of its plans already in the scenario, else its first plan."""
    plans = addon.plans.filter(is_active=True).select_related("product__provider")
    in_scenario = plans.filter(pk__in=QuoteLine.objects.filter(section__scenario=scenario).values("plan_id"))
    plan = in_scenario.first() or plans.order_by("list_price", "sku").first()
    if plan is None:
        raise ValidationError({"item": f"{addon.name} attaches to no plan that is sold now."})
    return plan


def _check_quantity(quantity) -> int:
    try:
        quantity = int(quantity)
    except (TypeError, ValueError) as exc:
        raise ValidationError({"quantity": "Enter a whole number."}) from exc
    if quantity < 1:
        raise ValidationError({"quantity": "The quantity is at least 1."})
    return quantity


@transaction.atomic
def do_add_line(user, quote: Quote, section: QuoteSection, item, *, quantity=1, discount_percent=0,
                on_date=None) -> QuoteLine:  # fmt: skip
    """Add a plan or an add-on (of any provider the reseller is authorized for) to the section, priced
    for the recipient today. Field errors: item, quantity, discount_percent; nothing saved on error."""
    quantity = _check_quantity(quantity)
    discount = check_discount(user, discount_percent)
    if not isinstance(item, (Plan, AddOn)) or not item.is_active or not item.product.is_active:
        raise ValidationError({"item": "Choose a plan or add-on that is sold now."})
    quote = lock_for_edit(user, quote)
    plan = _plan_for_addon(item, section.scenario) if isinstance(item, AddOn) else item
    pricer = BatchPricer(pricing_customer(quote), [item], on_date or timezone.localdate())
    try:
        item.check_quantity(quantity)
        values = priced_values(quote, pricer, item, quantity, discount)
    except ValidationError as exc:
        raise ValidationError(
            exc.message_dict if hasattr(exc, "error_dict") else {"item": exc.messages}
        ) from exc
    position = (section.lines.aggregate(m=Max("position"))["m"] or 0) + 1
    line = QuoteLine.objects.create(
        section=section, plan=plan, addon=item if isinstance(item, AddOn) else None,
        description=f"{item.name} (add-on to {plan.name})" if isinstance(item, AddOn) else item.name,
        sku=item.sku, quantity=quantity, term=plan.billing_term, billing_frequency=plan.billing_frequency,
        discount_percent=discount, position=position, **values,
    )  # fmt: skip
    touch(quote)
    record_activity(
        user, "quote.line_added", f"Quote {quote.number}: {quantity} x {line.description} added", obj=quote,
        customer=quote.customer, changes={"line": [None, f"{quantity} x {line.sku} at {line.amount} {line.currency}"]},
    )  # fmt: skip
    return line


@transaction.atomic
def do_update_line(user, quote: Quote, line: QuoteLine, *, quantity, discount_percent) -> QuoteLine:
    """New quantity and discount; the unit price stays (Refresh prices re-prices), the amount follows."""
    quantity = _check_quantity(quantity)
    discount = check_discount(user, discount_percent)
    line_item(line).check_quantity(quantity)
    quote = lock_for_edit(user, quote)
    before = {"quantity": line.quantity, "discount_percent": str(line.discount_percent)}
    line.quantity, line.discount_percent = quantity, discount
    line.amount = line_amount(line.unit_price, quantity, discount, line.currency)
    line.save(update_fields=["quantity", "discount_percent", "amount"])
    touch(quote)
    changes = changed_fields(before, {"quantity": quantity, "discount_percent": str(discount)})
    record_activity(
        user, "quote.line_updated", f"Quote {quote.number}: {line.description} changed", obj=quote,
        customer=quote.customer, changes=changes,
    )  # fmt: skip
    return line


@transaction.atomic
def do_remove_line(user, quote: Quote, line: QuoteLine) -> None:
    quote = lock_for_edit(user, quote)
    text = f"{line.quantity} x {line.sku}"
    line.delete()
    touch(quote)
    record_activity(
        user, "quote.line_removed", f"Quote {quote.number}: {text} removed", obj=quote, customer=quote.customer,
        changes={"line": [text, None]},
    )  # fmt: skip


# --- Scenarios and sections --------------------------------------------------------------------------------


def _check_name(name, what: str) -> str:
    check_no_nul(name=name)
    name = (name or "").strip()
    if not name:
        raise ValidationError({"name": f"Give the {what} a name."})
    if len(name) > 100:
        raise ValidationError({"name": f"The name is {len(name)} characters long; at most 100 are allowed."})
    return name


def _log(user, quote, action, message, **changes):
    touch(quote)
    record_activity(
        user, action, f"Quote {quote.number}: {message}", obj=quote, customer=quote.customer, changes=changes
    )


@transaction.atomic
def do_add_scenario(user, quote: Quote, name: str) -> QuoteScenario:
    """Another alternative, with a first section named after the quote's category."""
    name = _check_name(name, "scenario")
    quote = lock_for_edit(user, quote)
    position = (quote.scenarios.aggregate(m=Max("position"))["m"] or 0) + 1
    scenario = QuoteScenario.objects.create(quote=quote, name=name, position=position)
    QuoteSection.objects.create(scenario=scenario, name=quote.category.name, position=0)
    _log(user, quote, "quote.scenario_added", f"scenario {name} added", scenario=[None, name])
    return scenario


@transaction.atomic
def do_rename_scenario(user, quote: Quote, scenario: QuoteScenario, name: str) -> QuoteScenario:
    name = _check_name(name, "scenario")
    quote = lock_for_edit(user, quote)
    before, scenario.name = scenario.name, name
    scenario.save(update_fields=["name"])
    _log(user, quote, "quote.scenario_renamed", f"scenario {before} renamed {name}", scenario=[before, name])
    return scenario


@transaction.atomic
def do_delete_scenario(user, quote: Quote, scenario: QuoteScenario) -> None:
    quote = lock_for_edit(user, quote)
    if quote.scenarios.count() <= 1:
        raise ValidationError("A quote offers at least one scenario; add another before deleting this one.")
    scenario.delete()
    _log(
        user,
        quote,
        "quote.scenario_deleted",
        f"scenario {scenario.name} deleted",
        scenario=[scenario.name, None],
    )


@transaction.atomic
def do_clone_scenario(user, quote: Quote, scenario: QuoteScenario) -> QuoteScenario:
    """A copy of the scenario (sections and lines at their prices) to change into an alternative."""
    quote = lock_for_edit(user, quote)
    position = (quote.scenarios.aggregate(m=Max("position"))["m"] or 0) + 1
    copy = QuoteScenario.objects.create(quote=quote, name=f"Copy of {scenario.name}"[:100], position=position)
    sections = {}
    for section in scenario.sections.all():
        sections[section.pk] = QuoteSection.objects.create(
            scenario=copy, name=section.name, position=section.position
        )
    lines = list(QuoteLine.objects.filter(section__scenario=scenario))
    for line in lines:
        line.pk, line.section = uuid.uuid4(), sections[line.section_id]
        line._state.adding = True
    QuoteLine.objects.bulk_create(lines)
    _log(user, quote, "quote.scenario_added", f"scenario {scenario.name} copied", scenario=[None, copy.name])
    return copy


@transaction.atomic
def do_add_section(user, quote: Quote, scenario: QuoteScenario, name: str) -> QuoteSection:
    name = _check_name(name, "section")
    quote = lock_for_edit(user, quote)
    position = (scenario.sections.aggregate(m=Max("position"))["m"] or 0) + 1
    section = QuoteSection.objects.create(scenario=scenario, name=name, position=position)
    _log(user, quote, "quote.section_added", f"section {name} added to {scenario.name}", section=[None, name])
    return section


@transaction.atomic
def do_rename_section(user, quote: Quote, section: QuoteSection, name: str) -> QuoteSection:
    name = _check_name(name, "section")
    quote = lock_for_edit(user, quote)
    before, section.name = section.name, name
    section.save(update_fields=["name"])
    _log(user, quote, "quote.section_renamed", f"section {before} renamed {name}", section=[before, name])
    return section


@transaction.atomic
def do_delete_section(user, quote: Quote, section: QuoteSection) -> None:
    """Delete a section and its lines; a scenario keeps at least one section."""
    quote = lock_for_edit(user, quote)
    if QuoteSection.objects.filter(scenario_id=section.scenario_id).count() <= 1:
        raise ValidationError("A scenario keeps at least one section; rename this one instead.")
    count = section.lines.count()
    section.delete()
    _log(
        user, quote, "quote.section_deleted", f"section {section.name} deleted ({count} lines)",
        section=[section.name, None],
    )  # fmt: skip
