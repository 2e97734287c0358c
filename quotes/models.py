"""Quotes and inquiries.

A quote is addressed to a customer or to a lead (a prospect who becomes a customer on acceptance). It
offers one or more scenarios (alternatives); each scenario groups its lines in sections. The quote being
edited is the working copy; sending freezes it as a QuoteRevision (a snapshot of every line and total,
and its PDF), which is never changed again: editing a sent quote starts the next revision.
"""

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from customer360.tenancy import TenantModel
from marketplace.models import AddOn, BillingFrequency, BillingTerm, Plan

MONEY = {"max_digits": 16, "decimal_places": 4}


class Lead(TenantModel):
    """A prospect that is not yet a customer; accepting a quote makes it one (`customer`)."""

    company_name = models.CharField(max_length=200)
    contact_name = models.CharField(max_length=150)
    contact_email = models.EmailField()
    phone = models.CharField(max_length=40, blank=True)
    address_line1 = models.CharField(max_length=200, blank=True)
    city = models.CharField(max_length=100, blank=True)
    postal_code = models.CharField(max_length=20, blank=True)
    country = models.CharField(max_length=2, blank=True, help_text="ISO 3166-1 alpha-2")
    currency = models.CharField(max_length=3, default="USD")
    customer = models.OneToOneField(
        "customers.Customer", on_delete=models.SET_NULL, null=True, blank=True, related_name="lead",
        help_text="the customer this lead became",
    )  # fmt: skip
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["company_name"]

    def __str__(self):
        return self.company_name


class QuoteCounter(TenantModel):
    """Per reseller and year: the last quote number given (Q-2026-00042), separate from orders/invoices."""

    year = models.PositiveSmallIntegerField()
    last_number = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["reseller", "year"], name="quote_counter_one_per_reseller_year")
        ]


class Quote(TenantModel):
    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        SENT = "sent", "Sent"
        ACCEPTED = "accepted", "Accepted"
        DECLINED = "declined", "Declined"
        EXPIRED = "expired", "Expired"
        CONVERTED = "converted", "Converted"

    class Step(models.TextChoices):
        RECIPIENTS = "recipients", "Recipients"
        BASIC = "basic", "Basic information"
        SCENARIOS = "scenarios", "Scenarios"
        SUMMARY = "summary", "Summary"

    number = models.CharField(max_length=20)
    revision = models.PositiveIntegerField(default=1, help_text="the working revision's number")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.DRAFT)
    step = models.CharField(
        max_length=10, choices=Step.choices, default=Step.RECIPIENTS, help_text="the furthest step reached"
    )
    customer = models.ForeignKey(
        "customers.Customer", on_delete=models.PROTECT, null=True, blank=True, related_name="quotes"
    )
    lead = models.ForeignKey(Lead, on_delete=models.PROTECT, null=True, blank=True, related_name="quotes")
    category = models.ForeignKey(
        "marketplace.Provider", on_delete=models.PROTECT, related_name="+",
        help_text="the provider category the quote was started in (Create Quote's tile)",
    )  # fmt: skip
    inquiry = models.ForeignKey(
        "Inquiry", on_delete=models.SET_NULL, null=True, blank=True, related_name="quotes"
    )
    name = models.CharField(max_length=100, blank=True)
    valid_until = models.DateField(null=True, blank=True)
    currency = models.CharField(max_length=3)
    notes = models.TextField(blank=True)
    terms = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    # Acceptance (through the signed link) and conversion.
    accepted_scenario = models.ForeignKey(
        "QuoteScenario", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    responded_revision = models.PositiveIntegerField(null=True, blank=True)
    responded_by_name = models.CharField(max_length=150, blank=True)
    responded_at = models.DateTimeField(null=True, blank=True)
    decline_reason = models.TextField(blank=True)
    conversion_token = models.UUIDField(
        default=uuid.uuid4, help_text="the checkout token of the order the quote converts to"
    )
    order = models.OneToOneField(
        "marketplace.Order", on_delete=models.PROTECT, null=True, blank=True, related_name="quote",
        help_text="the order the accepted scenario became (at most one)",
    )  # fmt: skip

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["reseller", "number"], name="quote_number_unique_per_reseller"),
            models.CheckConstraint(
                condition=Q(customer__isnull=False) | Q(lead__isnull=False), name="quote_has_a_recipient"
            ),
            models.CheckConstraint(
                condition=~Q(status="converted") | Q(order__isnull=False), name="quote_converted_has_order"
            ),
        ]
        indexes = [models.Index(fields=["reseller", "status", "-created_at"], name="quote_status_idx")]

    def __str__(self):
        return f"{self.number} {self.name}".strip()

    @property
    def recipient_name(self) -> str:
        if self.customer_id:
            return self.customer.name
        return self.lead.company_name if self.lead_id else ""


# Drafts and sent quotes awaiting an answer: the "open quotes" of the customer's KPI card and summary.
OPEN_QUOTE_STATUSES = (Quote.Status.DRAFT, Quote.Status.SENT)


