"""Read-only admins of the billing records the app's pages and runs make: usage imports, billing exports,
and (billing/admin_invoices.py) invoices, payments, credit notes, invoice runs and provider periods.
Each is scoped like every billing admin (billing.admin.ScopedAdmin)."""

from django.contrib import admin
from django.utils.html import format_html, format_html_join

from . import admin_invoices  # noqa: F401 - registers the invoice admins
from .admin import ReadOnlyScopedAdmin
from .models_exports import BillingExport, ExportRun
from .models_usage import UsageImport

# Usage imports (issue 7): read-only; imports are started, retried and their unmatched accounts linked on
# the Usage imports pages, whose services check roles and write the activity log.


@admin.register(UsageImport)
class UsageImportAdmin(ReadOnlyScopedAdmin):
    list_display = ["original_name", "status", "provider", "focus_version", "rows_read", "rows_new"]
    list_display += ["rows_duplicate", "rows_matched", "rows_unmatched", "created_at", "finished_at"]
    list_filter = ["status", "provider", "focus_version"]
    search_fields = ["original_name", "error"]
    date_hierarchy = "created_at"
    list_select_related = ["created_by"]
    readonly_fields = ["unmatched_accounts"]
    fields = [
        "original_name", "file", "provider", "status", "focus_version", "rows_read", "rows_new",
        "rows_duplicate", "rows_matched", "rows_unmatched", "rows_closed_period", "error", "unmatched_accounts",
        "created_by",
        "created_at", "started_at", "heartbeat_at", "finished_at",
    ]  # fmt: skip

    @admin.display(description="unmatched accounts (first 20)")
    def unmatched_accounts(self, obj):
        from .services_usage import unmatched_accounts

        rows = list(unmatched_accounts(obj)[:20])
        if not rows:
            return "—"
        return format_html(
            "<ul>{}</ul>",
            format_html_join(
                "", "<li>{} {}: {} rows, cost {} USD ({} to {})</li>",
                ((r["provider"], r["sub_account_id"], r["rows"], f"{r['cost']:.2f}", r["first_day"], r["last_day"])
                 for r in rows),
            ),
        )  # fmt: skip


# Billing exports (issue 9): defined and run on the Billing exports pages; here read-only, and the
# destination credentials (encrypted) are never shown.


@admin.register(BillingExport)
class BillingExportAdmin(ReadOnlyScopedAdmin):
    list_display = ["name", "customer", "format", "basis", "destination", "schedule", "next_run_at"]
    list_filter = ["format", "basis", "destination", "schedule"]
    search_fields = ["name"]
    list_select_related = ["customer"]
    exclude = ["credentials"]


@admin.register(ExportRun)
class ExportRunAdmin(ReadOnlyScopedAdmin):
    list_display = ["export", "status", "trigger", "period_start", "period_end", "rows_written", "created_at"]
    list_filter = ["status", "trigger"]
    search_fields = ["export__name", "error"]
    date_hierarchy = "created_at"
    list_select_related = ["export"]
