"""Admin forms for pricebooks, rules and assignments. Each validates through billing's services (the
same checks the app uses), so a refused change shows its message on the field and nothing is saved.

The admin binds `request` onto the form class (admin_scoping.ScopedAdmin.get_form).
"""

from django import forms
from django.core.exceptions import ValidationError

from accounts.models import Reseller

from . import services
from .admin_scoping import add_service_errors, is_platform_staff, tenant_queryset
from .models import Pricebook, PricebookAssignment, PricebookRule


class ServiceCheckedForm(forms.ModelForm):
    """A ModelForm whose model-level validation is the service's check, run in `check()`, instead of
    the model's own full_clean (the service knows the billing periods and the versioning)."""

    request = None

    def _post_clean(self):
        if self._errors:
            return
        try:
            self.checked = self.check(self.cleaned_data)
        except ValidationError as exc:
            add_service_errors(self, exc)

    def check(self, data):
        raise NotImplementedError

    @property
    def user(self):
        return self.request.user

    @property
    def is_change(self) -> bool:
        return not self.instance._state.adding  # (UUID keys are set before the first save)


class PricebookAdminForm(ServiceCheckedForm):
    # Not "reseller": the admin refuses a form field named like the model's non-editable field.
    for_reseller = forms.ModelChoiceField(Reseller.objects.all(), required=False, label="Reseller")
    copy_from = forms.ModelChoiceField(
        Pricebook.objects.none(),
        required=False,
        help_text="start from the rules of a master or another of your pricebooks of the same provider",
    )

    class Meta:
        model = Pricebook
        fields = ["provider", "name", "currency", "valid_from", "valid_until", "description"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "copy_from" in self.fields:
            self.fields["copy_from"].queryset = tenant_queryset(Pricebook, self.user).select_related(
                "provider"
            )
        if "for_reseller" in self.fields and not is_platform_staff(self.user):
            del self.fields["for_reseller"]

    def reseller_of(self, data):
        if is_platform_staff(self.user):
            return data.get("for_reseller")
        return self.user.reseller

    def check(self, data):
        if self.is_change:  # change: only the header fields; currency and provider are fixed
            payload = {k: data[k] for k in services.BOOK_FIELDS if k in data}
            return services.check_pricebook_update(self.instance, payload)
        reseller = self.reseller_of(data)
        if reseller is None:
            raise ValidationError({"for_reseller": "Choose the reseller this pricebook belongs to."})
        services.check_new_pricebook(
            reseller, data["provider"], name=data["name"], currency=data["currency"], valid_from=data["valid_from"],
            valid_until=data.get("valid_until"), copy_from=data.get("copy_from"),
        )  # fmt: skip
        return reseller


class RuleAdminForm(ServiceCheckedForm):
    class Meta:
        model = PricebookRule
        fields = [
            "pricebook", "position", "scope_type", "category", "product", "plan", "addon", "service_category",
            "service_name", "method", "value", "valid_from", "valid_until", "note",
        ]  # fmt: skip

    def pricebook(self, data):
        return data.get("pricebook") or (self.instance.pricebook if self.instance.pricebook_id else None)

    def check(self, data):
        pricebook = self.pricebook(data)
        original = self.instance if self.is_change else None
        return services.check_rule(pricebook, services.rule_payload(data), rule=original)


class AssignmentAdminForm(ServiceCheckedForm):
    class Meta:
        model = PricebookAssignment
        fields = ["provider", "pricebook", "customer", "cloud_account"]
        help_texts = {
            "customer": "empty: the reseller's default pricebook for the provider",
            "cloud_account": "an override for one account, subscription or project of the customer",
        }

    def check(self, data):
        pricebook = data["pricebook"]
        services.check_assignment(
            pricebook.reseller_id, data["provider"], pricebook,
            customer=data.get("customer"), cloud_account=data.get("cloud_account"),
        )  # fmt: skip
        return pricebook.reseller_id


class PreviewForm(forms.Form):
    """Price preview: which plan or add-on of the pricebook's provider, on which day, how many."""

    item = forms.ChoiceField(label="Plan or add-on")
    on_date = forms.DateField(label="Date", widget=forms.DateInput(attrs={"type": "date"}))
    quantity = forms.IntegerField(min_value=1, initial=1)

    def __init__(self, *args, provider, **kwargs):
        super().__init__(*args, **kwargs)
        from marketplace.models import AddOn, Plan

        plans = Plan.objects.filter(product__provider=provider, is_active=True).select_related("product")
        addons = AddOn.objects.filter(product__provider=provider, is_active=True).select_related("product")
        self.fields["item"].choices = [
            ("Plans", [(f"plan:{p.pk}", f"{p.product} — {p.name} ({p.sku})") for p in plans]),
            ("Add-ons", [(f"addon:{a.pk}", f"{a.product} — {a.name} ({a.sku})") for a in addons]),
        ]

    def item_object(self):
        from marketplace.models import AddOn, Plan

        kind, pk = self.cleaned_data["item"].split(":")
        return (Plan if kind == "plan" else AddOn).objects.select_related("product__provider").get(pk=pk)
