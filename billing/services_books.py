"""Pricebooks (masters, custom books, their header fields) and who they apply to (assignments).

Part of billing's service layer (see billing/services.py for the conventions); services.py re-exports
everything here.
"""

from datetime import date, timedelta
from decimal import Decimal

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from customer360.tenancy import tenant_scope
from customers.activity import record_activity
from customers.models import CURRENCIES
from marketplace.services import check_provider_authorized

from .changelog import can_edit_pricebooks, check_editor, log_change, needs_approval, plain
from .models import Pricebook, PricebookAssignment, PricebookChange, PricebookRule
from .models_pricebook import Method, Scope
from .periods import first_open_month

MASTER_START = date(2000, 1, 1)  # master pricebooks cover all of history: they are the catalog's prices
BOOK_FIELDS = ["name", "description", "valid_from", "valid_until"]
CURRENCY_CODES = {code for code, _ in CURRENCIES}


def ensure_master_pricebooks(reseller, provider) -> list[Pricebook]:
    """The reseller's two master pricebooks of the provider (created on authorization): at cost
    (0 % markup on cost) and at list price (0 % discount off list)."""
    books = []
    specs = [
        (Pricebook.Kind.MASTER_COST, f"{provider.name} at cost", Method.MARKUP),
        (Pricebook.Kind.MASTER_LIST, f"{provider.name} list price (MSRP)", Method.DISCOUNT),
    ]
    currency = reseller.default_currency if reseller.default_currency in CURRENCY_CODES else "USD"
    for kind, name, method in specs:
        book = Pricebook.objects.filter(reseller_id=reseller.pk, provider=provider, kind=kind).first()
        if book is None:
            book = Pricebook.objects.create(
                reseller_id=reseller.pk,
                provider=provider,
                kind=kind,
                name=name,
                currency=currency,
                valid_from=MASTER_START,
                description="Maintained from the catalog; read-only. Copy it to make your own pricebook.",
            )
            PricebookRule.objects.create(
                reseller_id=reseller.pk,
                pricebook=book,
                scope_type=Scope.PROVIDER,
                method=method,
                value=Decimal(0),
                valid_from=MASTER_START,
                note="master rule",
            )
            log_change(
                None,
                book,
                PricebookChange.Action.CREATE_BOOK,
                status=PricebookChange.Status.APPLIED,
                after={"name": name, "kind": kind},
                message=f"Master pricebook {name} created",
            )
        books.append(book)
    return books


def check_pricebook_fields(*, name, currency, valid_from, valid_until) -> None:
    errors = {}
    if not (name or "").strip():
        errors["name"] = "Name the pricebook."
    if valid_from and valid_until and valid_until < valid_from:
        errors["valid_until"] = "The pricebook cannot end before it starts."
    if errors:
        raise ValidationError(errors)


def check_new_pricebook(reseller, provider, *, name, currency, valid_from, valid_until=None, copy_from=None):
    try:
        check_provider_authorized(provider, reseller.pk)
    except PermissionDenied as exc:
        raise ValidationError({"provider": str(exc)}) from exc
    check_pricebook_fields(name=name, currency=currency, valid_from=valid_from, valid_until=valid_until)
    if copy_from is not None:
        if copy_from.reseller_id != reseller.pk or copy_from.provider_id != provider.pk:
            raise ValidationError({"copy_from": f"Copy one of your own {provider} pricebooks."})
        if copy_from.currency != currency and copy_from.rules.filter(method=Method.FIXED).exists():
            raise ValidationError(
                {
                    "currency": f"{copy_from.name} has fixed prices in {copy_from.currency}; copy it in that currency."
                }
            )
    if Pricebook.objects.filter(reseller_id=reseller.pk, provider=provider, name=name.strip()).exists():
        raise ValidationError({"name": f"You already have a {provider} pricebook named '{name.strip()}'."})


