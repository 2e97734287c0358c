"""Consumption data (issue 7): FOCUS cost-and-usage imports, their usage rows and the detailed daily rollup.

* UsageImport: one uploaded (or command-line) file of one reseller, with its progress and its outcome.
* UsageRow: one charge line of a file. BigAutoField pk (the table grows to many millions of rows); a
  stable fingerprint with a unique constraint per reseller, so re-importing a file or an overlapping one
  never counts a line twice. customer NULL: the line's account is not one of the reseller's (unmatched).
* UsageDaily: per customer, cloud account, provider, service and charge category and day: cost, customer
  price and quantity. billing.DailySpend (per customer, provider and day) is maintained beside it and
  is what the KPI cards read.
* UsageMonthly: UsageDaily summed per month (without the charge category), kept by triggers of the daily
  table (billing 0019) whoever writes it; what invoices read.
"""

from decimal import Decimal

from django.contrib.postgres.indexes import BrinIndex
from django.db import models
from django.utils import timezone

from customer360.tenancy import TenantModel


class UsageImport(TenantModel):
    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        READING = "reading", "Reading the file"
        PROCESSING = "processing", "Matching, rating and rolling up"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    file = models.FileField(upload_to="usage_imports/%Y/%m/", max_length=300)
    original_name = models.CharField(max_length=255)
    provider = models.CharField(
        max_length=10, blank=True, help_text="empty: taken from each row's ProviderName"
    )
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.QUEUED)
    focus_version = models.CharField(max_length=10, blank=True)
    rows_read = models.BigIntegerField(default=0)
    rows_new = models.BigIntegerField(default=0)
    rows_duplicate = models.BigIntegerField(default=0)
    rows_matched = models.BigIntegerField(default=0)
    rows_unmatched = models.BigIntegerField(default=0)
    # Rows of a provider month already closed (billing.usage_locks): counted, not imported.
    rows_closed_period = models.BigIntegerField(default=0)
    error = models.TextField(blank=True)
    created_by = models.ForeignKey(
        "accounts.User", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    # Last sign of life of a running import (progress writes, phase changes): the stale-import sweep.
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "id"]
        indexes = [models.Index(fields=["reseller", "-created_at"], name="usageimport_recent")]

    def __str__(self):
        return f"{self.original_name} ({self.get_status_display()})"

    @property
    def running(self) -> bool:
        return self.status in (self.Status.QUEUED, self.Status.READING, self.Status.PROCESSING)


class UsageRow(TenantModel):
    # Write path of millions of rows (billing.ingest): no database foreign-key constraint and no index a
    # query does not use. The import sets reseller, import, customer and account itself, from the rows
    # of the same transaction (each constraint was a trigger and a look-up per row: 4 per usage row);
    # Django's deletion collector still cascades (on_delete is the ORM's, not the database's). The
    # reseller, import and customer columns are the leading columns of usagerow_unique_fingerprint,
    # usagerow_customer_day (the invoice's usage CSV); an import's rows are contiguous in the table, so a
    # BRIN index (a few pages, next to free to maintain) finds them; no query reads by cloud account.
    id = models.BigAutoField(primary_key=True)
    reseller = models.ForeignKey(
        "accounts.Reseller", on_delete=models.CASCADE, editable=False, related_name="+", db_index=False,
        db_constraint=False,
    )  # fmt: skip
    usage_import = models.ForeignKey(
        UsageImport, on_delete=models.CASCADE, related_name="rows", db_index=False, db_constraint=False
    )
    line_no = models.BigIntegerField(help_text="line of the file (the header is line 1)")
    fingerprint = models.UUIDField(help_text="md5 of the identifying columns and their occurrence")
    customer = models.ForeignKey(
        "customers.Customer", on_delete=models.CASCADE, null=True, blank=True, related_name="+",
        db_index=False, db_constraint=False,
    )  # fmt: skip
    cloud_account = models.ForeignKey(
        "customers.CloudAccount", on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
        db_index=False, db_constraint=False,
    )  # fmt: skip
    provider = models.CharField(max_length=10)
    billing_account_id = models.CharField(max_length=100, blank=True)
    sub_account_id = models.CharField(max_length=100, blank=True)
    usage_date = models.DateField()
    charge_category = models.CharField(max_length=40, blank=True)
    service_name = models.CharField(max_length=150, blank=True)
    service_category = models.CharField(max_length=100, blank=True)
    sku = models.CharField(max_length=80, blank=True)
    region = models.CharField(max_length=60, blank=True)
    resource_id = models.TextField(blank=True)
    quantity = models.DecimalField(max_digits=38, decimal_places=18, default=Decimal("0"))
    cost = models.DecimalField(max_digits=38, decimal_places=18, help_text="BilledCost, USD")
    effective_cost = models.DecimalField(max_digits=38, decimal_places=18, default=Decimal("0"))
    list_cost = models.DecimalField(max_digits=38, decimal_places=18, default=Decimal("0"))
    billing_currency = models.CharField(max_length=3, default="USD")
    # Rating (billing.pricing_sql): NULL until the row is matched and priced.
    price = models.DecimalField(max_digits=20, decimal_places=4, null=True, blank=True)
    price_currency = models.CharField(max_length=3, blank=True)
    # The rate (price_currency per USD) the row was priced at, so the rollups can state the reseller's cost
    # in the customer's currency beside the price: a margin is only a difference within one currency.
    fx_rate = models.DecimalField(max_digits=18, decimal_places=8, null=True, blank=True)
    # What priced the row, for the record: no database constraint (two foreign-key checks per row on a
    # table of millions); a deleted pricebook or rule leaves the id, which then names nothing.
    pricebook = models.ForeignKey(
        "billing.Pricebook", on_delete=models.DO_NOTHING, null=True, blank=True, related_name="+",
        db_constraint=False, db_index=False,
    )  # fmt: skip
    rule = models.ForeignKey(
        "billing.PricebookRule", on_delete=models.DO_NOTHING, null=True, blank=True, related_name="+",
        db_constraint=False, db_index=False,
    )  # fmt: skip
    priced_note = models.CharField(max_length=200, blank=True)
    rolled_up = models.BooleanField(default=False)

    class Meta:
        ordering = ["id"]  # import order (within an import, (usage date, fingerprint) order: billing.ingest)
        indexes = [
            BrinIndex(fields=["usage_import"], name="usagerow_import_brin"),
            # Covering: the customer's "Top resources" report is an index-only read of its rows of a
            # date range (a few index pages, not a heap page per row); reseller_id is there for the
            # row-level security policy, which every query also filters on.
            models.Index(
                fields=["customer", "usage_date"],
                include=["reseller", "provider", "service_name", "resource_id", "cost", "price"],
                name="usagerow_customer_day",
            ),
            models.Index(
                fields=["reseller", "provider", "sub_account_id"],
                condition=models.Q(customer__isnull=True),
                name="usagerow_unmatched",
            ),
        ]
        constraints = [
            # The usage date leads the fingerprint (which hashes ChargePeriodStart, so one fingerprint never
            # has two dates: the same rule as (reseller, fingerprint)) so that an import, whose rows are
            # typed in (usage_date, fingerprint) order, adds to the index where its days are (mostly new
            # pages, in order) instead of to every page of it (billing 0020, docs/benchmarks.md).
            models.UniqueConstraint(
                fields=["reseller", "usage_date", "fingerprint"], name="usagerow_unique_fingerprint"
            ),
        ]

    def __str__(self):
        return f"{self.provider} {self.sub_account_id} {self.usage_date} {self.service_name}"