class QuoteScenario(TenantModel):
    """One alternative the customer may accept (e.g. "Business Premium, monthly")."""

    quote = models.ForeignKey(Quote, on_delete=models.CASCADE, related_name="scenarios")
    name = models.CharField(max_length=100)
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["position", "name"]

    def __str__(self):
        return self.name


class QuoteSection(TenantModel):
    """A titled group of a scenario's lines with its own subtotal."""

    scenario = models.ForeignKey(QuoteScenario, on_delete=models.CASCADE, related_name="sections")
    name = models.CharField(max_length=100)
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["position", "name"]

    def __str__(self):
        return self.name


class QuoteLine(TenantModel):
    """A plan or add-on at the price the customer's pricebook gave when it was added or last re-priced,
    less the line discount. The plan decides the term and billing frequency (copied for the document)."""

    section = models.ForeignKey(QuoteSection, on_delete=models.CASCADE, related_name="lines")
    plan = models.ForeignKey(Plan, on_delete=models.PROTECT, related_name="+")
    addon = models.ForeignKey(AddOn, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    cloud_account = models.ForeignKey(
        "customers.CloudAccount", on_delete=models.PROTECT, null=True, blank=True, related_name="+",
        help_text="for a consumption plan of a customer: the account it is bought for",
    )  # fmt: skip
    description = models.CharField(max_length=300)
    sku = models.CharField(max_length=80)
    quantity = models.PositiveIntegerField(default=1)
    term = models.CharField(max_length=12, choices=BillingTerm.choices)
    billing_frequency = models.CharField(max_length=10, choices=BillingFrequency.choices)
    currency = models.CharField(max_length=3)
    list_price = models.DecimalField(**MONEY, help_text="per unit, in the quote's currency")
    unit_price = models.DecimalField(**MONEY, help_text="per unit from the pricebook, before the discount")
    unit_cost = models.DecimalField(**MONEY, help_text="per unit, the reseller's cost")
    discount_percent = models.DecimalField(max_digits=5, decimal_places=2, default=0)
    amount = models.DecimalField(**MONEY, help_text="quantity x unit price less the discount, rounded")
    pricing_explanation = models.TextField(blank=True)
    position = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["position"]
        constraints = [
            models.CheckConstraint(
                condition=Q(discount_percent__gte=0) & Q(discount_percent__lte=100),
                name="quote_line_discount_0_to_100",
            ),
            models.CheckConstraint(condition=Q(quantity__gte=1), name="quote_line_quantity_positive"),
        ]

    def __str__(self):
        return self.description


class QuoteRevision(TenantModel):
    """A sent revision: the frozen document (snapshot of scenarios, sections, lines, totals) and its PDF,
    and the state of its email. Never edited after it is created, except the delivery fields."""

    class Delivery(models.TextChoices):
        QUEUED = "queued", "Queued"
        SENDING = "sending", "Sending"
        SENT = "sent", "Sent"
        FAILED = "failed", "Sending failed"

    quote = models.ForeignKey(Quote, on_delete=models.CASCADE, related_name="revisions")
    number = models.PositiveIntegerField()
    snapshot = models.JSONField(help_text="everything the document shows, as it was sent")
    pdf = models.FileField(upload_to="quotes/%Y/%m/", blank=True)
    total = models.DecimalField(**MONEY, help_text="the first scenario's total, for lists")
    currency = models.CharField(max_length=3)
    sent_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    recipient_email = models.EmailField()
    cc_email = models.EmailField(blank=True)
    delivery = models.CharField(max_length=10, choices=Delivery.choices, default=Delivery.QUEUED)
    delivery_error = models.CharField(max_length=500, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    emailed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-number"]
        constraints = [
            models.UniqueConstraint(fields=["quote", "number"], name="quote_revision_unique_number"),
        ]

    def __str__(self):
        return f"{self.quote.number} rev {self.number}"


class DiscountLimit(TenantModel):
    """The largest line discount a role may give, set by the reseller's owner."""

    role = models.CharField(max_length=10)
    max_percent = models.DecimalField(max_digits=5, decimal_places=2)

    class Meta:
        ordering = ["role"]
        constraints = [
            models.UniqueConstraint(fields=["reseller", "role"], name="discount_limit_one_per_role"),
            models.CheckConstraint(
                condition=Q(max_percent__gte=0) & Q(max_percent__lte=100), name="discount_limit_0_to_100"
            ),
        ]


class Inquiry(TenantModel):
    """A customer's request (a product not in the catalog, a pricing question): open → quoted → closed."""

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        QUOTED = "quoted", "Quoted"
        CLOSED = "closed", "Closed"

    customer = models.ForeignKey("customers.Customer", on_delete=models.CASCADE, related_name="inquiries")
    subject = models.CharField(max_length=200)
    details = models.TextField(blank=True)
    contact_name = models.CharField(max_length=150, blank=True)
    contact_email = models.EmailField(blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name_plural = "inquiries"

    def __str__(self):
        return self.subject
