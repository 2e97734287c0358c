"""The form that issues a credit to a customer's balance (in the customer's currency)."""

from decimal import Decimal

from django import forms

from .forms_tax import DATE


class CreditForm(forms.Form):
    amount = forms.DecimalField(max_digits=14, decimal_places=2, min_value=Decimal("0.01"))
    reason = forms.CharField(max_length=200, help_text="printed on the invoice that uses the credit")
    expires_on = forms.DateField(
        label="Expiry date", required=False, widget=DATE,
        help_text="the credit can't be used from this date; empty: never expires",
    )  # fmt: skip

    def __init__(self, *args, currency: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["amount"].label = f"Amount ({currency})"
        self.fields["amount"].error_messages["min_value"] = "A credit must be more than zero."
