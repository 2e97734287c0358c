"""The Billing menu of a customer (Tax Profile, Credits, Charges and Discount) and the reseller's tax rates.
Billing users and owners edit; every other role reads. Thin views over services_tax/_credits/_charges."""

from decimal import Decimal

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import Count, Sum
from django.shortcuts import redirect
from django.utils import timezone
from django.views.generic import TemplateView

from accounts.models import Role
from customer360.mixins import ResellerViewMixin
from customer360.money import Money, quantize
from customers.views import CustomerMixin

from . import services_charges, services_credits, services_tax
from .admin_scoping import add_service_errors
from .forms_charges import ChargeGroupForm, ChargeItemForm
from .forms_credits import CreditForm
from .forms_tax import TaxProfileForm, TaxRateForm
from .models_charges import ChargeGroup, ChargeItem
from .models_credits import Credit, CreditApplication
from .models_tax import TaxCategory, TaxProfile, TaxRate
from .tax import tax_breakdown

BILLING_WRITERS = (Role.OWNER, Role.BILLING)
SAMPLE = Decimal("100")


class BillingWriteMixin:
    write_roles = BILLING_WRITERS

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        ctx["can_edit"] = self.request.user.role in BILLING_WRITERS
        return ctx


def sort_columns(request, columns: dict, default: str):
    """(order_by list, header links) for a table sortable by `columns` {key: (label, order fields)}."""
    key = request.GET.get("sort", default)
    descending = key.startswith("-")
    name = key.lstrip("-")
    if name not in columns:
        name, descending = default.lstrip("-"), default.startswith("-")
    fields = columns[name][1]
    order = [("-" if descending else "") + f for f in fields]
    links = [
        {"key": k, "label": label, "active": k == name, "descending": descending,
         "url": f"?sort={'' if k != name or descending else '-'}{k}"}
        for k, (label, _) in columns.items()
    ]  # fmt: skip
    return order, links


# --- Reseller-level tax rates -----------------------------------------------------------------------------

RATE_COLUMNS = {
    "name": ("Name", ["name", "valid_from"]),
    "rate": ("Rate", ["rate", "name"]),
    "country": ("Place", ["country", "region", "postal_prefix", "name"]),
    "from": ("Effective from", ["valid_from", "name"]),
}


class TaxRateListView(BillingWriteMixin, ResellerViewMixin, TemplateView):
    template_name = "billing/tax_rates.html"

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        order, columns = sort_columns(self.request, RATE_COLUMNS, "name")
        today = timezone.localdate()
        rates = list(TaxRate.objects.order_by(*order, "pk")[:500])
        used = dict(
            TaxProfile.objects.filter(rates__in=[r.pk for r in rates])
            .order_by()
            .values_list("rates")
            .annotate(n=Count("pk"))
        )
        for rate in rates:
            rate.current = rate.in_effect(today)
            rate.customers = used.get(rate.pk, 0)
        ctx.update(rates=rates, columns=columns, today=today, form=kwargs.get("form") or TaxRateForm())
        return ctx

    def post(self, request, *args, **kwargs):
        form = TaxRateForm(request.POST)
        if form.is_valid():
            try:
                rate = services_tax.do_save_tax_rate(request.user, form.instance)
            except ValidationError as exc:
                add_service_errors(form, exc)
            else:
                messages.success(request, f"Added tax rate {rate}.")
                return redirect("billing:tax_rates")
        return self.render_to_response(self.get_context_data(form=form), status=400)


class TaxRateEditView(BillingWriteMixin, ResellerViewMixin, TemplateView):
    template_name = "billing/tax_rate_form.html"

    def dispatch(self, request, *args, **kwargs):
        if request.user.is_authenticated and request.user.reseller_id:
            self.rate = services_tax.access_tax_rate(kwargs["tax_rate_id"])
        return super().dispatch(request, *args, **kwargs)

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        ctx.update(rate=self.rate, form=kwargs.get("form") or TaxRateForm(instance=self.rate))
        ctx["customers"] = list(self.rate.profiles.select_related("customer").order_by("customer__name")[:50])
        return ctx

    def post(self, request, *args, **kwargs):
        form = TaxRateForm(request.POST, instance=self.rate)
        if form.is_valid():
            try:
                rate = services_tax.do_save_tax_rate(request.user, form.instance)
            except ValidationError as exc:
                add_service_errors(form, exc)
            else:
                messages.success(request, f"Saved tax rate {rate}.")
                return redirect("billing:tax_rates")
        return self.render_to_response(self.get_context_data(form=form), status=400)


