"""Billing exports: define and change one, start a run (by hand, from the schedule, from the command
line), run it with its progress and outcome, the schedule. Views, tasks and the export_billing command
call these.

A failed run keeps the provider's error in plain words (destinations.explain, secrets scrubbed), raises
an alert (customers.Alert "Export failed") and is retried at the export's next scheduled time.
"""

import calendar
import logging
from datetime import date, datetime, time, timedelta

import psycopg
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import Sum
from django.shortcuts import get_object_or_404
from django.utils import timezone

from customer360.tenancy import current_reseller_id
from customers.activity import record_activity
from customers.models import Alert, Customer
from customers.services import do_raise_alert

from ..models_exports import BillingExport, DestinationKind, ExportRun, PeriodKind, Schedule
from ..models_usage import UsageDaily
from .crypto import encrypt_credentials
from .destinations import explain, scratch_dir, storage_for
from .runner import Spec, write_export

logger = logging.getLogger(__name__)

# The non-secret settings and the credentials each destination takes (form field names).
DESTINATION_SETTINGS = {
    DestinationKind.DOWNLOAD: ("prefix",),
    DestinationKind.S3: ("bucket", "prefix", "region", "endpoint_url"),
    DestinationKind.GCS: ("bucket", "prefix", "project", "endpoint_url"),
    DestinationKind.AZURE: ("account_name", "container", "prefix", "endpoint_url"),
}
DESTINATION_SECRETS = {
    DestinationKind.DOWNLOAD: (),
    DestinationKind.S3: ("access_key_id", "secret_access_key"),
    DestinationKind.GCS: ("service_account_json",),
    DestinationKind.AZURE: ("account_key", "connection_string"),
}
REQUIRED_SETTINGS = {
    DestinationKind.S3: ("bucket",),
    DestinationKind.GCS: ("bucket",),
    DestinationKind.AZURE: ("account_name", "container"),
}
EXPORT_FIELDS = ("name", "customer", "period_kind", "month", "providers", "cloud_account_ids", "format",
                 "basis", "destination", "settings", "schedule")  # fmt: skip


def access_export(export_id) -> BillingExport:
    return get_object_or_404(BillingExport.objects.select_related("customer"), pk=export_id)


def customer_of(export: BillingExport):
    """The export's customer, read through the scoped manager (never another reseller's)."""
    return Customer.objects.filter(pk=export.customer_id).first() if export.customer_id else None


def access_run(run_id) -> ExportRun:
    return get_object_or_404(ExportRun.objects.select_related("export", "export__customer"), pk=run_id)


# --- Periods and the schedule ---------------------------------------------------------------------------


def period_of(export: BillingExport, today: date | None = None) -> tuple[date, date]:
    """The days a run made today exports."""
    today = today or timezone.localdate()
    first = today.replace(day=1)
    if export.period_kind == PeriodKind.MONTH:
        month = export.month
        return month, month.replace(day=calendar.monthrange(month.year, month.month)[1])
    if export.period_kind == PeriodKind.YESTERDAY:
        return today - timedelta(days=1), today - timedelta(days=1)
    if export.period_kind == PeriodKind.MONTH_TO_DATE:
        return first, today
    last = first - timedelta(days=1)
    return last.replace(day=1), last


def next_run_after(schedule: str, moment: datetime) -> datetime | None:
    """Daily exports run at 02:00 UTC, monthly ones on the 2nd at 04:00 UTC (late usage still arrives)."""
    tz = timezone.get_current_timezone()
    if schedule == Schedule.DAILY:
        slot = datetime.combine(moment.date(), time(2, 0), tzinfo=tz)
        return slot if slot > moment else slot + timedelta(days=1)
    if schedule == Schedule.MONTHLY:
        slot = datetime.combine(moment.date().replace(day=2), time(4, 0), tzinfo=tz)
        if slot <= moment:
            following = (moment.date().replace(day=1) + timedelta(days=32)).replace(day=2)
            slot = datetime.combine(following, time(4, 0), tzinfo=tz)
        return slot
    return None


# --- Defining an export -----------------------------------------------------------------------------------


