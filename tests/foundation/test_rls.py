"""The database backstop (customer360.rls): PostgreSQL row-level security under the tenant scope.

Raw SQL, which the application's scope does not reach, is what these tests use: if the scoping of
customer360.tenancy were skipped, PostgreSQL itself still shows and accepts only the rows of the
reseller in scope.
"""

import datetime
import secrets
import uuid
from decimal import Decimal

import pytest
from django.apps import apps
from django.core.management import call_command
from django.db import connection, transaction
from django.db.utils import DatabaseError
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from billing.models import Invoice, InvoiceLine
from customer360.rls import POLICY, tenant_tables
from customer360.tenancy import TenantModel, platform_scope, tenant_scope
from customers import tasks
from customers.models import Customer, TestDrive

from ..billing.test_invoice_run import world as billing_world
from ..customers.factories_fields import TestDriveFactory
from ..factories import CustomerFactory
from .conftest import build_tenant

pytestmark = pytest.mark.django_db

# Tables with a reseller_id that hold no tenant rows of their own: users sign in before any scope exists.
NOT_TENANT_OWNED = {"accounts_user"}

# A value of each column type, for a row whose other columns do not matter (foreign keys are
# checked at commit, which a test's transaction never reaches).
LITERALS = {
    "uuid": lambda n: f"'{uuid.uuid4()}'::uuid",
    "integer": lambda n: "1",
    "bigint": lambda n: "1",
    "smallint": lambda n: "1",
    "numeric": lambda n: "0",
    "double precision": lambda n: "0",
    "boolean": lambda n: "false",
    "date": lambda n: "current_date",
    "timestamp with time zone": lambda n: "now()",
    "jsonb": lambda n: "'{}'::jsonb",
    "ARRAY": lambda n: "'{}'",
    "interval": lambda n: "'1 day'::interval",
    "bytea": lambda n: "''::bytea",
    "character varying": lambda n: f"'{secrets.token_hex(8)[: n or 16]}'",
    "text": lambda n: f"'{secrets.token_hex(8)}'",
}


def _raw(sql, params=()):
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def _count(table, reseller_id=None):
    where = f" WHERE reseller_id = '{reseller_id}'" if reseller_id else ""
    return _raw(f"SELECT count(*) FROM {table}{where}")[0][0]


def _add_row(table, reseller_id, tenant_owned) -> bool:
    """One row of `table` for the reseller, with a made-up value in every required column and an
    existing row (the reseller's, for tenant tables) behind every required foreign key. False when a
    referenced table has no row yet."""
    columns = _raw(
        """SELECT column_name, data_type, character_maximum_length FROM information_schema.columns
           WHERE table_schema = current_schema() AND table_name = %s AND is_nullable = 'NO'
             AND column_default IS NULL AND column_name NOT IN ('id', 'reseller_id')""",
        [table],
    )
    references = dict(
        _raw(
            """SELECT a.attname, ref.relname FROM pg_constraint c
               JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1]
               JOIN pg_class ref ON ref.oid = c.confrelid
               WHERE c.contype = 'f' AND c.conrelid = %s::regclass""",
            [table],
        )
    )
    names, values = ["id", "reseller_id"], [f"'{uuid.uuid4()}'", f"'{reseller_id}'"]
    for name, data_type, length in columns:
        names.append(name)
        if name in references:
            ref = references[name]
            mine = f" WHERE reseller_id = '{reseller_id}'" if ref in tenant_owned else ""
            values.append(f"(SELECT id FROM {ref}{mine} ORDER BY id LIMIT 1)")
        else:
            values.append(LITERALS[data_type](length))
    try:
        with transaction.atomic():
            _raw(f"INSERT INTO {table} ({', '.join(names)}) SELECT {', '.join(values)} RETURNING 1")
    except DatabaseError as exc:
        if "null value" not in str(exc):
            raise
        return False
    return True


