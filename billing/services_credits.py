"""Credits: issue, void, what is available, and applying them to an amount due (the invoice run's step).

Rules the invoice run relies on:
* a credit is usable from its issue date up to the day before its expiry date, unless voided;
* credits are consumed oldest-expiring first (never-expiring last), then oldest issued;
* what is applied never exceeds the amount due nor any credit's remaining amount, so a credit never makes
  an invoice negative and the rest carries forward until it expires.
"""

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import DecimalField, F, OuterRef, Q, Subquery, Sum, Value
from django.db.models.functions import Coalesce
from django.shortcuts import get_object_or_404
from django.utils import timezone

from customer360.money import Money, quantize
from customer360.validators import check_no_nul
from customers.activity import record_activity

from .models_credits import Credit, CreditApplication, CreditStatus

ZERO = Decimal("0")
_AMOUNT = DecimalField(max_digits=14, decimal_places=2)


def _applied_subquery():
    total = (
        CreditApplication.objects.filter(credit=OuterRef("pk"))
        .order_by()
        .values("credit")
        .annotate(total=Sum("amount"))
        .values("total")
    )
    return Coalesce(Subquery(total, output_field=_AMOUNT), Value(ZERO), output_field=_AMOUNT)


def with_amounts(queryset):
    """Credits annotated with `applied` and `remaining` (one query, no join fan-out)."""
    return queryset.annotate(applied=_applied_subquery()).annotate(remaining=F("amount") - F("applied"))


def usable_filter(on_date: date) -> Q:
    return Q(voided_at__isnull=True, issued_on__lte=on_date) & (
        Q(expires_on__isnull=True) | Q(expires_on__gt=on_date)
    )


def status_of(credit, on_date: date) -> str:
    """available / used / expired / void, for a credit annotated by with_amounts()."""
    if credit.voided_at is not None:
        return CreditStatus.VOID
    if credit.remaining <= 0:
        return CreditStatus.USED
    if credit.expired_on(on_date):
        return CreditStatus.EXPIRED
    return CreditStatus.AVAILABLE


def access_credit(customer, credit_id) -> Credit:
    return get_object_or_404(Credit.objects.filter(customer=customer), pk=credit_id)


def available_credit(customer, on_date: date) -> Money:
    """What the customer's credits can still pay on `on_date`, in the customer's currency."""
    total = (
        with_amounts(
            Credit.objects.filter(usable_filter(on_date), customer=customer, currency=customer.currency)
        )
        .aggregate(total=Sum("remaining"))
        .get("total")
    )
    return Money(total or ZERO, customer.currency)


def check_credit(customer, amount, reason: str, expires_on, issued_on: date) -> None:
    errors = {}
    if amount is None or amount <= 0:
        errors["amount"] = "A credit must be more than zero."
    elif quantize(amount, customer.currency) != amount:
        errors["amount"] = f"Give the amount in whole {customer.currency} minor units (e.g. 10.50)."
    if not (reason or "").strip():
        errors["reason"] = "Say why the credit is issued; it is printed on the invoice."
    if expires_on is not None and expires_on <= issued_on:
        errors["expires_on"] = "The expiry date must be after today, or the credit could never be used."
    if errors:
        raise ValidationError(errors)


@transaction.atomic
def do_issue_credit(
    actor, customer, *, amount: Decimal, reason: str, expires_on=None, issued_on=None, invoice=None
) -> Credit:
    """Issue a credit to the customer's balance, in the customer's currency; with `invoice` (one of the
    customer's finalized invoices), to that invoice instead (billing.invoicing_states.do_credit_invoice)."""
    if invoice is not None:
        from .invoicing_states import do_credit_invoice

        if invoice.customer_id != customer.pk:
            raise ValidationError({"invoice": "Choose one of this customer's invoices."})
        if expires_on is not None:
            raise ValidationError(
                {"expires_on": "A credit to an invoice is used at once; leave the expiry empty."}
            )
        return do_credit_invoice(actor, invoice, amount=amount, reason=reason)
    issued_on = issued_on or timezone.localdate()
    check_credit(customer, amount, reason, expires_on, issued_on)
    credit = Credit.objects.create(
        customer=customer, amount=amount, currency=customer.currency, reason=reason.strip(),
        issued_on=issued_on, expires_on=expires_on, issued_by=actor if getattr(actor, "pk", None) else None,
        issued_by_label=str(actor) if actor is not None else "system",
    )  # fmt: skip
    record_activity(
        actor, "credit.issued", f"Issued a credit of {Money(amount, customer.currency)}: {credit.reason}",
        obj=credit, customer=customer,
        changes={"amount": [None, str(credit.amount)], "reason": [None, credit.reason],
                 "expires_on": [None, expires_on.isoformat() if expires_on else None]},
    )  # fmt: skip
    return credit


