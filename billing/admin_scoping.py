"""Admin pages shared by platform staff and by resellers' own admins, and what keeps them apart.

Platform staff (superusers with no reseller) see every reseller's rows: the middleware opens the
platform scope for them in the admin site. A reseller's owner or billing user with is_staff gets the
admin with their own reseller in scope; for them every queryset here is also filtered by reseller
explicitly, every foreign-key choice is limited to their reseller's rows (catalog choices to the
providers they are authorized for), and the autocomplete of customers and cloud accounts goes through
ScopedLookupView below rather than the customers app's admin, which reseller users cannot open.
A raw form post naming another reseller's row fails the field's queryset ("Select a valid choice").
"""

from django.apps import apps
from django.contrib import admin
from django.contrib.admin.views.autocomplete import AutocompleteJsonView
from django.contrib.admin.widgets import AutocompleteSelect
from django.core.exceptions import FieldDoesNotExist, PermissionDenied, ValidationError
from django.urls import reverse

from accounts.models import Role
from accounts.permissions import is_platform_staff
from customer360.admin_base import SafeAutocompleteAdmin, ValidKeysOnly
from customer360.tenancy import TenantModel
from customers.models import CloudAccount, Customer
from marketplace.models import AddOn, Plan, Product, Provider
from marketplace.services import authorized_providers

LOOKUP_URL_NAME = "billing_scoped_lookup"


def is_reseller_admin(user) -> bool:
    """An owner or billing user of a reseller, allowed into the admin site (is_staff)."""
    return bool(
        user.is_active and user.is_staff and user.reseller_id and user.role in (Role.OWNER, Role.BILLING)
    )


def may_use_admin(user) -> bool:
    return is_platform_staff(user) or is_reseller_admin(user)


def catalog_queryset(model, user):
    """Catalog rows a user may see and choose: all for platform staff, the authorized providers' otherwise."""
    qs = model._default_manager.all()
    if is_platform_staff(user):
        return qs
    providers = authorized_providers(user.reseller_id) if is_reseller_admin(user) else Provider.objects.none()
    path = {
        Provider: "pk__in",
        Product: "provider__in",
        Plan: "product__provider__in",
        AddOn: "product__provider__in",
    }
    return qs.filter(**{path[model]: providers.values("pk")})


def tenant_queryset(model, user):
    qs = model._default_manager.all()
    return qs if is_platform_staff(user) else qs.filter(reseller_id=user.reseller_id)


def add_service_errors(form, exc: ValidationError) -> None:
    """Put a service's ValidationError on the form: on the field it names when the form has that field,
    else at the top of the form."""
    for field, messages in exc.update_error_dict({}).items():
        form.add_error(field if field in form.fields else None, messages)


class ScopedAutocompleteSelect(ValidKeysOnly, AutocompleteSelect):
    """Select2 autocomplete that asks ScopedLookupView (scoped to the reseller) instead of the admin
    of the related model."""

    def get_url(self):
        return reverse(f"{self.admin_site.name}:{LOOKUP_URL_NAME}")


class _Lookup(admin.ModelAdmin):
    """Serves the autocomplete of one tenant model; never registered, so it adds no admin pages."""

    def has_view_permission(self, request, obj=None):
        return may_use_admin(request.user)

    def get_queryset(self, request):
        return tenant_queryset(self.model, request.user)


class CustomerLookup(_Lookup):
    search_fields = ["name"]
    ordering = ["name"]


class CloudAccountLookup(_Lookup):
    search_fields = ["account_id", "name", "customer__name"]
    ordering = ["account_id"]

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("customer")


LOOKUPS = {Customer: CustomerLookup, CloudAccount: CloudAccountLookup}


class ScopedLookupView(AutocompleteJsonView):
    """The admin autocomplete for customer and cloud-account fields of billing's models."""

    def process_request(self, request):
        term = request.GET.get("term", "")
        try:
            source_model = apps.get_model(request.GET["app_label"], request.GET["model_name"])
            source_field = source_model._meta.get_field(request.GET["field_name"])
        except (KeyError, LookupError, FieldDoesNotExist) as exc:
            raise PermissionDenied from exc
        remote = getattr(source_field.remote_field, "model", None)
        if source_model._meta.app_label != "billing" or remote not in LOOKUPS:
            raise PermissionDenied
        return term, LOOKUPS[remote](remote, self.admin_site), source_field, remote._meta.pk.attname


class ScopedAdmin(SafeAutocompleteAdmin, admin.ModelAdmin):
    """Admin of a billing tenant model: platform staff see all, a reseller's admins only their own.
    `reseller_can_write`: whether reseller admins may add, change and delete (objects may refuse more)."""

    reseller_can_write = True

    def _allowed(self, request, obj=None, write=False) -> bool:
        user = request.user
        if is_platform_staff(user):
            return True
        if not is_reseller_admin(user) or (write and not self.reseller_can_write):
            return False
        return obj is None or getattr(obj, "reseller_id", user.reseller_id) == user.reseller_id

    def has_module_permission(self, request):
        return self._allowed(request)

    def has_view_permission(self, request, obj=None):
        return self._allowed(request, obj)

    def has_add_permission(self, request):
        return self._allowed(request, write=True)

    def has_change_permission(self, request, obj=None):
        return self._allowed(request, obj, write=True)

    def has_delete_permission(self, request, obj=None):
        return self._allowed(request, obj, write=True)

    def get_queryset(self, request):
        return tenant_queryset(self.model, request.user).select_related(*self.list_select_related or ())

    def get_list_display(self, request):
        display = super().get_list_display(request)
        return ("reseller", *display) if is_platform_staff(request.user) else display

    def get_list_filter(self, request):
        filters = super().get_list_filter(request)
        return ("reseller", *filters) if is_platform_staff(request.user) else filters

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        model = db_field.remote_field.model
        if issubclass(model, TenantModel):
            kwargs["queryset"] = tenant_queryset(model, request.user)
        elif model in (Provider, Product, Plan, AddOn):
            kwargs["queryset"] = catalog_queryset(model, request.user)
        if model in LOOKUPS:
            kwargs["widget"] = ScopedAutocompleteSelect(db_field, self.admin_site)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def get_form(self, request, obj=None, **kwargs):
        """The form class, bound to this request (a subclass per request, so nothing is shared)."""
        form = super().get_form(request, obj, **kwargs)
        return type(form.__name__, (form,), {"request": request})


__all__ = ["ScopedAdmin", "ScopedLookupView", "add_service_errors", "catalog_queryset"]
__all__ += ["is_platform_staff", "is_reseller_admin", "may_use_admin", "tenant_queryset"]
