"""Usage imports of files made by focus-data-toolkit: mapping, matching, dedupe, malformed files."""

import csv
import gzip
from decimal import Decimal

import pytest
from django.db.models import Sum

from billing import focus, rollups
from billing.models import DailySpend
from billing.models_usage import UsageDaily, UsageImport, UsageRow
from billing.services_usage import do_assign_unmatched, unmatched_accounts
from customer360.tenancy import tenant_scope

from ..factories import CloudAccountFactory, CustomerFactory, ResellerFactory
from .focus_files import PROVIDERS, VERSIONS, accounts_of, generate, import_file

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="session")
def focus_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("focus")


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def link_all(reseller, provider, accounts):
    customer = CustomerFactory(reseller=reseller)
    for number in sorted(accounts):
        CloudAccountFactory(customer=customer, provider=provider, account_id=number)
    return customer


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("provider", PROVIDERS)
def test_every_provider_and_version_imports_and_rolls_up(focus_dir, provider, version):
    path = generate(focus_dir, provider, version, 300)
    reseller = ResellerFactory()
    customer = link_all(reseller, provider, accounts_of(path))
    with tenant_scope(reseller):
        record = import_file(path)
        assert record.status == UsageImport.Status.DONE, record.error
        assert record.focus_version == version
        assert (record.rows_read, record.rows_matched, record.rows_unmatched) == (300, record.rows_new, 0)
        rows = UsageRow.objects.filter(usage_import=record)
        assert set(rows.values_list("provider", flat=True)) == {provider}
        assert not rows.filter(customer__isnull=True).exists()
        assert not rows.filter(rolled_up=False).exists()
        with open(path, newline="") as f:
            raw = sum(Decimal(r["BilledCost"]) for r in csv.DictReader(f))
        # Every line counted once (identical lines are kept: their occurrence is in the fingerprint).
        assert record.rows_new == 300
        assert rows.aggregate(t=Sum("cost"))["t"] == raw
        assert round(UsageDaily.objects.aggregate(t=Sum("cost"))["t"], 2) == round(raw, 2)
        spend = DailySpend.objects.filter(customer=customer).aggregate(t=Sum("cost"))["t"]
        assert round(spend, 2) == round(raw, 2)


def test_reimport_and_overlapping_files_do_not_double_count(focus_dir, tmp_path):
    path = generate(focus_dir, "aws", "1.2", 200)
    reseller = ResellerFactory()
    customer = link_all(reseller, "aws", accounts_of(path))
    lines = path.read_text().splitlines(keepends=True)
    overlap = tmp_path / "overlap.csv.gz"
    with gzip.open(overlap, "wt") as f:  # the second half of the file, gzipped
        f.writelines([lines[0], *lines[101:]])
    with tenant_scope(reseller):
        first = import_file(path)
        before = DailySpend.objects.filter(customer=customer).aggregate(t=Sum("price"))["t"]
        again = import_file(path)
        part = import_file(overlap)
        assert (first.rows_new, again.rows_new, again.rows_duplicate) == (200, 0, 200)
        assert (part.status, part.rows_read, part.rows_new) == (UsageImport.Status.DONE, 100, 0)
        assert UsageRow.objects.count() == 200
        assert DailySpend.objects.filter(customer=customer).aggregate(t=Sum("price"))["t"] == before


@pytest.mark.parametrize("sample", [rollups.OVERLAP_SAMPLE, 0])
def test_a_file_overlapping_imported_rows_adds_only_its_new_rows(focus_dir, tmp_path, monkeypatch, sample):
    """The new rows of a file that repeats imported ones go in once, with their rollups, whether the
    overlap shows in the rows sampled before the insert (default) or only when the fast plain insert
    meets an imported row (no sample: it is rolled back and the rows go in skipping the imported ones)."""
    monkeypatch.setattr(rollups, "OVERLAP_SAMPLE", sample)
    path = generate(focus_dir, "aws", "1.2", 200)
    reseller = ResellerFactory()
    customer = link_all(reseller, "aws", accounts_of(path))
    lines = path.read_text().splitlines(keepends=True)
    half = tmp_path / "half.csv"
    half.write_text("".join(lines[:101]))
    with tenant_scope(reseller):
        first, whole = import_file(half), import_file(path)
        assert (first.rows_new, whole.status, whole.rows_new, whole.rows_duplicate) == (
            100, UsageImport.Status.DONE, 100, 100
        )  # fmt: skip
        assert UsageRow.objects.count() == 200 and UsageRow.objects.filter(usage_import=whole).count() == 100
        with open(path, newline="") as f:
            raw = sum(Decimal(r["BilledCost"]) for r in csv.DictReader(f))
        assert UsageRow.objects.aggregate(t=Sum("cost"))["t"] == raw
        assert UsageDaily.objects.aggregate(n=Sum("row_count"))["n"] == 200
        spend = DailySpend.objects.filter(customer=customer).aggregate(t=Sum("cost"))["t"]
        assert round(spend, 2) == round(raw, 2)


