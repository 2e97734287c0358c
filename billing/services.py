"""Pricebooks, their rules and who they apply to: every write goes through here.

access_* fetch with the tenancy built in, check_* validate (a ValidationError keyed by form field, so
the admin and the app show the message on the field), do_* write inside one transaction and log: rule
and pricebook changes in the pricebook's change log (PricebookChange), assignments to a customer or a
cloud account in the customer's activity log.

Changes by a billing user wait as pending PricebookChange rows until an owner approves them (the
payload is validated again then); an owner's changes, and platform staff's, apply at once. Every
change takes effect from the first open billing period (billing.periods) and never reprices a closed
one: see the versioning note in billing/models_pricebook.py.

Rules and approvals are here; pricebooks and assignments in services_books.py, re-exported here so
callers import one module.
"""

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.http import Http404
from django.utils import timezone

from .changelog import can_approve, can_edit_pricebooks, check_editor, log_change, needs_approval, plain
from .models import Pricebook, PricebookChange, PricebookRule
from .periods import first_open_month
from .services_books import (
    BOOK_FIELDS,
    MASTER_START,
    check_assignment,
    check_new_pricebook,
    check_pricebook_fields,
    check_pricebook_update,
    current_assignments,
    do_assign_pricebook,
    do_create_pricebook,
    do_update_pricebook,
    ensure_master_pricebooks,
)

__all__ = ["BOOK_FIELDS", "MASTER_START", "can_approve", "can_edit_pricebooks", "check_assignment"]
__all__ += ["check_new_pricebook", "check_pricebook_fields", "check_pricebook_update", "current_assignments"]
__all__ += ["do_assign_pricebook", "do_create_pricebook", "do_update_pricebook", "ensure_master_pricebooks"]
__all__ += ["needs_approval"]

RULE_FIELDS = ["position", "scope_type", "category", "product", "plan", "addon", "service_category"]
RULE_FIELDS += ["service_name", "method", "value", "valid_from", "valid_until", "note"]
FK_FIELDS = {"product", "plan", "addon"}


# --- Reading -------------------------------------------------------------------------------------------


def access_pricebook(pricebook_id) -> Pricebook:
    """The pricebook with this id, of the reseller in scope; anything else is a 404."""
    try:
        return Pricebook.objects.select_related("provider").get(pk=pricebook_id)
    except (Pricebook.DoesNotExist, ValueError, ValidationError) as exc:
        raise Http404("No such pricebook") from exc


# --- Snapshots: the change log's before/after and the pending payloads -----------------------------------


def rule_snapshot(rule: PricebookRule) -> dict:
    return {name: plain(getattr(rule, f"{name}_id" if name in FK_FIELDS else name)) for name in RULE_FIELDS}


def rule_payload(data: dict) -> dict:
    """Form data (instances, Decimals, dates) as the JSON a pending change stores."""
    return {name: plain(data.get(name)) for name in RULE_FIELDS if name in data}


def _rule_from_payload(pricebook, payload: dict, base: PricebookRule | None = None) -> PricebookRule:
    rule = PricebookRule(pricebook=pricebook, reseller_id=pricebook.reseller_id)
    if base is not None:
        for name in RULE_FIELDS:
            attr = f"{name}_id" if name in FK_FIELDS else name
            setattr(rule, attr, getattr(base, attr))
    for name, value in payload.items():
        if name in FK_FIELDS:
            setattr(rule, f"{name}_id", value)
        elif name == "value":
            rule.value = None if value in (None, "") else Decimal(str(value))
        elif name in ("valid_from", "valid_until"):
            rule_date = value if value in (None, "") or isinstance(value, date) else date.fromisoformat(value)
            setattr(rule, name, rule_date or None)
        else:
            setattr(rule, name, "" if value is None and name != "position" else value)
    if rule.position is None:
        rule.position = 0
    return rule


# --- Rules ---------------------------------------------------------------------------------------------


@dataclass
class RuleWrite:
    """What applying a rule change writes: `new` saved, `old` saved (ended) or deleted."""

    new: PricebookRule | None
    old: PricebookRule | None
    old_action: str  # "", "end" (valid_until set) or "delete"
    effective_from: date


