"""Detailed billing exports (issue 9): FOCUS 1.2 cost-and-usage files of a reseller's rated usage rows,
written to the browser's download area (the platform's own storage), an S3 bucket, a Google Cloud
Storage bucket or an Azure Blob container, one-off or on a daily / monthly schedule.

* BillingExport: what to export (one customer or all, period, providers, cloud accounts, format, price
  basis) and where to (destination kind, its non-secret settings, and its credentials encrypted with
  Fernet under settings.C360_EXPORT_KEY: billing.exports.crypto; never shown again nor logged).
* ExportRun: one run of an export with its progress (rows written of rows estimated), its outcome (files,
  bytes, the manifest) and, when it failed, the provider's error in plain words.
"""

from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import Q
from django.utils import timezone

from customer360.tenancy import TenantModel


class ExportFormat(models.TextChoices):
    CSV = "csv", "CSV"
    CSV_GZ = "csv.gz", "CSV, gzip-compressed"
    PARQUET = "parquet", "Parquet"


class PriceBasis(models.TextChoices):
    RESALE = "resale", "Customer price (resale)"
    COST = "cost", "Reseller cost"


class PeriodKind(models.TextChoices):
    MONTH = "month", "A month"
    YESTERDAY = "yesterday", "Yesterday"
    MONTH_TO_DATE = "month_to_date", "Month to date"
    LAST_MONTH = "last_month", "Last month"


class DestinationKind(models.TextChoices):
    DOWNLOAD = "download", "Download in the browser (kept in the platform's storage)"
    S3 = "s3", "Amazon S3 bucket"
    GCS = "gcs", "Google Cloud Storage bucket"
    AZURE = "azure", "Azure Blob Storage container"


class Schedule(models.TextChoices):
    NONE = "none", "One-off (run by hand)"
    DAILY = "daily", "Daily"
    MONTHLY = "monthly", "Monthly (on the 2nd)"


class BillingExport(TenantModel):
    name = models.CharField(max_length=120)
    customer = models.ForeignKey(
        "customers.Customer", on_delete=models.CASCADE, null=True, blank=True, related_name="+",
        help_text="empty: every customer of the reseller",
    )  # fmt: skip
    period_kind = models.CharField(max_length=15, choices=PeriodKind.choices, default=PeriodKind.LAST_MONTH)
    month = models.DateField(null=True, blank=True, help_text="the first day of the month (period 'A month')")
    providers = ArrayField(models.CharField(max_length=10), default=list, blank=True, help_text="empty: all")
    cloud_account_ids = ArrayField(models.UUIDField(), default=list, blank=True, help_text="empty: all")
    format = models.CharField(max_length=8, choices=ExportFormat.choices, default=ExportFormat.PARQUET)
    basis = models.CharField(max_length=6, choices=PriceBasis.choices, default=PriceBasis.RESALE)
    destination = models.CharField(
        max_length=10, choices=DestinationKind.choices, default=DestinationKind.DOWNLOAD
    )
    # Non-secret destination settings: bucket / container, prefix, region, endpoint URL, account name.
    settings = models.JSONField(default=dict, blank=True)
    credentials = models.TextField(blank=True, help_text="Fernet token of the credentials' JSON; never shown")
    schedule = models.CharField(max_length=8, choices=Schedule.choices, default=Schedule.NONE)
    next_run_at = models.DateTimeField(null=True, blank=True)
    created_by_label = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name", "id"]
        indexes = [
            models.Index(fields=["next_run_at"], condition=~Q(schedule="none"), name="billingexport_due"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=~Q(period_kind="month") | Q(month__isnull=False, month__day=1),
                name="billingexport_month_first_day",
            ),
        ]

    def __str__(self):
        return self.name

    @property
    def prefix(self) -> str:
        return str(self.settings.get("prefix", "")).strip("/")

    @property
    def has_credentials(self) -> bool:
        return bool(self.credentials)


class ExportRun(TenantModel):
    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Writing"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    class Trigger(models.TextChoices):
        USER = "user", "By hand"
        SCHEDULE = "schedule", "Schedule"
        COMMAND = "command", "Command line"

    export = models.ForeignKey(BillingExport, on_delete=models.CASCADE, related_name="runs")
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.QUEUED)
    trigger = models.CharField(max_length=8, choices=Trigger.choices, default=Trigger.USER)
    period_start = models.DateField()
    period_end = models.DateField()
    rows_estimated = models.BigIntegerField(default=0)
    rows_written = models.BigIntegerField(default=0)
    bytes_written = models.BigIntegerField(default=0)
    # [{"path": ..., "rows": ..., "bytes": ..., "sha256": ..., "billing_period": "2026-10"}]
    files = models.JSONField(default=list, blank=True)
    manifest_path = models.CharField(max_length=500, blank=True)
    error = models.TextField(blank=True)
    started_by_label = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "id"]
        indexes = [models.Index(fields=["export", "-created_at"], name="exportrun_export_recent")]
        constraints = [
            models.CheckConstraint(
                condition=Q(period_end__gte=models.F("period_start")), name="exportrun_period"
            ),
        ]

    def __str__(self):
        return f"{self.export} {self.period_start:%Y-%m-%d}–{self.period_end:%Y-%m-%d} ({self.get_status_display()})"

    @property
    def running(self) -> bool:
        return self.status in (self.Status.QUEUED, self.Status.RUNNING)

    @property
    def percent(self):
        if not self.rows_estimated:
            return None
        return min(100, round(100 * self.rows_written / self.rows_estimated))

    @property
    def duration(self):
        if self.started_at and self.finished_at:
            return self.finished_at - self.started_at
        return None
