"""Cloud account numbers: what each provider's ids look like, checked before anything is saved."""

import re

from django.core.exceptions import ValidationError

from .models import CloudProvider

_GUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
_DOMAIN = re.compile(r"^(?=.{4,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
_GCP_PROJECT = re.compile(r"^[a-z][a-z0-9-]{4,28}[a-z0-9]$")

FORMAT_HELP = {
    CloudProvider.AWS: "AWS account id: 12 digits, e.g. 123456789012",
    CloudProvider.AZURE: "Azure subscription id: a GUID, e.g. 0f8fad5b-d9cb-469f-a165-70867728950e",
    CloudProvider.M365: "Microsoft 365 tenant: tenant id (GUID) or domain, e.g. contoso.onmicrosoft.com",
    CloudProvider.GCP: "Google Cloud project id: 6–30 lowercase letters, digits or hyphens, starting with a letter",
    CloudProvider.GWS: "Google Workspace primary domain, e.g. example.com",
}


def check_account_number(provider: str, raw: str) -> str:
    """The account number in its stored form (lowercase, no separators), or a ValidationError
    that says what the provider's ids look like."""
    value = (raw or "").strip().lower()
    if not value:
        raise ValidationError("Enter the account number.", code="required")
    if provider == CloudProvider.AWS:
        value = value.replace("-", "").replace(" ", "")
        ok = len(value) == 12 and value.isdigit()
    elif provider == CloudProvider.AZURE:
        ok = bool(_GUID.match(value))
    elif provider == CloudProvider.M365:
        ok = bool(_GUID.match(value) or _DOMAIN.match(value))
    elif provider == CloudProvider.GCP:
        ok = bool(_GCP_PROJECT.match(value)) and "--" not in value
    elif provider == CloudProvider.GWS:
        ok = bool(_DOMAIN.match(value))
    else:
        raise ValidationError("Choose a cloud provider.", code="provider")
    if not ok:
        raise ValidationError(f"That is not a valid id. {FORMAT_HELP[provider]}.", code="format")
    return value
