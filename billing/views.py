"""The customer's Cloud Billing page: which pricebook prices it per provider, account overrides, and a
price preview that says which rule applied."""

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Q
from django.http import Http404
from django.shortcuts import redirect
from django.utils import timezone
from django.views.generic import TemplateView

from accounts.models import Role
from customer360.validators import has_nul
from customers.models import CloudAccount
from customers.views import CustomerMixin
from marketplace.services import authorized_providers

from . import services
from .forms import PricebookChoiceForm, PricePreviewForm
from .models import Pricebook, PricebookAssignment
from .periods import first_open_month
from .pricing import PricingError, price_for, resolve_assignments


class CustomerCloudBillingView(CustomerMixin, TemplateView):
    template_name = "billing/customer_cloud_billing.html"
    menu = "cloud_billing"
    write_roles = (Role.OWNER, Role.BILLING)

    def load(self):
        """Everything the page shows, in a fixed number of queries whatever the number of providers."""
        today = timezone.localdate()
        self.providers = list(authorized_providers().order_by("name"))
        books = list(Pricebook.objects.filter(provider__in=self.providers).order_by("kind", "name"))
        self.accounts = list(
            CloudAccount.objects.filter(customer=self.customer).order_by("provider", "account_id")
        )
        own = list(
            PricebookAssignment.objects.filter(customer=self.customer, provider__in=self.providers)
            .filter(Q(valid_until__isnull=True) | Q(valid_until__gte=today))
            .select_related("pricebook")
            .order_by("valid_from")
        )
        effective = resolve_assignments(self.customer, today)
        return today, books, own, effective

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        today, books, own, effective = self.load()
        posted = kwargs.get("posted_form")
        rows = []
        for provider in self.providers:
            mine = [b for b in books if b.provider_id == provider.pk]
            current = [a for a in own if a.provider_id == provider.pk and a.cloud_account_id is None]
            now = next((a for a in current if a.in_effect(today)), None)
            upcoming = [a for a in current if a.valid_from > today]
            default = effective.get(provider.pk)
            default = (
                default
                if default is not None and default.level == PricebookAssignment.Level.RESELLER
                else None
            )
            empty = f"— none: {default.pricebook.name if default else 'list price'} (reseller default) —"
            shown = upcoming[-1] if upcoming else now  # the select shows what applies from the open period
            form = PricebookChoiceForm(
                provider=provider, customer=self.customer, books=mine, empty_label=empty, prefix=f"p-{provider.code}",
                initial={"pricebook": shown.pricebook_id if shown else None},
            )  # fmt: skip
            if posted is not None and posted.prefix == form.prefix:
                form = posted
            overrides = []
            for account in (a for a in self.accounts if a.provider == provider.code):
                override = next(
                    (a for a in own if a.cloud_account_id == account.pk and a.in_effect(today)), None
                )
                prefix = f"a-{account.pk}"
                account_form = PricebookChoiceForm(
                    provider=provider, customer=self.customer, books=mine, prefix=prefix,
                    empty_label="— none: the customer's pricebook —",
                    initial={"pricebook": override.pricebook_id if override else None, "account": account.pk},
                )  # fmt: skip
                if posted is not None and posted.prefix == prefix:
                    account_form = posted
                overrides.append({"account": account, "override": override, "form": account_form})
            rows.append({
                "provider": provider, "assigned": now, "upcoming": upcoming, "effective": effective.get(provider.pk),
                "form": form, "overrides": overrides,
            })  # fmt: skip
        ctx.update(
            rows=rows,
            effective_from=first_open_month(self.customer.reseller_id),
            can_assign=self.request.user.role in self.write_roles,
            preview=self.preview(),
        )
        return ctx

    def preview(self):
        data = self.request.GET if "item" in self.request.GET else None
        form = PricePreviewForm(
            data, customer=self.customer, providers=self.providers, accounts=self.accounts
        )
        result = {"form": form, "quote": None, "error": None}
        if data is not None and form.is_valid():
            item = form.item_object(form.cleaned_data["item"])
            try:
                result["quote"] = price_for(
                    self.customer, item, form.cleaned_data["on_date"], form.cleaned_data["quantity"],
                    cloud_account=form.cleaned_data.get("account"),
                )  # fmt: skip
            except ValidationError as exc:
                for field, errors in exc.update_error_dict({}).items():
                    form.add_error(field if field in form.fields else None, errors)
            except (PricingError, PermissionDenied) as exc:
                result["error"] = str(exc)
        return result

    def post(self, request, *args, **kwargs):
        prefix = next((k.rsplit("-pricebook", 1)[0] for k in request.POST if k.endswith("-pricebook")), None)
        code = request.POST.get("provider", "")
        provider = None if has_nul(code) else authorized_providers().filter(code=code).first()
        if prefix is None or provider is None:
            raise Http404("No such provider")
        form = PricebookChoiceForm(request.POST, provider=provider, customer=self.customer, prefix=prefix)
        if form.is_valid():
            account = form.cleaned_data.get("account")
            try:
                services.do_assign_pricebook(
                    request.user,
                    provider,
                    form.cleaned_data["pricebook"],
                    customer=self.customer,
                    cloud_account=account,
                )
            except ValidationError as exc:
                form.add_error(None, exc)
            else:
                messages.success(
                    request,
                    f"{provider} pricebook for {account or self.customer} updated; it applies from "
                    f"{first_open_month(self.customer.reseller_id)}.",
                )
                return redirect("customers:cloud-billing", self.customer.pk)
        # Re-render with the posted form's errors, labelled like the page's own form.
        form.fields["pricebook"].label = f"{provider} pricebook"
        return self.render_to_response(self.get_context_data(posted_form=form), status=400)