def check_export(export: BillingExport, secrets: dict) -> None:
    errors = {}
    if export.period_kind == PeriodKind.MONTH:
        if export.month is None:
            errors["month"] = "Choose the month to export."
        else:
            export.month = export.month.replace(day=1)
    cfg = export.settings or {}
    for key in REQUIRED_SETTINGS.get(export.destination, ()):
        if not cfg.get(key):
            errors[key] = "Required for this destination."
    prefix = str(cfg.get("prefix", ""))
    if ".." in prefix.split("/") or "\\" in prefix:
        errors["prefix"] = "A prefix is a path of folder names, without “..”."
    if (
        export.destination == DestinationKind.S3
        and not export.credentials
        and not (secrets.get("access_key_id") and secrets.get("secret_access_key"))
    ):
        errors["access_key_id"] = "Enter the access key ID and the secret access key."
    if (
        export.destination == DestinationKind.AZURE
        and not export.credentials
        and not (secrets.get("account_key") or secrets.get("connection_string"))
    ):
        errors["account_key"] = "Enter the account key (or a connection string)."
    if export.customer_id and export.cloud_account_ids:
        from customers.models import CloudAccount

        mine = set(
            CloudAccount.objects.filter(customer_id=export.customer_id, pk__in=export.cloud_account_ids)
            .values_list("pk", flat=True)
        )  # fmt: skip
        if mine != set(export.cloud_account_ids):
            errors["cloud_account_ids"] = "Choose cloud accounts of the export's customer."
    if errors:
        raise ValidationError(errors)


def _apply(export: BillingExport, fields: dict, secrets: dict | None) -> None:
    for name, value in fields.items():
        setattr(export, name, value)
    kind = export.destination
    export.settings = {
        k: v for k, v in (export.settings or {}).items() if k in DESTINATION_SETTINGS[kind] and v
    }
    if "prefix" in export.settings:
        export.settings["prefix"] = export.settings["prefix"].strip().strip("/")
    check_export(export, secrets or {})
    if secrets is not None and any(secrets.values()):
        allowed = {k: v for k, v in secrets.items() if k in DESTINATION_SECRETS[kind]}
        export.credentials = encrypt_credentials(allowed)
    elif not DESTINATION_SECRETS[kind]:
        export.credentials = ""
    export.next_run_at = next_run_after(export.schedule, timezone.now())


@transaction.atomic
def do_create_export(actor, *, secrets: dict | None = None, **fields) -> BillingExport:
    export = BillingExport(created_by_label=str(actor) if actor else "command line")
    _apply(export, fields, secrets)
    export.save()
    record_activity(actor, "export.created", f"Created billing export {export.name}", obj=export,
                    customer=customer_of(export))  # fmt: skip
    return export


@transaction.atomic
def do_update_export(actor, export: BillingExport, *, secrets: dict | None = None, **fields) -> dict:
    """Change the export; empty credentials keep the stored ones. Returns {field: [before, after]}."""
    export = BillingExport.objects.select_for_update().get(pk=export.pk)
    before = {f: _shown(getattr(export, f if f != "customer" else "customer_id")) for f in EXPORT_FIELDS}
    _apply(export, fields, secrets)
    changes = {
        f: [before[f], _shown(getattr(export, f if f != "customer" else "customer_id"))]
        for f in EXPORT_FIELDS
        if before[f] != _shown(getattr(export, f if f != "customer" else "customer_id"))
    }
    if secrets and any(secrets.values()):
        changes["credentials"] = ["(hidden)", "(replaced)"]
    export.save()
    if changes:
        record_activity(actor, "export.updated", f"Updated billing export {export.name}", obj=export,
                        customer=customer_of(export), changes=changes)  # fmt: skip
    return changes


def _shown(value):
    if isinstance(value, date | datetime):
        return value.isoformat()
    if isinstance(value, list):
        return [str(v) for v in value]
    if isinstance(value, dict):
        return dict(value)
    return None if value is None else str(value)


# --- Runs ------------------------------------------------------------------------------------------------


def estimate_rows(export: BillingExport, start: date, end: date) -> int:
    """The rows a run will write, from the daily rollup's row counts (no scan of the usage rows)."""
    rows = UsageDaily.objects.filter(day__gte=start, day__lte=end)
    if export.customer_id:
        rows = rows.filter(customer_id=export.customer_id)
    if export.providers:
        rows = rows.filter(provider__in=export.providers)
    if export.cloud_account_ids:
        rows = rows.filter(cloud_account_id__in=export.cloud_account_ids)
    return rows.aggregate(n=Sum("row_count"))["n"] or 0


@transaction.atomic
def do_start_run(actor, export: BillingExport, *, trigger=ExportRun.Trigger.USER, today=None, queue=True):
    """Create a queued run of the export's period; the task runs it once the transaction commits."""
    from .tasks import run_export

    start, end = period_of(export, today)
    run = ExportRun.objects.create(
        export=export, trigger=trigger, period_start=start, period_end=end,
        started_by_label=str(actor) if actor else ExportRun.Trigger(trigger).label.lower(),
        rows_estimated=estimate_rows(export, start, end),
    )  # fmt: skip
    record_activity(actor, "export.run", f"Started billing export {export.name} ({start:%Y-%m-%d}–{end:%Y-%m-%d})",
                    obj=run, customer=customer_of(export))  # fmt: skip
    if queue:
        run_export.delay_on_commit(str(run.pk), str(run.reseller_id))
    return run


