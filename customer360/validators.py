"""Checks of posted text that the views read without a Django form (a form's CharField already refuses
NUL). PostgreSQL text cannot hold NUL (\\x00): a value with one must be refused with a message, never
reach a query (where it is a server error)."""

from django.core.exceptions import ValidationError

NUL_MESSAGE = "Remove the NUL character (\\0) from this text."


def has_nul(value) -> bool:
    return "\x00" in str(value or "")


def check_no_nul(**values) -> None:
    """ValidationError keyed by field for each value holding a NUL character."""
    errors = {name: NUL_MESSAGE for name, value in values.items() if has_nul(value)}
    if errors:
        raise ValidationError(errors)
