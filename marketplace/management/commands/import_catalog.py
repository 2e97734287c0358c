"""python manage.py import_catalog FILE: load providers, products, plans and add-ons (docs/catalog-format.md)."""

from django.core.management.base import BaseCommand, CommandError

from marketplace.importer import RECORDS, import_file


class Command(BaseCommand):
    help = (
        "Load catalog records from a CSV, JSON or JSON Lines file (see docs/catalog-format.md). Every row is "
        "validated; if any is refused, each error is printed as 'line N: field: message' and nothing is imported."
    )

    def add_arguments(self, parser):
        parser.add_argument("file")
        parser.add_argument("--dry-run", action="store_true", help="validate only; import nothing")

    def handle(self, *args, file, dry_run, **opts):
        result = import_file(file, dry_run=dry_run)
        if not result.ok:
            for line in result.errors:
                self.stderr.write(line)
            raise CommandError(f"{len(result.errors)} error(s) in {file}; nothing was imported.")
        counts = ", ".join(
            f"{kind}s: {result.created[kind]} new, {result.updated[kind]} updated" for kind in RECORDS
        )
        verb = "Would import" if dry_run else "Imported"
        self.stdout.write(self.style.SUCCESS(f"{verb} {file}: {counts}."))
