"""Pricebooks and their rules, exchange rates and billing periods (imported by billing/models.py).

Master pricebooks. Every reseller authorized for a provider gets two pricebooks of that provider that
it can read and copy but never edit: one at cost (rule: 0 % markup on cost) and one at list price
(rule: 0 % discount off list). They are stored as ordinary tenant rows flagged by `kind` rather than as
platform-level rows so that one query shape, one tenancy rule and one assignment model serve every
pricebook, and they need no upkeep: their single rule prices from the catalog's unit cost and list
price, so they follow every catalog change by construction. The services refuse any change to them.

Versioning. A rule is never changed in place once it has priced a period: a change ends the current
version the day before the first open billing period and starts a new version that day (see
billing.periods), so invoiced periods keep their prices. Two rules of the same scope in one pricebook
may not overlap in time; a PostgreSQL exclusion constraint holds that, and the services report it on
the field before the database has to.
"""

from decimal import Decimal

from django.contrib.postgres.constraints import ExclusionConstraint
from django.contrib.postgres.fields import DateRangeField, RangeOperators
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone

from customer360.tenancy import TenantModel
from customers.models import CURRENCIES


class DateRange(models.Func):
    """daterange(from, until, '[]'): both ends inclusive, a NULL end open."""

    function = "daterange"
    output_field = DateRangeField()

    def __init__(self, start, end, **extra):
        super().__init__(start, end, models.Value("[]"), **extra)


def dates_in_order(valid_from_field="valid_from", valid_until_field="valid_until"):
    return models.Q(**{f"{valid_until_field}__isnull": True}) | models.Q(
        **{f"{valid_until_field}__gte": models.F(valid_from_field)}
    )


class Pricebook(TenantModel):
    class Kind(models.TextChoices):
        MASTER_COST = "master_cost", "Master: at cost"
        MASTER_LIST = "master_list", "Master: list price (MSRP)"
        CUSTOM = "custom", "Custom"

    provider = models.ForeignKey("marketplace.Provider", on_delete=models.PROTECT, related_name="+")
    name = models.CharField(max_length=120)
    kind = models.CharField(max_length=12, choices=Kind.choices, default=Kind.CUSTOM)
    currency = models.CharField(
        "invoice currency", max_length=3, choices=CURRENCIES, help_text="prices are quoted and invoiced in it"
    )
    valid_from = models.DateField("effective from")
    valid_until = models.DateField("effective until", null=True, blank=True, help_text="empty: no end")
    description = models.TextField(blank=True)
    copied_from = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["provider__name", "kind", "name"]
        constraints = [
            models.UniqueConstraint(fields=["reseller", "provider", "name"], name="pricebook_unique_name"),
            models.UniqueConstraint(
                fields=["reseller", "provider", "kind"],
                condition=~models.Q(kind="custom"),
                name="pricebook_one_master_of_each_kind",
            ),
            models.CheckConstraint(condition=dates_in_order(), name="pricebook_dates_in_order"),
            models.CheckConstraint(condition=~models.Q(name=""), name="pricebook_name_not_blank"),
        ]

    def __str__(self):
        return f"{self.name} ({self.currency})"

    @property
    def is_master(self) -> bool:
        return self.kind != self.Kind.CUSTOM

    def in_effect(self, day) -> bool:
        return self.valid_from <= day and (self.valid_until is None or day <= self.valid_until)

    def clean(self):
        if self.valid_from and self.valid_until and self.valid_until < self.valid_from:
            raise ValidationError({"valid_until": "The pricebook cannot end before it starts."})


class Scope(models.TextChoices):
    PROVIDER = "provider", "Whole provider"
    CATEGORY = "category", "Product category"
    PRODUCT = "product", "Product"
    PLAN = "plan", "Plan"
    ADDON = "addon", "Add-on"
    SERVICE_CATEGORY = "service_category", "Service category (consumption)"
    SERVICE_NAME = "service_name", "Service name (consumption)"


# Higher wins. A plan or add-on is priced by its own rule before its product's, its category's and the
# provider's; a usage line by its service name's before its service category's and the provider's.
SPECIFICITY = {
    Scope.PROVIDER: 0,
    Scope.CATEGORY: 1,
    Scope.SERVICE_CATEGORY: 1,
    Scope.PRODUCT: 2,
    Scope.SERVICE_NAME: 2,
    Scope.PLAN: 3,
    Scope.ADDON: 3,
}
# scope -> the field naming what it applies to (None: the whole provider).
SCOPE_FIELD = {
    Scope.PROVIDER: None,
    Scope.CATEGORY: "category",
    Scope.PRODUCT: "product",
    Scope.PLAN: "plan",
    Scope.ADDON: "addon",
    Scope.SERVICE_CATEGORY: "service_category",
    Scope.SERVICE_NAME: "service_name",
}
FK_SCOPES = {Scope.PRODUCT, Scope.PLAN, Scope.ADDON}


