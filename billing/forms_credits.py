"""The form that issues a credit to a customer's balance or to one of its unpaid invoices (in the customer's
currency)."""

from decimal import Decimal

from django import forms

from customer360.money import Money

from .forms_tax import DATE


class CreditForm(forms.Form):
    amount = forms.DecimalField(max_digits=14, decimal_places=2, min_value=Decimal("0.01"))
    reason = forms.CharField(max_length=200, help_text="printed on the invoice that uses the credit")
    expires_on = forms.DateField(
        label="Expiry date", required=False, widget=DATE,
        help_text="the credit can't be used from this date; empty: never expires",
    )  # fmt: skip

    invoice = forms.ModelChoiceField(
        queryset=None,
        required=False,
        label="Credit to",
        empty_label="The customer's balance",
        help_text="an unpaid finalized invoice: the credit settles part of it at once",
    )

    def __init__(self, *args, currency: str, customer, **kwargs):
        from .models_invoices import Invoice, InvoiceStatus

        super().__init__(*args, **kwargs)
        # Scoped manager: only this reseller's rows, and of those only this customer's unpaid invoices.
        self.fields["invoice"].queryset = Invoice.objects.filter(
            customer=customer, status=InvoiceStatus.OPEN
        ).order_by("-invoice_date", "-number")
        self.fields["invoice"].label_from_instance = lambda i: (
            f"{i.number} ({i.month:%B %Y}), {Money(i.total - i.amount_paid, i.currency)} due"
        )
        self.order_fields(["invoice", "amount", "reason", "expires_on"])
        self.fields["amount"].label = f"Amount ({currency})"
        self.fields["amount"].error_messages["min_value"] = "A credit must be more than zero."
