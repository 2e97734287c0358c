"""PostgreSQL row-level security: the database's backstop under the tenant scope of customer360.tenancy.

* Every tenant-owned table (each concrete TenantModel, and the many-to-many tables between them) has
  FORCE ROW LEVEL SECURITY and one policy, `tenant_isolation`: a row is visible and writable only when
  its reseller is the one in the session setting `c360.reseller_id`, or when `c360.platform` is `on`.
* The application connects as a role that neither owns the tables nor bypasses RLS (`customer360_app`
  unless DATABASE_APP_USER says otherwise); DATABASE_URL names the owner, used by `migrate` and `flush`.
* The database backend (`customer360.rls.base`) copies the scope of the context variable into those
  settings before each statement, so no scope means no rows.

`secure_tables()` and `grant_app_role()` are idempotent: the migration runs them once, and every
`migrate` runs them again (post_migrate), so a tenant model added later is covered without a new step.
"""

import logging
import os
import uuid
from contextlib import contextmanager

from django.db import DEFAULT_DB_ALIAS, connections

logger = logging.getLogger(__name__)

APP_ROLE = "customer360_app"
POLICY = "tenant_isolation"
RESELLER_SETTING = "c360.reseller_id"
PLATFORM_SETTING = "c360.platform"

# Each setting is read in a scalar subquery, which PostgreSQL evaluates once per statement (an InitPlan):
# bare current_setting() calls would be evaluated for every row (12x slower on a 10,000-row count).
_IN_SCOPE = (
    f"(reseller_id = (SELECT NULLIF(current_setting('{RESELLER_SETTING}', true), '')::uuid)"
    f" OR (SELECT current_setting('{PLATFORM_SETTING}', true) = 'on'))"
)


def app_role_settings() -> dict:
    """USER/PASSWORD of the application's connections; an empty DATABASE_APP_USER keeps the owner."""
    user = os.environ.get("DATABASE_APP_USER", APP_ROLE)
    if not user:
        return {}
    return {"USER": user, "PASSWORD": os.environ.get("DATABASE_APP_PASSWORD", "")}


def tenant_tables(apps=None) -> dict:
    """{table: USING expression} for every table holding tenant rows, from the app registry."""
    from django.apps import apps as global_apps

    from customer360.tenancy import TenantModel

    tables = {}
    for model in (apps or global_apps).get_models(include_auto_created=True):
        meta = model._meta
        if meta.proxy or not meta.managed:
            continue
        if issubclass(model, TenantModel):
            tables[meta.db_table] = _IN_SCOPE
    # Many-to-many tables have no reseller_id: a link is visible when its tenant-owned end is.
    for model in (apps or global_apps).get_models():
        for field in model._meta.local_many_to_many:
            through = field.remote_field.through
            if not through._meta.auto_created or not issubclass(model, TenantModel):
                continue
            owner_column = field.m2m_column_name()
            tables[through._meta.db_table] = (
                f"(EXISTS (SELECT 1 FROM {model._meta.db_table} t WHERE t.id = {owner_column}))"
            )
    return tables


def insecure_tables(connection, tables: dict) -> list:
    """The tables (of those that exist) lacking FORCE RLS or the policy."""
    with connection.cursor() as cursor:
        cursor.execute(
            """SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
               WHERE n.nspname = current_schema() AND c.relkind = 'r' AND c.relname = ANY(%s)
                 AND NOT (c.relrowsecurity AND c.relforcerowsecurity AND EXISTS (
                     SELECT 1 FROM pg_policies p WHERE p.schemaname = n.nspname
                       AND p.tablename = c.relname AND p.policyname = %s))""",
            [list(tables), POLICY],
        )
        return sorted(row[0] for row in cursor.fetchall())


def secure_tables(connection, tables: dict) -> list:
    """FORCE RLS and (re)create the policy on each existing table that lacks them; returns those."""
    todo = insecure_tables(connection, tables)
    with connection.cursor() as cursor:
        for table in todo:
            name = connection.ops.quote_name(table)
            cursor.execute(f"ALTER TABLE {name} ENABLE ROW LEVEL SECURITY")
            cursor.execute(f"ALTER TABLE {name} FORCE ROW LEVEL SECURITY")
            cursor.execute(f"DROP POLICY IF EXISTS {POLICY} ON {name}")
            cursor.execute(
                f"CREATE POLICY {POLICY} ON {name} USING {tables[table]} WITH CHECK {tables[table]}"
            )
    return todo


def unsecure_tables(connection, tables: dict):
    with connection.cursor() as cursor:
        for table in tables:
            cursor.execute("SELECT to_regclass(%s)", [table])
            if cursor.fetchone()[0] is None:
                continue
            name = connection.ops.quote_name(table)
            cursor.execute(f"DROP POLICY IF EXISTS {POLICY} ON {name}")
            cursor.execute(f"ALTER TABLE {name} NO FORCE ROW LEVEL SECURITY")
            cursor.execute(f"ALTER TABLE {name} DISABLE ROW LEVEL SECURITY")


