from django import forms

from .cloud_accounts import check_account_number
from .models import CloudProvider, Customer
from .services import CUSTOMER_EDITABLE_FIELDS


class StyledFormMixin:
    """Marks fields with errors, so templates can show the message where the user typed."""

    error_css_class = "has-error"
    required_css_class = "required"


class CustomerForm(StyledFormMixin, forms.ModelForm):
    class Meta:
        model = Customer
        fields = CUSTOMER_EDITABLE_FIELDS

    def clean_name(self):
        name = self.cleaned_data["name"].strip()
        if not name:
            raise forms.ValidationError("Enter the customer's name.")
        return name

    def clean_country(self):
        country = self.cleaned_data["country"].strip().upper()
        if country and (len(country) != 2 or not country.isalpha()):
            raise forms.ValidationError("Use the two-letter country code, e.g. US, DE, GB.")
        return country

    def clean_credit_limit(self):
        value = self.cleaned_data["credit_limit"]
        if value is not None and value < 0:
            raise forms.ValidationError("The credit limit cannot be negative.")
        return value

    def clean_saas_credit_threshold(self):
        value = self.cleaned_data["saas_credit_threshold"]
        if value is not None and value <= 0:
            raise forms.ValidationError("The threshold must be more than zero, or left empty for no alert.")
        return value


class CustomerCreateForm(CustomerForm):
    admin_name = forms.CharField(label="Admin contact name", max_length=150)
    admin_email = forms.EmailField(label="Admin contact email", max_length=254)
    admin_phone = forms.CharField(label="Admin contact phone", max_length=40, required=False)

    class Meta(CustomerForm.Meta):
        fields = CustomerForm.Meta.fields

    def admin_contact(self) -> dict:
        return {
            "name": self.cleaned_data["admin_name"],
            "email": self.cleaned_data["admin_email"],
            "phone": self.cleaned_data["admin_phone"],
        }


class CloudAccountLinkForm(StyledFormMixin, forms.Form):
    provider = forms.ChoiceField(choices=CloudProvider.choices)
    account_number = forms.CharField(
        label="Account number",
        max_length=100,
        help_text="AWS account id, Azure subscription id, GCP project id, or Microsoft / Google tenant domain",
    )
    name = forms.CharField(label="Display name", max_length=200, required=False)

    def clean(self):
        data = super().clean()
        if data.get("provider") and data.get("account_number"):
            try:
                data["account_number"] = check_account_number(data["provider"], data["account_number"])
            except forms.ValidationError as exc:
                self.add_error("account_number", exc)
        return data


class AwsAccountRequestForm(StyledFormMixin, forms.Form):
    name = forms.CharField(label="Account name", max_length=200, help_text="e.g. Production, Sandbox")
