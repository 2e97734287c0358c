"""Credits issued to a customer's balance and their applications to invoices (imported by models.py).

A credit is never edited: what is left of it is its amount less its applications, and a void stops the
rest from being used. Applications are written by the invoice run through services_credits.apply_credits;
invoices do not exist yet, so an application names its invoice as text (`invoice_ref`). A credit aimed at
one specific invoice needs the Invoice model and arrives with it.
"""

from django.conf import settings
from django.db import models
from django.utils import timezone

from customer360.tenancy import TenantModel

MONEY = {"max_digits": 14, "decimal_places": 2}


class CreditStatus(models.TextChoices):
    AVAILABLE = "available", "Available"
    USED = "used", "Used"
    EXPIRED = "expired", "Expired"
    VOID = "void", "Void"


class Credit(TenantModel):
    customer = models.ForeignKey("customers.Customer", on_delete=models.CASCADE, related_name="credits")
    amount = models.DecimalField(**MONEY)
    currency = models.CharField(max_length=3)
    reason = models.CharField(max_length=200)
    issued_on = models.DateField(default=timezone.localdate)
    expires_on = models.DateField(
        "expiry date",
        null=True,
        blank=True,
        help_text="empty: never; the credit can't be used from this date",
    )
    invoice = models.ForeignKey(
        "billing.Invoice",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="targeted_credits",
        help_text="empty: to the customer's balance; else settles part of this finalized invoice at once",
    )
    issued_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    issued_by_label = models.CharField(max_length=200, blank=True)
    voided_at = models.DateTimeField(null=True, blank=True)
    voided_by_label = models.CharField(max_length=200, blank=True)
    void_reason = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["-issued_on", "-created_at", "id"]
        indexes = [models.Index(fields=["customer", "expires_on"], name="credit_customer_expiry")]
        constraints = [
            models.CheckConstraint(condition=models.Q(amount__gt=0), name="credit_amount_positive")
        ]

    def __str__(self):
        return f"Credit {self.amount} {self.currency}: {self.reason}"

    def expired_on(self, day) -> bool:
        return self.expires_on is not None and day >= self.expires_on

    def usable_on(self, day) -> bool:
        return self.voided_at is None and not self.expired_on(day) and self.issued_on <= day


class CreditApplication(TenantModel):
    """Part of a credit used on an invoice. Written by the invoice run, never edited."""

    credit = models.ForeignKey(Credit, on_delete=models.PROTECT, related_name="applications")
    amount = models.DecimalField(**MONEY)
    applied_on = models.DateField(help_text="the invoice's date")
    applied_at = models.DateTimeField(default=timezone.now, editable=False)
    invoice_ref = models.CharField("invoice", max_length=100, blank=True)

    class Meta:
        ordering = ["applied_at", "id"]
        constraints = [
            models.CheckConstraint(condition=models.Q(amount__gt=0), name="creditapplication_amount_positive")
        ]

    def __str__(self):
        return f"{self.amount} of {self.credit_id} on {self.invoice_ref or self.applied_on}"
