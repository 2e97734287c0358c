"""What the invoice run reads and writes, made cheaper (issue 8's benchmark):

* usagedaily_customer_day becomes covering, so a chunk's month of daily usage is grouped from the index
  alone (it read a heap page for nearly every daily row: an import appends each day's rows for every
  customer); the daily table is vacuumed after every 1 % of new rows, so its pages are soon all-visible
  and that read needs no heap page. The customer's own index goes: the covering index and the unique key
  both start with the customer.
* A line's invoice and reseller are checked by one composite foreign key, (invoice_id, reseller_id) ->
  billing_invoice (id, reseller_id), instead of one foreign key each: stronger (a line can't name another
  reseller's invoice) and one check per inserted line instead of two. The reseller index of the lines goes
  (lines are read by invoice; row-level security filters them).
* The guard of a finalized invoice's lines (billing 0005) checks each statement's rows at once, from its
  transition tables, instead of looking up the invoice once per line before it is written: the same
  refusal (same message and error code) for an insert, update or delete touching a finalized invoice's
  lines, at a fraction of the cost of a run's 100,000 line inserts.
"""

import django.db.models.deletion
from django.db import migrations, models

GUARD_SQL = """
DROP TRIGGER IF EXISTS billing_invoiceline_guard ON billing_invoiceline;
DROP FUNCTION IF EXISTS billing_invoiceline_guard();

CREATE FUNCTION billing_invoiceline_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  -- Nested IFs: a statement naming a transition table the trigger lacks must never be planned.
  IF TG_OP IN ('UPDATE', 'DELETE') THEN
    IF EXISTS (SELECT 1 FROM old_lines l JOIN billing_invoice i ON i.id = l.invoice_id WHERE i.status <> 'draft')
    THEN
      RAISE EXCEPTION 'the lines of a finalized invoice never change' USING ERRCODE = 'check_violation';
    END IF;
  END IF;
  IF TG_OP IN ('INSERT', 'UPDATE') THEN
    IF EXISTS (SELECT 1 FROM new_lines l JOIN billing_invoice i ON i.id = l.invoice_id WHERE i.status <> 'draft')
    THEN
      RAISE EXCEPTION 'the lines of a finalized invoice never change' USING ERRCODE = 'check_violation';
    END IF;
  END IF;
  RETURN NULL;
END $$;

CREATE TRIGGER billing_invoiceline_guard_insert AFTER INSERT ON billing_invoiceline
  REFERENCING NEW TABLE AS new_lines FOR EACH STATEMENT EXECUTE FUNCTION billing_invoiceline_guard();
CREATE TRIGGER billing_invoiceline_guard_update AFTER UPDATE ON billing_invoiceline
  REFERENCING OLD TABLE AS old_lines NEW TABLE AS new_lines
  FOR EACH STATEMENT EXECUTE FUNCTION billing_invoiceline_guard();
CREATE TRIGGER billing_invoiceline_guard_delete AFTER DELETE ON billing_invoiceline
  REFERENCING OLD TABLE AS old_lines FOR EACH STATEMENT EXECUTE FUNCTION billing_invoiceline_guard();
"""

ROW_GUARD_SQL = """
DROP TRIGGER IF EXISTS billing_invoiceline_guard_insert ON billing_invoiceline;
DROP TRIGGER IF EXISTS billing_invoiceline_guard_update ON billing_invoiceline;
DROP TRIGGER IF EXISTS billing_invoiceline_guard_delete ON billing_invoiceline;
DROP FUNCTION IF EXISTS billing_invoiceline_guard();

CREATE FUNCTION billing_invoiceline_guard() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  state varchar;
BEGIN
  IF TG_OP IN ('UPDATE', 'DELETE') THEN
    SELECT status INTO state FROM billing_invoice WHERE id = OLD.invoice_id;
    IF state IS NOT NULL AND state <> 'draft' THEN
      RAISE EXCEPTION 'the lines of a finalized invoice never change' USING ERRCODE = 'check_violation';
    END IF;
  END IF;
  IF TG_OP IN ('INSERT', 'UPDATE') THEN
    SELECT status INTO state FROM billing_invoice WHERE id = NEW.invoice_id;
    IF state IS NOT NULL AND state <> 'draft' THEN
      RAISE EXCEPTION 'the lines of a finalized invoice never change' USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
  END IF;
  RETURN OLD;
END $$;

CREATE TRIGGER billing_invoiceline_guard BEFORE INSERT OR UPDATE OR DELETE ON billing_invoiceline
  FOR EACH ROW EXECUTE FUNCTION billing_invoiceline_guard();
"""


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0003_reseller_document_details"),
        ("billing", "0015_usage_row_covering_customer_day"),
        ("customers", "0006_reseller_wide_alerts"),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name="usagedaily",
            name="usagedaily_customer_day",
        ),
        migrations.AlterField(
            model_name="usagedaily",
            name="customer",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="+",
                to="customers.customer",
            ),
        ),
        migrations.AddIndex(
            model_name="usagedaily",
            index=models.Index(
                fields=["customer", "day"],
                include=(
                    "reseller", "currency", "cloud_account", "provider", "service_name", "price", "cost",
                    "quantity",
                ),
                name="usagedaily_customer_day",
            ),  # fmt: skip
        ),
        migrations.RunSQL(
            "ALTER TABLE billing_usagedaily SET (autovacuum_vacuum_insert_scale_factor = 0.01)",
            "ALTER TABLE billing_usagedaily RESET (autovacuum_vacuum_insert_scale_factor)",
        ),
        migrations.RunSQL(GUARD_SQL, ROW_GUARD_SQL),
        migrations.AddConstraint(
            model_name="invoice",
            constraint=models.UniqueConstraint(fields=("id", "reseller"), name="invoice_id_reseller"),
        ),
        migrations.AlterField(
            model_name="invoiceline",
            name="invoice",
            field=models.ForeignKey(
                db_constraint=False,
                db_index=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="lines",
                to="billing.invoice",
            ),
        ),
        migrations.AlterField(
            model_name="invoiceline",
            name="reseller",
            field=models.ForeignKey(
                db_constraint=False,
                db_index=False,
                editable=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="+",
                to="accounts.reseller",
            ),
        ),
        migrations.RunSQL(
            "ALTER TABLE billing_invoiceline ADD CONSTRAINT invoiceline_invoice_of_reseller "
            "FOREIGN KEY (invoice_id, reseller_id) REFERENCES billing_invoice (id, reseller_id) "
            "DEFERRABLE INITIALLY DEFERRED",
            "ALTER TABLE billing_invoiceline DROP CONSTRAINT IF EXISTS invoiceline_invoice_of_reseller",
        ),
    ]
