from django.core.management.commands import migrate

from customer360.rls import as_owner


class Command(migrate.Command):
    """Django's migrate, run as the tables' owner (DATABASE_URL), never as the application's role."""

    def handle(self, *args, **options):
        with as_owner(options["database"]):
            return super().handle(*args, **options)
