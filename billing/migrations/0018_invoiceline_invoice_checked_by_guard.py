"""A line's invoice is checked by the lines' statement guard alone; the guard probes each invoice and source
once per statement, not once per line.

The foreign key billing_invoiceline.invoice_id -> billing_invoice checked each inserted line at commit, one
look-up a line (45 ms of a 1,000-customer chunk's 450 ms, bench_invoices), though the guard (0017) already
refuses a line whose invoice the statement can't see or that is another reseller's. What else the key held
is now held by triggers of billing_invoice:
* an invoice with lines can't be deleted (Django deletes an invoice's lines first, as the key's CASCADE
  did: they are gone by the time the invoice is); checked after each DELETE statement, not at commit;
* an invoice keeps its id (and, as before, its reseller).

The guard's look-ups: each statement's distinct invoices and sources (a run's chunk writes 11,000 lines for
1,000 invoices and 1,000 cloud accounts), each found by its primary key alone and its reseller compared
after (a look-up by id and reseller could take the reseller's index: 135 credits cost 5 ms that way).
"""

import importlib

import django.db.models.deletion
from django.db import migrations, models

SOURCES = importlib.import_module("billing.migrations.0017_invoiceline_keys").SOURCES

SOURCE_CHECKS = "\n      UNION ALL\n".join(
    f"      SELECT 1 FROM (SELECT DISTINCT {column} AS ref, reseller_id FROM new_lines"
    f" WHERE {column} IS NOT NULL) l\n        LEFT JOIN {table} x ON x.id = l.ref"
    "\n       WHERE x.id IS NULL OR x.reseller_id <> l.reseller_id"
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
    IF EXISTS (
      SELECT 1 FROM (SELECT DISTINCT invoice_id FROM old_lines) l JOIN billing_invoice i ON i.id = l.invoice_id
       WHERE i.status <> 'draft'
    ) THEN
      RAISE EXCEPTION 'the lines of a finalized invoice never change' USING ERRCODE = 'check_violation';
    END IF;
  END IF;
  IF TG_OP IN ('INSERT', 'UPDATE') THEN
    SELECT count(*) FILTER (WHERE i.status <> 'draft'),
           count(*) FILTER (WHERE i.id IS NULL OR i.reseller_id <> l.reseller_id)
      INTO finalized, foreign_invoice
      FROM (SELECT DISTINCT invoice_id, reseller_id FROM new_lines) l
      LEFT JOIN billing_invoice i ON i.id = l.invoice_id;
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

CREATE FUNCTION billing_invoice_keeps_lines() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF EXISTS (SELECT 1 FROM gone_invoices o JOIN billing_invoiceline l ON l.invoice_id = o.id) THEN
    RAISE EXCEPTION 'an invoice with lines can''t be deleted: its lines go first'
      USING ERRCODE = 'foreign_key_violation';
  END IF;
  RETURN NULL;
END $$;

CREATE TRIGGER billing_invoice_keeps_lines AFTER DELETE ON billing_invoice
  REFERENCING OLD TABLE AS gone_invoices FOR EACH STATEMENT EXECUTE FUNCTION billing_invoice_keeps_lines();

CREATE FUNCTION billing_invoice_keeps_id() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'an invoice keeps its id' USING ERRCODE = 'check_violation';
END $$;

CREATE TRIGGER billing_invoice_keeps_id BEFORE UPDATE OF id ON billing_invoice
  FOR EACH ROW WHEN (OLD.id IS DISTINCT FROM NEW.id) EXECUTE FUNCTION billing_invoice_keeps_id();
"""

UNDO_SQL = """
DROP TRIGGER IF EXISTS billing_invoice_keeps_lines ON billing_invoice;
DROP FUNCTION IF EXISTS billing_invoice_keeps_lines();
DROP TRIGGER IF EXISTS billing_invoice_keeps_id ON billing_invoice;
DROP FUNCTION IF EXISTS billing_invoice_keeps_id();
"""


def _previous_guard() -> str:
    """0017's guard function (its triggers stay as they are)."""
    sql = importlib.import_module("billing.migrations.0017_invoiceline_keys").GUARD_SQL
    return sql[: sql.index("CREATE FUNCTION billing_invoice_keeps_reseller")]


class Migration(migrations.Migration):
    dependencies = [
        ("billing", "0017_invoiceline_keys"),
    ]

    operations = [
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
        migrations.RunSQL(GUARD_SQL, UNDO_SQL + _previous_guard()),
    ]