class UsageDaily(TenantModel):
    """The detailed daily rollup: one row per customer, account, provider, service, charge category, day."""

    # No index of its own: usagedaily_customer_day and the unique key both start with the customer.
    customer = models.ForeignKey(
        "customers.Customer", on_delete=models.CASCADE, related_name="+", db_index=False
    )
    cloud_account = models.ForeignKey("customers.CloudAccount", on_delete=models.CASCADE, related_name="+")
    day = models.DateField()
    provider = models.CharField(max_length=10)
    service_name = models.CharField(max_length=150, blank=True)
    charge_category = models.CharField(max_length=40, blank=True)
    currency = models.CharField(max_length=3)
    cost = models.DecimalField(max_digits=20, decimal_places=4, default=Decimal("0"))
    price = models.DecimalField(max_digits=20, decimal_places=4, default=Decimal("0"))
    quantity = models.DecimalField(max_digits=38, decimal_places=18, default=Decimal("0"))
    row_count = models.BigIntegerField(default=0)

    class Meta:
        ordering = ["-day"]
        indexes = [
            # Covering: the invoice run groups a chunk's month of daily rows from the index alone.
            models.Index(
                fields=["customer", "day"],
                include=["reseller", "currency", "cloud_account", "provider", "service_name", "price", "cost",
                         "quantity"],
                name="usagedaily_customer_day",
            )
        ]  # fmt: skip
        constraints = [
            models.UniqueConstraint(
                fields=[
                    "customer",
                    "cloud_account",
                    "day",
                    "provider",
                    "service_name",
                    "charge_category",
                    "currency",
                ],
                name="usagedaily_one_row_per_key",
            ),
        ]

    def __str__(self):
        return (
            f"{self.customer_id} {self.day} {self.provider} {self.service_name}: {self.price} {self.currency}"
        )


class UsageMonthly(TenantModel):
    """UsageDaily per customer, cloud account, month, provider, service and currency: what an invoice's usage
    lines are (invoicing.usage_lines; invoicing_sql for a run's chunk: 5 rows a customer, not 155).

    Written only by the triggers of billing_usagedaily (billing 0019), from each statement's rows: an
    insert adds, an update adds the new values and takes away the old, a delete takes away (a row with no
    daily row left goes). So it stays the sum of the daily rows whatever writes them (an import, rows
    matched later, a customer or an account deleted), and the application never writes it. No foreign
    keys of its own for the same reason: the daily rows' deletion takes its rows with them."""

    customer = models.ForeignKey(
        "customers.Customer",
        on_delete=models.DO_NOTHING,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )
    cloud_account = models.ForeignKey(
        "customers.CloudAccount", on_delete=models.DO_NOTHING, related_name="+", db_index=False,
        db_constraint=False,
    )  # fmt: skip
    month = models.DateField(help_text="the first day of the month")
    provider = models.CharField(max_length=10)
    service_name = models.CharField(max_length=150, blank=True)
    currency = models.CharField(max_length=3)
    cost = models.DecimalField(max_digits=24, decimal_places=4, default=Decimal("0"))
    price = models.DecimalField(max_digits=24, decimal_places=4, default=Decimal("0"))
    quantity = models.DecimalField(max_digits=38, decimal_places=18, default=Decimal("0"))
    day_rows = models.BigIntegerField(default=0, help_text="the daily rows summed here")

    class Meta:
        ordering = ["-month"]
        constraints = [
            models.UniqueConstraint(
                fields=["customer", "month", "cloud_account", "provider", "service_name", "currency"],
                name="usagemonthly_one_row_per_key",
            ),
            models.CheckConstraint(condition=models.Q(month__day=1), name="usagemonthly_first_day"),
        ]

    def __str__(self):
        return f"{self.customer_id} {self.month:%Y-%m} {self.provider} {self.service_name}: {self.price} {self.currency}"
