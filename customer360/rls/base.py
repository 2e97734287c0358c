"""PostgreSQL backend that carries the tenant scope into the session before each statement.

The policies read `c360.reseller_id` / `c360.platform`; this wrapper sets them from the context
variable of customer360.tenancy whenever they differ from what the session last received: before
every execute (an execute wrapper) and when a cursor is made (COPY does not go through execute). The
set_config runs on the driver's cursor, so Django's query logging and assertNumQueries do not see it.
A rollback may undo a set_config, so after one the session's state counts as unknown.
"""

from django.db.backends.postgresql import base
from psycopg.pq import TransactionStatus

from . import PLATFORM_SETTING, RESELLER_SETTING

INERROR = TransactionStatus.INERROR

_UNKNOWN = object()


class DatabaseWrapper(base.DatabaseWrapper):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._session_scope = _UNKNOWN
        self.execute_wrappers.append(self._scope_wrapper)

    def get_new_connection(self, conn_params):
        connection = super().get_new_connection(conn_params)
        self._session_scope = None  # a new session has neither setting: no rows
        return connection

    def create_cursor(self, name=None):
        self.apply_scope()
        return super().create_cursor(name)

    def _scope_wrapper(self, execute, sql, params, many, context):
        self.apply_scope()
        return execute(sql, params, many, context)

    def apply_scope(self):
        from customer360 import tenancy  # not at import: tenancy defines a model, which needs a connection

        scope = tenancy._scope.get()
        if scope == self._session_scope or self.connection is None:
            return
        if self.connection.info.transaction_status == INERROR:
            return  # the statement fails anyway, with its own error; the rollback makes the scope unknown
        platform = scope == tenancy._PLATFORM
        reseller = "" if scope is None or platform else str(scope)
        with self.wrap_database_errors, self.connection.cursor() as cursor:
            cursor.execute(
                "SELECT set_config(%s, %s, false), set_config(%s, %s, false)",
                [RESELLER_SETTING, reseller, PLATFORM_SETTING, "on" if platform else ""],
            )
        self._session_scope = scope

    def _rollback(self):
        try:
            return super()._rollback()
        finally:
            self._session_scope = _UNKNOWN

    def _savepoint_rollback(self, sid):
        try:  # the ROLLBACK TO SAVEPOINT itself must not try to set the scope in the failed transaction
            return super()._savepoint_rollback(sid)
        finally:
            self._session_scope = _UNKNOWN
