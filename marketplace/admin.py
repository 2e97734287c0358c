"""The catalog and reseller authorizations in the admin site.

Platform staff maintain the catalog and grant authorizations. A reseller's owners and billing users in
the admin may look at (and choose, in their pricebook rules) the products of the providers they are
authorized for, and see their own authorizations; they change none of it.
"""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError

from accounts.models import Reseller
from billing.admin_scoping import ScopedAdmin, catalog_queryset, is_platform_staff, may_use_admin
from customer360.admin_base import SafeAutocompleteAdmin

from . import services
from .models import AddOn, Plan, Product, Provider, ResellerAuthorization


class CatalogAdmin(SafeAutocompleteAdmin, admin.ModelAdmin):
    """Readable by everyone allowed into the admin (authorized providers only for resellers);
    writable by platform staff only."""

    def has_module_permission(self, request):
        return may_use_admin(request.user)

    def has_view_permission(self, request, obj=None):
        if not may_use_admin(request.user):
            return False
        return obj is None or catalog_queryset(type(obj), request.user).filter(pk=obj.pk).exists()

    def has_add_permission(self, request):
        return is_platform_staff(request.user)

    def has_change_permission(self, request, obj=None):
        return is_platform_staff(request.user)

    def has_delete_permission(self, request, obj=None):
        return is_platform_staff(request.user)

    def get_queryset(self, request):
        qs = catalog_queryset(self.model, request.user)
        return qs.select_related(*self.list_select_related) if self.list_select_related else qs


@admin.register(Provider)
class ProviderAdmin(CatalogAdmin):
    list_display = ["name", "code", "kind", "is_active"]
    list_filter = ["kind", "is_active"]
    search_fields = ["name", "code"]


@admin.register(Product)
class ProductAdmin(CatalogAdmin):
    list_display = ["name", "provider", "category", "type", "is_active"]
    list_filter = ["provider", "type", "is_active"]
    list_select_related = ["provider"]
    search_fields = ["name", "category"]


@admin.register(Plan)
class PlanAdmin(CatalogAdmin):
    list_display = ["sku", "name", "product", "billing_term", "billing_frequency", "unit_cost", "list_price"]
    list_display += ["min_quantity", "max_quantity", "trial_available", "is_active"]
    list_filter = ["product__provider", "billing_term", "billing_frequency", "trial_available", "is_active"]
    list_select_related = ["product"]
    search_fields = ["sku", "name", "product__name"]
    autocomplete_fields = ["product"]
    show_full_result_count = False


class AddOnForm(forms.ModelForm):
    class Meta:
        model = AddOn
        fields = [
            "product",
            "sku",
            "name",
            "unit_cost",
            "list_price",
            "min_quantity",
            "max_quantity",
            "plans",
            "is_active",
        ]

    def clean(self):
        data = super().clean()
        product, plans = data.get("product"), data.get("plans")
        if product and plans:
            foreign = [p.sku for p in plans if p.product.provider_id != product.provider_id]
            if foreign:
                self.add_error(
                    "plans", f"Plans of another provider than {product.provider}: {', '.join(foreign)}."
                )
        return data


@admin.register(AddOn)
class AddOnAdmin(CatalogAdmin):
    form = AddOnForm
    list_display = ["sku", "name", "product", "unit_cost", "list_price", "is_active"]
    list_filter = ["product__provider", "is_active"]
    list_select_related = ["product"]
    search_fields = ["sku", "name", "product__name"]
    autocomplete_fields = ["product", "plans"]


class AuthorizationForm(forms.ModelForm):
    # Not "reseller": the admin refuses a form field named like the model's non-editable field.
    for_reseller = forms.ModelChoiceField(Reseller.objects.all(), label="Reseller")

    class Meta:
        model = ResellerAuthorization
        fields = ["provider"]

    def clean(self):
        data = super().clean()
        reseller, provider = data.get("for_reseller"), data.get("provider")
        if (
            reseller
            and provider
            and ResellerAuthorization.objects.filter(reseller=reseller, provider=provider).exists()
        ):
            raise ValidationError({"provider": f"{reseller} is already authorized for {provider}."})
        return data


@admin.register(ResellerAuthorization)
class ResellerAuthorizationAdmin(ScopedAdmin):
    form = AuthorizationForm
    list_display = ["provider", "authorized_at", "authorized_by"]
    list_filter = ["provider"]
    list_select_related = ["provider", "reseller"]
    reseller_can_write = False  # resellers see theirs; platform staff grant and revoke

    def get_fields(self, request, obj=None):
        return ["for_reseller", "provider"] if obj is None else ["provider", "authorized_at", "authorized_by"]

    def get_readonly_fields(self, request, obj=None):
        return ["provider", "authorized_at", "authorized_by"] if obj else []

    def has_change_permission(self, request, obj=None):
        return False  # grant or revoke; nothing to edit

    def save_model(self, request, obj, form, change):
        authorization = services.do_authorize_provider(
            request.user, form.cleaned_data["for_reseller"], obj.provider
        )
        obj.pk, obj.reseller_id = authorization.pk, authorization.reseller_id
        messages.info(request, "Its master pricebooks (at cost and at list price) are in place.")

    def delete_model(self, request, obj):
        services.do_revoke_authorization(request.user, obj)

    def delete_queryset(self, request, queryset):
        for obj in queryset:
            services.do_revoke_authorization(request.user, obj)
