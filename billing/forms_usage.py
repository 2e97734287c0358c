"""Forms of the usage import pages."""

from django import forms

from customers.forms import StyledFormMixin
from customers.models import Customer

from .services_usage import IMPORT_PROVIDERS, SUFFIXES


class UsageUploadForm(StyledFormMixin, forms.Form):
    file = forms.FileField(
        label="FOCUS cost-and-usage file", help_text="CSV, CSV.gz or Parquet (FOCUS 1.0 to 1.3)"
    )
    provider = forms.ChoiceField(choices=IMPORT_PROVIDERS, required=False)

    def clean_file(self):
        file = self.cleaned_data["file"]
        if not file.name.lower().endswith(SUFFIXES):
            raise forms.ValidationError("Choose a .csv, .csv.gz or .parquet file.")
        return file


class AssignAccountForm(StyledFormMixin, forms.Form):
    """Link an unmatched account to one of the reseller's customers, named or given by id."""

    provider = forms.CharField(widget=forms.HiddenInput)
    account_id = forms.CharField(widget=forms.HiddenInput, max_length=100)
    customer = forms.CharField(label="Customer", max_length=200, help_text="the customer's exact name")

    def clean_customer(self):
        value = self.cleaned_data["customer"].strip()
        matches = list(Customer.objects.filter(name__iexact=value)[:2])
        if not matches:
            raise forms.ValidationError(f"No customer is named {value!r}.")
        if len(matches) > 1:
            raise forms.ValidationError(f"More than one customer is named {value!r}; rename one first.")
        return matches[0]
