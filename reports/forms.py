"""The filter form of a customer report: a date range and the filters that fit the report.

Everything travels in the URL (GET), so a filtered report can be bookmarked and its downloads carry the
same query string. Invalid input shows an error under its field and the report falls back to defaults.
"""

from dataclasses import dataclass
from datetime import date, timedelta

from django import forms
from django.utils import timezone

from customers.forms_custom_fields import DateInput
from customers.models import CloudProvider

DATE_ERRORS = {"invalid": "Enter a date as YYYY-MM-DD, e.g. 2025-03-31."}
LIMITS = [(10, "10"), (25, "25"), (50, "50"), (100, "100")]
# Ranges longer than this run as a background task (reports.tasks) and are cached.
LONG_RANGE_DAYS = 400


def default_start(today: date) -> date:
    """The first day of the month eleven months ago: twelve calendar months up to today."""
    month = today.month - 11
    year = today.year
    if month < 1:
        month += 12
        year -= 1
    return date(year, month, 1)


@dataclass(frozen=True)
class ReportParams:
    start: date
    end: date
    provider: str = ""
    status: str = ""
    limit: int = 25
    sort: str = ""

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    @property
    def is_long(self) -> bool:
        return self.days > LONG_RANGE_DAYS

    def cache_key_parts(self) -> list:
        return [self.start.isoformat(), self.end.isoformat(), self.provider, self.status, self.limit]


class ReportFilterForm(forms.Form):
    start = forms.DateField(label="From", required=False, widget=DateInput(), error_messages=DATE_ERRORS)
    end = forms.DateField(label="To", required=False, widget=DateInput(), error_messages=DATE_ERRORS)
    provider = forms.ChoiceField(
        label="Provider", required=False, choices=[("", "All providers"), *CloudProvider.choices]
    )
    status = forms.ChoiceField(label="Status", required=False, choices=[("", "Any status")])
    limit = forms.TypedChoiceField(label="Show", required=False, choices=LIMITS, coerce=int, empty_value=25)
    sort = forms.CharField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args, report=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.report = report
        if report is not None and report.statuses:
            self.fields["status"].choices = report.statuses
        for name in ("provider", "status", "limit"):
            if report is None or name not in report.filters:
                del self.fields[name]
        for name, f in self.fields.items():
            if name != "sort":
                f.widget.attrs.setdefault("class", "filter-input")
        if not self.is_bound:  # the inputs show the range and status the report uses by default
            today = timezone.localdate()
            self.initial.setdefault("start", default_start(today))
            self.initial.setdefault("end", today)
            if "status" in self.fields:
                self.initial.setdefault("status", report.default_status)

    def clean(self):
        data = super().clean()
        start, end = data.get("start"), data.get("end")
        if start and end and start > end:
            self.add_error("end", "The end date must be on or after the start date.")
        return data

    def params(self, today: date | None = None) -> ReportParams:
        """The report's parameters: the valid input, defaults for the rest."""
        today = today or timezone.localdate()
        data = self.cleaned_data if self.is_bound and self.is_valid() else {}
        start = data.get("start") or default_start(today)
        end = data.get("end") or max(today, start)
        if start > end:
            start, end = default_start(today), today
        default_status = self.report.default_status if self.report else ""
        status = data.get("status") if "status" in self.fields and self.is_bound else default_status
        return ReportParams(
            start=start,
            end=end,
            provider=data.get("provider") or "",
            status=status if status is not None else default_status,
            limit=data.get("limit") or 25,
            sort=(data.get("sort") or "").strip(),
        )


def month_starts(start: date, end: date) -> list[date]:
    """The first day of every month the range touches, in order."""
    months, d = [], start.replace(day=1)
    while d <= end:
        months.append(d)
        d = (d + timedelta(days=32)).replace(day=1)
    return months
