"""Custom fields: the reseller's definitions, each customer's values, and filtering customers by value.

Verbs as in customers.services: access_* fetches with the tenancy built in, check_* validates,
do_* writes and logs. Errors are ValidationErrors keyed by the form field they belong to.
"""

import re
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.http import Http404
from django.utils import timezone

from .activity import changed_fields, record_activity, snapshot
from .models import Customer, CustomFieldDefinition, CustomFieldValue, FieldType
from .models.custom_fields import KEY_VALIDATOR, VALUE_COLUMNS

DEFINITION_FIELDS = ["label", "key", "type", "choices", "required", "filterable", "order"]
# Fixed once a field exists: stored values are typed by it, and saved URLs and reports name the key.
FIXED_FIELDS = ("key", "type")
CHOICE_MAX_LENGTH = 100
# The lookups the list and reports accept after cf_<key>, per type ("" is an exact match).
FILTER_LOOKUPS = {
    FieldType.TEXT: ("",),
    FieldType.CHOICE: ("",),
    FieldType.BOOLEAN: ("",),
    FieldType.NUMBER: ("", "__gte", "__lte"),
    FieldType.DATE: ("", "__gte", "__lte"),
}
PARAM_PREFIX = "cf_"


# --- definitions -------------------------------------------------------------------------------


def definitions(*, filterable_only: bool = False) -> list[CustomFieldDefinition]:
    """The custom fields of the reseller in scope, in display order (one query)."""
    qs = CustomFieldDefinition.objects.all()
    if filterable_only:
        qs = qs.filter(filterable=True)
    return list(qs)


def access_definition(definition_id) -> CustomFieldDefinition:
    """The custom field with this id, of the reseller in scope; anything else is a 404."""
    try:
        return CustomFieldDefinition.objects.get(pk=definition_id)
    except (CustomFieldDefinition.DoesNotExist, ValueError, TypeError, ValidationError) as exc:
        raise Http404("No such custom field") from exc


def derive_key(label: str) -> str:
    """ "Contract tier (2025)" -> "contract_tier_2025": a key for a field whose key was left blank."""
    key = re.sub(r"[^a-z0-9]+", "_", label.lower()).strip("_")
    if key and not key[0].isalpha():
        key = f"f_{key}"
    return key[:40].rstrip("_")


def normalize_choices(choices) -> list[str]:
    """Stripped, non-blank, without repeats, in the order given."""
    seen = []
    for choice in choices or []:
        choice = str(choice).strip()
        if choice and choice not in seen:
            seen.append(choice)
    return seen


def check_definition(definition: CustomFieldDefinition, *, original: dict | None = None) -> None:
    """Validate a definition about to be saved; `original` is its stored state when editing."""
    errors: dict[str, list[str]] = {}
    if original:
        for name in FIXED_FIELDS:
            if getattr(definition, name) != original[name]:
                errors.setdefault(name, []).append(f"The {name} of a custom field cannot be changed.")
    if not definition.label:
        errors.setdefault("label", []).append("Enter a label.")
    elif (
        CustomFieldDefinition.objects.filter(label__iexact=definition.label)
        .exclude(pk=definition.pk)
        .exists()
    ):
        errors.setdefault("label", []).append("Another custom field already has this label.")
    if not definition.key:
        errors.setdefault("key", []).append("Enter a key, or a label it can be made from.")
    else:
        try:
            KEY_VALIDATOR(definition.key)
        except ValidationError as exc:
            errors.setdefault("key", []).extend(exc.messages)
        if CustomFieldDefinition.objects.filter(key=definition.key).exclude(pk=definition.pk).exists():
            errors.setdefault("key", []).append(
                f"Another custom field already uses the key {definition.key} made from the label; enter a "
                "different key."
                if getattr(definition, "key_was_derived", False)
                else "Another custom field already uses this key."
            )
    if definition.type == FieldType.CHOICE:
        too_long = [c for c in definition.choices if len(c) > CHOICE_MAX_LENGTH]
        if not definition.choices:
            errors.setdefault("choices", []).append("List at least one choice, one per line.")
        elif too_long:
            errors.setdefault("choices", []).append(
                f"Keep each choice to {CHOICE_MAX_LENGTH} characters at most: {too_long[0][:30]}…"
            )
        removed = set(original["choices"]) - set(definition.choices) if original else set()
        in_use = sorted(_choices_in_use(definition, removed)) if removed else []
        if in_use:
            errors.setdefault("choices", []).append(
                f"Customers still have {', '.join(in_use)}; change their value first, or keep the choice."
            )
    if errors:
        raise ValidationError(errors)
    definition.full_clean()


