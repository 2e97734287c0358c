"""The monthly usage rollup the invoices read (billing.UsageMonthly), kept by triggers of the daily one.

An invoice run grouped each chunk's month of daily rows (155,000 for 1,000 customers: 60 ms of a chunk's
400 ms, bench_invoices); the monthly rows are 5,000. The triggers work from each statement's rows
(transition tables), so they follow every writer of the daily table: the import's rollup statement (a few
thousand daily rows for 200,000 usage rows), rows matched later, the ORM, a cascade. An update is applied as
its new rows added and its old rows taken away; a monthly row with no daily row left is deleted; a delete
never inserts (a customer's monthly rows may be gone already when a cascade deletes its daily ones).
"""

import django.db.models.deletion
import uuid
from decimal import Decimal
from django.db import migrations, models

KEY = "customer_id, month, cloud_account_id, provider, service_name, currency"
MATCH = " AND ".join(f"m.{c} = d.{c}" for c in KEY.split(", "))


def _grouped(rows: str, sign: str) -> str:
    """The statement's daily rows `rows` summed per monthly key, with `sign`."""
    return f"""SELECT reseller_id, customer_id, date_trunc('month', day)::date AS month, cloud_account_id, provider,
           service_name, currency, {sign}sum(cost) AS cost, {sign}sum(price) AS price,
           {sign}sum(quantity) AS quantity, {sign}count(*) AS day_rows
    FROM {rows} GROUP BY reseller_id, customer_id, date_trunc('month', day), cloud_account_id, provider,
             service_name, currency"""


ADD = f"""
    INSERT INTO billing_usagemonthly (id, reseller_id, {KEY}, cost, price, quantity, day_rows)
    SELECT gen_random_uuid(), reseller_id, {KEY}, cost, price, quantity, day_rows
    FROM ({_grouped("new_rows", "")}) d ORDER BY {KEY}
    ON CONFLICT ON CONSTRAINT usagemonthly_one_row_per_key DO UPDATE
    SET cost = billing_usagemonthly.cost + EXCLUDED.cost, price = billing_usagemonthly.price + EXCLUDED.price,
        quantity = billing_usagemonthly.quantity + EXCLUDED.quantity,
        day_rows = billing_usagemonthly.day_rows + EXCLUDED.day_rows;"""
TAKE_AWAY = f"""
    UPDATE billing_usagemonthly m
    SET cost = m.cost + d.cost, price = m.price + d.price, quantity = m.quantity + d.quantity,
        day_rows = m.day_rows + d.day_rows
    FROM ({_grouped("old_rows", "-")}) d WHERE {MATCH};
    DELETE FROM billing_usagemonthly m USING (
        SELECT DISTINCT customer_id, date_trunc('month', day)::date AS month, cloud_account_id, provider,
               service_name, currency
        FROM old_rows
    ) d WHERE {MATCH} AND m.day_rows <= 0;"""

TRIGGERS_SQL = f"""
CREATE FUNCTION billing_usagedaily_to_monthly() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  -- Nested IFs: a statement naming a transition table the trigger lacks must never be planned.
  IF TG_OP IN ('INSERT', 'UPDATE') THEN{ADD}
  END IF;
  IF TG_OP IN ('UPDATE', 'DELETE') THEN{TAKE_AWAY}
  END IF;
  RETURN NULL;
END $$;

CREATE TRIGGER billing_usagedaily_monthly_insert AFTER INSERT ON billing_usagedaily
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION billing_usagedaily_to_monthly();
CREATE TRIGGER billing_usagedaily_monthly_update AFTER UPDATE ON billing_usagedaily
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION billing_usagedaily_to_monthly();
CREATE TRIGGER billing_usagedaily_monthly_delete AFTER DELETE ON billing_usagedaily
  REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION billing_usagedaily_to_monthly();

INSERT INTO billing_usagemonthly (id, reseller_id, {KEY}, cost, price, quantity, day_rows)
SELECT gen_random_uuid(), reseller_id, {KEY}, cost, price, quantity, day_rows
FROM ({_grouped("billing_usagedaily", "")}) d;
"""

UNDO_SQL = """
DROP TRIGGER IF EXISTS billing_usagedaily_monthly_insert ON billing_usagedaily;
DROP TRIGGER IF EXISTS billing_usagedaily_monthly_update ON billing_usagedaily;
DROP TRIGGER IF EXISTS billing_usagedaily_monthly_delete ON billing_usagedaily;
DROP FUNCTION IF EXISTS billing_usagedaily_to_monthly();
"""


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0003_reseller_document_details"),
        ("billing", "0018_invoiceline_invoice_checked_by_guard"),
        ("customers", "0006_reseller_wide_alerts"),
    ]

    operations = [
        migrations.CreateModel(
            name="UsageMonthly",
            fields=[
                (
                    "id",
                    models.UUIDField(default=uuid.uuid4, editable=False, primary_key=True, serialize=False),
                ),
                ("month", models.DateField(help_text="the first day of the month")),
                ("provider", models.CharField(max_length=10)),
                ("service_name", models.CharField(blank=True, max_length=150)),
                ("currency", models.CharField(max_length=3)),
                ("cost", models.DecimalField(decimal_places=4, default=Decimal("0"), max_digits=24)),
                ("price", models.DecimalField(decimal_places=4, default=Decimal("0"), max_digits=24)),
                ("quantity", models.DecimalField(decimal_places=18, default=Decimal("0"), max_digits=38)),
                ("day_rows", models.BigIntegerField(default=0, help_text="the daily rows summed here")),
                (
                    "cloud_account",
                    models.ForeignKey(
                        db_constraint=False,
                        db_index=False,
                        on_delete=django.db.models.deletion.DO_NOTHING,
                        related_name="+",
                        to="customers.cloudaccount",
                    ),
                ),
                (
                    "customer",
                    models.ForeignKey(
                        db_constraint=False,
                        db_index=False,
                        on_delete=django.db.models.deletion.DO_NOTHING,
                        related_name="+",
                        to="customers.customer",
                    ),
                ),
                (
                    "reseller",
                    models.ForeignKey(
                        editable=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="accounts.reseller",
                    ),
                ),
            ],
            options={
                "ordering": ["-month"],
                "constraints": [
                    models.UniqueConstraint(
                        fields=("customer", "month", "cloud_account", "provider", "service_name", "currency"),
                        name="usagemonthly_one_row_per_key",
                    ),
                    models.CheckConstraint(
                        condition=models.Q(("month__day", 1)), name="usagemonthly_first_day"
                    ),
                ],
            },
        ),
        migrations.RunSQL(TRIGGERS_SQL, UNDO_SQL),
    ]
