"""The activity log and alerts every app writes to."""

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.utils import timezone

from customer360.tenancy import TenantModel

from .customer import Customer


class ActivityLog(TenantModel):
    """Who did what to which object of which customer. Written by service functions only."""

    customer = models.ForeignKey(
        Customer, on_delete=models.CASCADE, null=True, blank=True, related_name="activity"
    )
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True)
    actor_label = models.CharField(max_length=200, help_text="who acted, kept when the user is deleted")
    action = models.CharField(max_length=60)
    object_type = models.ForeignKey(ContentType, on_delete=models.PROTECT, null=True, blank=True)
    object_id = models.CharField(max_length=64, blank=True)
    object_repr = models.CharField(max_length=200, blank=True)
    message = models.CharField(max_length=300)
    changes = models.JSONField(default=dict, blank=True, help_text="{field: [before, after]}")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["customer", "-created_at"], name="activity_customer_recent"),
            models.Index(fields=["reseller", "-created_at"], name="activity_reseller_recent"),
        ]

    def __str__(self):
        return self.message


class Alert(TenantModel):
    class Kind(models.TextChoices):
        CREDIT_THRESHOLD = "credit_threshold", "Credit threshold exceeded"
        SUBSCRIPTION_EXPIRING = "subscription_expiring", "Subscription expiring"
        PROVISIONING_FAILED = "provisioning_failed", "Provisioning failed"
        EXPORT_FAILED = "export_failed", "Export failed"
        ACCOUNT_REQUEST = "account_request", "Cloud account request"
        GENERAL = "general", "Notice"

    class Severity(models.TextChoices):
        INFO = "info", "Info"
        WARNING = "warning", "Warning"
        CRITICAL = "critical", "Critical"

    # Empty: a reseller-wide alert (e.g. a failed billing export of all customers), shown on the dashboard.
    customer = models.ForeignKey(
        Customer, on_delete=models.CASCADE, null=True, blank=True, related_name="alerts"
    )
    kind = models.CharField(max_length=30, choices=Kind.choices, default=Kind.GENERAL)
    severity = models.CharField(max_length=10, choices=Severity.choices, default=Severity.INFO)
    title = models.CharField(max_length=200)
    message = models.TextField(blank=True)
    is_read = models.BooleanField(default=False)
    read_at = models.DateTimeField(null=True, blank=True)
    emailed_at = models.DateTimeField(
        null=True, blank=True, help_text="when the customer's contact was emailed"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["is_read", "-created_at"]
        indexes = [models.Index(fields=["customer", "is_read", "-created_at"], name="alert_customer_unread")]

    def __str__(self):
        return self.title
