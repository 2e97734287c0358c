"""Usage imports: start one (upload or command line), retry a failed one, recover the ones whose worker
died, list and reassign the unmatched accounts, re-process.

Views, the tasks and the import_usage command call these; the streaming import itself is billing.ingest.
"""

import uuid

from django.core.exceptions import ValidationError
from django.core.files import File
from django.db import connection, transaction
from django.db.models import Count, Max, Min, Q, Sum
from django.utils import timezone

from customer360.tenancy import current_reseller_id
from customers.models import CloudProvider
from customers.services import do_link_cloud_account

from .ingest import drop_staging, import_lock, staging_tables
from .models_usage import UsageImport, UsageRow
from .rollups import process_pending
from .signals import send_usage_rolled_up
from .usage_files import check_content
from .usage_locks import closed_period_filter

IMPORT_PROVIDERS = [("", "From the file (ProviderName)")] + [
    (p.value, p.label) for p in (CloudProvider.AWS, CloudProvider.AZURE, CloudProvider.GCP)
]
SUFFIXES = (".csv", ".csv.gz", ".gz", ".parquet")


def access_import(import_id) -> UsageImport:
    from django.shortcuts import get_object_or_404

    return get_object_or_404(UsageImport.objects.all(), pk=import_id)


def check_upload_name(name: str) -> str:
    if not name.lower().endswith(SUFFIXES):
        raise ValidationError({"file": "Choose a FOCUS cost-and-usage file: .csv, .csv.gz or .parquet."})
    return name


@transaction.atomic
def do_create_import(actor, *, file, name: str, provider: str = "", queue: bool = True) -> UsageImport:
    """Store the file and create the import record; the task runs once the transaction commits."""
    from .tasks import run_usage_import

    check_upload_name(name)
    check_content(file, name)
    if provider and provider not in dict(IMPORT_PROVIDERS):
        raise ValidationError({"provider": f"Unknown provider {provider!r}."})
    record = UsageImport(original_name=name[:255], provider=provider, created_by=actor)
    record.file.save(name.rsplit("/", 1)[-1], file if isinstance(file, File) else File(file), save=False)
    record.save()
    if queue:
        run_usage_import.delay_on_commit(str(record.pk), str(record.reseller_id))
    return record


# An import in "Reading"/"Processing" with no sign of life for this long, and whose advisory lock no
# session holds, lost its worker. (Progress is written every 2 s while reading; a long processing
# statement writes nothing, which is why the lock, not the clock, decides.)
STALE_MINUTES = 15


def file_is_stored(record: UsageImport) -> bool:
    return bool(record.file) and record.file.storage.exists(record.file.name)


def check_retry(record: UsageImport) -> None:
    if record.status != UsageImport.Status.FAILED:
        raise ValidationError("Only a failed import can be retried.")
    if not file_is_stored(record):
        raise ValidationError("The file of this import is no longer stored: upload it again.")


@transaction.atomic
def do_retry_import(actor, record: UsageImport, *, queue: bool = True) -> UsageImport:
    """Run a failed import again from its stored file (a fresh start: nothing of a failed import was
    kept). The task runs once the transaction commits."""
    from .tasks import run_usage_import

    record = UsageImport.objects.select_for_update().get(pk=record.pk)
    check_retry(record)
    reset = {"status": UsageImport.Status.QUEUED, "error": "", "focus_version": "", "rows_read": 0,
             "rows_new": 0, "rows_duplicate": 0, "rows_matched": 0, "rows_unmatched": 0,
             "started_at": None, "heartbeat_at": None, "finished_at": None}  # fmt: skip
    for field, value in reset.items():
        setattr(record, field, value)
    record.save(update_fields=list(reset))
    if queue:
        run_usage_import.delay_on_commit(str(record.pk), str(record.reseller_id))
    return record


