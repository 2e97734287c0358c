"""Forms of the invoice pages: recording a payment, voiding, starting a run, closing a provider's month."""

from datetime import date, timedelta
from decimal import Decimal

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone

from .forms_tax import DATE
from .invoice_run import parse_period


class PaymentForm(forms.Form):
    amount = forms.DecimalField(max_digits=16, decimal_places=4, min_value=Decimal("0.01"))
    received_on = forms.DateField(label="Received on", widget=DATE)
    reference = forms.CharField(max_length=100, required=False, help_text="e.g. the bank transfer reference")

    def __init__(self, *args, currency: str, **kwargs):
        kwargs.setdefault("initial", {}).setdefault("received_on", timezone.localdate())
        super().__init__(*args, **kwargs)
        self.fields["amount"].label = f"Amount ({currency})"
        self.fields["amount"].error_messages["min_value"] = "A payment must be more than zero."


class CreditNoteForm(forms.Form):
    amount = forms.DecimalField(max_digits=16, decimal_places=4, min_value=Decimal("0.01"))
    reason = forms.CharField(max_length=200, help_text="what it corrects; printed with the credit")

    def __init__(self, *args, currency: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["amount"].label = f"Amount ({currency})"
        self.fields["amount"].error_messages["min_value"] = "A credit note must be more than zero."


class VoidForm(forms.Form):
    reason = forms.CharField(max_length=300, help_text="kept on record with the void invoice")


class PeriodField(forms.CharField):
    widget = forms.TextInput(attrs={"type": "month", "placeholder": "YYYY-MM"})

    def clean(self, value) -> date:
        value = super().clean(value)
        try:
            return parse_period(value)
        except ValidationError as exc:
            raise ValidationError(exc.message_dict["period"]) from exc


def last_month() -> str:
    first = timezone.localdate().replace(day=1)
    return f"{(first - timedelta(days=1)):%Y-%m}"


class RunForm(forms.Form):
    period = PeriodField(label="Billing month", help_text="drafts are rebuilt; finalized invoices are kept")

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("initial", {}).setdefault("period", last_month())
        super().__init__(*args, **kwargs)


class ClosePeriodForm(forms.Form):
    period = PeriodField(label="Billing month")
    provider = forms.ChoiceField(help_text="the provider whose billing data for the month is complete")

    def __init__(self, *args, providers=(), **kwargs):
        kwargs.setdefault("initial", {}).setdefault("period", last_month())
        super().__init__(*args, **kwargs)
        self.fields["provider"].choices = [("*", "Every provider"), *[(p, p.upper()) for p in providers]]
