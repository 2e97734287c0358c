"""Carts, orders, subscriptions and what is managed on them (tenant-owned).

A cart belongs to one user and one customer and lives in the database (it survives logout). Checkout
turns it into an Order (numbered per reseller, O-<year>-<00042>), its OrderLines at the confirmed prices
and one Subscription per plan line; add-on lines become SubscriptionAddOns of that subscription.
Subscription states and their allowed transitions are declared once in services_orders.TRANSITIONS.
"""

from django.conf import settings
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone

from customer360.tenancy import TenantModel

from .models import AddOn, BillingFrequency, BillingTerm, Plan

MONEY = {"max_digits": 16, "decimal_places": 4}


class Cart(TenantModel):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    customer = models.ForeignKey("customers.Customer", on_delete=models.CASCADE, related_name="carts")
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "customer"], name="cart_one_per_user_customer")
        ]

    def __str__(self):
        return f"Cart of {self.user_id} for {self.customer_id}"


class CartLine(TenantModel):
    """A plan, or (with `addon`) an add-on bought with that plan. No price is stored: the cart is
    priced from billing.pricing whenever it is shown, and checkout confirms the prices."""

    cart = models.ForeignKey(Cart, on_delete=models.CASCADE, related_name="lines")
    plan = models.ForeignKey(Plan, on_delete=models.PROTECT, related_name="+")
    addon = models.ForeignKey(AddOn, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    quantity = models.PositiveIntegerField(default=1)
    cloud_account = models.ForeignKey(
        "customers.CloudAccount", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    added_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["added_at", "id"]
        constraints = [
            models.CheckConstraint(condition=models.Q(quantity__gte=1), name="cartline_quantity_gte_1"),
            models.UniqueConstraint(
                fields=["cart", "plan"], condition=models.Q(addon__isnull=True), name="cartline_plan_once"
            ),
            models.UniqueConstraint(
                fields=["cart", "plan", "addon"],
                condition=models.Q(addon__isnull=False),
                name="cartline_addon_once_per_plan",
            ),
        ]

    @property
    def item(self):
        return self.addon or self.plan

    def __str__(self):
        return f"{self.quantity} x {self.item.sku}"


class OrderCounter(TenantModel):
    """The last order number a reseller used in a year; locked with select_for_update while numbering."""

    year = models.PositiveSmallIntegerField()
    last_number = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["reseller", "year"], name="ordercounter_once_per_year")
        ]


class Order(TenantModel):
    class Status(models.TextChoices):
        PROVISIONING = "provisioning", "Provisioning"
        COMPLETED = "completed", "Completed"
        PARTIALLY_FAILED = "partially_failed", "Partially failed"
        FAILED = "failed", "Failed"

    customer = models.ForeignKey("customers.Customer", on_delete=models.PROTECT, related_name="orders")
    number = models.CharField(max_length=20)
    checkout_token = models.UUIDField(unique=True, help_text="rendered into the confirmation form")
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PROVISIONING)
    currency = models.CharField(max_length=3)
    total = models.DecimalField(**MONEY)
    placed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    placed_by_label = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["reseller", "number"], name="order_number_per_reseller"),
            models.CheckConstraint(condition=models.Q(total__gte=0), name="order_total_gte_0"),
        ]
        indexes = [models.Index(fields=["customer", "-created_at"], name="order_customer_created")]

    def __str__(self):
        return self.number


