"""The dashboard's monthly spend rollup (reports.SpendMonth): billing.DailySpend summed per customer,
month, provider and currency, a few rows per customer and month instead of one per day.

It is rebuilt for a reseller, in one set-based statement, when the reseller's data version
(reports.cache.data_version: usage imports, invoice runs, payments) differs from the one it was built
from; until then `fresh()` is False and the dashboard shows the previous build with its time (before
the first build it reads DailySpend directly: correct, slower). A usage import's commit queues the
rebuild (billing.signals.usage_rolled_up), the beat task reports.tasks.refresh_stale_spend_months
rebuilds any stale one each 5 minutes, and a dashboard that meets a stale one queues its rebuild
(reports.tasks.refresh_spend_months); billing never has to call us.
"""

import time

from django.db import connection, transaction
from django.utils import timezone

from billing.models import DailySpend
from customer360.tenancy import current_reseller_id

from . import cache
from .models import SpendMonth, SpendMonthState


def state() -> SpendMonthState | None:
    """The reseller-in-scope's build record: None if its rollup was never built."""
    return SpendMonthState.objects.first()


def fresh(version: str | None = None) -> bool:
    """Whether the rollup was built from the current data (`version`, read when not given)."""
    built = state()
    return built is not None and built.data_version == (
        version if version is not None else cache.data_version()
    )


@transaction.atomic
def rebuild(version: str | None = None) -> float:
    """Rebuild the reseller-in-scope's SpendMonth rows; returns the seconds it took. Safe to run twice
    (and concurrently: the state row is locked)."""
    reseller = current_reseller_id()
    if reseller is None:
        raise ValueError("rebuild works in one reseller's scope")
    version = version if version is not None else cache.data_version()
    state, _ = SpendMonthState.objects.select_for_update().get_or_create(defaults={"data_version": ""})
    if state.data_version == version:
        return 0.0
    started = time.perf_counter()
    months, daily = SpendMonth._meta.db_table, DailySpend._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {months} WHERE reseller_id = %s", [reseller])
        cursor.execute(
            f"""INSERT INTO {months} (id, reseller_id, customer_id, month, provider, currency, cost, price)
                SELECT gen_random_uuid(), reseller_id, customer_id, date_trunc('month', day)::date, provider,
                       currency, sum(cost), sum(price)
                FROM {daily} WHERE reseller_id = %s
                GROUP BY reseller_id, customer_id, date_trunc('month', day)::date, provider, currency""",
            [reseller],
        )
        cursor.execute(f"ANALYZE {months}")
    seconds = time.perf_counter() - started
    state.data_version, state.built_at, state.seconds = version, timezone.now(), seconds
    state.save(update_fields=["data_version", "built_at", "seconds"])
    return seconds