def recover_stale_imports(*, minutes: int = STALE_MINUTES, now=None) -> list:
    """The reseller's imports whose worker died (see STALE_MINUTES) are marked failed, with the reason,
    and their staging tables dropped; returns them. Nothing of such an import was kept: its rows are
    written in one transaction, which the dead worker never committed."""
    cutoff = (now or timezone.now()) - timezone.timedelta(minutes=minutes)
    running = (UsageImport.Status.READING, UsageImport.Status.PROCESSING)
    quiet = Q(heartbeat_at__lt=cutoff) | Q(heartbeat_at__isnull=True, started_at__lt=cutoff)
    recovered = []
    for record in UsageImport.objects.filter(quiet, status__in=running):
        with import_lock(record.pk) as free:
            if not free:  # a live worker holds it: slow, not dead
                continue
            drop_staging(record.pk)
            stage = record.get_status_display().lower()
            last = timezone.localtime(record.heartbeat_at or record.started_at).strftime("%d %b %Y %H:%M")
            updated = UsageImport.objects.filter(pk=record.pk, status__in=running).update(
                status=UsageImport.Status.FAILED, finished_at=timezone.now(),
                error=f"The import stopped while {stage} (its worker was interrupted; last sign of life "
                f"{last}). Nothing of it was kept. Retry it: the file is imported again from the start.",
            )  # fmt: skip
            if updated:
                recovered.append(record.pk)
    return recovered


def drop_orphan_staging_tables() -> list:
    """Staging tables (billing.ingest.STAGING_TABLES) of imports no worker is running any more: a
    finished, failed or deleted import whose lock is free. Returns the tables dropped."""
    from customer360.tenancy import reseller_of, tenant_scope

    dropped = []
    for name in staging_tables("[0-9a-f]{32}"):
        import_id = uuid.UUID(name.rsplit("_", 1)[1])
        reseller = reseller_of(UsageImport, import_id)
        with import_lock(import_id) as free:
            if not free:
                continue
            if reseller is not None:
                with tenant_scope(reseller):
                    status = UsageImport.objects.filter(pk=import_id).values_list("status", flat=True).first()
                if status in (UsageImport.Status.READING, UsageImport.Status.PROCESSING):
                    continue  # recover_stale_imports decides about it
            with connection.cursor() as cursor:
                cursor.execute(f"DROP TABLE IF EXISTS {name}")
            dropped.append(name)
    return dropped


def unmatched_accounts(usage_import=None):
    """The accounts of the reseller's usage rows that match none of its cloud accounts, with totals."""
    rows = UsageRow.objects.filter(customer__isnull=True)
    if usage_import is not None:
        rows = rows.filter(usage_import=usage_import)
    return (
        rows.values("provider", "sub_account_id")
        .annotate(
            billing_account=Min("billing_account_id"),
            rows=Count("id"),
            cost=Sum("cost"),
            first_day=Min("usage_date"),
            last_day=Max("usage_date"),
        )
        .order_by("provider", "sub_account_id")
    )


@transaction.atomic
def do_assign_unmatched(actor, customer, *, provider: str, account_id: str, name: str = "") -> int:
    """Link the account to the customer (logged on the customer), attach its unmatched rows and rate and
    roll them up. Returns the number of rows attached."""
    do_link_cloud_account(actor, customer, provider=provider, account_number=account_id, name=name)
    return rematch_unmatched()


@transaction.atomic
def rematch_unmatched() -> int:
    """Match the reseller's unmatched rows against its cloud accounts again (after accounts were linked),
    then rate and roll up the newly matched rows. Safe to run any number of times."""
    reseller = current_reseller_id()
    attached = 0
    # Rows of a closed provider month stay unmatched: that month's invoices are final.
    open_only, params = closed_period_filter("u.provider", "u.usage_date")
    with connection.cursor() as cursor:
        for column in ("sub_account_id", "billing_account_id"):  # SubAccountId first, as on import
            cursor.execute(
                f"""UPDATE {UsageRow._meta.db_table} AS u
                    SET customer_id = a.customer_id, cloud_account_id = a.id
                    FROM customers_cloudaccount AS a
                    WHERE u.reseller_id = %(r)s AND u.customer_id IS NULL AND a.reseller_id = %(r)s
                      AND a.provider = u.provider AND a.account_id = u.{column} AND {open_only}""",
                {"r": reseller, **params},
            )
            attached += cursor.rowcount
        cursor.execute(
            f"""UPDATE {UsageImport._meta.db_table} AS i
                SET rows_matched = c.matched, rows_unmatched = c.unmatched
                FROM (SELECT usage_import_id, count(customer_id) AS matched,
                             count(*) - count(customer_id) AS unmatched
                      FROM {UsageRow._meta.db_table} WHERE reseller_id = %(r)s GROUP BY usage_import_id) AS c
                WHERE i.id = c.usage_import_id AND i.reseller_id = %(r)s""",
            {"r": reseller},
        )
    if attached:
        process_pending()
        send_usage_rolled_up(reseller)
    return attached
