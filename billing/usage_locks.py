"""Closed provider periods lock their usage.

Once a provider's month is closed (billing.invoicing_states.do_close_provider_period: its data is complete
and invoices may be finalized), no usage row of that provider and month is added or attached to a customer
any more: late rows in a file are counted on the import record ("in closed periods") and left out, and the
unmatched rows of that month stay unmatched when their account is linked later. Invoices, exports and
reports of a closed month therefore keep agreeing with each other.
"""

from django.db import connection

from .models_invoices import ALL_PROVIDERS, ProviderPeriod


def closed_period_filter(provider_col: str, date_col: str) -> tuple[str, dict]:
    """An SQL condition true for rows in an open period, and its parameters (the current reseller's
    closed periods, inlined as an array: there are a handful per month)."""
    closed = list(ProviderPeriod.objects.values_list("provider", "month"))
    if not closed:
        return "TRUE", {}
    return (
        f"""NOT EXISTS (SELECT 1 FROM unnest(%(closed_providers)s::text[], %(closed_months)s::date[])
                        AS cp(provider, month)
                        WHERE cp.month = date_trunc('month', {date_col})::date
                          AND (cp.provider = {provider_col} OR cp.provider = '{ALL_PROVIDERS}'))""",
        {"closed_providers": [p for p, _ in closed], "closed_months": [m for _, m in closed]},
    )


def count_in_closed_periods(table: str) -> int:
    """Rows of a typed staging table (columns provider, usage_date) that fall in a closed period."""
    condition, params = closed_period_filter("t.provider", "t.usage_date")
    if condition == "TRUE":
        return 0
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM {table} AS t WHERE NOT ({condition})", params)
        return cursor.fetchone()[0]
