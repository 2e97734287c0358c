"""Forms of the tax pages. Their choices are the reseller's own rows (tenant querysets, evaluated in the
request's scope); the services check every rule again and report it on the field."""

from django import forms

from .models_tax import TaxCategory, TaxRate

DATE = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


class ServiceCheckedModelForm(forms.ModelForm):
    """A model form whose model-level constraints are checked by the service, with messages a user can
    act on, rather than by Django's generic "Constraint … is violated"."""

    def _post_clean(self):
        # The view runs the service's check right after is_valid(); Django's constraint validation would
        # otherwise put its own wording first. The database still holds every constraint.
        self.instance.validate_constraints = lambda exclude=None: None
        try:
            super()._post_clean()
        finally:
            del self.instance.validate_constraints


class TaxRateForm(ServiceCheckedModelForm):
    class Meta:
        model = TaxRate
        fields = ["name", "rate", "country", "region", "postal_prefix", "valid_from", "valid_until"]
        widgets = {
            "valid_from": DATE,
            "valid_until": DATE,
            "country": forms.TextInput(attrs={"maxlength": 2}),
        }


def matches_address(rate, customer) -> bool:
    """Whether the rate's place covers the customer's address (a hint on the form; the profile's
    choice is what applies)."""
    if customer is None or not customer.country or rate.country != customer.country.upper():
        return False
    if rate.region and rate.region.casefold() != (customer.region or "").casefold():
        return False
    postal = (customer.postal_code or "").replace(" ", "").upper()
    return not rate.postal_prefix or postal.startswith(rate.postal_prefix.replace(" ", "").upper())


class RateChoiceField(forms.ModelMultipleChoiceField):
    customer = None

    def label_from_instance(self, rate):
        until = rate.valid_until.isoformat() if rate.valid_until else "no end"
        place = f" · {rate.place}" if rate.place else ""
        hint = " · matches the customer's address" if matches_address(rate, self.customer) else ""
        return f"{rate.name}: {rate.rate.normalize():f} %{place} · {rate.valid_from.isoformat()} to {until}{hint}"


class TaxProfileForm(forms.Form):
    enabled = forms.BooleanField(
        label="Use tax", required=False, help_text="calculate tax on this customer's billing statements"
    )
    tax_id = forms.CharField(
        label="Tax id", max_length=50, required=False, help_text="e.g. a VAT or sales tax number"
    )
    rates = RateChoiceField(
        label="Tax rates that apply",
        queryset=TaxRate.objects.order_by("name", "valid_from"),  # scoped when evaluated, in the request
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="e.g. the state rate and the county rate; each is a line of its own on the invoice",
    )
    taxable_categories = forms.MultipleChoiceField(
        label="Taxable charges",
        choices=TaxCategory.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    exempt = forms.BooleanField(label="Tax exempt", required=False)
    exemption_certificate = forms.CharField(
        label="Exemption certificate number", max_length=100, required=False
    )
    exemption_expires = forms.DateField(
        label="Exemption expiry date", required=False, widget=DATE,
        help_text="the exemption stops applying on this date; empty: no expiry",
    )  # fmt: skip

    def __init__(self, *args, customer=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["rates"].customer = customer

    @classmethod
    def initial_for(cls, profile) -> dict:
        if profile is None:
            return {"enabled": True, "taxable_categories": list(TaxCategory.values)}
        return {
            "enabled": profile.enabled, "tax_id": profile.tax_id, "rates": [r.pk for r in profile.rates.all()],
            "taxable_categories": profile.taxable_categories, "exempt": profile.exempt,
            "exemption_certificate": profile.exemption_certificate, "exemption_expires": profile.exemption_expires,
        }  # fmt: skip
