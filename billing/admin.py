"""Pricebooks in the admin site: platform staff see every reseller's, a reseller's owner or billing
user (with is_staff) only their own (see admin_scoping). Writes go through billing's services."""

from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html

from accounts.permissions import PlatformStaffOnly

from . import services
from .admin_forms import AssignmentAdminForm, PreviewForm, PricebookAdminForm, RuleAdminForm
from .admin_scoping import LOOKUP_URL_NAME, ScopedAdmin, ScopedLookupView, is_platform_staff
from .models import (
    BillingPeriod,
    ChargeGroup,
    ChargeItem,
    Credit,
    CreditApplication,
    ExchangeRate,
    Pricebook,
    PricebookAssignment,
    PricebookChange,
    PricebookRule,
    TaxProfile,
    TaxRate,
)
from .periods import first_open_month
from .pricing import PricingError, price_with_pricebook

PENDING = "_c360_pending_change"


class PendingAwareAdmin(ScopedAdmin):
    """save_form writes through a service; a billing user's change comes back pending, not saved."""

    def save_model(self, request, obj, form, change):
        pass  # save_form already wrote (or queued) it

    def save_related(self, request, form, formsets, change):
        for formset in formsets:
            self.save_formset(request, form, formset, change=change)

    def log_addition(self, request, obj, message):
        if not getattr(request, PENDING, None):
            return super().log_addition(request, obj, message)

    def log_change(self, request, obj, message):
        if not getattr(request, PENDING, None):
            return super().log_change(request, obj, message)

    def _pending_response(self, request, pricebook):
        messages.info(
            request, "Your change is waiting for an owner's approval; it prices nothing until then."
        )
        return redirect(reverse("admin:billing_pricebook_change", args=[pricebook.pk]))

    def response_add(self, request, obj, post_url_continue=None):
        change = getattr(request, PENDING, None)
        return (
            self._pending_response(request, change.pricebook)
            if change
            else super().response_add(request, obj)
        )

    def response_change(self, request, obj):
        change = getattr(request, PENDING, None)
        return (
            self._pending_response(request, change.pricebook)
            if change
            else super().response_change(request, obj)
        )


@admin.display(description="scope")
def rule_scope(rule):
    return rule.scope_label


@admin.display(description="value")
def rule_value(rule):
    return f"{rule.value.normalize():f}" + (f" {rule.pricebook.currency}" if rule.method == "fixed" else " %")


class RuleInline(admin.TabularInline):
    model = PricebookRule
    fields = ["position", rule_scope, "method", rule_value, "valid_from", "valid_until", "note"]
    readonly_fields = fields
    ordering = ["position", "-specificity", "valid_from"]
    show_change_link = True
    extra = 0

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_view_permission(self, request, obj=None):
        return True  # the parent page's permission already applies


class ChangeInline(RuleInline):
    model = PricebookChange
    fields = ["requested_at", "action", "status", "message", "requested_by_label", "decided_by_label"]
    readonly_fields = fields
    ordering = ["-requested_at"]
    verbose_name_plural = "change log"
    show_change_link = False


