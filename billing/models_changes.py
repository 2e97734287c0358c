"""Which pricebook applies to whom, and the pricebook change log (imported by billing/models.py)."""

from django.conf import settings
from django.contrib.postgres.constraints import ExclusionConstraint
from django.contrib.postgres.fields import RangeOperators
from django.db import models
from django.utils import timezone

from customer360.tenancy import TenantModel

from .models_pricebook import DateRange, Pricebook, PricebookRule, dates_in_order


class PricebookAssignment(TenantModel):
    """One pricebook for one provider at one level, for a span of dates.

    One model for every level, so precedence is a single ORDER BY (most specific level first):

    * reseller default: no customer, no cloud account (the book for customers with none assigned);
    * customer: the book assigned in the customer's Cloud Billing menu;
    * cloud account: an override for one AWS account, Azure subscription, GCP project or tenant.

    With no assignment in effect at any level, a line is priced at list price. Subscriptions (a later
    issue) get their level by adding a nullable `subscription` foreign key, Level.SUBSCRIPTION = 3,
    its target_key "subscription:<id>", and its clause in billing.pricing / billing.pricing_sql.

    Assignments are versioned like rules: a change ends the current row the day before the first open
    billing period and starts a new one, so invoiced periods keep the book they were priced with.
    """

    class Level(models.IntegerChoices):
        RESELLER = 0, "Reseller default"
        CUSTOMER = 1, "Customer"
        CLOUD_ACCOUNT = 2, "Cloud account"

    provider = models.ForeignKey("marketplace.Provider", on_delete=models.PROTECT, related_name="+")
    pricebook = models.ForeignKey(Pricebook, on_delete=models.PROTECT, related_name="assignments")
    customer = models.ForeignKey(
        "customers.Customer",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="pricebook_assignments",
    )
    cloud_account = models.ForeignKey(
        "customers.CloudAccount", on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    level = models.PositiveSmallIntegerField(choices=Level.choices, editable=False)
    target_key = models.CharField(max_length=60, editable=False)
    valid_from = models.DateField("effective from")
    valid_until = models.DateField("effective until", null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["provider", "-level", "valid_from"]
        indexes = [models.Index(fields=["customer", "provider"], name="assignment_customer_provider")]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(cloud_account__isnull=True) | models.Q(customer__isnull=False),
                name="assignment_account_has_customer",
            ),
            models.CheckConstraint(condition=dates_in_order(), name="assignment_dates_in_order"),
            ExclusionConstraint(
                name="assignment_no_overlap",
                expressions=[
                    ("reseller", RangeOperators.EQUAL),
                    ("provider", RangeOperators.EQUAL),
                    ("target_key", RangeOperators.EQUAL),
                    (DateRange("valid_from", "valid_until"), RangeOperators.OVERLAPS),
                ],
                violation_error_message="This already has a pricebook for these dates.",
            ),
        ]

    def __str__(self):
        return f"{self.pricebook} for {self.target_label}"

    @property
    def target_label(self) -> str:
        if self.cloud_account_id:
            return str(self.cloud_account)
        if self.customer_id:
            return str(self.customer)
        return "all customers (default)"

    def set_derived(self):
        if self.cloud_account_id:
            self.level, self.target_key = self.Level.CLOUD_ACCOUNT, f"account:{self.cloud_account_id}"
        elif self.customer_id:
            self.level, self.target_key = self.Level.CUSTOMER, f"customer:{self.customer_id}"
        else:
            self.level, self.target_key = self.Level.RESELLER, "reseller"

    def in_effect(self, day) -> bool:
        return self.valid_from <= day and (self.valid_until is None or day <= self.valid_until)

    def save(self, *args, **kwargs):
        self.set_derived()
        super().save(*args, **kwargs)


class PricebookChange(TenantModel):
    """The pricebook's change log: who asked for what, before and after, and who approved it.

    Changes by a billing user wait here as PENDING and price nothing until an owner approves them;
    an owner's (or platform staff's) changes are APPLIED at once and logged the same way."""

    class Action(models.TextChoices):
        CREATE_BOOK = "create_book", "Pricebook created"
        COPY_BOOK = "copy_book", "Pricebook copied"
        UPDATE_BOOK = "update_book", "Pricebook changed"
        CREATE_RULE = "create_rule", "Rule added"
        UPDATE_RULE = "update_rule", "Rule changed"
        END_RULE = "end_rule", "Rule ended"
        SET_DEFAULT = "set_default", "Made the reseller's default"

    class Status(models.TextChoices):
        PENDING = "pending", "Pending approval"
        APPLIED = "applied", "Applied"
        REJECTED = "rejected", "Rejected"

    pricebook = models.ForeignKey(Pricebook, on_delete=models.CASCADE, related_name="changes")
    rule = models.ForeignKey(
        PricebookRule, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    action = models.CharField(max_length=12, choices=Action.choices)
    status = models.CharField(max_length=10, choices=Status.choices)
    before = models.JSONField(default=dict, blank=True)
    after = models.JSONField(default=dict, blank=True)
    effective_from = models.DateField(null=True, blank=True, help_text="the first day priced by the change")
    message = models.CharField(max_length=300, blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    requested_by_label = models.CharField("requested by", max_length=200)
    requested_at = models.DateTimeField(default=timezone.now)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    decided_by_label = models.CharField("approved / rejected by", max_length=200, blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-requested_at"]
        indexes = [models.Index(fields=["pricebook", "-requested_at"], name="pricebookchange_book_recent")]

    def __str__(self):
        return f"{self.get_action_display()} ({self.get_status_display().lower()})"