def grant_app_role(connection):
    """Create the application role when missing and give it the data (never the schema) of every table.

    Run by the owner at each migrate: roles belong to the cluster, grants to this database. The role
    gets CREATE on the schema only for the usage imports' staging tables (its own, dropped after use).
    """
    role = connection.settings_dict.get("C360_APP", {}).get("USER")
    owner = connection.settings_dict.get("C360_OWNER", {}).get("USER")
    if not role or role == owner:
        return
    quote = connection.ops.quote_name
    password = connection.settings_dict["C360_APP"].get("PASSWORD")
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [role])
        if cursor.fetchone() is None:
            cursor.execute(f"CREATE ROLE {quote(role)} LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE")
        if password:
            cursor.execute(f"ALTER ROLE {quote(role)} PASSWORD %s", [password])
        cursor.execute("SELECT current_database(), current_schema()")
        database, schema = cursor.fetchone()
        cursor.execute(f"GRANT CONNECT, TEMPORARY ON DATABASE {quote(database)} TO {quote(role)}")
        cursor.execute(f"GRANT USAGE, CREATE ON SCHEMA {quote(schema)} TO {quote(role)}")
        cursor.execute(
            f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {quote(schema)} TO {quote(role)}"
        )
        cursor.execute(f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {quote(schema)} TO {quote(role)}")
        cursor.execute(
            f"ALTER DEFAULT PRIVILEGES IN SCHEMA {quote(schema)} "
            f"GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {quote(role)}"
        )
        cursor.execute(
            f"ALTER DEFAULT PRIVILEGES IN SCHEMA {quote(schema)} GRANT USAGE, SELECT ON SEQUENCES TO {quote(role)}"
        )


# PostgreSQL evaluates a query's own conditions after the policy unless their functions are LEAKPROOF, so
# under RLS `upper(name) LIKE '%harbor%'` (Django's icontains) cannot use the trigram index and scans the
# reseller's rows: 82 ms instead of 14 ms at 200,000 customers. These functions raise no error and have
# no side effect that depends on a row's value, so marking them leakproof reveals nothing; only a
# superuser may (CI, the embedded server and docker compose migrate as one; elsewhere a DBA can).
LEAKPROOF_FUNCTIONS = [
    "pg_catalog.upper(text)",
    "pg_catalog.textlike(text, text)",
    "pg_catalog.textnlike(text, text)",
]


def mark_leakproof(connection) -> bool:
    """Mark the search functions LEAKPROOF when the migrating role may; False when it may not."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT bool_and(proleakproof) FROM pg_proc WHERE oid = ANY(%s::regprocedure[])",
            [LEAKPROOF_FUNCTIONS],
        )
        if cursor.fetchone()[0]:
            return True
        cursor.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
        if not cursor.fetchone()[0]:
            logger.warning(
                "customer360: searches are slower under row-level security until a superuser runs "
                "ALTER FUNCTION ... LEAKPROOF for %s",
                ", ".join(LEAKPROOF_FUNCTIONS),
            )
            return False
        for function in LEAKPROOF_FUNCTIONS:
            cursor.execute(f"ALTER FUNCTION {function} LEAKPROOF")
    return True


def connect_as(connection, which: str):
    """Point the connection at the owner ("C360_OWNER") or the app role ("C360_APP"); reconnects lazily."""
    wanted = connection.settings_dict.get(which)
    if not wanted or all(connection.settings_dict.get(k) == v for k, v in wanted.items()):
        return False
    if connection.in_atomic_block:
        raise RuntimeError(f"cannot switch {connection.alias} to {which} inside a transaction")
    connection.close()
    connection.settings_dict.update(wanted)
    return True


@contextmanager
def as_owner(using=DEFAULT_DB_ALIAS):
    """Run the block as the tables' owner (migrate, flush, demo reseeding). Inside a transaction (a
    test's) the connection cannot change, so the block runs as it is."""
    connection = connections[using]
    switched = not connection.in_atomic_block and connect_as(connection, "C360_OWNER")
    try:
        yield
    finally:
        if switched:
            connect_as(connection, "C360_APP")


def apply_scope(connection):
    """Carry the tenant scope into the session now: for code that runs SQL on the driver's own cursor."""
    connection.ensure_connection()
    if hasattr(connection, "apply_scope"):
        connection.apply_scope()


@contextmanager
def copy_from_stdin(cursor, table: str, columns):
    """`with copy_from_stdin(cursor, table, columns) as copy: copy.write_row(...)`: COPY ... FROM STDIN
    into a tenant table. PostgreSQL refuses COPY FROM into a table whose row-level security applies to
    the session's role, so there the rows go to a temporary table first and then in with one
    INSERT ... SELECT, which the policy checks. `cursor` is Django's: the tenant scope is applied first."""
    apply_scope(cursor.db)
    cursor = cursor.cursor  # the driver's, which has copy()
    names = ", ".join(columns)
    cursor.execute("SELECT row_security_active(%s)", [table])
    if not cursor.fetchone()[0]:
        with cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
            yield copy
        return
    stage = f"c360_copy_{uuid.uuid4().hex[:16]}"
    cursor.execute(f"CREATE TEMP TABLE {stage} AS SELECT {names} FROM {table} WITH NO DATA")
    with cursor.copy(f"COPY {stage} ({names}) FROM STDIN") as copy:
        yield copy
    # On an error the temporary table is left to the rollback or the session's end (its name is unique).
    cursor.execute(f"INSERT INTO {table} ({names}) SELECT {names} FROM {stage}")
    cursor.execute(f"DROP TABLE {stage}")
