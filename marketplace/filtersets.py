"""Plan filters built from the provider's plan filter schema: no provider is named in code or templates."""

import django_filters
from django import forms
from django.db.models import Q

from .models import Plan


class PlanFilterSet(django_filters.FilterSet):
    q = django_filters.CharFilter(method="search", label="Search")
    category = django_filters.ChoiceFilter(field_name="product__category", empty_label="Any category")
    trial_available = django_filters.BooleanFilter(
        label="Trial",
        widget=forms.Select(choices=[("", "Trial or not"), ("true", "With a trial"), ("false", "No trial")]),
    )

    class Meta:
        model = Plan
        # Term, billing frequency and the like come from the provider's schema, not from generic filters,
        # so a provider's screen shows each of its attributes once, under its own name.
        fields = ["q", "category", "trial_available"]

    def __init__(self, *args, provider, categories=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.filters["category"].extra["choices"] = [(c, c) for c in categories]
        # One filter per attribute of the provider's schema, in the schema's order, before the generic ones.
        schema_filters = {}
        for attr in provider.plan_filter_schema:
            schema_filters[f"attr_{attr['key']}"] = django_filters.ChoiceFilter(
                label=attr["label"], choices=[tuple(c) for c in attr["choices"]], empty_label=f"Any {attr['label'].lower()}",
                method=self.attribute_filter(attr["key"]),
            )  # fmt: skip
        self.filters = {"q": self.filters.pop("q"), **schema_filters, **self.filters}
        self.schema_keys = list(schema_filters)

    @staticmethod
    def attribute_filter(key):
        def apply(queryset, name, value):
            # JSON containment, so the GIN index on attributes serves it.
            return queryset.filter(attributes__contains={key: value}) if value else queryset

        return apply

    def search(self, queryset, name, value):
        value = value.strip()
        if not value:
            return queryset
        return queryset.filter(
            Q(name__icontains=value) | Q(sku__icontains=value) | Q(product__name__icontains=value)
        )
