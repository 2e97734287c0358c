"""Forms of the custom fields and customer options pages, and the custom field list filters.

Forms turn input into typed values and show errors under each field; the rules live in the
services (services_custom_fields, services_test_drive), whose keyed errors the views attach here.
"""

from functools import partial

import django_filters
from django import forms
from django.utils import timezone

from . import services_custom_fields as cf
from .forms import StyledFormMixin
from .models import CloudProvider, FieldType
from .models.custom_fields import NUMBER_DECIMAL_PLACES, NUMBER_MAX_DIGITS, TEXT_MAX_LENGTH, format_number
from .models.options import TEST_DRIVE_MAX_DAYS

YES_NO = [("yes", "Yes"), ("no", "No")]
NUMBER_ERRORS = {"invalid": "Enter a number, e.g. 42 or 3.5."}
DATE_ERRORS = {"invalid": "Enter a date as YYYY-MM-DD, e.g. 2025-03-31."}


class DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self, attrs=None):
        super().__init__(attrs, format="%Y-%m-%d")


def attach_errors(form, exc, field_prefix: str = "") -> None:
    """Show a service's ValidationError on the form: keyed messages under their field."""
    if not hasattr(exc, "error_dict"):
        form.add_error(None, exc)
        return
    for key, errors in exc.message_dict.items():
        name = f"{field_prefix}{key}"
        form.add_error(name if name in form.fields else None, errors)


# --- definitions -------------------------------------------------------------------------------


class CustomFieldDefinitionForm(StyledFormMixin, forms.Form):
    label = forms.CharField(max_length=100, help_text="As shown on customer pages and in filters.")
    key = forms.CharField(
        max_length=40,
        required=False,
        help_text="Used in list and report URLs as cf_<key>. Leave blank to make one from the label. "
        "Cannot be changed later.",
    )
    type = forms.ChoiceField(choices=FieldType.choices, help_text="Cannot be changed later.")
    choices = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 4}),
        required=False,
        help_text="For a choice field: one option per line.",
    )
    required = forms.BooleanField(
        required=False, help_text="A value must be given when a customer is edited."
    )
    filterable = forms.BooleanField(
        label="Filter the customer list",
        required=False,
        initial=True,
        help_text="Offer it in the list filters.",
    )
    order = forms.IntegerField(
        min_value=0, max_value=32767, initial=0, help_text="Fields are shown in ascending order."
    )

    def __init__(self, *args, instance=None, **kwargs):
        if instance is not None:
            stored = {name: getattr(instance, name) for name in cf.DEFINITION_FIELDS}
            stored["choices"] = "\n".join(instance.choices)
            kwargs["initial"] = {**stored, **(kwargs.get("initial") or {})}
        super().__init__(*args, **kwargs)
        if instance is not None:
            for name in cf.FIXED_FIELDS:
                self.fields[name].disabled = True

    def clean_choices(self):
        return cf.normalize_choices(self.cleaned_data["choices"].splitlines())

    def definition_fields(self) -> dict:
        return {name: self.cleaned_data[name] for name in cf.DEFINITION_FIELDS}


# --- values ------------------------------------------------------------------------------------


def value_form_field(definition) -> forms.Field:
    """The form field that edits one customer's value of `definition`."""
    common = {"label": definition.label, "required": definition.required}
    if definition.type == FieldType.NUMBER:
        return forms.DecimalField(
            max_digits=NUMBER_MAX_DIGITS,
            decimal_places=NUMBER_DECIMAL_PLACES,
            error_messages=NUMBER_ERRORS,
            widget=forms.TextInput(attrs={"inputmode": "decimal"}),
            **common,
        )
    if definition.type == FieldType.DATE:
        return forms.DateField(widget=DateInput(), error_messages=DATE_ERRORS, **common)
    if definition.type == FieldType.BOOLEAN:
        return forms.TypedChoiceField(
            choices=[("", "—"), *YES_NO], coerce=lambda v: v == "yes", empty_value=None, **common
        )
    if definition.type == FieldType.CHOICE:
        return forms.ChoiceField(choices=[("", "—"), *((c, c) for c in definition.choices)], **common)
    return forms.CharField(max_length=TEXT_MAX_LENGTH, **common)


def _initial(definition, value):
    if value is None:
        return None
    if definition.type == FieldType.BOOLEAN:
        return "yes" if value else "no"
    if definition.type == FieldType.NUMBER:
        return format_number(value)
    return value


class CustomerCustomFieldsForm(StyledFormMixin, forms.Form):
    """One field per custom field the reseller defined, named cf_<key> as in the list filters."""

    def __init__(self, *args, field_values, **kwargs):
        super().__init__(*args, **kwargs)
        self.definitions = [fv.definition for fv in field_values]
        for fv in field_values:
            name = f"{cf.PARAM_PREFIX}{fv.definition.key}"
            self.fields[name] = value_form_field(fv.definition)
            self.initial[name] = _initial(fv.definition, fv.value)

    def values(self) -> dict:
        """{key: typed value or None} for the service."""
        return {d.key: self.cleaned_data.get(f"{cf.PARAM_PREFIX}{d.key}") for d in self.definitions}


# --- customer list filters ---------------------------------------------------------------------


def _filter_by(filterset, definition, queryset, name, value):
    """Apply every cf_<key>, cf_<key>__gte and cf_<key>__lte given for `definition` as one subquery
    (a range is then one index range scan), from the filter of the first one given."""
    cleaned = filterset.form.cleaned_data
    lookups = {}
    for suffix in cf.FILTER_LOOKUPS[definition.type]:
        param = f"{cf.PARAM_PREFIX}{definition.key}{suffix}"
        given = cleaned.get(param)
        if given in (None, ""):
            continue
        if not lookups and param != name:
            return queryset  # an earlier parameter's filter applies them all
        lookups[suffix.lstrip("_") or "exact"] = (
            given == "yes" if definition.type == FieldType.BOOLEAN else given
        )
    return queryset.filter(cf.custom_field_condition(definition, **lookups)) if lookups else queryset


