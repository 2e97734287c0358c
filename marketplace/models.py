"""The product catalog (platform-level) and the resellers' provider authorizations (tenant-owned).

Providers, products, plans and add-ons are the same for every reseller, so they are plain models that
platform staff maintain (admin site, `manage.py import_catalog`). What a reseller may sell is its
ResellerAuthorization rows; what it charges comes from billing's pricebooks.

Catalog amounts (unit cost to the reseller, list price) are in CATALOG_CURRENCY; pricebooks convert
them to their invoice currency (billing.pricing).
"""

from decimal import Decimal

from django.contrib.postgres.indexes import GinIndex
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone

from customer360.tenancy import TenantModel

from .schema import check_filter_schema, check_plan_attributes

CATALOG_CURRENCY = "USD"


class Provider(models.Model):
    """A cloud or SaaS vendor. `code` matches customers.models.CloudProvider for the clouds."""

    class Kind(models.TextChoices):
        CLOUD = "cloud", "Cloud infrastructure"
        LICENSES = "licenses", "Licenses (CSP)"
        SAAS = "saas", "SaaS"

    code = models.SlugField(max_length=20, unique=True)
    name = models.CharField(max_length=100, unique=True)
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.CLOUD)
    plan_filter_schema = models.JSONField(
        default=list,
        blank=True,
        help_text='The attributes plans are filtered by: [{"key": "term", "label": "Term", '
        '"choices": [["monthly", "Monthly"], ["annual", "Annual"]]}, ...] (see marketplace/schema.py)',
    )
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name

    def clean(self):
        try:
            self.plan_filter_schema = check_filter_schema(self.plan_filter_schema)
        except ValidationError as exc:
            raise ValidationError({"plan_filter_schema": exc.messages}) from exc


class ProductType(models.TextChoices):
    LICENSE = "license", "License subscription"
    CONSUMPTION = "consumption", "Consumption"
    ONE_TIME = "one_time", "One-time"


class Product(models.Model):
    provider = models.ForeignKey(Provider, on_delete=models.PROTECT, related_name="products")
    name = models.CharField(max_length=200)
    category = models.CharField(max_length=100, help_text="e.g. Productivity, Compute, Security")
    type = models.CharField(max_length=12, choices=ProductType.choices)
    description = models.TextField(blank=True)
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["provider__name", "name"]
        constraints = [
            models.UniqueConstraint(fields=["provider", "name"], name="product_unique_name_per_provider"),
            models.CheckConstraint(condition=~models.Q(category=""), name="product_category_not_blank"),
        ]
        indexes = [models.Index(fields=["provider", "category"], name="product_provider_category")]

    def __str__(self):
        return self.name


class PricedItem(models.Model):
    """What plans and add-ons share: a SKU, a cost, a list price and quantity limits."""

    sku = models.CharField("SKU", max_length=80, unique=True)
    name = models.CharField(max_length=200)
    currency = models.CharField(max_length=3, default=CATALOG_CURRENCY, editable=False)
    unit_cost = models.DecimalField(
        max_digits=16, decimal_places=6, help_text=f"what the reseller pays the provider ({CATALOG_CURRENCY})"
    )
    list_price = models.DecimalField(
        max_digits=16, decimal_places=6, help_text=f"the provider's list price, MSRP ({CATALOG_CURRENCY})"
    )
    min_quantity = models.PositiveIntegerField(default=1)
    max_quantity = models.PositiveIntegerField(null=True, blank=True, help_text="empty: no upper limit")
    is_active = models.BooleanField(default=True)

    class Meta:
        abstract = True

    def __str__(self):
        return f"{self.name} ({self.sku})"

    @property
    def provider(self):
        return self.product.provider

    @classmethod
    def amount_constraints(cls, prefix: str) -> list:
        return [
            models.CheckConstraint(condition=models.Q(unit_cost__gte=0), name=f"{prefix}_cost_not_negative"),
            models.CheckConstraint(condition=models.Q(list_price__gte=0), name=f"{prefix}_list_not_negative"),
            models.CheckConstraint(
                condition=models.Q(min_quantity__gte=1), name=f"{prefix}_min_quantity_gte_1"
            ),
            models.CheckConstraint(
                condition=models.Q(max_quantity__isnull=True)
                | models.Q(max_quantity__gte=models.F("min_quantity")),
                name=f"{prefix}_max_quantity_gte_min",
            ),
            models.CheckConstraint(
                condition=models.Q(currency=CATALOG_CURRENCY), name=f"{prefix}_catalog_currency"
            ),
        ]

    def clean(self):
        errors = {}
        for field in ("unit_cost", "list_price"):
            value = getattr(self, field)
            if value is not None and value < Decimal(0):
                errors[field] = "Prices cannot be negative."
        if self.max_quantity is not None and self.min_quantity and self.max_quantity < self.min_quantity:
            errors["max_quantity"] = (
                f"The maximum quantity cannot be below the minimum ({self.min_quantity})."
            )
        if errors:
            raise ValidationError(errors)

    def check_quantity(self, quantity) -> None:
        """A ValidationError on `quantity` when it is outside the item's limits."""
        if quantity is None or quantity < self.min_quantity:
            raise ValidationError(
                {"quantity": f"{self.sku} is sold in quantities of at least {self.min_quantity}."}
            )
        most = min(self.max_quantity or QUANTITY_LIMIT, QUANTITY_LIMIT)
        if quantity > most:
            raise ValidationError({"quantity": f"{self.sku} is sold in quantities of at most {most}."})


