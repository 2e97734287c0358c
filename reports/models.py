"""Reports keep one table: the cache of long reports (reports.tasks), keyed on what was asked and on
the version of the data it was computed from, so a result stays valid until the data changes."""

from django.db import models
from django.utils import timezone

from customer360.tenancy import TenantModel


class ReportResult(TenantModel):
    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    key = models.CharField(max_length=64, help_text="sha256 of the report, its customer and parameters")
    data_version = models.CharField(max_length=200, help_text="reports.cache.data_version() when asked")
    report = models.CharField(max_length=40)
    customer = models.ForeignKey("customers.Customer", on_delete=models.CASCADE, related_name="+")
    params = models.JSONField(help_text="the ReportParams, for the task")
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.QUEUED)
    progress = models.PositiveSmallIntegerField(default=0, help_text="percent done")
    result = models.JSONField(null=True, blank=True, help_text="ReportData.to_json()")
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["reseller", "key", "data_version"], name="reportresult_once"),
            models.CheckConstraint(
                condition=models.Q(progress__lte=100), name="reportresult_progress_lte_100"
            ),
        ]

    def __str__(self):
        return f"{self.report} {self.customer_id} ({self.get_status_display()})"

    @property
    def running(self) -> bool:
        return self.status in (self.Status.QUEUED, self.Status.RUNNING)


class SpendMonth(TenantModel):
    """The monthly spend rollup the dashboard reads (reports.rollup): billing.DailySpend summed per
    customer, month, provider and currency, rebuilt for a reseller when its data version changes."""

    customer = models.ForeignKey("customers.Customer", on_delete=models.CASCADE, related_name="+")
    month = models.DateField(help_text="the first day of the month")
    provider = models.CharField(max_length=10)
    currency = models.CharField(max_length=3)
    cost = models.DecimalField(max_digits=20, decimal_places=4, default=0)
    price = models.DecimalField(max_digits=20, decimal_places=4, default=0)

    class Meta:
        ordering = ["-month"]
        # The dashboard reads one month (month to date) or a range in one currency (growth): index-only.
        indexes = [
            models.Index(
                fields=["reseller", "month", "currency", "customer"],
                include=["provider", "price", "cost"],
                name="spendmonth_reseller_month",
            )
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["customer", "month", "provider", "currency"], name="spendmonth_one_row_per_key"
            ),
        ]

    def __str__(self):
        return f"{self.customer_id} {self.month:%Y-%m} {self.provider}: {self.price} {self.currency}"


class SpendMonthState(TenantModel):
    """Per reseller: the data version SpendMonth was last built from."""

    data_version = models.CharField(max_length=200)
    built_at = models.DateTimeField(default=timezone.now)
    seconds = models.FloatField(default=0, help_text="how long the last rebuild took")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["reseller"], name="spendmonthstate_one_per_reseller")]

    def __str__(self):
        return f"SpendMonth built {self.built_at:%Y-%m-%d %H:%M} ({self.data_version})"