@transaction.atomic
def do_create_pricebook(
    actor, reseller, provider, *, name, currency, valid_from, valid_until=None, description="", copy_from=None
) -> Pricebook:
    """A new custom pricebook, empty or with the rules of `copy_from` (a master or another of the
    reseller's books) that are in effect from valid_from on. It prices nothing until it is assigned."""
    if actor is not None and not can_edit_pricebooks(actor):
        raise PermissionDenied("Only owners and billing users create pricebooks.")
    check_new_pricebook(
        reseller,
        provider,
        name=name,
        currency=currency,
        valid_from=valid_from,
        valid_until=valid_until,
        copy_from=copy_from,
    )
    book = Pricebook(
        reseller_id=reseller.pk,
        provider=provider,
        kind=Pricebook.Kind.CUSTOM,
        name=name.strip(),
        currency=currency,
        valid_from=valid_from,
        valid_until=valid_until,
        description=description,
        copied_from=copy_from,
    )
    book.full_clean(exclude=["reseller"])
    book.save()
    copied = 0
    if copy_from is not None:
        for rule in copy_from.rules.filter(Q(valid_until__isnull=True) | Q(valid_until__gte=valid_from)):
            if valid_until is not None and rule.valid_from > valid_until:
                continue
            rule.pk = None
            rule._state.adding = True
            rule.pricebook = book
            rule.valid_from = max(rule.valid_from, valid_from)
            rule.note = rule.note if rule.note != "master rule" else f"copied from {copy_from.name}"
            rule.save()
            copied += 1
    action = PricebookChange.Action.COPY_BOOK if copy_from else PricebookChange.Action.CREATE_BOOK
    message = f"Copied from {copy_from.name} ({copied} rules)" if copy_from else "Pricebook created"
    log_change(
        actor,
        book,
        action,
        status=PricebookChange.Status.APPLIED,
        after=_book_snapshot(book),
        message=message,
    )
    return book


def _book_snapshot(book) -> dict:
    return {name: plain(getattr(book, name)) for name in [*BOOK_FIELDS, "currency"]}


def check_pricebook_update(book: Pricebook, payload: dict, today=None) -> dict:
    """The pricebook's new header fields, if they leave invoiced periods as they were priced."""
    check_editor(None, book)
    eff = first_open_month(book.reseller_id, today)
    new = {**{k: getattr(book, k) for k in BOOK_FIELDS}, **payload}
    for key in ("valid_from", "valid_until"):
        if isinstance(new[key], str):
            new[key] = date.fromisoformat(new[key]) if new[key] else None
    check_pricebook_fields(
        name=new["name"], currency=book.currency, valid_from=new["valid_from"], valid_until=new["valid_until"]
    )
    if new["valid_from"] != book.valid_from and min(new["valid_from"], book.valid_from) < eff:
        raise ValidationError(
            {
                "valid_from": f"The start can only move within open billing periods (from {eff}); invoiced ones keep their prices."
            }
        )
    old_until, new_until = book.valid_until, new["valid_until"]
    if old_until != new_until:
        last_closed = eff - timedelta(days=1)
        if (old_until is not None and old_until < last_closed) or (
            new_until is not None and new_until < last_closed
        ):
            raise ValidationError(
                {"valid_until": f"The end can only move within open billing periods (from {last_closed})."}
            )
    return new


@transaction.atomic
def do_update_pricebook(actor, book: Pricebook, payload: dict) -> PricebookChange:
    """Rename, describe or re-date a custom pricebook (its currency never changes: copy it instead)."""
    check_editor(actor, book)
    before = _book_snapshot(book)
    new = check_pricebook_update(book, payload)
    after = {**before, **{k: plain(v) for k, v in new.items()}}
    if after == before:
        return None
    if actor is not None and needs_approval(actor):
        return log_change(
            actor,
            book,
            PricebookChange.Action.UPDATE_BOOK,
            status=PricebookChange.Status.PENDING,
            before=before,
            after=after,
            message="Pricebook change waiting for an owner's approval",
        )
    for key, value in new.items():
        setattr(book, key, value)
    book.save(update_fields=BOOK_FIELDS)
    changed = ", ".join(k for k in BOOK_FIELDS if before[k] != after[k])
    return log_change(
        actor,
        book,
        PricebookChange.Action.UPDATE_BOOK,
        status=PricebookChange.Status.APPLIED,
        before=before,
        after=after,
        message=f"Changed {changed}",
    )


