"""A covering index for the dashboard's reseller-wide spend figures (reports.queries_reseller): the daily
spend rollup of one reseller over a range of days, read index-only. billing's own index leads with the
customer (one customer's KPI cards); reports own this one because only they read the rollup this way."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("reports", "0001_initial"),
        ("billing", "0001_daily_spend"),
    ]

    operations = [
        migrations.RunSQL(
            "CREATE INDEX IF NOT EXISTS reports_dailyspend_reseller_day ON billing_dailyspend "
            "(reseller_id, currency, day) INCLUDE (customer_id, provider, cost, price)",
            "DROP INDEX IF EXISTS reports_dailyspend_reseller_day",
        ),
    ]