class Subscription(TenantModel):
    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        ACTIVE = "active", "Active"
        FAILED = "failed", "Provisioning failed"
        CANCELLED = "cancelled", "Cancelled"
        EXPIRED = "expired", "Expired"

    customer = models.ForeignKey("customers.Customer", on_delete=models.PROTECT, related_name="subscriptions")
    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="subscriptions")
    plan = models.ForeignKey(Plan, on_delete=models.PROTECT, related_name="+")
    provider = models.ForeignKey("marketplace.Provider", on_delete=models.PROTECT, related_name="+")
    product_type = models.CharField(max_length=12)
    cloud_account = models.ForeignKey(
        "customers.CloudAccount", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    quantity = models.PositiveIntegerField()
    currency = models.CharField(max_length=3)
    unit_price = models.DecimalField(**MONEY)
    unit_cost = models.DecimalField(**MONEY)
    term = models.CharField(max_length=12, choices=BillingTerm.choices)
    billing_frequency = models.CharField(max_length=10, choices=BillingFrequency.choices)
    start_date = models.DateField(default=timezone.localdate)
    renewal_date = models.DateField(null=True, blank=True)
    auto_renew = models.BooleanField(default=True)
    # An annual-term decrease waits for the renewal date.
    scheduled_quantity = models.PositiveIntegerField(null=True, blank=True)
    failure_reason = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "id"]
        constraints = [
            models.CheckConstraint(condition=models.Q(quantity__gte=1), name="subscription_quantity_gte_1"),
            models.CheckConstraint(
                condition=models.Q(scheduled_quantity__isnull=True) | models.Q(scheduled_quantity__gte=1),
                name="subscription_scheduled_quantity_gte_1",
            ),
        ]
        indexes = [
            models.Index(fields=["customer", "status", "provider"], name="subscription_customer_status"),
        ]

    def __str__(self):
        return f"{self.plan.name} x {self.quantity}"


class SubscriptionAddOn(TenantModel):
    subscription = models.ForeignKey(Subscription, on_delete=models.CASCADE, related_name="addons")
    addon = models.ForeignKey(AddOn, on_delete=models.PROTECT, related_name="+")
    quantity = models.PositiveIntegerField()
    currency = models.CharField(max_length=3)
    unit_price = models.DecimalField(**MONEY)
    unit_cost = models.DecimalField(**MONEY)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.CheckConstraint(condition=models.Q(quantity__gte=1), name="subaddon_quantity_gte_1")
        ]

    def __str__(self):
        return f"{self.addon.name} x {self.quantity}"


class OrderLine(TenantModel):
    """A line at the price the user confirmed at checkout (or when buying an add-on later)."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="lines")
    subscription = models.ForeignKey(
        Subscription, on_delete=models.PROTECT, null=True, blank=True, related_name="order_lines"
    )
    plan = models.ForeignKey(Plan, on_delete=models.PROTECT, related_name="+")
    addon = models.ForeignKey(AddOn, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    sku = models.CharField(max_length=80)
    description = models.CharField(max_length=300)
    quantity = models.PositiveIntegerField()
    currency = models.CharField(max_length=3)
    unit_price = models.DecimalField(**MONEY)
    amount = models.DecimalField(**MONEY)
    cost = models.DecimalField(**MONEY)
    pricing_explanation = models.TextField(blank=True)

    class Meta:
        ordering = ["order", "id"]
        constraints = [
            models.CheckConstraint(condition=models.Q(quantity__gte=1), name="orderline_quantity_gte_1")
        ]


class StatusChange(TenantModel):
    """A subscription's status history (the activity log has the same entries, for the whole customer)."""

    subscription = models.ForeignKey(Subscription, on_delete=models.CASCADE, related_name="history")
    before = models.CharField(max_length=10, blank=True)
    after = models.CharField(max_length=10)
    note = models.CharField(max_length=300, blank=True)
    actor_label = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]


class LicenseAssignment(TenantModel):
    subscription = models.ForeignKey(Subscription, on_delete=models.CASCADE, related_name="assignments")
    email = models.EmailField()
    assigned_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["email"]
        constraints = [
            models.UniqueConstraint(
                "subscription", Lower("email"), name="assignment_email_once_per_subscription"
            )
        ]

    def __str__(self):
        return self.email


class LicenseCharge(TenantModel):
    """A prorated charge (increase) or a scheduled decrease, recorded for billing to invoice."""

    class Kind(models.TextChoices):
        PRORATION = "proration", "Prorated increase"
        SCHEDULED_DECREASE = "scheduled_decrease", "Decrease at renewal"
        DECREASE = "decrease", "Decrease"

    subscription = models.ForeignKey(Subscription, on_delete=models.CASCADE, related_name="charges")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    quantity_before = models.PositiveIntegerField()
    quantity_after = models.PositiveIntegerField()
    effective_on = models.DateField()
    days_charged = models.PositiveIntegerField(default=0)
    period_days = models.PositiveIntegerField(default=0)
    currency = models.CharField(max_length=3)
    unit_price = models.DecimalField(**MONEY)
    amount = models.DecimalField(**MONEY)
    billed = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at"]
