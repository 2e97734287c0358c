"""Writing the activity log: one helper, called by service functions (never by views)."""

from datetime import date, datetime
from decimal import Decimal

from django.contrib.contenttypes.models import ContentType

from .models import ActivityLog


def _plain(value):
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if hasattr(value, "pk"):
        return str(value)
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def snapshot(instance, fields) -> dict:
    """The values of `fields` on `instance`, in a form the log can store and compare."""
    return {name: _plain(getattr(instance, name)) for name in fields}


def changed_fields(before: dict, after: dict) -> dict:
    """{field: [before, after]} for each field whose value changed."""
    return {k: [before.get(k), after[k]] for k in after if before.get(k) != after[k]}


def record_activity(
    actor, action: str, message: str, *, obj=None, customer=None, changes=None
) -> ActivityLog:
    """Append one entry to the activity log of the reseller in scope."""
    return ActivityLog.objects.create(
        customer=customer,
        actor=actor if getattr(actor, "pk", None) else None,
        actor_label=str(actor) if actor is not None else "system",
        action=action,
        object_type=ContentType.objects.get_for_model(obj) if obj is not None else None,
        object_id=str(obj.pk) if obj is not None else "",
        object_repr=str(obj)[:200] if obj is not None else "",
        message=message[:300],
        changes=changes or {},
    )
