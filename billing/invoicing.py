"""Building a customer's invoice for a month: generate_invoice(), one customer in one transaction (the invoice
run builds whole chunks with billing.invoicing_bulk: the subscription and usage lines in SQL, as
billing.invoicing_sql mirrors subscription_lines and usage_lines below, and the rest with the same pure
functions; it falls back to this one customer at a time when a chunk fails).

The draft is rebuilt from scratch in one transaction, in this order, every line saying where it came from:
1. subscription fees: monthly ones prorated by day (a mid-month start, a cancellation, each license change
   from the day it takes effect); annual ones in full in the month a term starts, with marketplace's
   prorated increase charges; one-time ones in the month they start;
2. rated usage (billing.UsageMonthly, the daily rollup summed per month, at customer price) per cloud
   account, provider and service;
3. charges and discounts (services_charges.compute_charge) on the spend of their scope; a discount is split
   over the tax categories it discounts and never takes a category below zero;
4. tax per component (billing.tax.tax_breakdown) on each taxable category's net amount;
5. credits (services_credits.apply_credits) on what is due, which never makes the total negative.
Every amount is rounded once, by customer360.money.quantize (half-up, the currency's minor unit), at the
line; the invoice's subtotal, tax, credits and total are plain sums of its lines, so
total = lines + tax − credits exactly (a check constraint holds it too).

Exactly once: the customer row is locked (select_for_update) while its invoice is built, so two runs of one
month build one customer's invoice one after the other; the second finds the first's draft and rebuilds it
(same inputs, same lines), or finds it finalized and leaves it alone. The partial unique constraint on
(customer, month) is the backstop.
"""

import calendar
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from django.db import transaction
from django.db.models import Min, Q, Sum
from django.utils import timezone

from customer360.money import Money, quantize
from customers.models import CloudAccount, Customer
from marketplace.models import BillingFrequency, LicenseCharge, StatusChange, Subscription, SubscriptionAddOn

from .models_charges import ChargeItem, ChargeKind, ChargeScope, Recurrence
from .models_credits import CreditApplication
from .models_invoices import Invoice, InvoiceLine, InvoiceStatus, LineKind
from .models_tax import TaxCategory
from .models_usage import UsageMonthly
from .services_charges import compute_charge
from .services_credits import apply_credits
from .tax import tax_breakdown

ZERO = Decimal("0")
BILLED_STATUSES = (Subscription.Status.ACTIVE, Subscription.Status.CANCELLED, Subscription.Status.EXPIRED)
ENDED_STATUSES = (Subscription.Status.CANCELLED, Subscription.Status.EXPIRED)
# Lines a discount can discount, by tax category (charges are never discounted by another item).
DISCOUNTABLE = (TaxCategory.SUBSCRIPTIONS, TaxCategory.USAGE)
TAX_ORDER = [c.value for c in TaxCategory]


# --- Dates and proration (pure) ------------------------------------------------------------------------------


def month_bounds(month: date) -> tuple[date, date]:
    """(first day, last day) of the month containing `month`."""
    first = month.replace(day=1)
    return first, first.replace(day=calendar.monthrange(first.year, first.month)[1])


def days_between(first: date, last: date) -> int:
    """Days from first to last, both included."""
    return (last - first).days + 1


def prorate(unit_price: Decimal, quantity, days: int, period_days: int, currency: str) -> Decimal:
    """unit_price × quantity for `days` of a `period_days` period, rounded once. A full period is the full
    price exactly; a change and its reverse over the same days are exact opposites (half-up is symmetric)."""
    return quantize(Decimal(unit_price) * Decimal(quantity) * days / period_days, currency)


def quantity_on(sub_quantity: int, changes: list, day: date) -> int:
    """The license count in force on `day`, replaying the subscription's license changes (ordered by
    effective date) from the count before the first one; with no change, the subscription's count."""
    if not changes:
        return sub_quantity
    quantity = changes[0].quantity_before
    for change in changes:
        if change.effective_on <= day:
            quantity = change.quantity_after
    return quantity


def anniversaries(start: date, months: int, first: date, last: date):
    """Term starts (start_date plus whole terms of `months`) falling within [first, last]."""
    n, day = 0, start
    while day <= last:
        if day >= first:
            yield day
        n += 1
        year, mon = divmod(start.month - 1 + n * months, 12)
        day = date(
            start.year + year, mon + 1, min(start.day, calendar.monthrange(start.year + year, mon + 1)[1])
        )


