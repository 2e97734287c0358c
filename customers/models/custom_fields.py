"""Custom fields: typed fields a reseller defines once, with one value per customer and field."""

import datetime
from decimal import Decimal, InvalidOperation

from django.contrib.postgres.fields import ArrayField
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone

from customer360.tenancy import TenantModel

from .customer import Customer

# Keys appear in list and report URLs as cf_<key>, cf_<key>__gte and cf_<key>__lte, so they are plain
# identifiers and never contain "__" (which would make the lookup suffix ambiguous).
KEY_VALIDATOR = RegexValidator(
    r"^[a-z](?:_?[a-z0-9])*$",
    "Use lowercase letters, digits and single underscores, starting with a letter (e.g. contract_tier).",
)
NUMBER_MAX_DIGITS = 20
NUMBER_DECIMAL_PLACES = 6
TEXT_MAX_LENGTH = 500
YES_VALUES = {"yes", "true", "1", "on"}
NO_VALUES = {"no", "false", "0", "off"}


class FieldType(models.TextChoices):
    TEXT = "text", "Text"
    NUMBER = "number", "Number"
    DATE = "date", "Date"
    BOOLEAN = "boolean", "Yes / no"
    CHOICE = "choice", "Choice"


# The value column each type is stored in.
VALUE_COLUMNS = {
    FieldType.TEXT: "value_text",
    FieldType.CHOICE: "value_text",
    FieldType.NUMBER: "value_number",
    FieldType.DATE: "value_date",
    FieldType.BOOLEAN: "value_bool",
}


class CustomFieldDefinition(TenantModel):
    """A field the reseller adds to every customer. Its key and type are fixed once created, because
    stored values, saved list URLs and reports depend on them."""

    Type = FieldType

    label = models.CharField(max_length=100)
    key = models.SlugField(
        max_length=40,
        validators=[KEY_VALIDATOR],
        help_text="Used in list and report URLs as cf_<key>. Cannot be changed later.",
    )
    type = models.CharField(max_length=10, choices=FieldType.choices, default=FieldType.TEXT)
    choices = ArrayField(
        models.CharField(max_length=100), default=list, blank=True, help_text="The options of a choice field."
    )
    required = models.BooleanField(
        default=False, help_text="A value must be given when a customer is edited."
    )
    filterable = models.BooleanField(
        "filter the customer list", default=True, help_text="Offer this field in the customer list filters."
    )
    order = models.PositiveSmallIntegerField(default=0, help_text="Fields are shown in ascending order.")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["order", "label", "id"]
        constraints = [
            models.UniqueConstraint(fields=["reseller", "key"], name="customfield_unique_key"),
            # Labels name the fields in filters and in the activity log, so they must tell them apart.
            models.UniqueConstraint(Lower("label"), "reseller", name="customfield_unique_label"),
            models.CheckConstraint(condition=~models.Q(label=""), name="customfield_label_not_blank"),
            models.CheckConstraint(condition=~models.Q(key=""), name="customfield_key_not_blank"),
            # A choice field offers at least one choice; other types carry none.
            models.CheckConstraint(
                condition=models.Q(type=FieldType.CHOICE, choices__len__gt=0)
                | (~models.Q(type=FieldType.CHOICE) & models.Q(choices=[])),
                name="customfield_choices_match_type",
            ),
        ]

    def __str__(self):
        return self.label

    @property
    def value_column(self) -> str:
        return VALUE_COLUMNS[self.type]

    def clean_value(self, raw):
        """The typed value of `raw` (a string from a form, URL or import, or an already typed value);
        None for an empty value. Raises ValidationError with a message meant for the user."""
        if raw is None or (isinstance(raw, str) and not raw.strip()):
            return None
        if self.type == FieldType.TEXT:
            value = str(raw).strip()
            if len(value) > TEXT_MAX_LENGTH:
                raise ValidationError(f"Use at most {TEXT_MAX_LENGTH} characters.", code="max_length")
            return value
        if self.type == FieldType.CHOICE:
            value = str(raw).strip()
            if value not in self.choices:
                raise ValidationError(f"Choose one of: {', '.join(self.choices)}.", code="invalid_choice")
            return value
        if self.type == FieldType.NUMBER:
            return _clean_number(raw)
        if self.type == FieldType.DATE:
            return _clean_date(raw)
        return _clean_bool(raw)

    def display(self, value) -> str:
        """How a typed value reads on a page and in the activity log."""
        if value is None:
            return ""
        if self.type == FieldType.BOOLEAN:
            return "Yes" if value else "No"
        if self.type == FieldType.NUMBER:
            return format_number(value)
        if self.type == FieldType.DATE:
            return value.isoformat()
        return str(value)


