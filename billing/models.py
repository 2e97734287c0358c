"""Billing data. The daily spend rollup is the pre-aggregated "Actuals" behind every KPI card:
consumption ingestion (and license charges) write it; KPI cards, reports and invoices read it."""

from decimal import Decimal

from django.db import models

from customer360.tenancy import TenantModel


class DailySpend(TenantModel):
    """One customer's spend on one provider on one day, at the reseller's cost and at the customer's price."""

    customer = models.ForeignKey("customers.Customer", on_delete=models.CASCADE, related_name="daily_spend")
    day = models.DateField()
    provider = models.CharField(max_length=10)
    currency = models.CharField(max_length=3)
    cost = models.DecimalField(max_digits=16, decimal_places=4, default=Decimal("0"))
    price = models.DecimalField(max_digits=16, decimal_places=4, default=Decimal("0"))
    is_saas = models.BooleanField(
        default=False, help_text="SaaS (marketplace) spend, counted against the credit threshold"
    )

    class Meta:
        ordering = ["-day"]
        indexes = [models.Index(fields=["customer", "day"], name="dailyspend_customer_day")]
        constraints = [
            models.UniqueConstraint(
                fields=["customer", "day", "provider", "currency", "is_saas"],
                name="dailyspend_one_row_per_key",
            ),
        ]

    def __str__(self):
        return f"{self.customer_id} {self.day} {self.provider}: {self.price} {self.currency}"


# Pricebooks (issue 4) live in their own modules; importing them here registers them with the app.
from .models_changes import PricebookAssignment, PricebookChange  # noqa: E402
from .models_pricebook import BillingPeriod, ExchangeRate, Pricebook, PricebookRule  # noqa: E402

__all__ = ["BillingPeriod", "DailySpend", "ExchangeRate", "Pricebook", "PricebookAssignment"]
__all__ += ["PricebookChange", "PricebookRule"]
# Billing configuration of a customer (issue 8): tax, credits, charges and discounts.
from .models_charges import ChargeGroup, ChargeItem  # noqa: E402,F401
from .models_credits import Credit, CreditApplication  # noqa: E402,F401
from .models_invoices import (  # noqa: E402
    CreditNote,
    Invoice,
    InvoiceCounter,
    InvoiceLine,
    InvoiceRun,
    InvoiceRunChunk,
    Payment,
    ProviderPeriod,
)
from .models_tax import TaxProfile, TaxRate  # noqa: E402,F401
from .models_usage import UsageDaily, UsageImport, UsageMonthly, UsageRow  # noqa: E402,F401

__all__ += ["Invoice", "InvoiceCounter", "InvoiceLine", "InvoiceRun", "InvoiceRunChunk", "Payment"]
__all__ += ["CreditNote", "ProviderPeriod"]
from .models_exports import BillingExport, ExportRun  # noqa: E402,F401  billing exports (issue 9)
