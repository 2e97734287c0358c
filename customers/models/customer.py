"""Customers, their contacts and cloud accounts."""

from decimal import Decimal

from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import GinIndex, OpClass
from django.db import models
from django.db.models.functions import Upper
from django.utils import timezone

from customer360.tenancy import TenantModel


class CloudProvider(models.TextChoices):
    AWS = "aws", "AWS"
    AZURE = "azure", "Microsoft Azure"
    M365 = "m365", "Microsoft 365"
    GCP = "gcp", "Google Cloud"
    GWS = "gws", "Google Workspace"


CURRENCIES = [("USD", "USD"), ("EUR", "EUR"), ("GBP", "GBP"), ("CAD", "CAD"), ("AUD", "AUD")]


class Customer(TenantModel):
    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        PROSPECT = "prospect", "Prospect"
        SUSPENDED = "suspended", "Suspended"
        CLOSED = "closed", "Closed"

    class PaymentMethod(models.TextChoices):
        INVOICE = "invoice", "Invoice (bank transfer)"
        CARD = "card", "Credit card"
        DIRECT_DEBIT = "direct_debit", "Direct debit"

    name = models.CharField(max_length=200)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE)
    currency = models.CharField(max_length=3, choices=CURRENCIES, default="USD")
    address_line1 = models.CharField("address", max_length=200, blank=True)
    address_line2 = models.CharField("address (line 2)", max_length=200, blank=True)
    city = models.CharField(max_length=100, blank=True)
    region = models.CharField("state / region", max_length=100, blank=True)
    postal_code = models.CharField(max_length=20, blank=True)
    country = models.CharField(max_length=2, blank=True, help_text="ISO 3166 two-letter code")
    payment_method = models.CharField(
        max_length=20, choices=PaymentMethod.choices, default=PaymentMethod.INVOICE
    )
    payment_terms_days = models.PositiveSmallIntegerField("payment terms (days)", default=30)
    credit_limit = models.DecimalField(max_digits=14, decimal_places=2, default=Decimal("0"))
    billing_email = models.EmailField(
        "billing contact email",
        blank=True,
        db_default="",
        help_text="Invoices are emailed here; empty: to the admin contact.",
    )
    email_invoices = models.BooleanField(
        "email invoices",
        default=True,
        db_default=True,
        help_text="Email each invoice to the billing contact when it is finalized.",
    )
    saas_credit_threshold = models.DecimalField(
        "SaaS credit threshold",
        max_digits=14,
        decimal_places=2,
        null=True,
        blank=True,
        help_text="Raise an alert and email the admin contact when this month's SaaS spend reaches this amount.",
    )
    # True from the moment SaaS spend crosses the threshold until it falls back under it (a new month,
    # a raised threshold): the alert is raised once per crossing, not on every check.
    saas_threshold_alerted = models.BooleanField(default=False, db_default=False, editable=False)
    # Denormalised list columns, kept up to date by the service functions, so the customer list can
    # sort and filter 200,000 rows on indexed columns instead of aggregating on every page.
    providers = ArrayField(models.CharField(max_length=10), default=list, blank=True)
    cloud_account_count = models.PositiveIntegerField(default=0)
    active_subscription_count = models.PositiveIntegerField(default=0)
    mtd_spend = models.DecimalField(max_digits=14, decimal_places=2, default=Decimal("0"))
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name", "id"]
        indexes = [
            models.Index(fields=["reseller", "name", "id"], name="customer_name_keyset"),
            models.Index(fields=["reseller", "created_at", "id"], name="customer_created_keyset"),
            models.Index(fields=["reseller", "providers", "id"], name="customer_providers_keyset"),
            models.Index(fields=["reseller", "cloud_account_count", "id"], name="customer_accounts_keyset"),
            models.Index(fields=["reseller", "active_subscription_count", "id"], name="customer_subs_keyset"),
            models.Index(fields=["reseller", "mtd_spend", "id"], name="customer_spend_keyset"),
            models.Index(fields=["reseller", "status", "id"], name="customer_status_keyset"),
            GinIndex(OpClass(Upper("name"), name="gin_trgm_ops"), name="customer_name_trgm"),
            GinIndex(fields=["providers"], name="customer_providers_gin"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(credit_limit__gte=0), name="customer_credit_limit_gte_0"
            ),
            models.CheckConstraint(condition=~models.Q(name=""), name="customer_name_not_blank"),
        ]

    def __str__(self):
        return self.name

    @property
    def address_display(self) -> str:
        parts = [
            self.address_line1,
            self.address_line2,
            self.city,
            " ".join(filter(None, [self.region, self.postal_code])),
        ]
        return ", ".join(p for p in parts if p) + (f" ({self.country})" if self.country else "")


class Contact(TenantModel):
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="contacts")
    name = models.CharField(max_length=150)
    email = models.EmailField()
    phone = models.CharField(max_length=40, blank=True)
    is_admin = models.BooleanField("admin contact", default=False)

    class Meta:
        ordering = ["-is_admin", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["customer"], condition=models.Q(is_admin=True), name="contact_one_admin_per_customer"
            )
        ]

    def __str__(self):
        return f"{self.name} <{self.email}>"


class CloudAccount(TenantModel):
    """An AWS account, Azure subscription, GCP project or Microsoft / Google tenant of a customer."""

    class Status(models.TextChoices):
        REQUESTED = "requested", "Requested"
        PROVISIONING = "provisioning", "Provisioning"
        ACTIVE = "active", "Active"
        SUSPENDED = "suspended", "Suspended"
        CLOSED = "closed", "Closed"

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="cloud_accounts")
    provider = models.CharField(max_length=10, choices=CloudProvider.choices)
    account_id = models.CharField("account number", max_length=100, blank=True)
    name = models.CharField(max_length=200, blank=True)
    status = models.CharField(max_length=15, choices=Status.choices, default=Status.ACTIVE)
    created_at = models.DateTimeField(default=timezone.now)
    # The customer's name, copied by database triggers (migration 0004) on every insert, move and rename,
    # whatever path writes: the list's search skips account matches whose customer already matches by
    # name without visiting the customer table (1 ms instead of 16 for a common prefix at 200k).
    customer_name = models.CharField(max_length=200, blank=True, editable=False)

    class Meta:
        ordering = ["provider", "account_id"]
        indexes = [
            # Prefix search on account numbers within one reseller (the search box of the list); the
            # included columns make it an index-only scan.
            models.Index(
                fields=["reseller", "account_id"],
                opclasses=["uuid_ops", "varchar_pattern_ops"],
                include=["customer", "customer_name"],
                name="cloudaccount_reseller_prefix2",
            ),
            models.Index(fields=["customer", "provider"], name="cloudaccount_customer"),
        ]
        constraints = [
            # An account belongs to one customer on the whole platform. Requested AWS accounts have
            # no number yet, so blank numbers are exempt.
            models.UniqueConstraint(
                fields=["provider", "account_id"],
                condition=~models.Q(account_id=""),
                name="cloudaccount_unique_number",
            ),
        ]

    def __str__(self):
        return f"{self.get_provider_display()} {self.account_id or '(requested)'}"
