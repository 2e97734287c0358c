"""billing 0014 converted the rollups' cost into each row's currency: the monthly rollup and the stored
long-report results were computed from the old figures, so they are dropped and rebuilt on next use."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("billing", "0014_usage_row_fx_rate"),
        ("reports", "0003_spend_month"),
    ]

    operations = [
        migrations.RunSQL(
            "UPDATE reports_spendmonthstate SET data_version = ''; DELETE FROM reports_reportresult;",
            reverse_sql=migrations.RunSQL.noop,
        ),
    ]