@transaction.atomic
def do_void_credit(actor, credit: Credit, reason: str = "") -> Credit:
    """Void what is left of a credit: it is used no more; what was applied stays applied."""
    Credit.objects.select_for_update().filter(pk=credit.pk).get()  # one voider (or invoice run) at a time
    reason = (reason or "").strip()
    check_no_nul(reason=reason)
    if len(reason) > 200:
        raise ValidationError(f"Keep the reason under 200 characters (it has {len(reason):,}).")
    credit = with_amounts(Credit.objects.filter(pk=credit.pk)).get()
    if credit.voided_at is not None:
        raise ValidationError("This credit is already void.")
    if credit.remaining <= 0:
        raise ValidationError("This credit is used up; there is nothing left to void.")
    credit.voided_at = timezone.now()
    credit.voided_by_label = str(actor) if actor is not None else "system"
    credit.void_reason = reason
    credit.save(update_fields=["voided_at", "voided_by_label", "void_reason"])
    record_activity(
        actor, "credit.voided",
        f"Voided a credit ({Money(credit.remaining, credit.currency)} left of {Money(credit.amount, credit.currency)})"
        + (f": {credit.void_reason}" if credit.void_reason else ""),
        obj=credit, customer=credit.customer,
        changes={"status": [CreditStatus.AVAILABLE, CreditStatus.VOID], "void_reason": [None, credit.void_reason]},
    )  # fmt: skip
    return credit


@dataclass(frozen=True)
class Open:
    """A credit with what is left of it, as the planner sees it."""

    credit: Credit
    remaining: Decimal


def consumption_order(credit: Credit):
    return (
        credit.expires_on is None,
        credit.expires_on or date.max,
        credit.issued_on,
        credit.created_at,
        str(credit.pk),
    )


def plan_applications(
    open_credits: list[Open], amount_due: Decimal, on_date: date
) -> list[tuple[Credit, Decimal]]:
    """Which credits pay how much of `amount_due`: pure, so its properties can be tested on their own."""
    left = max(amount_due, ZERO)
    plan = []
    for entry in sorted(open_credits, key=lambda e: consumption_order(e.credit)):
        if left <= 0:
            break
        if entry.remaining <= 0 or not entry.credit.usable_on(on_date):
            continue
        use = min(entry.remaining, left)
        plan.append((entry.credit, use))
        left -= use
    return plan


@transaction.atomic
def lock_open_credits(credits, on_date: date) -> list:
    """[Open(credit, remaining)] of the usable credits among `credits`, locked in primary-key order (one
    runner at a time spends a remainder; the invoice run's chunks and apply_credits alike)."""
    locked = list(credits.filter(usable_filter(on_date)).select_for_update().order_by("pk"))
    if not locked:
        return []
    applied = dict(
        CreditApplication.objects.filter(credit__in=[c.pk for c in locked])
        .order_by()
        .values_list("credit")
        .annotate(total=Sum("amount"))
    )
    return [Open(c, c.amount - applied.get(c.pk, ZERO)) for c in locked]


def apply_credits(customer, amount_due: Money, on_date: date, *, invoice_ref: str = "", actor=None):
    """Apply the customer's usable credits in `amount_due`'s currency to it; returns [(credit, Money)].
    Writes one CreditApplication per credit used and one activity entry. Credits are locked while they
    are read, so two runs at once can't spend the same remainder twice."""
    if amount_due.amount <= 0:
        return []
    candidates = Credit.objects.filter(customer=customer, currency=amount_due.currency)
    open_credits = lock_open_credits(candidates, on_date)
    before = {o.credit.pk: o.remaining for o in open_credits}
    plan = plan_applications(open_credits, amount_due.amount, on_date)
    CreditApplication.objects.bulk_create(
        [
            CreditApplication(credit=c, amount=amount, applied_on=on_date, invoice_ref=invoice_ref)
            for c, amount in plan
        ]
    )
    result = [(c, Money(amount, amount_due.currency)) for c, amount in plan]
    if result:
        total = sum((amount for _, amount in plan), ZERO)
        record_activity(
            actor, "credit.applied",
            f"Applied {Money(total, amount_due.currency)} of credit" + (f" to {invoice_ref}" if invoice_ref else ""),
            customer=customer,
            changes={f"credit {c.issued_on.isoformat()} {c.reason}"[:120]: [str(before[c.pk]), str(before[c.pk] - a)]
                     for c, a in plan},
        )  # fmt: skip
    return result
