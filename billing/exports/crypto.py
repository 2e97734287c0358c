"""Destination credentials at rest: a JSON object encrypted with Fernet (AES-128-CBC + HMAC-SHA256) under
settings.C360_EXPORT_KEY. Views never render them back; error messages are scrubbed of them."""

import json

from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings

HIDDEN = "•••"


def _fernet() -> Fernet:
    return Fernet(settings.C360_EXPORT_KEY.encode())


def encrypt_credentials(values: dict) -> str:
    """The Fernet token of the non-empty `values` (an empty dict gives an empty string)."""
    values = {k: v for k, v in values.items() if v}
    if not values:
        return ""
    return _fernet().encrypt(json.dumps(values, sort_keys=True).encode()).decode()


def decrypt_credentials(token: str) -> dict:
    if not token:
        return {}
    try:
        return json.loads(_fernet().decrypt(token.encode()))
    except InvalidToken as exc:
        raise ValueError(
            "The stored credentials cannot be read with this server's export key (C360_EXPORT_KEY "
            "changed?): enter them again."
        ) from exc


def scrub(text: str, secrets: dict) -> str:
    """`text` with every secret value (and any longer-than-3 part of a JSON key file) replaced."""
    for value in secrets.values():
        for part in _secret_parts(value):
            text = text.replace(part, HIDDEN)
    return text


def _secret_parts(value):
    if isinstance(value, dict):
        for v in value.values():
            yield from _secret_parts(v)
    elif isinstance(value, str) and len(value) > 3:
        yield value
        if value.lstrip().startswith("{"):
            try:
                yield from _secret_parts(json.loads(value))
            except ValueError:
                pass