@pytest.fixture
def two_resellers(db):
    """Resellers A and B, each with at least one row in every tenant-owned table."""
    a = build_tenant("RLSA", "rls-a", "a1b2c", Decimal("11.00"))
    b = build_tenant("RLSB", "rls-b", "b3c4d", Decimal("22.00"))
    tables = tenant_tables()
    owned = {t for t, using in tables.items() if "EXISTS" not in using}
    with platform_scope():
        missing = [(t, x.reseller.pk) for t in sorted(owned) for x in (a, b) if not _count(t, x.reseller.pk)]
        while missing:  # in as many passes as foreign keys need
            left = [(t, r) for t, r in missing if not _add_row(t, r, owned)]
            assert len(left) < len(missing), f"no row could be made for {left}"
            missing = left
        for tenant in (a, b):  # a tax profile's rates: the one many-to-many table between tenant rows
            _raw(
                """INSERT INTO billing_taxprofile_rates (taxprofile_id, taxrate_id)
                   SELECT p.id, r.id FROM billing_taxprofile p, billing_taxrate r
                   WHERE p.reseller_id = %s AND r.reseller_id = %s LIMIT 1
                   ON CONFLICT DO NOTHING RETURNING 1""",
                [tenant.reseller.pk, tenant.reseller.pk],
            )
    return a, b, tables


def test_every_tenant_table_is_under_forced_row_level_security():
    tenant_models = [m for m in apps.get_models() if issubclass(m, TenantModel)]
    expected = {m._meta.db_table for m in tenant_models} | {"billing_taxprofile_rates"}
    assert set(tenant_tables()) == expected
    rows = _raw(
        """SELECT c.relname, c.relrowsecurity, c.relforcerowsecurity,
                  EXISTS (SELECT 1 FROM pg_policies p WHERE p.tablename = c.relname AND p.policyname = %s)
           FROM pg_class c WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind = 'r'""",
        [POLICY],
    )
    secured = {name for name, enabled, forced, policy in rows if enabled and forced and policy}
    assert expected - secured == set(), "a tenant table without FORCE ROW LEVEL SECURITY and its policy"
    # Any other table with a reseller column is tenant data the backstop would miss: make it a TenantModel.
    with_reseller = {
        r[0]
        for r in _raw(
            """SELECT table_name FROM information_schema.columns
               WHERE table_schema = current_schema() AND column_name = 'reseller_id'"""
        )
    }
    assert with_reseller - secured - NOT_TENANT_OWNED == set()


def test_raw_sql_as_one_reseller_reads_no_row_of_another_in_any_tenant_table(two_resellers):
    a, b, tables = two_resellers
    with platform_scope():
        totals = {table: _count(table) for table in tables}
        of_a = {t: _count(t, a.reseller.pk) for t, using in tables.items() if "EXISTS" not in using}
        of_a["billing_taxprofile_rates"] = _raw(
            """SELECT count(*) FROM billing_taxprofile_rates x JOIN billing_taxprofile p ON p.id = x.taxprofile_id
               WHERE p.reseller_id = %s""",
            [a.reseller.pk],
        )[0][0]
    assert all(totals[t] > of_a[t] > 0 for t in tables), "every table holds rows of both resellers"
    with tenant_scope(a.reseller):
        visible = {table: _count(table) for table in tables}
    leaked = {t: visible[t] - of_a[t] for t in tables if visible[t] != of_a[t]}
    assert leaked == {}, f"rows leaked: {sum(leaked.values())} in {len(leaked)} of {len(tables)} tables"