def _choices_in_use(definition: CustomFieldDefinition, choices) -> set[str]:
    values = CustomFieldValue.objects.filter(definition=definition, value_text__in=choices)
    return set(values.values_list("value_text", flat=True).distinct())


def _apply(definition: CustomFieldDefinition, fields: dict) -> None:
    for name, value in fields.items():
        if name not in DEFINITION_FIELDS:
            raise TypeError(f"unknown custom field attribute {name!r}")
        setattr(definition, name, value)
    definition.label = (definition.label or "").strip()
    definition.key = (definition.key or "").strip().lower()
    definition.key_was_derived = not definition.key
    if definition.key_was_derived:
        definition.key = derive_key(definition.label)
    # Choices belong to choice fields only (the database refuses anything else).
    definition.choices = normalize_choices(definition.choices) if definition.type == FieldType.CHOICE else []


@transaction.atomic
def do_create_definition(actor, **fields) -> CustomFieldDefinition:
    definition = CustomFieldDefinition()
    _apply(definition, fields)
    check_definition(definition)
    definition.save()
    record_activity(
        actor,
        "custom_field.created",
        f"Custom field {definition.label} created",
        obj=definition,
        changes=changed_fields({}, snapshot(definition, DEFINITION_FIELDS)),
    )
    return definition


@transaction.atomic
def do_update_definition(actor, definition: CustomFieldDefinition, **fields) -> dict:
    """Apply `fields`; returns {field: [before, after]} of what changed."""
    definition = CustomFieldDefinition.objects.select_for_update().get(pk=definition.pk)
    original = snapshot(definition, DEFINITION_FIELDS)
    _apply(definition, fields)
    check_definition(definition, original=original)
    changes = changed_fields(original, snapshot(definition, DEFINITION_FIELDS))
    if changes:
        definition.save(update_fields=list(changes))
        record_activity(
            actor,
            "custom_field.updated",
            f"Custom field {definition.label}: updated {', '.join(changes)}",
            obj=definition,
            changes=changes,
        )
    return changes


@transaction.atomic
def do_delete_definition(actor, definition: CustomFieldDefinition) -> int:
    """Delete the field and every customer's value of it; returns how many values went with it."""
    removed = CustomFieldValue.objects.filter(definition=definition).count()
    record_activity(
        actor,
        "custom_field.deleted",
        f"Custom field {definition.label} deleted ({removed} customer value{'s' if removed != 1 else ''})",
        obj=definition,
        changes={"label": [definition.label, None]},
    )
    CustomFieldDefinition.objects.filter(pk=definition.pk).delete()
    return removed


def values_in_use(definition: CustomFieldDefinition) -> int:
    return CustomFieldValue.objects.filter(definition=definition).count()


# --- values ------------------------------------------------------------------------------------


@dataclass
class FieldValue:
    """One field of one customer, as a page shows it."""

    definition: CustomFieldDefinition
    value: Any

    @property
    def display(self) -> str:
        return self.definition.display(self.value)


def custom_field_values_for(customer: Customer) -> list[FieldValue]:
    """Every field the reseller defined, with this customer's value or None (two queries)."""
    stored = {v.definition_id: v.value for v in CustomFieldValue.objects.filter(customer=customer)}
    return [FieldValue(d, stored.get(d.pk)) for d in definitions()]


