"""Row-level security on every tenant-owned table, and the application's role (see customer360.rls).

Runs after every app's migrations so far; tables of later migrations are secured by the post_migrate
step that runs the same idempotent functions.
"""

from django.db import migrations

from customer360.rls import grant_app_role, secure_tables, tenant_tables, unsecure_tables


def forwards(apps, schema_editor):
    secure_tables(schema_editor.connection, tenant_tables())
    grant_app_role(schema_editor.connection)


def backwards(apps, schema_editor):
    unsecure_tables(schema_editor.connection, tenant_tables())


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0003_reseller_document_details"),
        ("billing", "0013_invoice_line_partial_indexes"),
        ("customers", "0006_reseller_wide_alerts"),
        ("marketplace", "0002_orders_subscriptions"),
        ("quotes", "0001_initial"),
        ("reports", "0003_spend_month"),
    ]

    operations = [migrations.RunPython(forwards, backwards, elidable=False)]
