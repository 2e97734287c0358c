from django.core.management.commands import flush

from customer360.rls import as_owner


class Command(flush.Command):
    """Django's flush (TRUNCATE, which row-level security does not cover), run as the tables' owner:
    the application's role has no TRUNCATE."""

    def handle(self, *args, **options):
        with as_owner(options["database"]):
            return super().handle(*args, **options)
