"""Forms of the Charges and Discount page. Group, cloud account and subscription choices are this
customer's own (a raw post naming another customer's is "Select a valid choice"); the service checks
the scope again."""

from django import forms
from django.core.exceptions import ValidationError

from .forms_tax import DATE, ServiceCheckedModelForm
from .models_charges import ChargeGroup, ChargeItem, ChargeMethod
from .services_charges import format_tiers, parse_tiers, scope_accounts, scope_subscriptions


class ChargeGroupForm(forms.Form):
    name = forms.CharField(
        label="Group name", max_length=100, help_text='e.g. "Support", "Service fees", "Discounts"'
    )


class SubscriptionChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, sub):
        return f"{sub.plan.name} × {sub.quantity} ({sub.get_status_display().lower()}, from {sub.start_date})"


class ChargeItemForm(ServiceCheckedModelForm):
    tiers = forms.CharField(
        label="Tiers (tiered method)", required=False,
        widget=forms.Textarea(attrs={"rows": 3, "placeholder": "0 - 1000: 10\n1000 - 5000: 5\n5000 - : 2"}),
        help_text='one band a line, "from - to: rate %"; the last band may be open ("5000 - : 2")',
    )  # fmt: skip
    subscription = SubscriptionChoiceField(queryset=None, required=False)

    class Meta:
        model = ChargeItem
        fields = [
            "group",
            "name",
            "kind",
            "method",
            "rate",
            "amount",
            "tiers",
            "basis",
            "min_amount",
            "max_amount",
        ]
        fields += ["recurrence", "scope_type", "cloud_account", "subscription", "valid_from", "valid_until"]
        widgets = {"valid_from": DATE, "valid_until": DATE}
        labels = {"min_amount": "Minimum (cap)", "max_amount": "Maximum (cap)", "basis": "Computed on"}
        help_texts = {"rate": "for the fixed percentage method", "amount": "for the fixed amount method"}

    def __init__(self, *args, customer, **kwargs):
        super().__init__(*args, **kwargs)
        self.customer = customer
        self.instance.customer = customer
        self.fields["group"].queryset = ChargeGroup.objects.filter(customer=customer).order_by("name")
        self.fields["group"].empty_label = None
        self.fields["cloud_account"].queryset = scope_accounts(customer)
        self.fields["subscription"].queryset = scope_subscriptions(customer)
        self.fields["cloud_account"].help_text = "when the scope is one cloud account"
        self.fields["subscription"].help_text = "when the scope is one subscription"
        self.fields["amount"].help_text = f"for the fixed amount method, in {customer.currency}"
        if not self.is_bound:
            self.initial["tiers"] = format_tiers(self.instance.tiers) if self.instance.pk else ""

    def clean(self):
        data = super().clean()
        if data.get("method") == ChargeMethod.TIERED:
            try:
                data["tiers"] = parse_tiers(data.get("tiers") or "")
            except ValidationError as exc:
                self.add_error("tiers", exc.message_dict["tiers"])
        else:
            data["tiers"] = []
        # Also checked by the service; here so they show in the same round as the tiers' errors.
        low, high = data.get("min_amount"), data.get("max_amount")
        if low is not None and high is not None and high < low:
            self.add_error("max_amount", "The maximum is below the minimum.")
        start, end = data.get("valid_from"), data.get("valid_until")
        if start and end and end < start:
            self.add_error("valid_until", "The end date is before the start date.")
        return data