@admin.register(Pricebook)
class PricebookAdmin(PendingAwareAdmin):
    form = PricebookAdminForm
    list_display = ["name", "provider", "kind", "currency", "valid_from", "valid_until", "is_default"]
    list_filter = ["provider", "kind", "currency"]
    list_select_related = ["provider"]
    search_fields = ["name"]
    actions = ["make_default"]

    def get_fieldsets(self, request, obj=None):
        if obj is None:
            first = ["for_reseller"] if is_platform_staff(request.user) else []
            return [(None, {"fields": [*first, "provider", "name", "currency", "copy_from", "valid_from",
                                       "valid_until", "description"]})]  # fmt: skip
        return [
            (
                None,
                {
                    "fields": [
                        "name",
                        "provider",
                        "kind",
                        "currency",
                        "valid_from",
                        "valid_until",
                        "description",
                    ]
                },
            ),
            ("Rules and prices", {"fields": ["rules_help", "price_preview"]}),
        ]

    def get_readonly_fields(self, request, obj=None):
        return ["provider", "kind", "currency", "rules_help", "price_preview"] if obj else []

    def get_inlines(self, request, obj):
        return [RuleInline, ChangeInline] if obj else []

    def has_change_permission(self, request, obj=None):
        return super().has_change_permission(request, obj) and not (obj and obj.is_master)

    def has_delete_permission(self, request, obj=None):
        return False  # pricebooks priced past periods; end them (effective until) instead

    def get_search_results(self, request, queryset, search_term):
        queryset, distinct = super().get_search_results(request, queryset, search_term)
        if request.GET.get("model_name") == "pricebookrule":  # the rule form's autocomplete: editable books
            queryset = queryset.filter(kind=Pricebook.Kind.CUSTOM)
        return queryset, distinct

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        field = super().formfield_for_foreignkey(db_field, request, **kwargs)
        if db_field.name == "provider" and not is_platform_staff(request.user):
            from marketplace.services import authorized_providers

            field.queryset = authorized_providers(request.user.reseller_id)
        return field

    @admin.display(boolean=True, description="default")
    def is_default(self, obj):
        today = timezone.localdate()
        return any(a.customer_id is None and a.in_effect(today) for a in obj.assignments.all())

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("assignments")

    @admin.display(description="rules")
    def rules_help(self, obj):
        if obj.is_master:
            return "A master pricebook follows the catalog and cannot be edited; add a pricebook copying it."
        url = reverse("admin:billing_pricebookrule_add") + f"?pricebook={obj.pk}"
        eff = first_open_month(obj.reseller_id)
        return format_html(
            '<a class="addlink" href="{}">Add a rule</a> — changes take effect from {} (first billing period not '
            "yet invoiced). The most specific rule in effect on a date wins: plan or add-on, then product, then "
            "category, then the whole provider.",
            url, eff,
        )  # fmt: skip

    @admin.display(description="price preview")
    def price_preview(self, obj):
        url = reverse("admin:billing_pricebook_preview", args=[obj.pk])
        return format_html('<a href="{}">What does this pricebook charge for a plan?</a>', url)

    def save_form(self, request, form, change):
        data = form.cleaned_data
        if change:
            original = Pricebook.objects.get(pk=form.instance.pk)
            result = services.do_update_pricebook(
                request.user, original, {k: data[k] for k in services.BOOK_FIELDS if k in data}
            )
            if result is not None and result.status == PricebookChange.Status.PENDING:
                setattr(request, PENDING, result)
            return Pricebook.objects.get(pk=original.pk)
        return services.do_create_pricebook(
            request.user, form.checked, data["provider"], name=data["name"], currency=data["currency"],
            valid_from=data["valid_from"], valid_until=data.get("valid_until"),
            description=data.get("description", ""), copy_from=data.get("copy_from"),
        )  # fmt: skip

    @admin.action(description="Make the default pricebook for its provider (from the first open period)")
    def make_default(self, request, queryset):
        for book in queryset.select_related("provider", "reseller"):
            try:
                services.do_assign_pricebook(request.user, book.provider, book, reseller=book.reseller)
            except (ValidationError, PermissionDenied) as exc:
                messages.error(request, f"{book}: {' '.join(getattr(exc, 'messages', [str(exc)]))}")
            else:
                messages.success(request, f"{book.name} is the default {book.provider} pricebook.")

    def get_urls(self):
        preview = self.admin_site.admin_view(self.preview_view)
        return [
            path("<path:object_id>/preview/", preview, name="billing_pricebook_preview"),
            *super().get_urls(),
        ]

    def preview_view(self, request, object_id):
        book = self.get_object(request, unquote(object_id))
        if book is None or not self.has_view_permission(request, book):
            return self._get_obj_does_not_exist_redirect(request, self.opts, object_id)
        form = PreviewForm(
            request.GET or None, provider=book.provider, initial={"on_date": timezone.localdate()}
        )
        quote = error = None
        if form.is_valid():
            try:
                quote = price_with_pricebook(
                    book, form.item_object(), form.cleaned_data["on_date"], form.cleaned_data["quantity"]
                )
            except (ValidationError, PricingError) as exc:
                error = " ".join(getattr(exc, "messages", [str(exc)]))
        context = {
            **self.admin_site.each_context(request), "opts": self.opts, "original": book, "form": form,
            "quote": quote, "error": error, "title": f"Price preview: {book.name}",
        }  # fmt: skip
        return TemplateResponse(request, "admin/billing/pricebook/preview.html", context)