def _filters_for(filterset, definition) -> dict:
    """{param name: filter} for one definition: an exact match, and a from/to range for numbers
    and dates."""
    base = f"{cf.PARAM_PREFIX}{definition.key}"
    label = definition.label
    attrs = {"class": "filter-input"}
    method = partial(_filter_by, filterset, definition)
    if definition.type in (FieldType.NUMBER, FieldType.DATE):
        filter_class = (
            django_filters.NumberFilter if definition.type == FieldType.NUMBER else django_filters.DateFilter
        )
        extra = (
            {
                "error_messages": NUMBER_ERRORS,
                "widget": forms.TextInput(attrs={**attrs, "inputmode": "decimal"}),
            }
            if definition.type == FieldType.NUMBER
            else {"error_messages": DATE_ERRORS, "widget": DateInput(attrs=attrs)}
        )
        return {
            f"{base}{suffix}": filter_class(
                field_name=f"{base}{suffix}", method=method, label=f"{label} {word}".strip(), **extra
            )
            for suffix, word in (("", ""), ("__gte", "from"), ("__lte", "to"))
        }
    if definition.type == FieldType.TEXT:
        flt = django_filters.CharFilter(
            field_name=base,
            method=method,
            label=label,
            widget=forms.TextInput(attrs={**attrs, "placeholder": "Exact value"}),
        )
    else:
        choices = YES_NO if definition.type == FieldType.BOOLEAN else [(c, c) for c in definition.choices]
        flt = django_filters.ChoiceFilter(
            field_name=base,
            method=method,
            label=label,
            choices=choices,
            empty_label="Any",
            widget=forms.Select(attrs=attrs),
        )
    return {base: flt}


class CustomFieldFilterGroups:
    """The custom field filters of a CustomerFilterSet, grouped per field for the filter form."""

    def __init__(self, filterset, groups):
        self.filterset = filterset
        self.groups = groups  # [(definition, [param names])]

    def __iter__(self):
        form = self.filterset.form
        for definition, names in self.groups:
            if len(names) == 1:
                yield {
                    "definition": definition,
                    "range": False,
                    "fields": [(form[names[0]], definition.label)],
                }
            else:
                # The exact-match box of numbers and dates works from the URL; the form offers a range.
                fields = [(form[names[1]], "From"), (form[names[2]], "To")]
                yield {"definition": definition, "range": True, "fields": fields}

    def __bool__(self):
        return bool(self.groups)

    @property
    def active(self) -> bool:
        return bool(cf.custom_field_params(self.filterset.data))


def add_custom_field_filters(filterset) -> CustomFieldFilterGroups:
    """Add a cf_<key> filter (and cf_<key>__gte / __lte for numbers and dates) to `filterset` for
    each filterable custom field. One query for the definitions, however many fields there are."""
    groups = []
    for definition in cf.definitions(filterable_only=True):
        filters = _filters_for(filterset, definition)
        for name, flt in filters.items():
            flt.model = filterset.queryset.model
            flt.parent = filterset
            filterset.filters[name] = flt
        groups.append((definition, list(filters)))
    return CustomFieldFilterGroups(filterset, groups)


# --- customer options --------------------------------------------------------------------------


class TestDriveForm(StyledFormMixin, forms.Form):
    __test__ = False  # not a pytest test class, despite the name

    enabled = forms.BooleanField(
        label="Enable the test drive",
        required=False,
        help_text="The customer may try the platform for free until the test drive expires.",
    )
    started_on = forms.DateField(
        label="Starts on",
        required=False,
        widget=DateInput(),
        error_messages=DATE_ERRORS,
        help_text="Today or later when the test drive is switched on.",
    )
    length_days = forms.IntegerField(
        label="Length (days)",
        min_value=1,
        max_value=TEST_DRIVE_MAX_DAYS,
        error_messages={
            "min_value": f"Choose a length from 1 to {TEST_DRIVE_MAX_DAYS} days.",
            "max_value": f"Choose a length from 1 to {TEST_DRIVE_MAX_DAYS} days.",
            "invalid": "Enter a whole number of days.",
        },
        help_text=f"From 1 to {TEST_DRIVE_MAX_DAYS} days; the test drive expires this many days after it starts.",
    )
    allowed_providers = forms.MultipleChoiceField(
        label="Allowed cloud providers",
        choices=CloudProvider.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="Products will be selectable here once the product catalog exists; until then the test "
        "drive allows whole providers.",
    )

    def __init__(self, *args, drive=None, **kwargs):
        today = timezone.localdate()
        if drive is None:
            initial = {"enabled": False, "started_on": today, "length_days": 30, "allowed_providers": []}
        else:
            initial = {
                "enabled": drive.enabled,
                # A disabled test drive starts afresh when switched back on.
                "started_on": drive.started_on if drive.enabled and drive.started_on else today,
                "length_days": drive.length_days,
                "allowed_providers": drive.allowed_providers,
            }
        kwargs["initial"] = {**initial, **(kwargs.get("initial") or {})}
        super().__init__(*args, **kwargs)

    def settings(self) -> dict:
        return {
            "enabled": self.cleaned_data["enabled"],
            "started_on": self.cleaned_data["started_on"],
            "length_days": self.cleaned_data["length_days"],
            "allowed_providers": self.cleaned_data["allowed_providers"],
        }
