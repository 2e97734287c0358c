"""usagerow_customer_day becomes covering, so "Top resources by cost" reads a customer's usage rows from
the index alone; and the usage table is vacuumed after every 1% of new rows rather than 20%, so an
import's rows are soon marked all-visible and that read needs no heap page (the visibility map)."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0003_reseller_document_details"),
        ("billing", "0014_usage_row_fx_rate"),
        ("customers", "0006_reseller_wide_alerts"),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name="usagerow",
            name="usagerow_customer_day",
        ),
        migrations.AddIndex(
            model_name="usagerow",
            index=models.Index(
                fields=["customer", "usage_date"],
                include=("reseller", "provider", "service_name", "resource_id", "cost", "price"),
                name="usagerow_customer_day",
            ),
        ),
        migrations.RunSQL(
            "ALTER TABLE billing_usagerow SET (autovacuum_vacuum_insert_scale_factor = 0.01)",
            "ALTER TABLE billing_usagerow RESET (autovacuum_vacuum_insert_scale_factor)",
        ),
    ]
