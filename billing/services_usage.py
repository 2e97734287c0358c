"""Usage imports: start one (upload or command line), list and reassign the unmatched accounts, re-process.

Views, the task and the import_usage command call these; the streaming import itself is billing.ingest.
"""

from django.core.exceptions import ValidationError
from django.core.files import File
from django.db import connection, transaction
from django.db.models import Count, Max, Min, Sum

from customer360.tenancy import current_reseller_id
from customers.models import CloudProvider
from customers.services import do_link_cloud_account

from .models_usage import UsageImport, UsageRow
from .rollups import process_pending

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
    if provider and provider not in dict(IMPORT_PROVIDERS):
        raise ValidationError({"provider": f"Unknown provider {provider!r}."})
    record = UsageImport(original_name=name[:255], provider=provider, created_by=actor)
    record.file.save(name.rsplit("/", 1)[-1], file if isinstance(file, File) else File(file), save=False)
    record.save()
    if queue:
        run_usage_import.delay_on_commit(str(record.pk), str(record.reseller_id))
    return record


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
    with connection.cursor() as cursor:
        for column in ("sub_account_id", "billing_account_id"):  # SubAccountId first, as on import
            cursor.execute(
                f"""UPDATE {UsageRow._meta.db_table} AS u
                    SET customer_id = a.customer_id, cloud_account_id = a.id
                    FROM customers_cloudaccount AS a
                    WHERE u.reseller_id = %(r)s AND u.customer_id IS NULL AND a.reseller_id = %(r)s
                      AND a.provider = u.provider AND a.account_id = u.{column}""",
                {"r": reseller},
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
    return attached
