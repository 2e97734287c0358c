"""The form of a billing export: what to export, in which format and price basis, where to, how often.

Credentials fields are never filled in when the form is shown again (stored encrypted, never rendered);
left empty on an edit, they keep what is stored."""

from django import forms
from django.core.exceptions import ValidationError

from customers.forms import StyledFormMixin
from customers.models import CloudAccount, CloudProvider, Customer

from .exports.services import DESTINATION_SECRETS, DESTINATION_SETTINGS
from .forms_invoices import PeriodField
from .models_exports import BillingExport, DestinationKind, ExportFormat, PeriodKind, PriceBasis, Schedule

SECRET = forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"})


class OptionalPeriodField(PeriodField):
    def clean(self, value):
        if not (value or "").strip():
            return None
        return super().clean(value)


class ExportForm(StyledFormMixin, forms.Form):
    name = forms.CharField(max_length=120)
    customer = forms.CharField(
        max_length=200,
        required=False,
        label="Customer",
        help_text="the customer's exact name; empty: all customers",
    )
    period_kind = forms.ChoiceField(choices=PeriodKind.choices, label="Period")
    month = OptionalPeriodField(required=False, label="Month", help_text="for the period “A month”")
    providers = forms.MultipleChoiceField(
        choices=[(p.value, p.label) for p in (CloudProvider.AWS, CloudProvider.AZURE, CloudProvider.GCP)],
        required=False, widget=forms.CheckboxSelectMultiple, help_text="none ticked: every provider",
    )  # fmt: skip
    accounts = forms.CharField(
        required=False, label="Cloud accounts", widget=forms.Textarea(attrs={"rows": 2}),
        help_text="account numbers, separated by commas or lines; empty: every account",
    )  # fmt: skip
    format = forms.ChoiceField(choices=ExportFormat.choices)
    basis = forms.ChoiceField(
        choices=PriceBasis.choices, label="Price basis",
        help_text="resale: BilledCost is the customer's price, the cost in x_Reseller* columns; cost: the reverse",
    )  # fmt: skip
    schedule = forms.ChoiceField(choices=Schedule.choices)
    destination = forms.ChoiceField(choices=DestinationKind.choices)
    prefix = forms.CharField(max_length=300, required=False, help_text="folder path the files go under")
    bucket = forms.CharField(max_length=222, required=False, help_text="S3 or Google Cloud Storage bucket")
    region = forms.CharField(max_length=40, required=False, help_text="S3 region, e.g. eu-west-1")
    project = forms.CharField(max_length=100, required=False, help_text="Google Cloud project (optional)")
    account_name = forms.CharField(max_length=100, required=False, label="Storage account", help_text="Azure")
    container = forms.CharField(max_length=63, required=False, help_text="Azure Blob container")
    endpoint_url = forms.URLField(
        required=False,
        assume_scheme="https",
        label="Endpoint URL",
        widget=forms.TextInput(attrs={"inputmode": "url"}),
        help_text="only for S3-compatible services or emulators",
    )
    access_key_id = forms.CharField(max_length=128, required=False, label="Access key ID", widget=SECRET)
    secret_access_key = forms.CharField(
        max_length=256, required=False, label="Secret access key", widget=SECRET
    )
    account_key = forms.CharField(max_length=256, required=False, label="Account key", help_text="Azure",
                                  widget=SECRET)  # fmt: skip
    connection_string = forms.CharField(max_length=2000, required=False, label="Connection string",
                                        help_text="Azure, instead of the account key", widget=SECRET)  # fmt: skip
    service_account_json = forms.CharField(
        required=False, label="Service account key (JSON)", help_text="Google Cloud Storage",
        widget=forms.Textarea(attrs={"rows": 3, "autocomplete": "off"}),
    )  # fmt: skip

    def __init__(self, *args, export: BillingExport | None = None, **kwargs):
        if export is not None:
            kwargs.setdefault("initial", initial_of(export))
        super().__init__(*args, **kwargs)
        self.export = export
        if export is not None and export.has_credentials:
            for name in ("access_key_id", "secret_access_key", "account_key", "connection_string",
                         "service_account_json"):  # fmt: skip
                self.fields[name].help_text = "stored (hidden); leave empty to keep it"

    def clean_customer(self):
        value = self.cleaned_data["customer"].strip()
        if not value:
            return None
        matches = list(Customer.objects.filter(name__iexact=value)[:2])
        if not matches:
            raise ValidationError(f"No customer is named {value!r}.")
        if len(matches) > 1:
            raise ValidationError(f"More than one customer is named {value!r}.")
        return matches[0]

    def clean_accounts(self):
        numbers = {n.strip().lower() for n in self.cleaned_data["accounts"].replace("\n", ",").split(",")}
        numbers.discard("")
        if not numbers:
            return []
        found = dict(
            CloudAccount.objects.filter(account_id__in=numbers).values_list("account_id", "pk")
        )  # the reseller's own accounts only (scoped)
        missing = sorted(numbers - set(found))
        if missing:
            raise ValidationError(f"No cloud account of yours has the number {', '.join(missing[:5])}.")
        return sorted(found.values(), key=str)

    def clean_service_account_json(self):
        value = self.cleaned_data["service_account_json"].strip()
        if value:
            import json

            try:
                if not isinstance(json.loads(value), dict):
                    raise ValueError
            except ValueError as exc:
                raise ValidationError("Paste the service account's JSON key file.") from exc
        return value

    def export_fields(self) -> dict:
        data = self.cleaned_data
        kind = data["destination"]
        return {
            "name": data["name"].strip(), "customer": data["customer"], "period_kind": data["period_kind"],
            "month": data["month"], "providers": sorted(data["providers"]), "cloud_account_ids": data["accounts"],
            "format": data["format"], "basis": data["basis"], "destination": kind, "schedule": data["schedule"],
            "settings": {k: (data.get(k) or "").strip() for k in DESTINATION_SETTINGS[kind]},
        }  # fmt: skip

    def secrets(self) -> dict:
        kind = self.cleaned_data["destination"]
        return {k: (self.cleaned_data.get(k) or "").strip() for k in DESTINATION_SECRETS[kind]}


def initial_of(export: BillingExport) -> dict:
    accounts = CloudAccount.objects.filter(pk__in=export.cloud_account_ids).values_list(
        "account_id", flat=True
    )
    return {
        "name": export.name, "customer": export.customer.name if export.customer else "",
        "period_kind": export.period_kind, "month": f"{export.month:%Y-%m}" if export.month else "",
        "providers": export.providers, "accounts": ", ".join(sorted(accounts)), "format": export.format,
        "basis": export.basis, "schedule": export.schedule, "destination": export.destination,
        **{k: v for k, v in (export.settings or {}).items()},
    }  # fmt: skip
