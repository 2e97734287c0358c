"""Usage rows keep the exchange rate that priced them, and the rollups state cost in their own currency.

Until now UsageDaily and DailySpend summed the provider's USD cost beside the customer's price in the
customer's currency, so every margin of a non-USD customer subtracted dollars from pounds or euros. The
rollups now convert cost at the rate that priced each row (billing.rollups). This migration records that
rate on the rows already priced and converts the rollups already built: every row of one rollup row shares
its day and currency, hence one rate (the latest on or before the day, as billing.pricing_sql chose it).
Invoice lines already written keep their cost; drafts get the converted cost at the next invoice run.
"""

from django.db import migrations, models

RATE_ON_DAY = """(SELECT e.rate FROM billing_exchangerate AS e
                  WHERE e.currency = {table}.{currency} AND e.effective_date <= {table}.{day}
                  ORDER BY e.effective_date DESC LIMIT 1)"""

ROWS = f"""
UPDATE billing_usagerow
SET fx_rate = CASE WHEN price_currency = 'USD' THEN 1
                   ELSE {RATE_ON_DAY.format(table="billing_usagerow", currency="price_currency", day="usage_date")} END
WHERE price_currency <> ''
"""


def convert(table: str, op: str) -> str:
    rate = RATE_ON_DAY.format(table=table, currency="currency", day="day")
    return f"""UPDATE {table} SET cost = round(cost {op} {rate}, 4)
               WHERE currency <> 'USD' AND {rate} IS NOT NULL"""


class Migration(migrations.Migration):
    dependencies = [
        ("billing", "0013_invoice_line_partial_indexes"),
    ]

    operations = [
        migrations.AddField(
            model_name="usagerow",
            name="fx_rate",
            field=models.DecimalField(blank=True, decimal_places=8, max_digits=18, null=True),
        ),
        migrations.RunSQL(ROWS, reverse_sql=migrations.RunSQL.noop),
        migrations.RunSQL(convert("billing_usagedaily", "*"), reverse_sql=convert("billing_usagedaily", "/")),
        migrations.RunSQL(convert("billing_dailyspend", "*"), reverse_sql=convert("billing_dailyspend", "/")),
    ]