# --- Lines being built -----------------------------------------------------------------------------------------


@dataclass
class Draft:
    """A line before it is saved: amounts already rounded."""

    kind: str
    description: str
    source: str
    amount: Decimal
    cost: Decimal = ZERO
    tax_category: str = ""
    quantity: Decimal = Decimal("1")
    unit_price: Decimal | None = None
    refs: dict = field(
        default_factory=dict
    )  # subscription / license_charge / cloud_account / charge_item / credit
    provider: str = ""
    service_name: str = ""
    tax_rate: Decimal | None = None
    period: tuple | None = None


@dataclass
class Totals:
    subtotal: Decimal
    tax: Decimal
    credits: Decimal
    total: Decimal


def totals_of(lines: list[Draft]) -> Totals:
    """Plain sums of rounded lines: total = subtotal + tax − credits exactly."""
    subtotal = sum((ln.amount for ln in lines if ln.kind not in (LineKind.TAX, LineKind.CREDIT)), ZERO)
    tax = sum((ln.amount for ln in lines if ln.kind == LineKind.TAX), ZERO)
    credits = -sum((ln.amount for ln in lines if ln.kind == LineKind.CREDIT), ZERO)
    return Totals(subtotal, tax, credits, subtotal + tax - credits)


def _frequency_label(sub) -> str:
    return f"{sub.plan.name} ({sub.get_billing_frequency_display().lower()})"


def subscription_lines(
    sub, changes: list, ended_on: date | None, addons: list, first: date, last: date
) -> list:
    """The fee lines of one subscription (and its add-ons) for the month [first, last]."""
    currency, dim = sub.currency, days_between(first, last)
    service_first = max(sub.start_date, first)
    service_last = last if ended_on is None else min(last, ended_on - timedelta(days=1))
    if service_last < service_first:
        return []
    out = []
    refs = {"subscription": sub, "cloud_account": sub.cloud_account}
    source = f"Subscription {sub.plan.sku}, order {sub.order.number}"
    common = {"tax_category": TaxCategory.SUBSCRIPTIONS, "refs": refs, "provider": sub.provider.code}
    if sub.billing_frequency == BillingFrequency.MONTHLY:
        days = days_between(service_first, service_last)
        quantity = quantity_on(sub.quantity, changes, service_first)
        note = "" if days == dim else f", {days}/{dim} days ({service_first:%b %d}–{service_last:%b %d})"
        out.append(Draft(
            LineKind.SUBSCRIPTION, f"{sub.plan.name} × {quantity}{note}", source,
            prorate(sub.unit_price, quantity, days, dim, currency), prorate(sub.unit_cost, quantity, days, dim, currency),
            quantity=Decimal(quantity), unit_price=sub.unit_price, period=(service_first, service_last), **common,
        ))  # fmt: skip
        for change in changes:
            if service_first < change.effective_on <= service_last:
                delta = change.quantity_after - change.quantity_before
                days = days_between(change.effective_on, service_last)
                out.append(Draft(
                    LineKind.LICENSE_CHANGE,
                    f"{sub.plan.name}: {change.quantity_before} → {change.quantity_after} licenses from "
                    f"{change.effective_on:%b %d}, {days}/{dim} days",
                    f"License change of {change.effective_on:%Y-%m-%d} ({change.get_kind_display().lower()})",
                    prorate(sub.unit_price, delta, days, dim, currency), prorate(sub.unit_cost, delta, days, dim, currency),
                    quantity=Decimal(delta), unit_price=sub.unit_price, period=(change.effective_on, service_last),
                    **{**common, "refs": {**refs, "license_charge": change}},
                ))  # fmt: skip
        for addon in addons:
            a_first = max(service_first, timezone.localtime(addon.created_at).date())
            if a_first > service_last:
                continue
            days = days_between(a_first, service_last)
            out.append(Draft(
                LineKind.SUBSCRIPTION, f"{addon.addon.name} (add-on) × {addon.quantity}"
                + ("" if days == dim else f", {days}/{dim} days"), source + f", add-on {addon.addon.sku}",
                prorate(addon.unit_price, addon.quantity, days, dim, currency),
                prorate(addon.unit_cost, addon.quantity, days, dim, currency),
                quantity=Decimal(addon.quantity), unit_price=addon.unit_price, period=(a_first, service_last), **common,
            ))  # fmt: skip
    elif sub.billing_frequency == BillingFrequency.ANNUAL:
        for term_start in anniversaries(sub.start_date, 12, service_first, service_last):
            quantity = quantity_on(sub.quantity, changes, term_start)
            out.append(Draft(
                LineKind.SUBSCRIPTION, f"{sub.plan.name} × {quantity}, year from {term_start:%Y-%m-%d}", source,
                quantize(sub.unit_price * quantity, currency), quantize(sub.unit_cost * quantity, currency),
                quantity=Decimal(quantity), unit_price=sub.unit_price, period=(term_start, term_start), **common,
            ))  # fmt: skip
            for addon in addons:
                out.append(Draft(
                    LineKind.SUBSCRIPTION, f"{addon.addon.name} (add-on) × {addon.quantity}", source,
                    quantize(addon.unit_price * addon.quantity, currency),
                    quantize(addon.unit_cost * addon.quantity, currency),
                    quantity=Decimal(addon.quantity), unit_price=addon.unit_price, **common,
                ))  # fmt: skip
        for change in changes:
            # An annual subscription is billed ahead for its term: an increase is marketplace's prorated
            # charge to the renewal date; decreases wait for the renewal and carry no amount.
            if (
                change.kind == LicenseCharge.Kind.PRORATION
                and first <= change.effective_on <= last
                and change.amount
            ):
                out.append(Draft(
                    LineKind.LICENSE_CHANGE,
                    f"{sub.plan.name}: {change.quantity_before} → {change.quantity_after} licenses, "
                    f"{change.days_charged}/{change.period_days} days to renewal",
                    f"License change of {change.effective_on:%Y-%m-%d} (prorated increase)",
                    quantize(change.amount, currency), ZERO, quantity=Decimal(change.quantity_after - change.quantity_before),
                    unit_price=change.unit_price, **{**common, "refs": {**refs, "license_charge": change}},
                ))  # fmt: skip
    elif sub.billing_frequency == BillingFrequency.ONE_TIME and first <= sub.start_date <= last:
        out.append(Draft(
            LineKind.SUBSCRIPTION, f"{sub.plan.name} × {sub.quantity} (one-time)", source,
            quantize(sub.unit_price * sub.quantity, currency), quantize(sub.unit_cost * sub.quantity, currency),
            quantity=Decimal(sub.quantity), unit_price=sub.unit_price, **common,
        ))  # fmt: skip
    return out