def _overlapping(pricebook, key, start, end, exclude_pk=None):
    qs = PricebookRule.objects.filter(pricebook=pricebook, scope_key=key).filter(
        Q(valid_until__isnull=True) | Q(valid_until__gte=start)
    )
    if end is not None:
        qs = qs.filter(valid_from__lte=end)
    if exclude_pk is not None:
        qs = qs.exclude(pk=exclude_pk)
    return qs.first()


def check_rule(
    pricebook: Pricebook, payload: dict, *, rule: PricebookRule | None = None, today=None
) -> RuleWrite:
    """Validate a new rule (rule=None) or a change to `rule`; returns what applying it writes."""
    check_editor(None, pricebook)
    eff = first_open_month(pricebook.reseller_id, today)
    new = _rule_from_payload(pricebook, payload, base=rule)
    errors = {}
    try:
        new.full_clean(exclude=["reseller", "pricebook"], validate_constraints=False)
    except ValidationError as exc:
        errors.update(exc.update_error_dict({}))
    if errors:
        raise ValidationError(errors)
    new.set_derived()
    closed_note = f"{eff:%B %Y} is the first billing period not yet invoiced"
    old_action = ""
    if rule is not None:
        if rule.valid_until is not None and rule.valid_until < eff:
            raise ValidationError(
                f"This rule ended on {rule.valid_until} and priced invoiced periods only; it cannot change."
            )
        if new.scope_key != rule.scope_key:
            raise ValidationError(
                {"scope_type": "A rule's scope cannot change; end this rule and add a new one."}
            )
        if rule.valid_from < eff:
            if new.valid_from == rule.valid_from:
                new.valid_from = eff  # unchanged start: the new version continues the old one
            old_action = "end"
        else:
            new.pk = rule.pk  # never priced a closed period: changed in place
            new._state.adding = False
    if new.valid_from < eff:
        raise ValidationError(
            {"valid_from": f"Rules can take effect from {eff} at the earliest ({closed_note})."}
        )
    if new.valid_until is not None and new.valid_until < new.valid_from:
        raise ValidationError({"valid_until": f"The rule cannot end before it starts ({new.valid_from})."})
    clash = _overlapping(pricebook, new.scope_key, new.valid_from, new.valid_until, rule.pk if rule else None)
    if clash is not None:
        until = clash.valid_until or "no end"
        raise ValidationError(
            {"valid_from": f"Overlaps the rule '{clash}' ({clash.valid_from} to {until}) of the same scope."}
        )
    if rule is not None and old_action == "end":
        rule.valid_until = eff - timedelta(days=1)
    return RuleWrite(
        new=new, old=rule if old_action else None, old_action=old_action, effective_from=new.valid_from
    )


def check_end_rule(rule: PricebookRule, today=None) -> RuleWrite:
    check_editor(None, rule.pricebook)
    eff = first_open_month(rule.reseller_id, today)
    if rule.valid_until is not None and rule.valid_until < eff:
        raise ValidationError(f"This rule already ended on {rule.valid_until}.")
    if rule.valid_from >= eff:
        return RuleWrite(new=None, old=rule, old_action="delete", effective_from=rule.valid_from)
    rule.valid_until = eff - timedelta(days=1)
    return RuleWrite(new=None, old=rule, old_action="end", effective_from=eff)


def _apply(write: RuleWrite) -> PricebookRule | None:
    try:
        with transaction.atomic():
            if write.old is not None and write.old_action == "delete":
                write.old.delete()
            elif write.old is not None:
                write.old.save(update_fields=["valid_until"])
            if write.new is not None:
                write.new.save()
    except IntegrityError as exc:  # a concurrent change got there first; the constraint held
        raise ValidationError(
            {"valid_from": "Another rule of the same scope now overlaps these dates."}
        ) from exc
    return write.new


