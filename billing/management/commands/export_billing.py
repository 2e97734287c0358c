"""python manage.py export_billing --reseller SLUG [--customer NAME] --period 2026-10
    --format csv|csv.gz|parquet --basis cost|resale --out PATH_OR_URL [--provider aws ...] [--endpoint-url URL]

--out is a local folder, s3://bucket/prefix, gs://bucket/prefix or azure://account/container/prefix. The
credentials come from the environment, as the providers' own tools take them: AWS_ACCESS_KEY_ID /
AWS_SECRET_ACCESS_KEY (or any boto3 credential source), GOOGLE_APPLICATION_CREDENTIALS, AZURE_STORAGE_KEY
or AZURE_STORAGE_CONNECTION_STRING. The files are laid out as the app's exports are:
<prefix>/BILLING_PERIOD=2026-10/part-00000.<format> and <prefix>/BILLING_PERIOD=2026-10/_manifest.json.
"""

import os
import shutil
import time
from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.files.storage import FileSystemStorage
from django.core.management.base import BaseCommand, CommandError

from accounts.models import Reseller
from billing.exports.crypto import encrypt_credentials
from billing.exports.destinations import explain, storage_for
from billing.exports.runner import Spec, write_export
from billing.exports.services import period_of
from billing.invoice_run import parse_period
from billing.models_exports import BillingExport, ExportFormat, PriceBasis
from customer360.tenancy import tenant_scope
from customers.models import Customer


def remote_export(out: str, endpoint_url: str, region: str) -> tuple[BillingExport, str]:
    """An unsaved export describing the storage URL `out` (credentials from the environment)."""
    scheme, rest = out.split("://", 1)
    parts = rest.split("/")
    env = os.environ
    if scheme == "s3":
        settings = {
            "bucket": parts[0],
            "endpoint_url": endpoint_url,
            "region": region or env.get("AWS_DEFAULT_REGION", ""),
        }
        secrets = {
            "access_key_id": env.get("AWS_ACCESS_KEY_ID", ""),
            "secret_access_key": env.get("AWS_SECRET_ACCESS_KEY", ""),
        }
        kind, prefix = "s3", "/".join(parts[1:])
    elif scheme == "gs":
        key = env.get("GOOGLE_APPLICATION_CREDENTIALS", "")
        settings = {"bucket": parts[0], "endpoint_url": endpoint_url}
        secrets = {"service_account_json": Path(key).read_text() if key else ""}
        kind, prefix = "gcs", "/".join(parts[1:])
    elif scheme == "azure":
        if len(parts) < 2:
            raise CommandError("Write an Azure destination as azure://account/container/prefix.")
        settings = {"account_name": parts[0], "container": parts[1], "endpoint_url": endpoint_url}
        secrets = {"account_key": env.get("AZURE_STORAGE_KEY", ""),
                   "connection_string": env.get("AZURE_STORAGE_CONNECTION_STRING", "")}  # fmt: skip
        kind, prefix = "azure", "/".join(parts[2:])
    else:
        raise CommandError(f"Unknown storage URL scheme {scheme}://: use a folder, s3://, gs:// or azure://.")
    export = BillingExport(name=f"export_billing {out}", destination=kind, settings=settings)
    export.credentials = encrypt_credentials(secrets)
    return export, prefix.strip("/")


class Command(BaseCommand):
    help = "Export a reseller's detailed billing data (FOCUS 1.2) to a folder or a storage bucket."

    def add_arguments(self, parser):
        parser.add_argument("--reseller", required=True, help="the reseller's slug")
        parser.add_argument(
            "--customer", default="", help="one customer's exact name (default: all customers)"
        )
        parser.add_argument("--period", help="the billing month, YYYY-MM (default: last month)")
        parser.add_argument("--format", default="parquet", choices=ExportFormat.values)
        parser.add_argument("--basis", default="resale", choices=PriceBasis.values)
        parser.add_argument(
            "--provider", action="append", default=[], help="repeat for several; default: all"
        )
        parser.add_argument("--out", required=True, help="a folder, s3://bucket/prefix, gs://bucket/prefix or "
                            "azure://account/container/prefix")  # fmt: skip
        parser.add_argument("--endpoint-url", default="", help="an S3-compatible endpoint, or an emulator's")
        parser.add_argument("--region", default="", help="the S3 bucket's region")

    def handle(self, *args, **opts):
        reseller = Reseller.objects.filter(slug=opts["reseller"]).first()
        if reseller is None:
            raise CommandError(f"No reseller has the slug {opts['reseller']!r}.")
        with tenant_scope(reseller):
            customer = None
            if opts["customer"]:
                customer = Customer.objects.filter(name__iexact=opts["customer"]).first()
                if customer is None:
                    raise CommandError(f"{reseller.name} has no customer named {opts['customer']!r}.")
            if opts["period"]:
                try:
                    month = parse_period(opts["period"])
                except ValidationError as exc:
                    raise CommandError(f"--period: {' '.join(exc.messages)}") from exc
                start, end = period_of(BillingExport(period_kind="month", month=month))
            else:
                start, end = period_of(BillingExport(period_kind="last_month"))
            spec = Spec(
                reseller_id=reseller.pk, start=start, end=end, format=opts["format"], basis=opts["basis"],
                customer_id=customer.pk if customer else None, providers=tuple(opts["provider"]),
                name=f"export_billing {reseller.slug}",
            )  # fmt: skip
            self._run(spec, opts)

    def _run(self, spec: Spec, opts):
        out = opts["out"]
        if "://" in out:
            export, prefix = remote_export(out, opts["endpoint_url"], opts["region"])
            export.reseller_id = spec.reseller_id
            storage, scratch = storage_for(export), Path(FileSystemStorage().location) / "exports" / ".tmp"
        else:
            export, prefix = None, ""
            Path(out).mkdir(parents=True, exist_ok=True)
            storage, scratch = FileSystemStorage(location=out, allow_overwrite=True), Path(out) / ".c360-tmp"
        scratch.mkdir(parents=True, exist_ok=True)
        began = time.monotonic()
        try:
            result = write_export(spec, storage, prefix, scratch)
        except Exception as exc:
            if export is None or isinstance(exc, CommandError):
                raise
            raise CommandError(explain(exc, export)) from exc
        finally:
            if export is None:
                shutil.rmtree(scratch, ignore_errors=True)
        seconds = max(time.monotonic() - began, 1e-9)
        self.stdout.write(self.style.SUCCESS(
            f"Exported {result.rows:,} rows ({spec.start:%Y-%m-%d} to {spec.end:%Y-%m-%d}, {spec.format}, "
            f"{spec.basis} basis) in {seconds:.1f} s ({result.rows / seconds:,.0f} rows/s), {result.bytes:,} bytes:"
        ))  # fmt: skip
        for entry in result.files:
            self.stdout.write(f"  {entry['path']}  {entry['rows']:,} rows  sha256 {entry['sha256']}")
        for manifest in result.manifests:
            self.stdout.write(f"  {manifest}")
