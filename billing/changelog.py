"""The pricebook change log and who may change pricebooks, shared by billing's services."""

from datetime import date
from decimal import Decimal

from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from accounts.models import Role

from .models import Pricebook, PricebookChange

# --- Who may do what -----------------------------------------------------------------------------------


def can_edit_pricebooks(user) -> bool:
    return bool(user.is_superuser or (user.reseller_id and user.role in (Role.OWNER, Role.BILLING)))


def needs_approval(user) -> bool:
    return not user.is_superuser and user.role == Role.BILLING


def can_approve(user) -> bool:
    return bool(user.is_superuser or (user.reseller_id and user.role == Role.OWNER))


def check_editor(actor, pricebook: Pricebook):
    if actor is not None and not can_edit_pricebooks(actor):
        raise PermissionDenied("Only owners and billing users change pricebooks.")
    if pricebook.is_master:
        raise ValidationError(
            "Master pricebooks are maintained from the catalog and cannot be edited; copy one to make your own."
        )


def plain(value):
    if isinstance(value, Decimal):
        return f"{value.normalize():f}"
    if isinstance(value, date):
        return value.isoformat()
    if hasattr(value, "pk"):
        return value.pk
    return value


def log_change(
    actor, pricebook, action, *, status, before=None, after=None, rule=None, effective_from=None, message=""
):
    now = timezone.now()
    applied = status == PricebookChange.Status.APPLIED
    return PricebookChange.objects.create(
        reseller_id=pricebook.reseller_id,
        pricebook=pricebook,
        rule=rule if rule is not None and rule.pk else None,
        action=action,
        status=status,
        before=before or {},
        after=after or {},
        effective_from=effective_from,
        message=message[:300],
        requested_by=actor if getattr(actor, "pk", None) else None,
        requested_by_label=str(actor) if actor is not None else "system",
        decided_by=actor if applied and getattr(actor, "pk", None) else None,
        decided_by_label=str(actor) if applied and actor is not None else "",
        decided_at=now if applied else None,
    )
