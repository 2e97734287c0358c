"""Rows of the reports app for the cross-tenant matrix (tests/foundation/conftest.py build_tenant)."""

from customer360.tenancy import tenant_scope
from reports.models import ReportResult, SpendMonthState
from reports.rollup import rebuild


def report_rows_for(reseller, customer, marker: str) -> dict:
    """A finished cached long report of the customer, whose rows carry the marker, and the monthly
    spend rollup built from the tenant's daily spend."""
    with tenant_scope(reseller):
        row = ReportResult.objects.create(
            key=f"{marker}-key"[:64],
            data_version="0@-|0@-|0@-",
            report="spend-by-month",
            customer=customer,
            params={"start": "2024-01-01", "end": "2026-06-30", "provider": "", "status": "", "limit": 25},
            status=ReportResult.Status.DONE,
            progress=100,
            result={"slug": "spend-by-month", "title": f"{marker} report", "columns": [], "rows": [],
                    "currency": "USD", "totals": None, "chart": None, "summary": [], "note": marker},
        )  # fmt: skip
        rebuild()  # the monthly spend rollup (SpendMonth) of the tenant's daily spend, and its state
        from reports.models import SpendMonth

        month = SpendMonth.objects.first()
        state = SpendMonthState.objects.get()
    return {ReportResult: row, SpendMonthState: state, **({SpendMonth: month} if month else {})}