@transaction.atomic
def do_save_rule(
    actor, pricebook: Pricebook, data: dict, *, rule: PricebookRule | None = None
) -> PricebookChange:
    """Add a rule (rule=None) or change one. A billing user's change is stored pending approval."""
    check_editor(actor, pricebook)
    if rule is not None:  # the row as stored, not a form's instance that already carries the edits
        rule = PricebookRule.objects.get(pk=rule.pk, pricebook=pricebook)
    payload = rule_payload(data)
    before = rule_snapshot(rule) if rule else {}
    write = check_rule(pricebook, payload, rule=rule)
    action = PricebookChange.Action.UPDATE_RULE if rule else PricebookChange.Action.CREATE_RULE
    after = rule_snapshot(write.new)
    if actor is not None and needs_approval(actor):
        # Store what was asked for: approval validates it again, against the periods open then.
        return log_change(
            actor,
            pricebook,
            action,
            status=PricebookChange.Status.PENDING,
            before=before,
            after={**before, **payload},
            rule=rule,
            effective_from=write.effective_from,
            message=f"{write.new} (waiting for an owner's approval)",
        )
    saved = _apply(write)
    return log_change(
        actor,
        pricebook,
        action,
        status=PricebookChange.Status.APPLIED,
        before=before,
        after=after,
        rule=saved,
        effective_from=write.effective_from,
        message=str(saved),
    )


@transaction.atomic
def do_end_rule(actor, rule: PricebookRule) -> PricebookChange:
    """Stop a rule from the first open billing period (or delete it if it has priced nothing closed)."""
    rule = PricebookRule.objects.select_related("pricebook").get(pk=rule.pk)
    check_editor(actor, rule.pricebook)
    before, label, book = rule_snapshot(rule), str(rule), rule.pricebook
    write = check_end_rule(rule)
    after = {} if write.old_action == "delete" else rule_snapshot(rule)
    if actor is not None and needs_approval(actor):
        return log_change(
            actor,
            book,
            PricebookChange.Action.END_RULE,
            status=PricebookChange.Status.PENDING,
            before=before,
            after=after,
            rule=rule,
            effective_from=write.effective_from,
            message=f"End {label} (waiting for an owner's approval)",
        )
    _apply(write)
    return log_change(
        actor,
        book,
        PricebookChange.Action.END_RULE,
        status=PricebookChange.Status.APPLIED,
        before=before,
        after=after,
        rule=rule if write.old_action == "end" else None,
        effective_from=write.effective_from,
        message=f"{label} {'deleted' if write.old_action == 'delete' else 'ended'}",
    )


# --- Approvals -----------------------------------------------------------------------------------------


@transaction.atomic
def do_approve_change(actor, change: PricebookChange) -> PricebookChange:
    """Apply a pending change, validated again against the pricebook as it is now."""
    if not can_approve(actor):
        raise PermissionDenied("Only an owner approves pricebook changes.")
    change = PricebookChange.objects.select_for_update().select_related("pricebook").get(pk=change.pk)
    if change.status != PricebookChange.Status.PENDING:
        raise ValidationError(f"This change is already {change.get_status_display().lower()}.")
    book, action = change.pricebook, change.action
    if action in (PricebookChange.Action.CREATE_RULE, PricebookChange.Action.UPDATE_RULE):
        rule = PricebookRule.objects.get(pk=change.rule_id) if change.rule_id else None
        write = check_rule(book, change.after, rule=rule)
        change.rule = _apply(write)
        change.effective_from = write.effective_from
    elif action == PricebookChange.Action.END_RULE:
        write = check_end_rule(PricebookRule.objects.get(pk=change.rule_id))
        _apply(write)
        change.effective_from = write.effective_from
    elif action == PricebookChange.Action.UPDATE_BOOK:
        new = check_pricebook_update(book, {k: change.after[k] for k in BOOK_FIELDS})
        for key, value in new.items():
            setattr(book, key, value)
        book.save(update_fields=BOOK_FIELDS)
    change.status = PricebookChange.Status.APPLIED
    change.decided_by, change.decided_by_label, change.decided_at = actor, str(actor), timezone.now()
    change.save()
    return change


@transaction.atomic
def do_reject_change(actor, change: PricebookChange, reason: str = "") -> PricebookChange:
    if not can_approve(actor):
        raise PermissionDenied("Only an owner rejects pricebook changes.")
    if change.status != PricebookChange.Status.PENDING:
        raise ValidationError(f"This change is already {change.get_status_display().lower()}.")
    change.status = PricebookChange.Status.REJECTED
    change.decided_by, change.decided_by_label, change.decided_at = actor, str(actor), timezone.now()
    if reason:
        change.message = f"{change.message} (rejected: {reason})"[:300]
    change.save()
    return change