def scope_key(scope: str, target) -> str:
    """The key rules of one scope share: "provider", "plan:12", "category:Compute", "service_name:EC2"."""
    return "provider" if scope == Scope.PROVIDER else f"{scope}:{target}"


class Method(models.TextChoices):
    MARKUP = "markup", "Markup on cost (%)"
    MARGIN = "margin", "Margin on price (%)"
    DISCOUNT = "discount", "Discount off list (%)"
    FIXED = "fixed", "Fixed unit price"


def _scope_fields_match():
    """Each scope names exactly its own target field; the others stay empty."""
    conditions = []
    for scope, field in SCOPE_FIELD.items():
        if field is None:
            continue
        is_set = models.Q(**{f"{field}__isnull": False}) if scope in FK_SCOPES else ~models.Q(**{field: ""})
        conditions.append(
            models.CheckConstraint(
                condition=(models.Q(scope_type=scope) & is_set) | (~models.Q(scope_type=scope) & ~is_set),
                name=f"rule_{field}_iff_scope",
            )
        )
    return conditions


class PricebookRule(TenantModel):
    pricebook = models.ForeignKey(Pricebook, on_delete=models.CASCADE, related_name="rules")
    position = models.PositiveIntegerField(default=0, help_text="display order within the pricebook")
    scope_type = models.CharField("scope", max_length=20, choices=Scope.choices, default=Scope.PROVIDER)
    category = models.CharField("product category", max_length=100, blank=True)
    product = models.ForeignKey(
        "marketplace.Product", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    plan = models.ForeignKey(
        "marketplace.Plan", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    addon = models.ForeignKey(
        "marketplace.AddOn",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name="add-on",
    )
    service_category = models.CharField(
        max_length=100, blank=True, help_text="as on the provider's usage lines"
    )
    service_name = models.CharField(max_length=150, blank=True, help_text="as on the provider's usage lines")
    scope_key = models.CharField(max_length=200, editable=False)
    specificity = models.PositiveSmallIntegerField(editable=False)
    method = models.CharField(max_length=10, choices=Method.choices)
    value = models.DecimalField(
        max_digits=14,
        decimal_places=6,
        help_text="a percentage, or the unit price in the pricebook's currency",
    )
    valid_from = models.DateField("effective from")
    valid_until = models.DateField("effective until", null=True, blank=True, help_text="empty: no end")
    note = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["pricebook", "position", "-specificity", "valid_from"]
        constraints = [
            models.CheckConstraint(condition=models.Q(value__gte=0), name="rule_value_not_negative"),
            models.CheckConstraint(
                condition=~models.Q(method=Method.MARGIN) | models.Q(value__lt=100),
                name="rule_margin_below_100",
            ),
            models.CheckConstraint(
                condition=~models.Q(method=Method.DISCOUNT) | models.Q(value__lte=100),
                name="rule_discount_at_most_100",
            ),
            models.CheckConstraint(condition=dates_in_order(), name="rule_dates_in_order"),
            *_scope_fields_match(),
            ExclusionConstraint(
                name="rule_no_overlap_in_scope",
                expressions=[
                    ("pricebook", RangeOperators.EQUAL),
                    ("scope_key", RangeOperators.EQUAL),
                    (DateRange("valid_from", "valid_until"), RangeOperators.OVERLAPS),
                ],
                violation_error_message="Another rule of this pricebook has the same scope on overlapping dates.",
            ),
        ]

    def __str__(self):
        return f"{self.get_method_display()} {self.value.normalize():f} on {self.scope_label}"

    @property
    def target(self):
        field = SCOPE_FIELD[self.scope_type]
        return None if field is None else getattr(self, field)

    @property
    def scope_label(self) -> str:
        target = self.target
        return self.get_scope_type_display() + (f" {target}" if target not in (None, "") else "")

    def set_derived(self):
        field = SCOPE_FIELD.get(self.scope_type)
        target = (
            None if field is None else getattr(self, f"{field}_id" if self.scope_type in FK_SCOPES else field)
        )
        self.scope_key = scope_key(self.scope_type, target)
        self.specificity = SPECIFICITY[self.scope_type]

    def in_effect(self, day) -> bool:
        return self.valid_from <= day and (self.valid_until is None or day <= self.valid_until)

    def clean(self):
        errors = {}
        field = SCOPE_FIELD.get(self.scope_type)
        for other in SCOPE_FIELD.values():
            if other is None or other == field:
                continue
            empty = getattr(self, f"{other}_id" if other in ("product", "plan", "addon") else other) in (
                None,
                "",
            )
            if not empty:
                errors[other] = f"Leave this empty for a rule on the {self.get_scope_type_display().lower()}."
        if field is not None:
            target = getattr(self, f"{field}_id" if self.scope_type in FK_SCOPES else field)
            if target in (None, ""):
                errors[field] = f"Choose the {self._meta.get_field(field).verbose_name} this rule applies to."
            elif self.pricebook_id and self.scope_type == Scope.CATEGORY:
                from marketplace.models import Product

                provider = self.pricebook.provider
                if not Product.objects.filter(provider=provider, category=self.category).exists():
                    known = sorted(
                        set(Product.objects.filter(provider=provider).values_list("category", flat=True))
                    )
                    errors[field] = (
                        f"No {provider} product is in the category '{self.category}' (categories: {', '.join(known) or 'none'})."
                    )
            elif self.pricebook_id and self.scope_type in FK_SCOPES:
                item = getattr(self, field)
                if item.provider.pk != self.pricebook.provider_id:
                    errors[field] = (
                        f"{item} belongs to {item.provider}; this pricebook prices {self.pricebook.provider} only."
                    )
        if self.value is not None and self.method:
            message = check_method_value(self.method, self.value)
            if message:
                errors["value"] = message
        if self.valid_from and self.valid_until and self.valid_until < self.valid_from:
            errors["valid_until"] = "The rule cannot end before it starts."
        if errors:
            raise ValidationError(errors)
        self.set_derived()

    def save(self, *args, **kwargs):
        self.set_derived()
        super().save(*args, **kwargs)


def check_method_value(method: str, value: Decimal) -> str:
    """Why `value` makes no sense for `method`, or ""."""
    if value < 0:
        if method == Method.FIXED:
            return "Prices cannot be negative."
        return "Enter a percentage of 0 or more."
    if method == Method.MARGIN and value >= 100:
        return "A margin must be below 100% (at 100% the price would be infinite)."
    if method == Method.DISCOUNT and value > 100:
        return "A discount cannot exceed 100% of the list price."
    return ""


class ExchangeRate(models.Model):
    """How many units of `currency` one US dollar buys from `effective_date` on (platform-level).

    The catalog is in USD; a pricebook in another currency converts cost and list price with the rate
    in effect on the day priced (the latest effective_date on or before it). USD needs no row."""

    currency = models.CharField(max_length=3, choices=CURRENCIES)
    rate = models.DecimalField("units per USD", max_digits=18, decimal_places=8)
    effective_date = models.DateField()

    class Meta:
        ordering = ["currency", "-effective_date"]
        constraints = [
            models.UniqueConstraint(fields=["currency", "effective_date"], name="exchangerate_one_per_day"),
            models.CheckConstraint(condition=models.Q(rate__gt=0), name="exchangerate_positive"),
            models.CheckConstraint(condition=~models.Q(currency="USD"), name="exchangerate_not_usd"),
        ]

    def __str__(self):
        return f"1 USD = {self.rate} {self.currency} from {self.effective_date}"

    def clean(self):
        if self.rate is not None and self.rate <= 0:
            raise ValidationError({"rate": "An exchange rate is more than zero."})
        if self.currency == "USD":
            raise ValidationError({"currency": "The catalog is in USD; USD needs no exchange rate."})


class BillingPeriod(TenantModel):
    """One calendar month of one reseller. Open until the invoice run closes it (sets closed_at);
    pricebook changes take effect from the first open month (see billing.periods)."""

    month = models.DateField(help_text="the first day of the month")
    closed_at = models.DateTimeField(null=True, blank=True)
    closed_by = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["-month"]
        constraints = [
            models.UniqueConstraint(fields=["reseller", "month"], name="billingperiod_once_per_month"),
            models.CheckConstraint(condition=models.Q(month__day=1), name="billingperiod_first_of_month"),
        ]

    def __str__(self):
        return f"{self.month:%B %Y} ({'closed' if self.closed_at else 'open'})"
