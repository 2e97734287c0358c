"""A line's invoice is a plain foreign key again; its reseller and its sources are checked by the lines'
statement guard.

0016's composite foreign key (invoice_id, reseller_id) -> billing_invoice (id, reseller_id) made PostgreSQL
look each line's invoice up by both columns. On an invoice table whose statistics say it is empty (a new
database, or one whose invoices were all just deleted and vacuumed) the planner picks the reseller index
for that look-up and keeps the plan for the session: every line of an invoice run then scanned all of the
reseller's invoices of the transaction (0.38 s of a 1,000-customer chunk's 0.5 s, bench_invoices). A key
on the primary key is an index probe whatever the statistics.

The five source references (subscription, license change, cloud account, charge item, credit) lose their
per-row foreign keys: five trigger events a line, a tenth of a chunk's time. PROTECT stays Django's (no
application path deletes a source an invoice names; billing.services_charges locks the customer first, so
a charge item can't go while a run writes its lines). What the keys held at insert, the lines' guard now
checks from each statement's rows at once, with the finalized-invoice check:
* a line names an invoice of its own reseller: under a reseller's scope another reseller's rows are
  invisible (row-level security), so a line whose invoice the statement can't see is refused; with every
  row visible (platform scope, the owner) the resellers are compared;
* each source a line names exists and is of the line's reseller (the same way).
An invoice's reseller never changes (a trigger of its own), so a line can't be left behind.
"""

import importlib

import django.db.models.deletion
from django.db import migrations, models

# A line's sources (billing.InvoiceLine): each one named must exist and be of the line's reseller.
SOURCES = [
    ("subscription_id", "marketplace_subscription"), ("license_charge_id", "marketplace_licensecharge"),
    ("cloud_account_id", "customers_cloudaccount"), ("charge_item_id", "billing_chargeitem"),
    ("credit_id", "billing_credit"),
]  # fmt: skip
MODELS = {
    "marketplace_subscription": "marketplace.subscription", "marketplace_licensecharge": "marketplace.licensecharge",
    "customers_cloudaccount": "customers.cloudaccount", "billing_chargeitem": "billing.chargeitem",
    "billing_credit": "billing.credit",
}  # fmt: skip
SOURCE_CHECKS = "\n      UNION ALL\n".join(
    f"      SELECT 1 FROM new_lines l LEFT JOIN {table} x ON x.id = l.{column} AND x.reseller_id = l.reseller_id"
    f"\n       WHERE l.{column} IS NOT NULL AND x.id IS NULL"
    for column, table in SOURCES
)

GUARD_SQL = f"""
CREATE OR REPLACE FUNCTION billing_invoiceline_guard() RETURNS trigger LANGUAGE plpgsql
-- Its statements look up the rows of one statement: probing the indexes for them costs what the statement
-- writes, where a hash join would read all of the reseller's invoices, subscriptions or accounts each time;
-- and compiling such small statements (JIT) took longer than running them.
SET enable_hashjoin = off SET enable_mergejoin = off SET jit = off AS $$
DECLARE
  finalized bigint;
  foreign_invoice bigint;
  foreign_source bigint;
BEGIN
  -- Nested IFs: a statement naming a transition table the trigger lacks must never be planned.
  IF TG_OP IN ('UPDATE', 'DELETE') THEN
    IF EXISTS (SELECT 1 FROM old_lines l JOIN billing_invoice i ON i.id = l.invoice_id WHERE i.status <> 'draft')
    THEN
      RAISE EXCEPTION 'the lines of a finalized invoice never change' USING ERRCODE = 'check_violation';
    END IF;
  END IF;
  IF TG_OP IN ('INSERT', 'UPDATE') THEN
    SELECT count(*) FILTER (WHERE i.status <> 'draft'),
           count(*) FILTER (WHERE i.id IS NULL OR i.reseller_id <> l.reseller_id)
      INTO finalized, foreign_invoice
      FROM new_lines l LEFT JOIN billing_invoice i ON i.id = l.invoice_id;
    IF finalized > 0 THEN
      RAISE EXCEPTION 'the lines of a finalized invoice never change' USING ERRCODE = 'check_violation';
    END IF;
    IF foreign_invoice > 0 THEN
      RAISE EXCEPTION 'an invoice line belongs to an invoice of its own reseller'
        USING ERRCODE = 'foreign_key_violation';
    END IF;
    -- One anti-join a source (a join of them all, one line at a time, was planned far worse).
    SELECT count(*) INTO foreign_source FROM (
{SOURCE_CHECKS}
    ) missing;
    IF foreign_source > 0 THEN
      RAISE EXCEPTION 'an invoice line names a source of its own reseller that exists'
        USING ERRCODE = 'foreign_key_violation';
    END IF;
  END IF;
  RETURN NULL;
END $$;

CREATE FUNCTION billing_invoice_keeps_reseller() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'an invoice stays with its reseller' USING ERRCODE = 'check_violation';
END $$;

CREATE TRIGGER billing_invoice_keeps_reseller BEFORE UPDATE OF reseller_id ON billing_invoice
  FOR EACH ROW WHEN (OLD.reseller_id IS DISTINCT FROM NEW.reseller_id)
  EXECUTE FUNCTION billing_invoice_keeps_reseller();
"""

UNDO_SQL = """
DROP TRIGGER IF EXISTS billing_invoice_keeps_reseller ON billing_invoice;
DROP FUNCTION IF EXISTS billing_invoice_keeps_reseller();
"""

COMPOSITE_KEY = (
    "ALTER TABLE billing_invoiceline ADD CONSTRAINT invoiceline_invoice_of_reseller "
    "FOREIGN KEY (invoice_id, reseller_id) REFERENCES billing_invoice (id, reseller_id) "
    "DEFERRABLE INITIALLY DEFERRED"
)


def _previous_guard() -> str:
    """0016's guard (the function only: its triggers stay as they are)."""
    sql = importlib.import_module("billing.migrations.0016_invoice_run_reads_and_guard").GUARD_SQL
    return sql[sql.index("CREATE FUNCTION") : sql.index("CREATE TRIGGER")].replace(
        "CREATE FUNCTION", "CREATE OR REPLACE FUNCTION", 1
    )


class Migration(migrations.Migration):
    dependencies = [
        ("billing", "0016_invoice_run_reads_and_guard"),
    ]

    operations = [
        migrations.RunSQL(
            "ALTER TABLE billing_invoiceline DROP CONSTRAINT IF EXISTS invoiceline_invoice_of_reseller",
            COMPOSITE_KEY,
        ),
        migrations.RemoveConstraint(
            model_name="invoice",
            name="invoice_id_reseller",
        ),
        migrations.AlterField(
            model_name="invoiceline",
            name="invoice",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="lines",
                to="billing.invoice",
            ),
        ),
        *[
            migrations.AlterField(
                model_name="invoiceline",
                name=column.removesuffix("_id"),
                field=models.ForeignKey(
                    blank=True,
                    db_constraint=False,
                    db_index=False,
                    null=True,
                    on_delete=django.db.models.deletion.PROTECT,
                    related_name="+",
                    to=MODELS[table],
                ),
            )
            for column, table in SOURCES
        ],
        migrations.RunSQL(GUARD_SQL, UNDO_SQL + _previous_guard()),
    ]