def usage_lines(customer, currency: str, first: date, last: date) -> tuple[list, int]:
    """Rated usage of the month `first` .. `last` grouped by cloud account, provider and service (the
    monthly rollup's rows); and how many daily rows in another currency were left out (said in the
    invoice's notes)."""
    rows = UsageMonthly.objects.filter(customer=customer, month=first)
    accounts = {a.pk: a for a in CloudAccount.objects.filter(customer=customer)}
    grouped = (
        rows.filter(currency=currency)
        .values("cloud_account_id", "provider", "service_name", "price", "cost", "quantity")
        .order_by("provider", "cloud_account_id", "service_name")
    )
    out = []
    for g in grouped:
        account = accounts.get(g["cloud_account_id"])
        label = account.account_id if account else "unknown account"
        out.append(Draft(
            LineKind.USAGE, f"{g['service_name'] or 'Other usage'} ({g['provider'].upper()} {label})",
            f"Rated usage {first:%Y-%m-%d}–{last:%Y-%m-%d}, {g['provider'].upper()} account {label}",
            quantize(g["price"], currency), quantize(g["cost"], currency), TaxCategory.USAGE,
            quantity=quantize(g["quantity"], currency, Decimal("0.000001")),
            refs={"cloud_account": account}, provider=g["provider"], service_name=g["service_name"],
            period=(first, last),
        ))  # fmt: skip
    other = rows.exclude(currency=currency).aggregate(n=Sum("day_rows"))["n"] or 0
    return out, other


def items_in_effect(customer, first: date, last: date):
    items = ChargeItem.objects.filter(customer=customer, valid_from__lte=last).filter(
        Q(valid_until__isnull=True) | Q(valid_until__gte=first)
    )
    for item in items.select_related("group", "cloud_account", "subscription__plan").order_by(
        "group__name", "name", "valid_from", "pk"
    ):
        if item.recurrence == Recurrence.ONE_TIME and not first <= item.valid_from <= last:
            continue  # a one-time item is billed in the month it takes effect, once
        yield item