class CustomFieldValue(TenantModel):
    """One customer's value of one field. An empty value is no row, so every row holds exactly one
    value, in the column of its field's type (copied here so a check constraint can enforce it)."""

    # No single-column indexes: (customer, definition) is unique and each value index starts with the
    # definition, so those serve these lookups (and the planner is not tempted by a weaker index).
    customer = models.ForeignKey(
        Customer, on_delete=models.CASCADE, related_name="custom_values", db_index=False
    )
    definition = models.ForeignKey(
        CustomFieldDefinition, on_delete=models.CASCADE, related_name="values", db_index=False
    )
    type = models.CharField(max_length=10, choices=FieldType.choices, editable=False)
    value_text = models.CharField(max_length=TEXT_MAX_LENGTH, null=True, blank=True)
    value_number = models.DecimalField(
        max_digits=NUMBER_MAX_DIGITS, decimal_places=NUMBER_DECIMAL_PLACES, null=True, blank=True
    )
    value_date = models.DateField(null=True, blank=True)
    value_bool = models.BooleanField(null=True, blank=True)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["customer", "definition"], name="customfieldvalue_one_per_field"),
            models.CheckConstraint(
                condition=(
                    models.Q(
                        type__in=[FieldType.TEXT, FieldType.CHOICE],
                        value_text__isnull=False,
                        value_number__isnull=True,
                        value_date__isnull=True,
                        value_bool__isnull=True,
                    )
                    & ~models.Q(value_text="")
                )
                | models.Q(
                    type=FieldType.NUMBER,
                    value_text__isnull=True,
                    value_number__isnull=False,
                    value_date__isnull=True,
                    value_bool__isnull=True,
                )
                | models.Q(
                    type=FieldType.DATE,
                    value_text__isnull=True,
                    value_number__isnull=True,
                    value_date__isnull=False,
                    value_bool__isnull=True,
                )
                | models.Q(
                    type=FieldType.BOOLEAN,
                    value_text__isnull=True,
                    value_number__isnull=True,
                    value_date__isnull=True,
                    value_bool__isnull=False,
                ),
                name="customfieldvalue_one_typed_value",
            ),
        ]
        # The customer list filters 200,000 customers by value: each index finds the matching
        # customers of one field by value, and carries customer and reseller (the tenant scope adds
        # reseller_id to the subquery) so the lookup is an index-only scan. Each is partial, holding
        # only the rows of its column's types.
        indexes = [
            models.Index(
                fields=["definition", column],
                include=["customer", "reseller"],
                condition=models.Q(**{f"{column}__isnull": False}),
                name=f"cfvalue_{column[6:]}",
            )
            for column in ("value_text", "value_number", "value_date", "value_bool")
        ]

    def __str__(self):
        return f"{self.definition_id}: {self.value}"

    @property
    def value(self):
        return getattr(self, VALUE_COLUMNS[self.type])

    def set_value(self, definition: CustomFieldDefinition, value) -> None:
        self.definition = definition
        self.type = definition.type
        for column in set(VALUE_COLUMNS.values()):
            setattr(self, column, None)
        setattr(self, definition.value_column, value)


def format_number(value: Decimal) -> str:
    """42.000000 -> "42", 3.500000 -> "3.5" (stored numbers carry six decimal places)."""
    return format(value.normalize(), "f")


def _clean_number(raw) -> Decimal:
    if isinstance(raw, bool):
        raise ValidationError("Enter a number, e.g. 42 or 3.5.", code="invalid")
    try:
        value = raw if isinstance(raw, Decimal) else Decimal(str(raw).strip().replace(",", ""))
    except InvalidOperation:
        raise ValidationError("Enter a number, e.g. 42 or 3.5.", code="invalid") from None
    if not value.is_finite():
        raise ValidationError("Enter a number, e.g. 42 or 3.5.", code="invalid")
    sign, digits, exponent = value.normalize().as_tuple()
    decimals = max(0, -exponent)
    whole = max(0, len(digits) + exponent)
    if decimals > NUMBER_DECIMAL_PLACES or whole > NUMBER_MAX_DIGITS - NUMBER_DECIMAL_PLACES:
        raise ValidationError(
            f"Use at most {NUMBER_MAX_DIGITS - NUMBER_DECIMAL_PLACES} digits before the decimal point "
            f"and {NUMBER_DECIMAL_PLACES} after it.",
            code="max_digits",
        )
    return value


def _clean_date(raw) -> datetime.date:
    if isinstance(raw, datetime.datetime):
        return raw.date()
    if isinstance(raw, datetime.date):
        return raw
    try:
        return datetime.date.fromisoformat(str(raw).strip())
    except ValueError:
        raise ValidationError("Enter a date as YYYY-MM-DD, e.g. 2025-03-31.", code="invalid") from None


def _clean_bool(raw) -> bool:
    if isinstance(raw, bool):
        return raw
    text = str(raw).strip().lower()
    if text in YES_VALUES:
        return True
    if text in NO_VALUES:
        return False
    raise ValidationError("Answer yes or no.", code="invalid")