class ProgressWriter:
    """Writes a run's rows-written from a second connection (the first is busy streaming the COPY);
    never waits for a lock (a test's open transaction holds the run's row)."""

    def __init__(self, run: ExportRun):
        self.run, self.conn = run, None

    def __call__(self, rows: int):
        try:
            if self.conn is None:
                params = connection.get_connection_params()
                self.conn = psycopg.connect(**params, autocommit=True)
            self.conn.execute(
                f"""UPDATE {ExportRun._meta.db_table} SET rows_written = %s
                    WHERE id IN (SELECT id FROM {ExportRun._meta.db_table}
                                 WHERE id = %s AND reseller_id = %s FOR UPDATE SKIP LOCKED)""",
                (rows, self.run.pk, self.run.reseller_id),
            )
        except psycopg.Error:
            logger.warning("export run %s: progress not written", self.run.pk, exc_info=True)

    def close(self):
        if self.conn is not None:
            self.conn.close()


def spec_of(export: BillingExport, run: ExportRun) -> Spec:
    return Spec(
        reseller_id=current_reseller_id(), start=run.period_start, end=run.period_end, format=export.format,
        basis=export.basis, customer_id=export.customer_id, providers=tuple(export.providers),
        cloud_account_ids=tuple(export.cloud_account_ids), name=export.name, export_id=export.pk,
    )  # fmt: skip


def execute_run(run: ExportRun) -> ExportRun:
    """Run a queued run (safe to call twice: a run that is not queued is left alone)."""
    claimed = ExportRun.objects.filter(pk=run.pk, status=ExportRun.Status.QUEUED).update(
        status=ExportRun.Status.RUNNING, started_at=timezone.now()
    )
    run.refresh_from_db()
    if not claimed:
        return run
    export = run.export
    progress = ProgressWriter(run)
    try:
        storage = storage_for(export)
        result = write_export(
            spec_of(export, run), storage, export.prefix, scratch_dir(export), progress=progress
        )
    except Exception as exc:  # a provider's error of any kind: the run says it in plain words
        logger.warning("billing export run %s failed: %s", run.pk, type(exc).__name__)
        run.status, run.error, run.finished_at = ExportRun.Status.FAILED, explain(exc, export), timezone.now()
        run.save(update_fields=["status", "error", "finished_at"])
        _alert(export, run)
        return run
    finally:
        progress.close()
    run.status, run.finished_at = ExportRun.Status.DONE, timezone.now()
    run.rows_written, run.bytes_written, run.files = result.rows, result.bytes, result.files
    run.manifest_path = result.manifests[-1] if result.manifests else ""
    run.save(
        update_fields=["status", "finished_at", "rows_written", "bytes_written", "files", "manifest_path"]
    )
    return run


def _alert(export: BillingExport, run: ExportRun) -> None:
    """The alert of a failed run: on the export's customer, or reseller-wide (the dashboard) for an export
    of all customers."""
    customer = customer_of(export)
    scope = "" if export.customer_id else " (all customers)"
    do_raise_alert(
        customer, kind=Alert.Kind.EXPORT_FAILED, severity=Alert.Severity.WARNING,
        title=f"Billing export “{export.name}”{scope} failed"[:200],
        message=f"The run of {run.period_start:%Y-%m-%d}–{run.period_end:%Y-%m-%d} failed: {run.error}"
        + (" It is retried at the next scheduled time." if export.schedule != Schedule.NONE else ""),
    )  # fmt: skip


def start_due_exports(now=None, *, queue=True) -> list:
    """The reseller's scheduled exports whose time has come: a run each, and the next time set (a failed
    run is thus retried at the next scheduled time). Returns the runs."""
    now = now or timezone.now()
    runs = []
    due = BillingExport.objects.exclude(schedule=Schedule.NONE).filter(next_run_at__lte=now)
    for export in due.order_by("next_run_at", "pk"):
        with transaction.atomic():
            locked = BillingExport.objects.select_for_update(skip_locked=True).filter(
                pk=export.pk, next_run_at__lte=now
            ).first()  # fmt: skip
            if locked is None:
                continue
            locked.next_run_at = next_run_after(locked.schedule, now)
            locked.save(update_fields=["next_run_at"])
            runs.append(
                do_start_run(
                    None,
                    locked,
                    trigger=ExportRun.Trigger.SCHEDULE,
                    today=timezone.localdate(now),
                    queue=queue,
                )  # fmt: skip
            )
    return runs