def test_raw_sql_cannot_write_another_resellers_rows(two_resellers):
    a, b, _ = two_resellers
    theirs, mine = b.obj(Customer), a.obj(Customer)
    with tenant_scope(a.reseller):
        with connection.cursor() as cursor:
            cursor.execute("UPDATE customers_customer SET name = 'taken' WHERE id = %s", [theirs.pk])
            assert cursor.rowcount == 0
            cursor.execute("DELETE FROM customers_contact WHERE reseller_id = %s", [b.reseller.pk])
            assert cursor.rowcount == 0
        with pytest.raises(DatabaseError, match="row-level security"), transaction.atomic():
            _raw(
                "INSERT INTO customers_customer (id, reseller_id, name) SELECT %s, %s, 'planted' RETURNING 1",
                [uuid.uuid4(), b.reseller.pk],
            )
        with pytest.raises(DatabaseError, match="row-level security"), transaction.atomic():
            _raw("UPDATE customers_customer SET reseller_id = %s WHERE id = %s", [b.reseller.pk, mine.pk])
    with tenant_scope(b.reseller):
        assert Customer.objects.get(pk=theirs.pk).name == theirs.name


def test_with_no_scope_raw_sql_reads_nothing_and_writes_nothing(two_resellers):
    a, b, _ = two_resellers
    with tenant_scope(a.reseller):
        assert _count("customers_customer") > 0  # the connection now carries A's scope...
    assert _count("customers_customer") == 0  # ...and leaving the scope clears it
    assert _count("billing_invoice") == 0
    with pytest.raises(DatabaseError, match="row-level security"), transaction.atomic():
        _raw(
            "INSERT INTO customers_customer (id, reseller_id, name) SELECT %s, %s, 'x' RETURNING 1",
            [uuid.uuid4(), a.reseller.pk],
        )


def test_a_rolled_back_scope_change_is_set_again(two_resellers):
    a, b, _ = two_resellers
    with tenant_scope(a.reseller):
        assert _count("customers_customer", b.reseller.pk) == 0
    with tenant_scope(b.reseller):
        with pytest.raises(RuntimeError), transaction.atomic():
            assert _count("customers_customer", b.reseller.pk) > 0
            raise RuntimeError  # the rollback also undoes B's settings in the session...
        assert _count("customers_customer", b.reseller.pk) > 0  # ...so they are set again


def test_the_scope_setting_is_not_counted_as_a_query(two_resellers):
    a, b, _ = two_resellers
    for reseller in (a.reseller, b.reseller):
        with tenant_scope(reseller), CaptureQueriesContext(connection) as queries:
            assert Customer.objects.count() == 1
        assert len(queries) == 1


def test_the_app_connects_as_a_role_that_neither_owns_the_tables_nor_bypasses_them():
    role, superuser, bypass = _raw(
        "SELECT rolname, rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user"
    )[0]
    assert (superuser, bypass) == (False, False)
    owners = {
        r[0]
        for r in _raw("SELECT tableowner FROM pg_tables WHERE tablename = ANY(%s)", [list(tenant_tables())])
    }
    assert role not in owners and owners


def test_a_celery_task_opens_each_resellers_scope(two_resellers):
    a, b, _ = two_resellers
    today = timezone.localdate()
    drives = [
        TestDriveFactory(
            customer=CustomerFactory(reseller=t.reseller), started_on=today - datetime.timedelta(40)
        )
        for t in (a, b)
    ]
    assert tasks.expire_test_drives.apply(kwargs={"today": today.isoformat()}).get() == 2
    for drive in drives:
        with tenant_scope(drive.reseller_id):
            assert TestDrive.objects.get(pk=drive.pk).status == TestDrive.Status.EXPIRED


def test_a_management_command_opens_each_resellers_scope(reseller, other_reseller, capsys):
    # The invoice run writes its lines with COPY, which row-level security turns into INSERT ... SELECT.
    billing_world(reseller, n=2)
    call_command("generate_invoices", period="2026-10", inline=True)  # every reseller, each in its scope
    assert "2/2 customers, 0 failures" in capsys.readouterr().out
    with tenant_scope(reseller):
        assert Invoice.objects.count() == 2 and InvoiceLine.objects.exists()
    with tenant_scope(other_reseller):
        assert not Invoice.objects.exists()