def test_unmatched_rows_are_listed_and_reassigned(focus_dir):
    path = generate(focus_dir, "gcp", "1.3", 120)
    reseller = ResellerFactory()
    accounts = sorted(accounts_of(path))
    customer = link_all(reseller, "gcp", accounts[:1])
    with tenant_scope(reseller):
        record = import_file(path)
        assert record.rows_unmatched > 0 and record.rows_matched > 0
        listed = {row["sub_account_id"] for row in unmatched_accounts(record)}
        assert listed == set(accounts[1:])
        other = CustomerFactory(reseller=reseller)
        attached = do_assign_unmatched(None, other, provider="gcp", account_id=accounts[1])
        assert attached > 0
        assert {row["sub_account_id"] for row in unmatched_accounts()} == set(accounts[2:])
        assert DailySpend.objects.filter(customer=other).exists()
        record.refresh_from_db()
        assert record.rows_unmatched == record.rows_new - record.rows_matched
        assert UsageRow.objects.filter(customer=other, rolled_up=True).count() == attached
        assert customer.activity.filter(action="cloud_account.linked").count() == 0


def _bad_copy(path, tmp_path, edit, name="bad.csv"):
    lines = path.read_text().splitlines(keepends=True)
    edit(lines)
    bad = tmp_path / name
    bad.write_text("".join(lines))
    return bad


def _replace_field(line, column_index, value):
    row = next(csv.reader([line]))
    row[column_index] = value
    out = []
    csv.writer(_Sink(out), lineterminator="\n").writerow(row)
    return out[0]


class _Sink:
    def __init__(self, out):
        self.out = out

    def write(self, text):
        self.out.append(text)


@pytest.mark.parametrize(
    "column, value, expected",
    [
        ("BilledCost", "12,5", "BilledCost is not a number: 12,5"),
        ("ChargePeriodStart", "yesterday", "ChargePeriodStart is not a date: yesterday"),
        ("ProviderName", "Oracle Cloud", "unknown provider name"),
        # Values PostgreSQL's casts would take, which the import's checks refuse.
        ("BilledCost", "NaN", "BilledCost is not a number: NaN"),
        ("ListCost", "Infinity", "ListCost is not a number: Infinity"),
        ("ChargePeriodStart", "2026-05-01T00:00:00Z tomorrow", "ChargePeriodStart is not a date"),
    ],
)
def test_a_partly_bad_file_imports_nothing_and_names_the_lines(focus_dir, tmp_path, column, value, expected):
    path = generate(focus_dir, "aws", "1.2", 50)
    header = next(csv.reader([path.read_text().splitlines()[0]]))
    index = header.index(column)

    def edit(lines):
        for n in (7, 12):  # file lines 8 and 13
            lines[n] = _replace_field(lines[n], index, value)

    reseller = ResellerFactory()
    link_all(reseller, "aws", accounts_of(path))
    with tenant_scope(reseller):
        record = import_file(_bad_copy(path, tmp_path, edit))
        assert record.status == UsageImport.Status.FAILED
        assert f"Line 8: {expected}" in record.error and f"Line 13: {expected}" in record.error
        assert not UsageRow.objects.exists() and not DailySpend.objects.exists()


def test_missing_columns_and_wrong_encoding_are_reported(focus_dir, tmp_path):
    path = generate(focus_dir, "azure", "1.3", 30)
    reseller = ResellerFactory()

    def drop_cost(lines):
        lines[0] = lines[0].replace("BilledCost", "Billed")

    latin = tmp_path / "latin.csv"
    data = path.read_bytes().splitlines(keepends=True)
    data[4] = data[4].replace(b"Microsoft Azure", b"Microsoft Azur\xe9", 1)
    latin.write_bytes(b"".join(data))
    with tenant_scope(reseller):
        missing = import_file(_bad_copy(path, tmp_path, drop_cost))
        assert missing.status == UsageImport.Status.FAILED
        assert "lacks the required column(s) BilledCost" in missing.error
        encoded = import_file(latin)
        assert encoded.status == UsageImport.Status.FAILED
        assert encoded.error.startswith("Line 5: not UTF-8 text"), encoded.error
        assert not UsageRow.objects.exists()


def test_parquet_imports_like_csv(focus_dir, tmp_path):
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    path = generate(focus_dir, "azure", "1.2", 150)
    table = pacsv.read_csv(path)  # typed columns: numbers, timestamps
    parquet = tmp_path / "usage.parquet"
    pq.write_table(table, parquet)
    reseller = ResellerFactory()
    link_all(reseller, "azure", accounts_of(path))
    with tenant_scope(reseller):
        record = import_file(parquet)
        assert record.status == UsageImport.Status.DONE, record.error
        assert (record.rows_read, record.rows_new, record.rows_unmatched) == (150, 150, 0)
        with open(path, newline="") as f:
            raw = sum(Decimal(r["BilledCost"]) for r in csv.DictReader(f))
        assert round(UsageRow.objects.aggregate(t=Sum("cost"))["t"], 6) == round(raw, 6)
        assert UsageRow.objects.order_by("usage_date").first().usage_date.isoformat().startswith("2026-")


