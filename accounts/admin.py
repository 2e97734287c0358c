from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin

from .models import Reseller, User
from .permissions import is_platform_staff


class PlatformStaffOnly:
    """Resellers and users are platform data: only platform staff (superusers without a reseller) see
    them, even if a reseller's admin user is ever given auth permissions through a group."""

    def has_module_permission(self, request):
        return is_platform_staff(request.user)

    def has_view_permission(self, request, obj=None):
        return is_platform_staff(request.user)

    def has_add_permission(self, request):
        return is_platform_staff(request.user)

    def has_change_permission(self, request, obj=None):
        return is_platform_staff(request.user)

    def has_delete_permission(self, request, obj=None):
        return is_platform_staff(request.user)


@admin.register(Reseller)
class ResellerAdmin(PlatformStaffOnly, admin.ModelAdmin):
    list_display = ("name", "slug", "default_currency", "created_at")
    search_fields = ("name", "slug")
    prepopulated_fields = {"slug": ("name",)}


@admin.register(User)
class UserAdmin(PlatformStaffOnly, BaseUserAdmin):
    ordering = ("email",)
    list_display = ("email", "full_name", "reseller", "role", "is_active", "is_superuser")
    list_filter = ("reseller", "role", "is_active", "is_superuser")
    search_fields = ("email", "full_name")
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        ("Profile", {"fields": ("full_name", "reseller", "role")}),
        ("Access", {"fields": ("is_active", "is_staff", "is_superuser")}),
    )
    add_fieldsets = (
        (None, {"classes": ("wide",), "fields": ("email", "reseller", "role", "password1", "password2")}),
    )
