"""Customer options: settings of a customer's test drive of the platform."""

from django.contrib.postgres.fields import ArrayField
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.utils import timezone

from customer360.tenancy import TenantModel

from .customer import CloudProvider, Customer

TEST_DRIVE_MAX_DAYS = 90


class TestDrive(TenantModel):
    """A customer's time-limited trial. Changed by the service functions, which log every change;
    the daily task customers.tasks.expire_test_drives moves it to "expired" after its last day."""

    __test__ = False  # not a pytest test class, despite the name

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        EXPIRED = "expired", "Expired"
        DISABLED = "disabled", "Disabled"

    customer = models.OneToOneField(Customer, on_delete=models.CASCADE, related_name="test_drive")
    enabled = models.BooleanField("test drive enabled", default=False)
    length_days = models.PositiveSmallIntegerField(
        "length (days)",
        default=30,
        validators=[MinValueValidator(1), MaxValueValidator(TEST_DRIVE_MAX_DAYS)],
        help_text=f"From 1 to {TEST_DRIVE_MAX_DAYS} days.",
    )
    started_on = models.DateField("starts on", null=True, blank=True)
    # Derived by the database, so it always agrees with the start and length and can be indexed.
    # The test drive may be used up to and including this day.
    expires_on = models.GeneratedField(
        expression=F("started_on") + F("length_days"),
        output_field=models.DateField(),
        db_persist=True,
    )
    allowed_providers = ArrayField(
        models.CharField(max_length=10, choices=CloudProvider.choices),
        default=list,
        blank=True,
        help_text="The cloud providers the customer may try. Products will be selectable here once the "
        "product catalog exists.",
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.DISABLED)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [
            # The daily expiry task's lookup: a reseller's active test drives past their last day.
            models.Index(
                fields=["reseller", "expires_on"],
                condition=Q(status="active"),
                name="testdrive_active_expiry",
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(length_days__gte=1, length_days__lte=TEST_DRIVE_MAX_DAYS),
                name="testdrive_length_1_to_90_days",
            ),
            # The status follows the switch: disabled exactly when switched off.
            models.CheckConstraint(
                condition=Q(enabled=True, status__in=["active", "expired"])
                | Q(enabled=False, status="disabled"),
                name="testdrive_status_matches_enabled",
            ),
            # A running test drive has a start date and at least one provider to try.
            models.CheckConstraint(
                condition=Q(enabled=False) | Q(started_on__isnull=False, allowed_providers__len__gt=0),
                name="testdrive_enabled_is_complete",
            ),
        ]

    def __str__(self):
        return f"Test drive of {self.customer}"

    def days_left(self, today=None):
        """Days from today to the last day (0 on the last day, negative after it); None if unset."""
        if self._state.adding or self.expires_on is None:
            return None
        return (self.expires_on - (today or timezone.localdate())).days

    @property
    def days_left_today(self):
        return self.days_left()

    @property
    def provider_labels(self) -> list[str]:
        return [CloudProvider(p).label for p in self.allowed_providers]