# The largest quantity a quantity column holds (PositiveIntegerField): the limit of an unlimited item.
QUANTITY_LIMIT = 2_147_483_647


class BillingTerm(models.TextChoices):
    NONE = "none", "No commitment"
    MONTHLY = "monthly", "1 month"
    ANNUAL = "annual", "1 year"
    THREE_YEAR = "three_year", "3 years"


class BillingFrequency(models.TextChoices):
    MONTHLY = "monthly", "Monthly"
    ANNUAL = "annual", "Annually"
    ONE_TIME = "one_time", "One-time"
    USAGE = "usage", "By usage (monthly in arrears)"


class Plan(PricedItem):
    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="plans")
    attributes = models.JSONField(
        default=dict, blank=True, help_text="values of the provider's plan filter schema"
    )
    billing_term = models.CharField(max_length=12, choices=BillingTerm.choices, default=BillingTerm.MONTHLY)
    billing_frequency = models.CharField(
        max_length=10, choices=BillingFrequency.choices, default=BillingFrequency.MONTHLY
    )
    trial_available = models.BooleanField(default=False)

    class Meta:
        ordering = ["product__name", "name"]
        constraints = PricedItem.amount_constraints("plan")
        indexes = [GinIndex(fields=["attributes"], name="plan_attributes_gin")]

    def clean(self):
        errors = {}
        try:
            super().clean()
        except ValidationError as exc:
            errors = exc.update_error_dict(errors)
        if self.product_id:
            try:
                check_plan_attributes(self.product.provider.plan_filter_schema, self.attributes)
            except ValidationError as exc:
                errors["attributes"] = exc.messages
        if errors:
            raise ValidationError(errors)


class AddOn(PricedItem):
    """An extra a customer buys on top of a plan (extra storage, advanced support, ...)."""

    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="addons")
    plans = models.ManyToManyField(
        Plan, related_name="addons", blank=True, help_text="the plans it attaches to"
    )

    class Meta:
        verbose_name = "add-on"
        ordering = ["product__name", "name"]
        constraints = PricedItem.amount_constraints("addon")


class ResellerAuthorization(TenantModel):
    """A reseller may transact this provider's products. No row, no catalog, no cart, no quote."""

    provider = models.ForeignKey(Provider, on_delete=models.PROTECT, related_name="authorizations")
    authorized_at = models.DateTimeField(default=timezone.now)
    authorized_by = models.CharField(max_length=200, blank=True, help_text="who granted it")

    class Meta:
        ordering = ["provider__name"]
        constraints = [
            models.UniqueConstraint(fields=["reseller", "provider"], name="authorization_once_per_provider"),
        ]

    def __str__(self):
        return f"{self.provider} authorized"


# Carts, orders and subscriptions live in their own module (size); Django finds them through this import.
from .models_orders import (  # noqa: E402,F401
    Cart,
    CartLine,
    LicenseAssignment,
    LicenseCharge,
    Order,
    OrderCounter,
    OrderLine,
    StatusChange,
    Subscription,
    SubscriptionAddOn,
)