@admin.register(PricebookRule)
class PricebookRuleAdmin(PendingAwareAdmin):
    form = RuleAdminForm
    list_display = ["pricebook", rule_scope, "method", rule_value, "valid_from", "valid_until", "position"]
    list_filter = ["pricebook__provider", "method", "scope_type"]
    list_select_related = ["pricebook", "product", "plan", "addon"]
    search_fields = ["pricebook__name", "note", "category", "service_name", "service_category"]
    autocomplete_fields = ["pricebook", "product", "plan", "addon"]
    scope_fields = ["pricebook", "scope_type", "category", "product", "plan", "addon", "service_category"]
    scope_fields += ["service_name"]

    def get_readonly_fields(self, request, obj=None):
        return self.scope_fields if obj else []  # a rule's scope never changes: end it, add another

    def has_change_permission(self, request, obj=None):
        return super().has_change_permission(request, obj) and not (obj and obj.pricebook.is_master)

    def has_delete_permission(self, request, obj=None):
        return super().has_delete_permission(request, obj) and not (obj and obj.pricebook.is_master)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        field = super().formfield_for_foreignkey(db_field, request, **kwargs)
        if db_field.name == "pricebook":
            field.queryset = field.queryset.filter(kind=Pricebook.Kind.CUSTOM)
        return field

    def get_changeform_initial_data(self, request):
        initial = super().get_changeform_initial_data(request)
        try:
            book = (
                Pricebook.objects.filter(pk=initial["pricebook"]).first()
                if initial.get("pricebook")
                else None
            )
        except (ValueError, ValidationError):  # a malformed ?pricebook= is ignored, as Django does
            book = None
        reseller_id = book.reseller_id if book else request.user.reseller_id
        if reseller_id:
            initial.setdefault("valid_from", first_open_month(reseller_id))
        return initial

    def save_form(self, request, form, change):
        pricebook = form.cleaned_data.get("pricebook") or form.instance.pricebook
        result = services.do_save_rule(
            request.user, pricebook, form.cleaned_data, rule=form.instance if change else None
        )
        if result.status == PricebookChange.Status.PENDING:
            setattr(request, PENDING, result)
            return form.instance
        return result.rule

    def delete_model(self, request, obj):
        change = services.do_end_rule(request.user, obj)
        if change.status == PricebookChange.Status.PENDING:
            messages.info(request, "Ending this rule waits for an owner's approval.")
        elif change.after:
            messages.info(
                request,
                f"The rule keeps pricing the invoiced periods; it ends on {change.after['valid_until']}.",
            )

    def delete_queryset(self, request, queryset):
        for rule in queryset:
            try:
                self.delete_model(request, rule)
            except ValidationError as exc:
                messages.error(request, f"{rule}: {' '.join(exc.messages)}")


@admin.register(PricebookAssignment)
class PricebookAssignmentAdmin(PendingAwareAdmin):
    form = AssignmentAdminForm
    list_display = ["target_label", "provider", "pricebook", "level", "valid_from", "valid_until"]
    list_filter = ["provider", "level"]
    list_select_related = ["provider", "pricebook", "customer", "cloud_account"]
    search_fields = ["customer__name", "cloud_account__account_id", "pricebook__name"]
    autocomplete_fields = ["pricebook"]

    def has_change_permission(self, request, obj=None):
        return obj is None and super().has_change_permission(request)  # versioned: add a new one instead

    def get_urls(self):
        lookup = self.admin_site.admin_view(ScopedLookupView.as_view(admin_site=self.admin_site))
        return [path("lookup/", lookup, name=LOOKUP_URL_NAME), *super().get_urls()]

    def save_form(self, request, form, change):
        data = form.cleaned_data
        return services.do_assign_pricebook(
            request.user, data["provider"], data["pricebook"], customer=data.get("customer"),
            cloud_account=data.get("cloud_account"), reseller=data["pricebook"].reseller,
        )  # fmt: skip

    def delete_model(self, request, obj):
        if obj.valid_until is not None and obj.valid_until < first_open_month(obj.reseller_id):
            messages.error(request, "This assignment priced invoiced periods only; it stays as a record.")
            return
        services.do_assign_pricebook(
            request.user, obj.provider, None, customer=obj.customer, cloud_account=obj.cloud_account,
            reseller=obj.reseller,
        )  # fmt: skip
        messages.info(
            request, "The assignment ends before the first open billing period; the next level applies."
        )

    def delete_queryset(self, request, queryset):
        for obj in queryset:
            self.delete_model(request, obj)


