"""Tax: the reseller's named tax rates and each customer's tax profile (imported by billing/models.py).

A rate is a percentage with effective dates; a rate's name may have several versions over time (a
state raising its rate from a date), but two versions of one name never overlap (an exclusion
constraint where btree_gist exists, and services_tax's check everywhere). A customer's profile picks
one or more of the reseller's rates (e.g. a state rate and a county rate); the tax on a taxable line is
the sum of those rates in force on the line's date, each rounded on its own (billing/tax.py).
"""

from django.contrib.postgres.constraints import ExclusionConstraint
from django.contrib.postgres.fields import ArrayField, RangeOperators
from django.db import models
from django.utils import timezone

from customer360.tenancy import TenantModel

from .models_pricebook import DateRange, dates_in_order


class TaxCategory(models.TextChoices):
    """The kinds of invoice line tax can apply to; a profile says which of them are taxable."""

    SUBSCRIPTIONS = "subscriptions", "Subscriptions and licenses"
    USAGE = "usage", "Usage (rated consumption)"
    CHARGES = "charges", "Support charges and service fees"


class TaxRate(TenantModel):
    name = models.CharField(max_length=100, help_text='e.g. "California state"')
    rate = models.DecimalField(
        "rate (%)", max_digits=7, decimal_places=4, help_text="a percentage, e.g. 7.25"
    )
    country = models.CharField(max_length=2, help_text="ISO 3166 two-letter code")
    region = models.CharField("state / region", max_length=100, blank=True)
    postal_prefix = models.CharField(
        "postal code prefix", max_length=20, blank=True, help_text="empty: the whole region"
    )
    valid_from = models.DateField("effective from")
    valid_until = models.DateField("effective until", null=True, blank=True, help_text="empty: no end")
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["name", "valid_from"]
        constraints = [
            models.CheckConstraint(condition=models.Q(rate__gte=0), name="taxrate_rate_not_negative"),
            models.CheckConstraint(condition=models.Q(rate__lte=100), name="taxrate_rate_at_most_100"),
            models.CheckConstraint(condition=dates_in_order(), name="taxrate_dates_in_order"),
            # Added in the migration under WithExtension("btree_gist"); services_tax checks it everywhere.
            ExclusionConstraint(
                name="taxrate_no_overlap_per_name",
                expressions=[
                    ("reseller", RangeOperators.EQUAL),
                    ("name", RangeOperators.EQUAL),
                    (DateRange("valid_from", "valid_until"), RangeOperators.OVERLAPS),
                ],
                violation_error_message="Another version of this rate covers some of these dates.",
            ),
        ]

    def __str__(self):
        return f"{self.name} ({self.rate.normalize():f} %)"

    def in_effect(self, day) -> bool:
        return self.valid_from <= day and (self.valid_until is None or day <= self.valid_until)

    @property
    def place(self) -> str:
        return " ".join(
            filter(None, [self.country, self.region, self.postal_prefix and f"{self.postal_prefix}*"])
        )


def default_categories():
    return [c.value for c in TaxCategory]


class TaxProfile(TenantModel):
    """How a customer is taxed. No profile (or `enabled` off) means its invoices carry no tax."""

    customer = models.OneToOneField(
        "customers.Customer", on_delete=models.CASCADE, related_name="tax_profile"
    )
    enabled = models.BooleanField(
        "use tax", default=True, help_text="calculate tax on this customer's billing statements"
    )
    tax_id = models.CharField("tax id", max_length=50, blank=True, help_text="e.g. a VAT or sales tax number")
    rates = models.ManyToManyField(TaxRate, blank=True, related_name="profiles")
    taxable_categories = ArrayField(
        models.CharField(max_length=20, choices=TaxCategory.choices), default=default_categories, blank=True
    )
    exempt = models.BooleanField("tax exempt", default=False)
    exemption_certificate = models.CharField("exemption certificate number", max_length=100, blank=True)
    exemption_expires = models.DateField(
        "exemption expiry date", null=True, blank=True, help_text="the exemption stops applying on this date"
    )
    updated_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(exempt=False) | ~models.Q(exemption_certificate=""),
                name="taxprofile_exemption_has_certificate",
            ),
        ]

    def __str__(self):
        return f"Tax profile of {self.customer}"

    def exemption_in_force(self, day) -> bool:
        """An exemption applies up to the day before its expiry date."""
        return self.exempt and (self.exemption_expires is None or day < self.exemption_expires)

    def taxes(self, category: str, day) -> bool:
        return self.enabled and category in self.taxable_categories and not self.exemption_in_force(day)
