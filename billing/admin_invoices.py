"""Invoices in the admin site: read-only, scoped like every billing admin. Invoices are built by the invoice
run, finalized, paid, voided and corrected on the Customer Invoice pages, whose services check every state
change and write the activity log; a finalized invoice is also guarded by a database trigger."""

from django.contrib import admin

from .admin import ReadOnlyScopedAdmin
from .models_invoices import CreditNote, Invoice, InvoiceLine, InvoiceRun, Payment, ProviderPeriod


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False
    show_change_link = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class InvoiceLineInline(ReadOnlyInline):
    model = InvoiceLine
    fields = ["position", "kind", "description", "source", "quantity", "unit_price", "amount", "cost",
              "tax_category", "tax_rate", "period_start", "period_end"]  # fmt: skip
    readonly_fields = fields
    ordering = ["position"]


class PaymentInline(ReadOnlyInline):
    model = Payment
    fields = ["received_on", "amount", "currency", "reference", "recorded_by_label"]
    readonly_fields = fields


@admin.register(Invoice)
class InvoiceAdmin(ReadOnlyScopedAdmin):
    list_display = ["number", "customer", "month", "status", "total", "amount_paid", "currency", "due_date"]
    list_filter = ["status", "month", "currency"]
    list_select_related = ["customer"]
    search_fields = ["number", "customer__name"]
    date_hierarchy = "month"
    inlines = [InvoiceLineInline, PaymentInline]


@admin.register(Payment)
class PaymentAdmin(ReadOnlyScopedAdmin):
    list_display = ["invoice", "amount", "currency", "received_on", "reference", "recorded_by_label"]
    list_select_related = ["invoice"]
    search_fields = ["invoice__number", "reference"]
    date_hierarchy = "received_on"


@admin.register(CreditNote)
class CreditNoteAdmin(ReadOnlyScopedAdmin):
    list_display = ["number", "invoice", "amount", "currency", "reason", "created_at"]
    list_select_related = ["invoice"]
    search_fields = ["number", "invoice__number", "reason"]


@admin.register(InvoiceRun)
class InvoiceRunAdmin(ReadOnlyScopedAdmin):
    list_display = ["month", "status", "customers_done", "customers_total", "failures", "started_by_label",
                    "created_at", "finished_at"]  # fmt: skip
    list_filter = ["status", "month"]


@admin.register(ProviderPeriod)
class ProviderPeriodAdmin(ReadOnlyScopedAdmin):
    list_display = ["month", "provider", "closed_at", "closed_by_label"]
    list_filter = ["provider", "month"]
