"""Charges and discounts of a customer, in named groups (imported by billing/models.py).

An item is a percentage, a fixed amount or tiered percentages by spend band, computed on the
customer's price or on cost (services_charges.compute_charge), with optional minimum and maximum caps,
monthly or once, on the whole customer, one of its cloud accounts or one of its subscriptions, with
effective dates. Two items of one name and scope never overlap in time (an exclusion constraint where
btree_gist exists, services_charges' check everywhere), so the invoice run never bills one twice.
"""

from django.contrib.postgres.constraints import ExclusionConstraint
from django.contrib.postgres.fields import RangeOperators
from django.db import models
from django.utils import timezone

from customer360.tenancy import TenantModel

from .models_pricebook import DateRange, dates_in_order

MONEY = {"max_digits": 14, "decimal_places": 2}
PERCENT = {"max_digits": 7, "decimal_places": 4}


class ChargeGroup(TenantModel):
    customer = models.ForeignKey("customers.Customer", on_delete=models.CASCADE, related_name="charge_groups")
    name = models.CharField(max_length=100, help_text='e.g. "Support", "Service fees", "Discounts"')
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.UniqueConstraint(fields=["customer", "name"], name="chargegroup_unique_name"),
            models.CheckConstraint(condition=~models.Q(name=""), name="chargegroup_name_not_blank"),
        ]

    def __str__(self):
        return self.name


class ChargeKind(models.TextChoices):
    CHARGE = "charge", "Charge"
    DISCOUNT = "discount", "Discount"


class ChargeMethod(models.TextChoices):
    PERCENTAGE = "percentage", "Fixed percentage"
    FIXED = "fixed", "Fixed amount"
    TIERED = "tiered", "Tiered (percentage by spend band)"


class ChargeBasis(models.TextChoices):
    PRICE = "price", "Customer price"
    COST = "cost", "Cost"


class Recurrence(models.TextChoices):
    MONTHLY = "monthly", "Monthly (recurring)"
    ONE_TIME = "one_time", "One-time"


class ChargeScope(models.TextChoices):
    CUSTOMER = "customer", "The whole customer"
    CLOUD_ACCOUNT = "cloud_account", "One cloud account"
    SUBSCRIPTION = "subscription", "One subscription"


class ChargeItem(TenantModel):
    group = models.ForeignKey(ChargeGroup, on_delete=models.PROTECT, related_name="items")
    customer = models.ForeignKey("customers.Customer", on_delete=models.CASCADE, related_name="charge_items")
    name = models.CharField(max_length=120)
    kind = models.CharField(max_length=10, choices=ChargeKind.choices, default=ChargeKind.CHARGE)
    method = models.CharField(max_length=10, choices=ChargeMethod.choices, default=ChargeMethod.PERCENTAGE)
    rate = models.DecimalField("rate (%)", null=True, blank=True, **PERCENT)
    amount = models.DecimalField(null=True, blank=True, help_text="in the customer's currency", **MONEY)
    # Bands for the tiered method: [{"from": "0", "to": "1000", "rate": "5"}, {"from": "1000", "to": null, ...}],
    # contiguous and ascending (services_charges.parse_tiers checks them); amounts as strings, never floats.
    tiers = models.JSONField(default=list, blank=True)
    basis = models.CharField(max_length=5, choices=ChargeBasis.choices, default=ChargeBasis.PRICE)
    min_amount = models.DecimalField("minimum", null=True, blank=True, **MONEY)
    max_amount = models.DecimalField("maximum", null=True, blank=True, **MONEY)
    currency = models.CharField(max_length=3)
    recurrence = models.CharField(max_length=10, choices=Recurrence.choices, default=Recurrence.MONTHLY)
    scope_type = models.CharField(
        "scope", max_length=15, choices=ChargeScope.choices, default=ChargeScope.CUSTOMER
    )
    cloud_account = models.ForeignKey(
        "customers.CloudAccount", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    subscription = models.ForeignKey(
        "marketplace.Subscription", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    scope_key = models.CharField(max_length=60, editable=False)  # "customer", "cloud_account:<id>", …
    valid_from = models.DateField("effective from")
    valid_until = models.DateField("effective until", null=True, blank=True, help_text="empty: no end")
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["group__name", "name", "valid_from"]
        indexes = [models.Index(fields=["customer", "valid_from"], name="chargeitem_customer_from")]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(rate__isnull=True) | models.Q(rate__gte=0, rate__lte=100),
                name="chargeitem_rate_0_to_100",
            ),
            models.CheckConstraint(
                condition=models.Q(amount__isnull=True) | models.Q(amount__gte=0),
                name="chargeitem_amount_gte_0",
            ),
            models.CheckConstraint(
                condition=models.Q(min_amount__isnull=True) | models.Q(min_amount__gte=0),
                name="chargeitem_min_gte_0",
            ),
            models.CheckConstraint(
                condition=models.Q(min_amount__isnull=True)
                | models.Q(max_amount__isnull=True)
                | models.Q(max_amount__gte=models.F("min_amount")),
                name="chargeitem_max_gte_min",
            ),
            models.CheckConstraint(condition=dates_in_order(), name="chargeitem_dates_in_order"),
            models.CheckConstraint(
                condition=models.Q(
                    scope_type=ChargeScope.CUSTOMER, cloud_account__isnull=True, subscription__isnull=True
                )
                | models.Q(
                    scope_type=ChargeScope.CLOUD_ACCOUNT,
                    cloud_account__isnull=False,
                    subscription__isnull=True,
                )
                | models.Q(
                    scope_type=ChargeScope.SUBSCRIPTION,
                    cloud_account__isnull=True,
                    subscription__isnull=False,
                ),
                name="chargeitem_scope_target",
            ),
            # Added in the migration under WithExtension("btree_gist"); services_charges checks it everywhere.
            ExclusionConstraint(
                name="chargeitem_no_overlap",
                expressions=[
                    ("customer", RangeOperators.EQUAL),
                    ("name", RangeOperators.EQUAL),
                    ("scope_key", RangeOperators.EQUAL),
                    (DateRange("valid_from", "valid_until"), RangeOperators.OVERLAPS),
                ],
                violation_error_message="An item of this name and scope already covers some of these dates.",
            ),
        ]

    def __str__(self):
        return f"{self.get_kind_display()} {self.name}"

    @property
    def target(self):
        return {
            ChargeScope.CLOUD_ACCOUNT: self.cloud_account,
            ChargeScope.SUBSCRIPTION: self.subscription,
        }.get(self.scope_type)

    @property
    def scope_label(self) -> str:
        target = self.target
        if target is None:
            return "Whole customer"
        return (
            f"{'Cloud account' if self.scope_type == ChargeScope.CLOUD_ACCOUNT else 'Subscription'}: {target}"
        )

    def set_scope_key(self):
        target_id = {
            ChargeScope.CLOUD_ACCOUNT: self.cloud_account_id,
            ChargeScope.SUBSCRIPTION: self.subscription_id,
        }.get(self.scope_type)
        self.scope_key = self.scope_type if target_id is None else f"{self.scope_type}:{target_id}"

    def in_effect(self, day) -> bool:
        return self.valid_from <= day and (self.valid_until is None or day <= self.valid_until)
