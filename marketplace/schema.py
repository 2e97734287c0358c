"""Plan filter schemas: the attributes a provider's plans are described and filtered by.

A provider declares its schema once (Provider.plan_filter_schema); the catalog page and the buy and
quote screens build their filters from it, and every plan's `attributes` are checked against it, so no
template or view ever names a provider. The schema is a list of attributes, each:

    {"key": "term", "label": "Term", "required": true,
     "choices": [["monthly", "Monthly"], ["annual", "Annual"], ["three_year", "3 years"]]}

`key` is a short identifier (lowercase letters, digits, underscores), `choices` the allowed values in
display order, `required` (default false) whether every plan of the provider must carry it.
"""

import re

from django.core.exceptions import ValidationError

_KEY = re.compile(r"^[a-z][a-z0-9_]{0,39}$")


def check_filter_schema(schema) -> list[dict]:
    """The schema in normalised form (choices as [value, label] pairs), or a ValidationError."""
    if not isinstance(schema, list):
        raise ValidationError("The plan filter schema is a list of attributes.")
    seen, normalised = set(), []
    for i, attr in enumerate(schema, start=1):
        where = f"attribute {i}"
        if not isinstance(attr, dict):
            raise ValidationError(f"{where}: expected an object with key, label and choices.")
        key = attr.get("key")
        if not isinstance(key, str) or not _KEY.match(key):
            raise ValidationError(f"{where}: key must be lowercase letters, digits or underscores.")
        if key in seen:
            raise ValidationError(f"{where}: key '{key}' is declared twice.")
        seen.add(key)
        label = attr.get("label") or key.replace("_", " ").capitalize()
        choices = attr.get("choices")
        if not isinstance(choices, list) or not choices:
            raise ValidationError(f"{where} ({key}): list at least one choice.")
        pairs = []
        for choice in choices:
            if isinstance(choice, str):
                choice = [choice, choice.replace("_", " ").capitalize()]
            if not (
                isinstance(choice, (list, tuple))
                and len(choice) == 2
                and all(isinstance(c, str) for c in choice)
            ):
                raise ValidationError(f"{where} ({key}): each choice is a value or a [value, label] pair.")
            pairs.append([choice[0], choice[1]])
        values = [p[0] for p in pairs]
        if len(set(values)) != len(values):
            raise ValidationError(f"{where} ({key}): a choice is listed twice.")
        required = attr.get("required", False)
        if not isinstance(required, bool):
            raise ValidationError(f"{where} ({key}): required is true or false.")
        normalised.append({"key": key, "label": str(label), "required": required, "choices": pairs})
    return normalised


def check_plan_attributes(schema: list[dict], attributes) -> dict:
    """The plan's attributes if they fit the provider's schema; otherwise a ValidationError per key."""
    if not isinstance(attributes, dict):
        raise ValidationError("Attributes are an object of attribute key to value.")
    declared = {a["key"]: a for a in schema}
    errors = []
    for key, value in attributes.items():
        if key not in declared:
            allowed = ", ".join(declared) or "none"
            errors.append(f"'{key}' is not an attribute of this provider (allowed: {allowed}).")
            continue
        values = [c[0] for c in declared[key]["choices"]]
        if value not in values:
            errors.append(f"{key}: '{value}' is not one of {', '.join(values)}.")
    for key, attr in declared.items():
        if attr.get("required") and key not in attributes:
            errors.append(f"{key}: required by this provider's plan schema.")
    if errors:
        raise ValidationError(errors)
    return attributes