@transaction.atomic
def do_set_custom_field_values(actor, customer: Customer, values: dict) -> dict:
    """Set the customer's values of the fields named in `values` ({key: value}; None or "" clears).
    Fields not named keep their values. Validates every value first, so nothing is half-saved;
    returns {label: [before, after]} of what changed, as written to the activity log."""
    defined = {d.key: d for d in definitions()}
    cleaned, errors = {}, {}
    for key, raw in values.items():
        definition = defined.get(key)
        if definition is None:
            errors[key] = ["There is no custom field with this key."]
            continue
        try:
            value = definition.clean_value(raw)
        except ValidationError as exc:
            errors[key] = exc.messages
            continue
        if value is None and definition.required:
            errors[key] = [f"{definition.label} is required."]
            continue
        cleaned[key] = value
    if errors:
        raise ValidationError(errors)

    # Lock the customer so concurrent edits queue up and each log entry's "before" is exact.
    list(Customer.objects.select_for_update().filter(pk=customer.pk).values_list("pk"))
    stored = {
        v.definition_id: v
        for v in CustomFieldValue.objects.filter(
            customer=customer, definition__in=[defined[k] for k in cleaned]
        )
    }
    changes, upserts, deletes = {}, [], []
    now = timezone.now()
    for key, new in cleaned.items():
        definition = defined[key]
        row = stored.get(definition.pk)
        old = row.value if row is not None else None
        if old == new:
            continue
        changes[definition.label] = [definition.display(old) or None, definition.display(new) or None]
        if new is None:
            deletes.append(row.pk)
            continue
        row = row or CustomFieldValue(customer=customer)
        row.set_value(definition, new)
        row.updated_at = now
        upserts.append(row)
    if deletes:
        CustomFieldValue.objects.filter(pk__in=deletes).delete()
    if upserts:
        CustomFieldValue.objects.bulk_create(
            upserts,
            update_conflicts=True,
            unique_fields=["customer", "definition"],
            update_fields=["type", *sorted(set(VALUE_COLUMNS.values())), "updated_at"],
        )
    if changes:
        record_activity(
            actor,
            "customer.custom_fields_updated",
            f"Updated custom fields: {', '.join(changes)}",
            obj=customer,
            customer=customer,
            changes=changes,
        )
    return changes


# --- filtering ---------------------------------------------------------------------------------


def custom_field_condition(definition: CustomFieldDefinition, **lookups) -> Q:
    """Customers whose value of `definition` matches every lookup, e.g. (seats, gte=10, lte=50).
    Lookups take typed values: "exact", "gte", "lte". One subquery on the (definition, value) index."""
    column = definition.value_column
    conditions = {f"{column}__{lookup}": value for lookup, value in lookups.items()}
    matching = CustomFieldValue.objects.filter(definition=definition, **conditions).values("customer_id")
    return Q(id__in=matching)


def custom_field_filter(queryset, params, *, definitions_list=None):
    """Filter a customer queryset by cf_<key>=value, cf_<key>__gte and cf_<key>__lte parameters
    (a QueryDict or dict of strings, as in the customer list URL); other parameters are ignored.

    The customer list and reports share it. Costs one query for the definitions unless
    `definitions_list` is given; each filtered field adds a subquery to the same SQL statement.
    Raises ValidationError keyed by parameter name for a value of the wrong type."""
    if definitions_list is None:
        definitions_list = definitions(filterable_only=True)
    errors = {}
    for definition in definitions_list:
        lookups = {}
        for suffix in FILTER_LOOKUPS[definition.type]:
            name = f"{PARAM_PREFIX}{definition.key}{suffix}"
            raw = params.get(name)
            try:
                value = definition.clean_value(raw)
            except ValidationError as exc:
                errors[name] = exc.messages
                continue
            if value is not None:
                lookups[suffix.lstrip("_") or "exact"] = value
        if lookups:
            queryset = queryset.filter(custom_field_condition(definition, **lookups))
    if errors:
        raise ValidationError(errors)
    return queryset


def custom_field_params(params) -> dict:
    """The cf_* parameters of `params` that have a value (for "are any filters set?")."""
    return {k: v for k, v in params.items() if k.startswith(PARAM_PREFIX) and v}
