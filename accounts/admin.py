from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin

from .models import Reseller, User
from .permissions import PlatformStaffOnly


@admin.register(Reseller)
class ResellerAdmin(PlatformStaffOnly, admin.ModelAdmin):
    list_display = ("name", "slug", "default_currency", "created_at")
    search_fields = ("name", "slug")
    prepopulated_fields = {"slug": ("name",)}
    fieldsets = (
        (None, {"fields": ("name", "slug", "default_currency")}),
        (
            "On quotes and invoices",
            {
                "fields": (
                    "logo",
                    "address_line1",
                    "address_line2",
                    "city",
                    "postal_code",
                    "country",
                    "email",
                    "phone",
                )
            },
        ),
    )


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
