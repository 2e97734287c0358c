"""python manage.py import_usage FILE --reseller SLUG [--provider aws|azure|gcp] [--queue]"""

from django.core.files import File
from django.core.management.base import BaseCommand, CommandError

from accounts.models import Reseller
from billing.ingest import run_import
from billing.models_usage import UsageImport
from billing.services_usage import IMPORT_PROVIDERS, do_create_import, unmatched_accounts
from customer360.tenancy import tenant_scope


class Command(BaseCommand):
    help = "Import a FOCUS cost-and-usage file (CSV, CSV.gz or Parquet) for one reseller."

    def add_arguments(self, parser):
        parser.add_argument("file")
        parser.add_argument("--reseller", required=True, help="the slug of the reseller the file belongs to")
        parser.add_argument("--provider", default="", choices=[p for p, _ in IMPORT_PROVIDERS if p])
        parser.add_argument(
            "--queue", action="store_true", help="queue the Celery task instead of importing now"
        )

    def handle(self, *args, file, reseller, provider, queue, **opts):
        owner = Reseller.objects.filter(slug=reseller).first()
        if owner is None:
            raise CommandError(f"No reseller has the slug {reseller!r}.")
        try:
            handle = open(file, "rb")
        except OSError as exc:
            raise CommandError(f"Cannot open {file}: {exc}") from exc
        with tenant_scope(owner), handle:
            record = do_create_import(
                None, file=File(handle), name=file.rsplit("/", 1)[-1], provider=provider, queue=queue
            )
            if queue:
                self.stdout.write(f"Queued import {record.pk}.")
                return
            record = run_import(record)
            if record.status == UsageImport.Status.FAILED:
                raise CommandError(f"Import {record.pk} failed:\n{record.error}")
            self.stdout.write(
                self.style.SUCCESS(
                    f"Imported {record.original_name} (FOCUS {record.focus_version}): {record.rows_read:,} rows "
                    f"read, {record.rows_new:,} new ({record.rows_duplicate:,} already imported), "
                    f"{record.rows_matched:,} matched, {record.rows_unmatched:,} unmatched."
                )
            )
            for account in unmatched_accounts(record)[:20]:
                self.stdout.write(
                    f"  unmatched: {account['provider']} {account['sub_account_id']} ({account['rows']} rows)"
                )
