from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("billing", "0009_billing_exports"),
    ]

    operations = [
        migrations.AddField(
            model_name="usageimport",
            name="rows_closed_period",
            field=models.BigIntegerField(default=0),
        ),
    ]