# --- Assignments ---------------------------------------------------------------------------------------


def current_assignments(provider, *, customer=None, cloud_account=None, reseller_id=None, on_date=None):
    """The assignments of one target that are in effect on the date or start later."""
    on_date = on_date or timezone.localdate()
    qs = PricebookAssignment.objects.filter(provider=provider).filter(
        Q(valid_until__isnull=True) | Q(valid_until__gte=on_date)
    )
    if cloud_account is not None:
        return qs.filter(cloud_account=cloud_account)
    if customer is not None:
        return qs.filter(customer=customer, cloud_account__isnull=True)
    return qs.filter(reseller_id=reseller_id, customer__isnull=True)


def check_assignment(reseller_id, provider, pricebook, *, customer=None, cloud_account=None) -> None:
    try:
        check_provider_authorized(provider, reseller_id)
    except PermissionDenied as exc:
        raise ValidationError({"provider": str(exc)}) from exc
    if customer is not None and customer.reseller_id != reseller_id:
        raise ValidationError({"customer": "Choose one of your customers."})
    if cloud_account is not None and (
        customer is None
        or cloud_account.customer_id != customer.pk
        or cloud_account.provider != provider.code
    ):
        raise ValidationError(
            {"cloud_account": f"Choose one of {customer or 'the customer'}'s {provider} accounts."}
        )
    if pricebook is not None and (
        pricebook.reseller_id != reseller_id or pricebook.provider_id != provider.pk
    ):
        raise ValidationError({"pricebook": f"Choose one of your {provider} pricebooks."})


@transaction.atomic
def do_assign_pricebook(actor, provider, pricebook=None, *, customer=None, cloud_account=None, reseller=None):
    """Give the target (a cloud account, a customer, or with neither the reseller's default) this
    pricebook from the first open billing period; pricebook=None removes its own assignment, so the
    next level applies. Returns the new assignment, or None."""
    reseller_id = reseller.pk if reseller is not None else customer.reseller_id
    if actor is not None and getattr(actor, "reseller_id", None) and not can_edit_pricebooks(actor):
        raise PermissionDenied("Only owners and billing users assign pricebooks.")
    check_assignment(reseller_id, provider, pricebook, customer=customer, cloud_account=cloud_account)
    eff = first_open_month(reseller_id)
    existing = list(
        current_assignments(
            provider, customer=customer, cloud_account=cloud_account, reseller_id=reseller_id, on_date=eff
        )
    )
    before = next((a.pricebook for a in existing if a.valid_from <= eff), None)
    if before == pricebook and all(a.pricebook_id == getattr(pricebook, "pk", None) for a in existing):
        return existing[0] if existing else None
    for row in existing:
        if row.valid_from >= eff:
            row.delete()
        else:
            row.valid_until = eff - timedelta(days=1)
            row.save(update_fields=["valid_until"])
    assignment = None
    if pricebook is not None:
        assignment = PricebookAssignment(
            reseller_id=reseller_id,
            provider=provider,
            pricebook=pricebook,
            customer=customer,
            cloud_account=cloud_account,
            valid_from=eff,
            created_by=str(actor or "system"),
        )
        assignment.save()
    label = str(cloud_account) if cloud_account is not None else (str(customer) if customer else "default")
    text = f"{provider} pricebook for {label}: {before.name if before else 'none'} -> {pricebook.name if pricebook else 'none'}"
    if customer is not None:
        # In the reseller's scope even for platform staff (the admin runs them in platform scope).
        with tenant_scope(reseller_id):
            record_activity(
                actor,
                "pricebook.assigned",
                f"{text} (from {eff})",
                obj=assignment or customer,
                customer=customer,
                changes={
                    "pricebook": [before.name if before else None, pricebook.name if pricebook else None]
                },
            )
    elif pricebook is not None:
        log_change(
            actor,
            pricebook,
            PricebookChange.Action.SET_DEFAULT,
            status=PricebookChange.Status.APPLIED,
            before={"default": before.name if before else None},
            after={"default": pricebook.name},
            effective_from=eff,
            message=f"Default {provider} pricebook from {eff}",
        )
    return assignment
