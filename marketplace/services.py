"""Catalog access and reseller authorizations.

Marketplace, quotes and billing ask here whether the reseller in scope may transact a provider:
`authorized_providers()` for what to show, `check_provider_authorized()` before anything is put in a
cart, quoted, ordered or priced, whatever URL or form data was sent.
"""

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Q

from customer360.tenancy import current_reseller_id

from .models import AddOn, Plan, Provider, ResellerAuthorization


class ProviderNotAuthorized(PermissionDenied):
    """The reseller is not authorized for the provider: nothing of it may be sold or priced."""


def authorized_providers(reseller_id=None):
    """The active providers the reseller (default: the one in scope) is authorized for."""
    reseller_id = reseller_id or current_reseller_id()
    ids = ResellerAuthorization.objects.filter(reseller_id=reseller_id).values("provider_id")
    return Provider.objects.filter(is_active=True, pk__in=ids)


def check_provider_authorized(provider, reseller_id=None) -> Provider:
    """The provider (a Provider, its id or its code) if the reseller may transact it; else ProviderNotAuthorized."""
    reseller_id = reseller_id or current_reseller_id()
    if isinstance(provider, str) and not provider.isdigit():
        lookup = Q(code=provider)
    else:
        lookup = Q(pk=getattr(provider, "pk", provider))
    found = authorized_providers(reseller_id).filter(lookup).first()
    if found is None:
        name = getattr(provider, "name", provider)
        raise ProviderNotAuthorized(f"Your reseller is not authorized to sell {name} products.")
    return found


def access_plan(plan_id, reseller_id=None) -> Plan:
    """An active plan of an authorized provider; anything else is ProviderNotAuthorized or DoesNotExist."""
    plan = Plan.objects.select_related("product__provider").get(pk=plan_id, is_active=True)
    check_provider_authorized(plan.product.provider, reseller_id)
    return plan


def access_addon(addon_id, reseller_id=None) -> AddOn:
    addon = AddOn.objects.select_related("product__provider").get(pk=addon_id, is_active=True)
    check_provider_authorized(addon.product.provider, reseller_id)
    return addon


def catalog_plans(provider: Provider):
    """The active plans of one provider, for catalog and buy screens (filtered by filtersets)."""
    return (
        Plan.objects.filter(product__provider=provider, is_active=True, product__is_active=True)
        .select_related("product")
        .order_by("product__category", "product__name", "list_price", "sku")
    )


@transaction.atomic
def do_authorize_provider(actor, reseller, provider: Provider) -> ResellerAuthorization:
    """Let the reseller transact the provider; creates its master pricebooks for it (billing)."""
    from billing.services import ensure_master_pricebooks

    authorization = ResellerAuthorization.objects.filter(reseller_id=reseller.pk, provider=provider).first()
    if authorization is None:
        authorization = ResellerAuthorization(
            reseller=reseller, provider=provider, authorized_by=str(actor or "system")
        )
        authorization.save()
    ensure_master_pricebooks(reseller, provider)
    return authorization


@transaction.atomic
def do_revoke_authorization(actor, authorization: ResellerAuthorization) -> None:
    """Stop the reseller transacting the provider. Its pricebooks stay (they priced past periods)."""
    authorization.delete()
