"""Forms of the quote builder, the quote lists and the discount limits. They check the shape of the input;
the rules (authorization, limits, editability) are the services' and come back as field errors."""

from decimal import Decimal

from django import forms

from customers.models import CURRENCIES, Customer
from marketplace.models import QUANTITY_LIMIT

from .models import Lead
from .services_lines import LIMIT_ROLES

LEAD_FIELDS = [
    "company_name", "contact_name", "contact_email", "phone", "address_line1", "city", "postal_code",
    "country", "currency",
]  # fmt: skip
LEAD_REQUIRED = ["company_name", "contact_name", "contact_email"]


class RecipientForm(forms.Form):
    """Step 1: an existing customer (found with the search box) or a new lead."""

    kind = forms.ChoiceField(
        label="The quote is for",
        choices=[
            ("customer", "An existing customer"),
            ("lead", "A new lead (a prospect, not yet a customer)"),
        ],
        widget=forms.RadioSelect,
        initial="customer",
    )
    customer = forms.ModelChoiceField(queryset=Customer.objects.none(), required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Evaluated in the request's reseller scope: another reseller's customer is "not one of the choices".
        self.fields["customer"].queryset = Customer.objects.all()
        labels = {
            "address_line1": "Address",
            "contact_email": "Contact email",
            "country": "Country (2 letters)",
        }
        self.fields.update(forms.fields_for_model(Lead, fields=LEAD_FIELDS, labels=labels))
        self.fields["currency"] = forms.ChoiceField(choices=CURRENCIES, initial="USD")
        for name in LEAD_FIELDS:
            self.fields[name].required = False  # required only for a lead: clean() says so
        for name in LEAD_REQUIRED:
            self.fields[name].label = f"{self.fields[name].label} *"

    def clean(self):
        data = super().clean()
        if data.get("kind") == "customer":
            if not data.get("customer"):
                self.add_error("customer", "Search for the customer and choose one.")
        else:
            for name in LEAD_REQUIRED:
                if not data.get(name):
                    self.add_error(name, "Required for a lead.")
        return data

    def lead_data(self) -> dict | None:
        if self.cleaned_data["kind"] != "lead":
            return None
        return {name: self.cleaned_data.get(name) or "" for name in LEAD_FIELDS}


class BasicInfoForm(forms.Form):
    name = forms.CharField(max_length=100, help_text="Up to 100 characters; the customer sees it.")
    valid_until = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}), label="Valid until")
    currency = forms.ChoiceField(choices=CURRENCIES, help_text="Changing it re-prices every line.")
    notes = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False)
    terms = forms.CharField(widget=forms.Textarea(attrs={"rows": 4}), required=False, label="Terms")


class NameForm(forms.Form):
    name = forms.CharField(max_length=100)


class LineAddForm(forms.Form):
    provider = forms.TypedChoiceField(coerce=int, label="Provider")
    item = forms.CharField(label="Plan or add-on")
    quantity = forms.IntegerField(min_value=1, max_value=QUANTITY_LIMIT, initial=1)
    discount_percent = forms.DecimalField(
        min_value=Decimal(0), max_value=Decimal(100), decimal_places=2, initial=Decimal(0), label="Discount %"
    )

    def __init__(self, *args, providers=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["provider"].choices = [(p.pk, p.name) for p in providers]

    def clean_item(self):
        value = self.cleaned_data["item"]
        kind, _, pk = value.partition(":")
        if kind not in ("plan", "addon") or not pk.isdigit():
            raise forms.ValidationError("Choose a plan or add-on.")
        return kind, int(pk)

    def clean(self):
        # The provider select has no error slot of its own on the page: its error is shown on the item.
        if "provider" in self._errors:
            self.add_error("item", self._errors.pop("provider"))
        return super().clean()


class LineUpdateForm(forms.Form):
    quantity = forms.IntegerField(min_value=1, max_value=QUANTITY_LIMIT)
    discount_percent = forms.DecimalField(
        min_value=Decimal(0), max_value=Decimal(100), decimal_places=2, label="Discount %"
    )


class DiscountLimitsForm(forms.Form):
    """One maximum per role that writes quotes."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for role in LIMIT_ROLES:
            self.fields[role] = forms.DecimalField(
                label=f"{role.label} (max %)", min_value=Decimal(0), max_value=Decimal(100), decimal_places=2
            )