def in_scope(item, line: Draft) -> bool:
    if item.scope_type == ChargeScope.CLOUD_ACCOUNT:
        account = line.refs.get("cloud_account")
        return account is not None and account.pk == item.cloud_account_id
    if item.scope_type == ChargeScope.SUBSCRIPTION:
        sub = line.refs.get("subscription")
        return sub is not None and sub.pk == item.subscription_id
    return True


def charge_lines(items, spend: list[Draft], currency: str) -> list[Draft]:
    """Charge and discount lines on the spend lines (subscriptions, license changes, usage)."""
    room = {c: sum((ln.amount for ln in spend if ln.tax_category == c), ZERO) for c in DISCOUNTABLE}
    out = []
    for item in items:
        scoped = [ln for ln in spend if in_scope(item, ln)]
        base = sum(((ln.cost if item.basis == "cost" else ln.amount) for ln in scoped), ZERO)
        amount = compute_charge(item, Money(base, currency)).amount
        source = f"{item.group.name}: {item.name} ({item.get_method_display().lower()}, {item.scope_label.lower()})"
        refs = {"charge_item": item, "cloud_account": item.cloud_account, "subscription": item.subscription}
        if item.kind == ChargeKind.CHARGE:
            if amount:
                out.append(Draft(LineKind.CHARGE, item.name, source, amount, ZERO, TaxCategory.CHARGES,
                                 unit_price=None, refs=refs))  # fmt: skip
            continue
        # A discount is taxed like what it discounts: split over the categories of its scope, by their
        # share of the price, and never below what is left in a category (stacked discounts stop at zero).
        shares = {c: sum((ln.amount for ln in scoped if ln.tax_category == c), ZERO) for c in DISCOUNTABLE}
        whole = sum(shares.values(), ZERO)
        if whole <= 0 or not amount:
            continue
        wanted = max(amount, -whole)
        parts, left = {}, wanted
        live = [c for c in DISCOUNTABLE if shares[c] > 0]
        for c in live[:-1]:
            parts[c] = quantize(wanted * shares[c] / whole, currency)
            left -= parts[c]
        parts[live[-1]] = left
        for c, part in parts.items():
            capped = max(part, -room[c])
            room[c] += capped
            if capped:
                note = "" if capped == part else " (capped at the remaining amount)"
                label = "" if len(parts) == 1 else f" on {TaxCategory(c).label.lower()}"
                out.append(
                    Draft(LineKind.DISCOUNT, f"{item.name}{label}{note}", source, capped, ZERO, c, refs=refs)
                )
    return out


def tax_lines(customer, lines: list[Draft], currency: str, on_date: date) -> list[Draft]:
    out = []
    for category in TAX_ORDER:
        net = sum((ln.amount for ln in lines if ln.tax_category == category), ZERO)
        if net <= 0:
            continue
        for component in tax_breakdown(customer, category, Money(net, currency), on_date):
            out.append(Draft(
                LineKind.TAX, f"{component.name} {component.rate.normalize():f} % on {TaxCategory(category).label.lower()}",
                f"Tax profile rate {component.name}", component.amount.amount, quantity=Decimal("1"),
                unit_price=net, tax_rate=component.rate,
            ))  # fmt: skip
    return out


# --- The invoice -------------------------------------------------------------------------------------------------


def _subscription_inputs(customer, first: date, last: date):
    subs = list(
        Subscription.objects.filter(customer=customer, status__in=BILLED_STATUSES, start_date__lte=last)
        .select_related("plan", "provider", "order", "cloud_account")
        .order_by("start_date", "created_at", "pk")
    )
    ids = [s.pk for s in subs]
    ended = dict(
        StatusChange.objects.filter(subscription__in=ids, after__in=ENDED_STATUSES)
        .order_by()
        .values_list("subscription")
        .annotate(at=Min("created_at"))
    )
    changes, addons = {}, {}
    for change in LicenseCharge.objects.filter(subscription__in=ids).order_by(
        "effective_on", "created_at", "pk"
    ):
        changes.setdefault(change.subscription_id, []).append(change)
    for addon in SubscriptionAddOn.objects.filter(subscription__in=ids).select_related("addon"):
        addons.setdefault(addon.subscription_id, []).append(addon)
    for sub in subs:
        ended_on = timezone.localtime(ended[sub.pk]).date() if sub.pk in ended else None
        if sub.status in ENDED_STATUSES and ended_on is None:
            ended_on = sub.start_date  # ended with no history: nothing to bill
        if ended_on is not None and ended_on < first:
            continue
        yield sub, changes.get(sub.pk, []), ended_on, addons.get(sub.pk, [])