# --- Tax Profile --------------------------------------------------------------------------------------------


class CustomerTaxProfileView(BillingWriteMixin, CustomerMixin, TemplateView):
    template_name = "billing/tax_profile.html"
    menu = "tax_profile"

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        profile = services_tax.tax_profile_of(self.customer)
        if profile is not None:
            self.customer.tax_profile = profile  # the preview below reuses it and its prefetched rates
        today = timezone.localdate()
        form = kwargs.get("form") or TaxProfileForm(
            initial=TaxProfileForm.initial_for(profile), customer=self.customer
        )
        sample = Money(SAMPLE, self.customer.currency)
        preview = []
        for value, label in TaxCategory.choices:
            components = tax_breakdown(self.customer, value, sample, today)
            total = sum((c.amount.amount for c in components), Decimal(0))
            preview.append(
                {"category": label, "components": components, "total": Money(total, sample.currency)}
            )
        labels = dict(TaxCategory.choices)
        taxable_labels = [labels[c] for c in profile.taxable_categories if c in labels] if profile else []
        ctx.update(
            profile=profile, form=form, today=today, sample=sample, preview=preview, taxable_labels=taxable_labels,
            exemption_active=profile is not None and profile.exemption_in_force(today),
        )  # fmt: skip
        return ctx

    def post(self, request, *args, **kwargs):
        form = TaxProfileForm(request.POST, customer=self.customer)
        if form.is_valid():
            try:
                services_tax.do_save_tax_profile(request.user, self.customer, **form.cleaned_data)
            except ValidationError as exc:
                add_service_errors(form, exc)
            else:
                messages.success(request, f"Saved the tax profile of {self.customer}.")
                return redirect("customers:tax-profile", self.customer.pk)
        return self.render_to_response(self.get_context_data(form=form), status=400)


# --- Credits ------------------------------------------------------------------------------------------------

CREDIT_COLUMNS = {
    "issued": ("Issued", ["issued_on", "created_at"]),
    "expires": ("Expires", ["expires_on", "issued_on"]),
    "amount": ("Amount", ["amount", "issued_on"]),
    "remaining": ("Remaining", ["remaining", "issued_on"]),
}


class CustomerCreditsView(BillingWriteMixin, CustomerMixin, TemplateView):
    template_name = "billing/credit_list.html"
    menu = "credits"

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        today = timezone.localdate()
        order, columns = sort_columns(self.request, CREDIT_COLUMNS, "-issued")
        credits = list(
            services_credits.with_amounts(
                Credit.objects.filter(customer=self.customer).select_related("invoice")
            ).order_by(*order, "pk")[:500]
        )
        for credit in credits:
            credit.status = services_credits.status_of(credit, today)
            credit.applied = quantize(credit.applied, credit.currency)  # "0.00 USD", not "0 USD"
            credit.remaining = quantize(credit.remaining, credit.currency)
        currency = self.customer.currency
        # Totals over every credit, not just the rows shown.
        totals = Credit.objects.filter(customer=self.customer, currency=currency).aggregate(
            issued=Sum("amount")
        )
        totals |= CreditApplication.objects.filter(
            credit__customer=self.customer, credit__currency=currency
        ).aggregate(applied=Sum("amount"))
        ctx.update(
            credits=credits, columns=columns, today=today,
            form=kwargs.get("form") or CreditForm(currency=currency, customer=self.customer),
            total_issued=Money(totals["issued"] or Decimal(0), currency),
            total_applied=Money(totals["applied"] or Decimal(0), currency),
            available=services_credits.available_credit(self.customer, today),
        )  # fmt: skip
        return ctx

    def post(self, request, *args, **kwargs):
        form = CreditForm(request.POST, currency=self.customer.currency, customer=self.customer)
        if form.is_valid():
            try:
                credit = services_credits.do_issue_credit(request.user, self.customer, **form.cleaned_data)
            except ValidationError as exc:
                add_service_errors(form, exc)
            else:
                messages.success(request, f"Issued a credit of {Money(credit.amount, credit.currency)}.")
                return redirect("customers:credits", self.customer.pk)
        return self.render_to_response(self.get_context_data(form=form), status=400)


