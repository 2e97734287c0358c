from django.contrib import admin

from customer360.admin_base import TenantAdmin, TenantInlineFormSet

from .models import ActivityLog, Alert, CloudAccount, Contact, Customer, CustomFieldDefinition, TestDrive


class ContactInline(admin.TabularInline):
    model = Contact
    formset = TenantInlineFormSet
    extra = 0


@admin.register(Customer)
class CustomerAdmin(TenantAdmin):
    list_display = ("name", "status", "currency", "cloud_account_count", "created_at")
    inlines = [ContactInline]
    list_filter = ("status",)
    search_fields = ("name",)
    show_full_result_count = False  # 200k-row tables: no COUNT(*) on every page


@admin.register(CloudAccount)
class CloudAccountAdmin(TenantAdmin):
    list_display = ("account_id", "provider", "customer", "status")
    list_filter = ("provider", "status")
    search_fields = ("account_id",)
    raw_id_fields = ("customer",)
    show_full_result_count = False


@admin.register(ActivityLog)
class ActivityLogAdmin(TenantAdmin):
    list_display = ("created_at", "actor_label", "action", "message")
    list_filter = ("action",)
    readonly_fields = [f.name for f in ActivityLog._meta.fields]
    show_full_result_count = False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Alert)
class AlertAdmin(TenantAdmin):
    list_display = ("title", "customer", "kind", "severity", "is_read", "created_at")
    list_filter = ("kind", "severity", "is_read")
    raw_id_fields = ("customer",)


@admin.register(CustomFieldDefinition)
class CustomFieldDefinitionAdmin(TenantAdmin):
    list_display = ("label", "key", "type", "required")
    search_fields = ("label", "key")


@admin.register(TestDrive)
class TestDriveAdmin(TenantAdmin):
    list_display = ("customer", "status", "started_on", "expires_on")
    list_filter = ("status",)
    raw_id_fields = ("customer",)