def build_lines(customer, month: date) -> tuple[list[Draft], list[str]]:
    """Every line of the customer's invoice for `month` except credits, and notes on what was left out."""
    first, last = month_bounds(month)
    currency = customer.currency
    spend, notes = [], []
    for sub, changes, ended_on, addons in _subscription_inputs(customer, first, last):
        if sub.currency != currency:
            notes.append(f"Subscription {sub.plan.sku} is in {sub.currency}, not {currency}: not invoiced.")
            continue
        spend += subscription_lines(sub, changes, ended_on, addons, first, last)
    usage, other = usage_lines(customer, currency, first, last)
    spend += usage
    if other:
        notes.append(f"{other} days of usage in another currency than {currency} are not invoiced.")
    items = [i for i in items_in_effect(customer, first, last) if i.currency == currency]
    lines = spend + charge_lines(items, spend, currency)
    return lines + tax_lines(customer, lines, currency, last), notes


def invoice_ref(invoice) -> str:
    """How credit applications name the invoice (a draft has no number yet)."""
    return f"invoice {invoice.pk}"


@transaction.atomic
def generate_invoice(customer, month: date, *, run=None):
    """Build or rebuild the customer's draft invoice for `month`. Returns the invoice (a finalized one is
    returned untouched), or None when there is nothing to invoice (a stale empty draft is removed)."""
    month = month.replace(day=1)
    customer = Customer.objects.select_for_update().get(pk=customer.pk)
    invoice = (
        Invoice.objects.select_for_update()
        .filter(customer=customer, month=month)
        .exclude(status=InvoiceStatus.VOID)
    ).first()
    if invoice is not None and invoice.status != InvoiceStatus.DRAFT:
        return invoice
    if invoice is not None:
        # Rebuilding: the old lines and the credit the old draft took go back first.
        CreditApplication.objects.filter(invoice_ref=invoice_ref(invoice)).delete()
        InvoiceLine.objects.filter(invoice=invoice).delete()
    lines, notes = build_lines(customer, month)
    if not lines:
        if invoice is not None:
            invoice.delete()
        return None
    first, last = month_bounds(month)
    invoice_date = last + timedelta(days=1)
    if invoice is None:
        invoice = Invoice(customer=customer, month=month)
    invoice.currency = customer.currency
    invoice.invoice_date = invoice_date
    invoice.due_date = invoice_date + timedelta(days=customer.payment_terms_days)
    invoice.notes = "\n".join(notes)
    invoice.generated_at = timezone.now()
    invoice.run = run
    invoice.subtotal = invoice.tax = invoice.credits = invoice.total = ZERO
    invoice.save()
    partial = totals_of(lines)
    due = partial.subtotal + partial.tax
    if due > 0:
        for credit, used in apply_credits(
            customer, Money(due, customer.currency), last, invoice_ref=invoice_ref(invoice)
        ):
            lines.append(Draft(
                LineKind.CREDIT, f"Credit: {credit.reason}", f"Credit issued {credit.issued_on:%Y-%m-%d}",
                -used.amount, refs={"credit": credit},
            ))  # fmt: skip
    totals = totals_of(lines)
    InvoiceLine.objects.bulk_create([_line(invoice, n, ln) for n, ln in enumerate(lines, 1)])
    invoice.subtotal, invoice.tax, invoice.credits, invoice.total = (
        totals.subtotal, totals.tax, totals.credits, totals.total,
    )  # fmt: skip
    invoice.save(update_fields=["subtotal", "tax", "credits", "total"])
    return invoice


def _line(invoice, position: int, ln: Draft) -> InvoiceLine:
    refs = ln.refs
    period = ln.period or (None, None)
    return InvoiceLine(
        invoice=invoice, reseller_id=invoice.reseller_id, position=position, kind=ln.kind,
        description=ln.description[:300], source=ln.source[:300], provider=ln.provider, service_name=ln.service_name,
        subscription=refs.get("subscription"), license_charge=refs.get("license_charge"),
        cloud_account=refs.get("cloud_account"), charge_item=refs.get("charge_item"), credit=refs.get("credit"),
        quantity=ln.quantity, unit_price=ln.unit_price, amount=ln.amount, cost=ln.cost, tax_category=ln.tax_category,
        tax_rate=ln.tax_rate, period_start=period[0], period_end=period[1],
    )  # fmt: skip