class CreditVoidView(BillingWriteMixin, CustomerMixin, TemplateView):
    http_method_names = ["post"]

    def post(self, request, *args, **kwargs):
        credit = services_credits.access_credit(self.customer, kwargs["credit_id"])
        try:
            services_credits.do_void_credit(request.user, credit, request.POST.get("reason", ""))
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            messages.success(request, "Credit voided; what was already applied stays applied.")
        return redirect("customers:credits", self.customer.pk)


# --- Charges and Discount -----------------------------------------------------------------------------------


class CustomerChargesView(BillingWriteMixin, CustomerMixin, TemplateView):
    template_name = "billing/charge_list.html"
    menu = "charges"

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        today = timezone.localdate()
        groups = list(ChargeGroup.objects.filter(customer=self.customer).order_by("name", "pk"))
        items = ChargeItem.objects.filter(customer=self.customer).select_related(
            "cloud_account", "subscription__plan"
        )
        by_group = {g.pk: [] for g in groups}
        for item in items.order_by("name", "valid_from", "pk"):
            item.current = item.in_effect(today)
            item.ended = item.valid_until is not None and item.valid_until < today
            by_group.setdefault(item.group_id, []).append(item)
        for group in groups:
            group.rows = by_group[group.pk]
        ctx.update(
            groups=groups, today=today,
            group_form=kwargs.get("group_form") or ChargeGroupForm(prefix="group"),
            item_form=kwargs.get("item_form") or ChargeItemForm(customer=self.customer, prefix="item",
                                                                initial={"valid_from": today}),
        )  # fmt: skip
        return ctx

    def post(self, request, *args, **kwargs):
        if "group-name" in request.POST:
            form = ChargeGroupForm(request.POST, prefix="group")
            if form.is_valid():
                try:
                    group = services_charges.do_create_charge_group(
                        request.user, self.customer, form.cleaned_data["name"]
                    )
                except ValidationError as exc:
                    add_service_errors(form, exc)
                else:
                    messages.success(request, f"Added the group {group}.")
                    return redirect("customers:charges", self.customer.pk)
            return self.render_to_response(self.get_context_data(group_form=form), status=400)
        form = ChargeItemForm(request.POST, customer=self.customer, prefix="item")
        if form.is_valid():
            try:
                item = services_charges.do_save_charge_item(request.user, form.instance)
            except ValidationError as exc:
                add_service_errors(form, exc)
            else:
                messages.success(request, f"Added {item.get_kind_display().lower()} {item.name}.")
                return redirect("customers:charges", self.customer.pk)
        return self.render_to_response(self.get_context_data(item_form=form), status=400)


class ChargeItemEditView(BillingWriteMixin, CustomerMixin, TemplateView):
    template_name = "billing/charge_form.html"
    menu = "charges"

    def get_item(self):
        return services_charges.access_charge_item(self.customer, self.kwargs["charge_id"])

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        item = kwargs.get("item") or self.get_item()
        ctx.update(
            item=item, form=kwargs.get("form") or ChargeItemForm(instance=item, customer=self.customer)
        )
        return ctx

    def post(self, request, *args, **kwargs):
        item = self.get_item()
        if request.POST.get("action") == "delete":
            try:
                services_charges.do_delete_charge_item(request.user, item)
            except ValidationError as exc:
                messages.error(request, " ".join(exc.messages))
                return redirect("customers:charge-edit", self.customer.pk, item.pk)
            messages.success(request, f"Removed {item.name}.")
            return redirect("customers:charges", self.customer.pk)
        form = ChargeItemForm(request.POST, instance=item, customer=self.customer)
        if form.is_valid():
            try:
                services_charges.do_save_charge_item(request.user, form.instance)
            except ValidationError as exc:
                add_service_errors(form, exc)
            else:
                messages.success(request, f"Saved {item.name}.")
                return redirect("customers:charges", self.customer.pk)
        return self.render_to_response(self.get_context_data(form=form, item=self.get_item()), status=400)


class ChargeGroupDeleteView(BillingWriteMixin, CustomerMixin, TemplateView):
    http_method_names = ["post"]

    def post(self, request, *args, **kwargs):
        group = services_charges.access_charge_group(self.customer, kwargs["charge_group_id"])
        try:
            services_charges.do_delete_charge_group(request.user, group)
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            messages.success(request, f"Removed the group {group.name}.")
        return redirect("customers:charges", self.customer.pk)