@admin.register(PricebookChange)
class PricebookChangeAdmin(ScopedAdmin):
    list_display = ["requested_at", "pricebook", "action", "status", "effective_from", "message"]
    list_display += ["requested_by_label", "decided_by_label"]
    list_filter = ["status", "action"]
    list_select_related = ["pricebook"]
    search_fields = ["pricebook__name", "message", "requested_by_label"]
    readonly_fields = [
        "pricebook",
        "rule",
        "action",
        "status",
        "before",
        "after",
        "effective_from",
        "message",
    ]
    readonly_fields += ["requested_by_label", "requested_at", "decided_by_label", "decided_at"]
    fields = readonly_fields
    actions = ["approve", "reject"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_approve_permission(self, request):
        return services.can_approve(request.user)

    @admin.action(description="Approve the selected pending changes", permissions=["approve"])
    def approve(self, request, queryset):
        for change in queryset.filter(status=PricebookChange.Status.PENDING):
            try:
                services.do_approve_change(request.user, change)
            except ValidationError as exc:
                messages.error(request, f"{change}: {' '.join(exc.messages)}")
            else:
                messages.success(request, f"Approved: {change.message}")

    @admin.action(description="Reject the selected pending changes", permissions=["approve"])
    def reject(self, request, queryset):
        for change in queryset.filter(status=PricebookChange.Status.PENDING):
            services.do_reject_change(request.user, change)
            messages.success(request, f"Rejected: {change.message}")


@admin.register(BillingPeriod)
class BillingPeriodAdmin(ScopedAdmin):
    """Read-only: the invoice run closes periods."""

    list_display = ["month", "closed_at", "closed_by"]
    reseller_can_write = False

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(ExchangeRate)
class ExchangeRateAdmin(PlatformStaffOnly, admin.ModelAdmin):
    """Platform-level: platform staff maintain the rates every reseller's pricebooks convert with."""

    list_display = ["currency", "rate", "effective_date"]
    list_filter = ["currency"]
    date_hierarchy = "effective_date"


class ReadOnlyScopedAdmin(ScopedAdmin):
    """Billing configuration is edited on the customer's Billing pages, whose services check every rule
    and write the activity log; the admin shows it (scoped like every billing admin) and changes nothing."""

    reseller_can_write = False

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(TaxRate)
class TaxRateAdmin(ReadOnlyScopedAdmin):
    list_display = ["name", "rate", "country", "region", "postal_prefix", "valid_from", "valid_until"]
    list_filter = ["country"]
    search_fields = ["name", "region"]


@admin.register(TaxProfile)
class TaxProfileAdmin(ReadOnlyScopedAdmin):
    list_display = ["customer", "enabled", "tax_id", "exempt", "exemption_expires"]
    list_select_related = ["customer"]
    search_fields = ["customer__name", "tax_id", "exemption_certificate"]


@admin.register(Credit)
class CreditAdmin(ReadOnlyScopedAdmin):
    list_display = ["customer", "amount", "currency", "reason", "issued_on", "expires_on", "voided_at"]
    list_select_related = ["customer"]
    search_fields = ["customer__name", "reason"]


@admin.register(CreditApplication)
class CreditApplicationAdmin(ReadOnlyScopedAdmin):
    list_display = ["credit", "amount", "applied_on", "invoice_ref"]
    search_fields = ["invoice_ref"]


@admin.register(ChargeGroup)
class ChargeGroupAdmin(ReadOnlyScopedAdmin):
    list_display = ["name", "customer"]
    list_select_related = ["customer"]
    search_fields = ["name", "customer__name"]


@admin.register(ChargeItem)
class ChargeItemAdmin(ReadOnlyScopedAdmin):
    list_display = ["name", "customer", "group", "kind", "method", "recurrence", "scope_type", "valid_from"]
    list_display += ["valid_until"]
    list_filter = ["kind", "method", "recurrence", "scope_type"]
    list_select_related = ["customer", "group"]
    search_fields = ["name", "customer__name", "group__name"]


# Read-only admins of the billing records made by the app's own pages and runs (usage imports, invoices,
# payments, invoice runs, exports): billing/admin_records.py.
from . import admin_records  # noqa: E402, F401
