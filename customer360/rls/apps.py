from django.apps import AppConfig
from django.db.models.signals import post_migrate


class RowSecurityConfig(AppConfig):
    name = "customer360.rls"
    label = "rls"
    verbose_name = "Row-level security"

    def ready(self):
        post_migrate.connect(secure_after_migrate, sender=self)


def secure_after_migrate(using, apps=None, **kwargs):
    """Every migrate (and flush) ends with every tenant table secured and granted to the app role, so a
    tenant model added by a later migration is covered with no step of its own."""
    from django.db import connections

    from . import grant_app_role, mark_leakproof, secure_tables, tenant_tables

    connection = connections[using]
    secure_tables(connection, tenant_tables())
    grant_app_role(connection)
    mark_leakproof(connection)
