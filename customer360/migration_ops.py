"""A migration operation for database objects that need a PostgreSQL extension.

Server packages of PostgreSQL ship the contrib extensions (pg_trgm, btree_gist); the embedded
development server (pgserver) does not. Objects wrapped here are created where the extension exists
and skipped elsewhere, while Django's migration state always includes them. Wrap only objects whose
absence costs speed or a database-level backstop (a service check enforces the same rule), never
behaviour.
"""

from django.db.migrations.operations.base import Operation


def extension_available(connection, name: str) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_available_extensions WHERE name = %s", [name])
        return cursor.fetchone() is not None


class WithExtension(Operation):
    reversible = True

    def __init__(self, extension, operation):
        self.extension = extension
        self.operation = operation

    def deconstruct(self):
        return (self.__class__.__qualname__, [self.extension, self.operation], {})

    def state_forwards(self, app_label, state):
        self.operation.state_forwards(app_label, state)

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if extension_available(schema_editor.connection, self.extension):
            schema_editor.execute(f'CREATE EXTENSION IF NOT EXISTS "{self.extension}"')
            self.operation.database_forwards(app_label, schema_editor, from_state, to_state)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        if extension_available(schema_editor.connection, self.extension):
            self.operation.database_backwards(app_label, schema_editor, from_state, to_state)

    def describe(self):
        return f"{self.operation.describe()} (where {self.extension} is available)"
