"""The quote lists' filters: free text, status tab, and whether expired quotes are shown."""

import django_filters
from django import forms
from django.db.models import Q

from .models import Quote


class QuoteFilterSet(django_filters.FilterSet):
    q = django_filters.CharFilter(method="search", label="Search")
    status = django_filters.ChoiceFilter(choices=Quote.Status.choices, empty_label="All")
    show_expired = django_filters.BooleanFilter(
        method="keep", label="Show expired", widget=forms.CheckboxInput
    )

    class Meta:
        model = Quote
        fields = ["q", "status", "show_expired"]

    def search(self, queryset, name, value):
        """Number, quote name, customer name or lead company name (any part, any case)."""
        value = value.strip()
        if not value:
            return queryset
        return queryset.filter(
            Q(number__icontains=value)
            | Q(name__icontains=value)
            | Q(customer__name__icontains=value)
            | Q(lead__company_name__icontains=value)
        )

    def keep(self, queryset, name, value):
        return queryset  # read in filter_queryset, with the status

    def filter_queryset(self, queryset):
        queryset = super().filter_queryset(queryset)
        data = self.form.cleaned_data
        # Expired quotes are noise in day-to-day lists: shown on their tab or when asked for.
        if data.get("status") != Quote.Status.EXPIRED and not data.get("show_expired"):
            queryset = queryset.exclude(status=Quote.Status.EXPIRED)
        return queryset
