"""A big CSV file is copied in two halves at once (billing.ingest_split): same rows, same line numbers,
same reports as one COPY."""

import csv
from decimal import Decimal

import pytest
from django.db import connection
from django.db.models import Sum

from billing import ingest_split, rollups
from billing.models import DailySpend
from billing.models_usage import UsageDaily, UsageImport, UsageRow
from customer360.tenancy import tenant_scope

from ..factories import CloudAccountFactory, CustomerFactory, ResellerFactory
from .focus_files import accounts_of, generate, import_file

# The import copies in halves only outside a transaction (a task, the command): committed data.
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def split_small_files(settings, tmp_path, monkeypatch):
    settings.MEDIA_ROOT = tmp_path / "media"
    monkeypatch.setattr(ingest_split, "SPLIT_MIN_BYTES", 0)


def _rewrite(src, dst, edit):
    with open(src, newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    edit(rows)
    with open(dst, "w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows(rows)
    return rows


def test_a_line_start_outside_quotes_is_found_near_the_middle(tmp_path):
    path = tmp_path / "quoted.csv"
    # The middle of the data falls inside a quoted field holding newlines and doubled quotes.
    field = '"' + 'say ""hi""\n' * 20 + '"'
    path.write_bytes(b"h1,h2\n" + b"a,1\n" * 10 + f"b,{field}\n".encode() + b"c,2\n" * 10)
    start = ingest_split.data_start(path)
    cut = ingest_split.record_boundary(path, start)
    data = path.read_bytes()
    assert data[cut:].startswith(b"c,2\n") and data[cut - 2 : cut] == b'"\n'
    halves = b"".join(ingest_split.byte_range(path, start, cut)) + b"".join(
        ingest_split.byte_range(path, cut)
    )
    assert halves == data[start:]


def test_both_halves_are_imported_with_the_files_line_numbers(tmp_path):
    source = generate(tmp_path, "aws", "1.2", 300)
    path = tmp_path / "with-newlines.csv"

    def edit(rows):  # a description over two lines in every tenth row: the cut must not split one
        column = rows[0].index("ChargeDescription")
        for row in rows[1::10]:
            row[column] = "first line\nsecond line"

    rows = _rewrite(source, path, edit)
    reseller = ResellerFactory()
    customer = CustomerFactory(reseller=reseller)
    for number in sorted(accounts_of(path)):
        CloudAccountFactory(customer=customer, provider="aws", account_id=number)
    with tenant_scope(reseller):
        record = import_file(path)
        assert (record.status, record.rows_read, record.rows_new) == (UsageImport.Status.DONE, 300, 300), (
            record.error
        )
        assert sorted(UsageRow.objects.values_list("line_no", flat=True)) == list(range(2, 302))
        cost = rows[0].index("BilledCost")
        # Line 251 (the 250th data row) carries its own cost: numbering follows the file across the cut.
        assert UsageRow.objects.get(line_no=251).cost == Decimal(rows[250][cost])
        raw = sum(Decimal(row[cost]) for row in rows[1:])
        assert UsageRow.objects.aggregate(t=Sum("cost"))["t"] == raw
        assert round(DailySpend.objects.aggregate(t=Sum("cost"))["t"], 2) == round(raw, 2)
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_class WHERE relname ~ '^usage_(stage|half|typed|file)_'")
        assert cursor.fetchone()[0] == 0


@pytest.mark.parametrize("broken", ["value", "quote", "nan"])
def test_a_bad_line_in_the_second_half_is_reported_as_by_one_copy(tmp_path, monkeypatch, broken):
    """A value that does not parse (typing the second half on its own connection raises), a row failing
    the checks (NaN) or a line COPY refuses: the report of one COPY and one typing pass."""
    source = generate(tmp_path, "aws", "1.2", 200)
    path = tmp_path / "bad.csv"

    def edit(rows):
        rows[180][rows[0].index("BilledCost")] = "NaN" if broken == "nan" else "12,5"  # file line 181

    _rewrite(source, path, edit)
    if broken == "quote":  # a stray quote on line 191 opens a field never closed: COPY's own error
        lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
        lines[190] = lines[190].replace(",", ',x"', 1)
        path.write_text("".join(lines), encoding="utf-8")
    reseller = ResellerFactory()
    with tenant_scope(reseller):
        halves = import_file(path)
        monkeypatch.setattr(ingest_split, "SPLIT_MIN_BYTES", 1 << 40)
        whole = import_file(path)
        assert halves.status == whole.status == UsageImport.Status.FAILED
        assert halves.error == whole.error
        expected = {"value": "Line 181: BilledCost is not a number: 12,5",
                    "quote": "Line 202: unterminated CSV quoted field",
                    "nan": "Line 181: BilledCost is not a number: NaN"}[broken]  # fmt: skip
        assert expected in halves.error, halves.error
        assert not UsageRow.objects.exists()


def _linked_reseller(path):
    reseller = ResellerFactory()
    customer = CustomerFactory(reseller=reseller)
    for number in sorted(accounts_of(path)):
        CloudAccountFactory(customer=customer, provider="aws", account_id=number)
    return reseller


def _raw_cost(path):
    with open(path, newline="", encoding="utf-8") as f:
        return sum(Decimal(row["BilledCost"]) for row in csv.DictReader(f))


def test_lines_repeated_across_and_within_the_halves_are_each_imported_once(tmp_path):
    """Both halves' plain inserts give a line its first occurrence's fingerprint: a line of the first
    half repeated in the second, and one repeated inside the second, make the second insert fail; both
    halves then go in as one, each occurrence once, and a re-import adds nothing."""
    source = generate(tmp_path, "aws", "1.2", 200)
    lines = source.read_text(encoding="utf-8").splitlines(keepends=True)
    path = tmp_path / "repeated.csv"
    path.write_text("".join([*lines, lines[10], lines[150], lines[150]]), encoding="utf-8")
    reseller = _linked_reseller(path)
    with tenant_scope(reseller):
        first, again = import_file(path), import_file(path)
        assert (first.status, first.rows_read, first.rows_new) == (UsageImport.Status.DONE, 203, 203), (
            first.error
        )
        assert (again.rows_new, again.rows_duplicate) == (0, 203)
        assert UsageRow.objects.count() == 203
        assert UsageRow.objects.aggregate(t=Sum("cost"))["t"] == _raw_cost(path)
        assert round(DailySpend.objects.aggregate(t=Sum("cost"))["t"], 2) == round(_raw_cost(path), 2)
        assert sorted(UsageRow.objects.values_list("line_no", flat=True)) == list(range(2, 205))


@pytest.mark.parametrize("sample", [rollups.OVERLAP_SAMPLE, 0])
def test_a_file_whose_second_half_was_imported_adds_its_first_half(tmp_path, monkeypatch, sample):
    """The first half goes in with a plain insert; the second half's meets imported rows (in its sample,
    or without one in the insert itself): both are rolled back and the file goes in skipping the
    imported rows, with its rollups counted once."""
    monkeypatch.setattr(rollups, "OVERLAP_SAMPLE", sample)
    source = generate(tmp_path, "aws", "1.2", 200)
    lines = source.read_text(encoding="utf-8").splitlines(keepends=True)
    tail = tmp_path / "tail.csv"
    tail.write_text("".join([lines[0], *lines[151:]]), encoding="utf-8")  # rows 151-200: the second half's
    reseller = _linked_reseller(source)
    with tenant_scope(reseller):
        before = import_file(tail)
        whole = import_file(source)
        assert (before.rows_new, whole.status, whole.rows_new, whole.rows_duplicate) == (
            50, UsageImport.Status.DONE, 150, 50
        )  # fmt: skip
        assert UsageRow.objects.count() == 200
        assert UsageRow.objects.aggregate(t=Sum("cost"))["t"] == _raw_cost(source)
        assert UsageDaily.objects.aggregate(n=Sum("row_count"))["n"] == 200
        assert round(DailySpend.objects.aggregate(t=Sum("cost"))["t"], 2) == round(_raw_cost(source), 2)