def test_rows_of_another_resellers_account_stay_unmatched(focus_dir):
    path = generate(focus_dir, "aws", "1.3", 60)
    owner, importer = ResellerFactory(), ResellerFactory()
    link_all(owner, "aws", accounts_of(path))
    with tenant_scope(importer):
        record = import_file(path)
        assert (record.rows_matched, record.rows_unmatched) == (0, 60)
        assert not DailySpend.objects.exists()
    with tenant_scope(owner):
        assert not UsageImport.objects.exists() and not UsageRow.objects.exists()
        assert not list(unmatched_accounts())


def test_identical_lines_are_distinct_charges_once(focus_dir, tmp_path):
    """A line repeated in a file is imported each time it occurs (its occurrence is in the fingerprint),
    and re-importing the file, or the file with the repeats in another place, adds nothing."""
    path = generate(focus_dir, "aws", "1.2", 50)
    lines = path.read_text().splitlines(keepends=True)
    repeated = tmp_path / "repeated.csv"
    repeated.write_text("".join([*lines[:10], lines[5], lines[5], *lines[10:]]))
    moved = tmp_path / "moved.csv"
    moved.write_text("".join([lines[0], lines[5], lines[5], *lines[1:]]))
    reseller = ResellerFactory()
    link_all(reseller, "aws", accounts_of(path))
    with tenant_scope(reseller):
        first = import_file(repeated)
        assert (first.status, first.rows_read, first.rows_new) == (UsageImport.Status.DONE, 52, 52)
        again, other = import_file(repeated), import_file(moved)
        assert (again.rows_new, other.rows_new, other.rows_duplicate) == (0, 0, 52)
        with open(repeated, newline="") as f:
            raw = sum(Decimal(r["BilledCost"]) for r in csv.DictReader(f))
        assert UsageRow.objects.aggregate(t=Sum("cost"))["t"] == raw


def test_values_padded_with_spaces_are_the_same_charges(focus_dir, tmp_path):
    """A file whose values carry leading or trailing spaces imports the charges of the unpadded file:
    accounts matched, names and numbers trimmed, and the same fingerprints (re-importing the unpadded
    file adds nothing)."""
    path = generate(focus_dir, "aws", "1.2", 60)
    reseller = ResellerFactory()
    customer = link_all(reseller, "aws", accounts_of(path))
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        names, rows = reader.fieldnames, list(reader)
    padded = tmp_path / "padded.csv"
    with open(padded, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=names)
        writer.writeheader()
        for row in rows:
            padding = {
                "SubAccountId": f"{row['SubAccountId']}  ",
                "ServiceName": f" {row['ServiceName']}",
                "BilledCost": f" {row['BilledCost']} ",
                "ResourceId": f"{row['ResourceId']} ",
            }
            writer.writerow({**row, **padding})
    with tenant_scope(reseller):
        first = import_file(padded)
        assert (first.status, first.rows_new, first.rows_matched) == (UsageImport.Status.DONE, 60, 60)
        again = import_file(path)
        assert (again.status, again.rows_new, again.rows_duplicate) == (UsageImport.Status.DONE, 0, 60)
        imported = UsageRow.objects.filter(usage_import=first)
        assert set(imported.values_list("customer", flat=True)) == {customer.pk}
        assert set(imported.values_list("service_name", flat=True)) == {r["ServiceName"] for r in rows}
        assert set(imported.values_list("resource_id", flat=True)) == {r["ResourceId"] for r in rows}
        assert imported.aggregate(t=Sum("cost"))["t"] == sum(Decimal(r["BilledCost"]) for r in rows)


def test_columns_the_import_does_not_read_may_hold_any_text(focus_dir, tmp_path):
    """The staging table keeps one byte of the columns the import does not read: multi-byte text and
    quoted commas there change nothing."""
    path = generate(focus_dir, "aws", "1.2", 40)
    reseller = ResellerFactory()
    link_all(reseller, "aws", accounts_of(path))
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        names, rows = reader.fieldnames, list(reader)
    assert "ResourceName" in names and "ResourceName" not in focus.READ
    odd = tmp_path / "odd.csv"
    with open(odd, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=names)
        writer.writeheader()
        for row in rows:
            writer.writerow({**row, "ResourceName": "Über-Server ✓, «prod»"})
    with tenant_scope(reseller):
        record = import_file(odd)
        assert (record.status, record.rows_new, record.rows_matched) == (UsageImport.Status.DONE, 40, 40)
        assert UsageRow.objects.aggregate(t=Sum("cost"))["t"] == sum(Decimal(r["BilledCost"]) for r in rows)
