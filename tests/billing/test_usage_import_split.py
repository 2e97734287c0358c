"""A big CSV file is cut into chunks, copied and typed on connections of their own while the import's
transaction inserts them (billing.ingest_split, billing.ingest_pipeline): same rows, same line numbers,
same reports as one COPY and one typing pass."""

import csv
import gzip
import threading
import uuid
from decimal import ROUND_HALF_UP, Decimal

import psycopg
import pytest
from django.db import connection
from django.db.models import Sum

from billing import ingest, ingest_split, rollups
from billing.models import DailySpend
from billing.models_usage import UsageDaily, UsageImport, UsageRow
from customer360.tenancy import tenant_scope

from ..factories import CloudAccountFactory, CustomerFactory, ResellerFactory
from ..marketplace.factories import ProviderFactory, authorize
from .factories import AssignmentFactory, PricebookFactory, RuleFactory
from .focus_files import accounts_of, generate, import_file

# The import cuts a file into chunks only outside a transaction (a task, the command): committed data.
pytestmark = pytest.mark.django_db(transaction=True)
CHUNK_BYTES = 40_000  # ~43 lines of the generated files (~930 bytes a line): 200 rows in 5 chunks


@pytest.fixture(autouse=True)
def split_small_files(settings, tmp_path, monkeypatch):
    settings.MEDIA_ROOT = tmp_path / "media"
    monkeypatch.setattr(ingest_split, "SPLIT_MIN_BYTES", 0)
    monkeypatch.setattr(ingest_split, "CHUNK_BYTES", CHUNK_BYTES)


def _staging_left() -> int:
    """The import's staging, typed and keys tables and views still there (none once it is over)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_class WHERE relname ~ '^usage_(stage|typed|keys|file|all)[0-9]*_'"
        )
        return cursor.fetchone()[0]


def _rewrite(src, dst, edit):
    with open(src, newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    edit(rows)
    with open(dst, "w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows(rows)
    return rows


def test_the_file_is_cut_at_line_starts_outside_quotes(tmp_path):
    path = tmp_path / "quoted.csv"
    # Quoted fields holding newlines and doubled quotes all through the file: no cut may fall inside one.
    field = '"' + 'say ""hi""\n' * 20 + '"'
    lines = [f"{i},{field}\n" if i % 7 == 0 else f"{i},2\n" for i in range(400)]
    path.write_bytes(b"h1,h2\n" + "".join(lines).encode())
    start = ingest_split.data_start(path)
    cuts = ingest_split.record_boundaries(path, start, 2_000)
    data = path.read_bytes()
    assert cuts[0] == start and cuts[-1] == len(data) and len(cuts) > 5
    records = {start + len("".join(lines[:i]).encode()) for i in range(len(lines))}
    assert set(cuts[:-1]) <= records  # each cut is a record's start
    sizes = [b - a for a, b in zip(cuts, cuts[1:], strict=False)]
    assert min(sizes[:-1]) >= 2_000
    assert (
        b"".join(b"".join(ingest_split.byte_range(path, a, b)) for a, b in zip(cuts, cuts[1:], strict=False))
        == (data[start:])
    )


def test_small_compressed_and_in_transaction_files_are_copied_in_one_piece(tmp_path, monkeypatch):
    source = generate(tmp_path, "aws", "1.2", 200)
    gz = tmp_path / "usage.csv.gz"
    gz.write_bytes(gzip.compress(source.read_bytes()))
    import_id = uuid.uuid4()
    assert len(ingest.chunk_cuts(source, import_id)) > 3
    assert ingest.chunk_cuts(gz, import_id) is None
    assert ingest.chunk_cuts(source, None) is None  # run inside a transaction: no import id
    monkeypatch.setattr(ingest_split, "SPLIT_MIN_BYTES", 1 << 40)
    assert ingest.chunk_cuts(source, import_id) is None


def test_the_chunks_are_imported_with_the_files_line_numbers(tmp_path):
    source = generate(tmp_path, "aws", "1.2", 300)
    path = tmp_path / "with-newlines.csv"

    def edit(rows):  # a description over two lines in every tenth row: a cut must not split one
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
        # Line 251 (the 250th data row) carries its own cost: numbering follows the file across the cuts.
        assert UsageRow.objects.get(line_no=251).cost == Decimal(rows[250][cost])
        raw = sum(Decimal(row[cost]) for row in rows[1:])
        assert UsageRow.objects.aggregate(t=Sum("cost"))["t"] == raw
        assert round(DailySpend.objects.aggregate(t=Sum("cost"))["t"], 2) == round(raw, 2)
    assert _staging_left() == 0


def _chunked_and_whole(path, monkeypatch, chunks: int = 4):
    """The import of `path` cut into chunks (at least `chunks`), then copied in one piece (one COPY, one
    typing pass)."""
    cuts = ingest.chunk_cuts(path, uuid.uuid4())
    assert (len(cuts) - 1 if cuts else 1) >= chunks
    chunked = import_file(path)
    monkeypatch.setattr(ingest_split, "SPLIT_MIN_BYTES", 1 << 40)
    whole = import_file(path)
    assert chunked.status == whole.status == UsageImport.Status.FAILED
    assert chunked.error == whole.error
    assert not UsageRow.objects.exists()
    assert _staging_left() == 0
    return chunked


def _break_line(path, number: int, how: str):
    """Line `number` of the file (the header is line 1) gets a cost that does not parse, NaN (a row failing
    the checks), a stray quote opening a field never closed or too few fields (COPY's own errors)."""
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    cost = lines[0].split(",").index("BilledCost")
    if how == "quote":
        lines[number - 1] = lines[number - 1].replace(",", ',x"', 1)
    elif how == "columns":
        lines[number - 1] = ",".join(lines[number - 1].split(",")[:5]) + "\n"
    else:
        fields = lines[number - 1].split(",")
        fields[cost] = "NaN" if how == "nan" else '"12,5"'
        lines[number - 1] = ",".join(fields)
    path.write_text("".join(lines), encoding="utf-8")


@pytest.mark.parametrize("line", [31, 101, 181])  # in the first, a middle and the last chunks
@pytest.mark.parametrize("broken", ["value", "quote", "columns", "nan"])
def test_a_bad_line_in_any_chunk_is_reported_as_by_one_copy(tmp_path, monkeypatch, broken, line):
    """A value that does not parse (the typing pass of a chunk raises), a row failing the checks (NaN) or
    a line COPY refuses: the report of one COPY and one typing pass, with the file's line numbers."""
    path = tmp_path / "bad.csv"
    path.write_bytes(generate(tmp_path, "aws", "1.2", 200).read_bytes())
    _break_line(path, line, broken)
    # No line start is found after a quote never closed: the chunks before it only.
    chunks = {31: 1, 101: 3, 181: 5}[line] if broken == "quote" else 4
    with tenant_scope(ResellerFactory()):
        error = _chunked_and_whole(path, monkeypatch, chunks).error
    expected = {"value": f"Line {line}: BilledCost is not a number: 12,5",
                "quote": "Line 202: unterminated CSV quoted field",
                "columns": f"Line {line}: missing data for column",
                "nan": f"Line {line}: BilledCost is not a number: NaN"}[broken]  # fmt: skip
    assert expected in error, error


def test_the_first_bad_lines_across_chunks_are_named(tmp_path, monkeypatch):
    """Bad lines in several chunks: the report names the file's first ten, as one typing pass does."""
    path = tmp_path / "bad.csv"
    path.write_bytes(generate(tmp_path, "aws", "1.2", 200).read_bytes())
    bad = [60, 75, 90, 105, 120, 135, 150, 165, 170, 180, 190, 200]
    for number in bad:
        _break_line(path, number, "nan")
    with tenant_scope(ResellerFactory()):
        error = _chunked_and_whole(path, monkeypatch).error
    assert [int(line.split(":")[0][5:]) for line in error.splitlines()[1:]] == bad[:10], error


def test_a_line_copy_refuses_is_reported_before_a_bad_value_in_an_earlier_chunk(tmp_path, monkeypatch):
    """One COPY reads the whole file before any value is typed: a stray quote late in the file is what it
    reports, though an earlier chunk's typing fails first."""
    path = tmp_path / "bad.csv"
    path.write_bytes(generate(tmp_path, "aws", "1.2", 200).read_bytes())
    _break_line(path, 20, "nan")
    _break_line(path, 170, "quote")
    with tenant_scope(ResellerFactory()):
        error = _chunked_and_whole(path, monkeypatch).error
    assert "unterminated CSV quoted field" in error, error


def _linked_reseller(path):
    reseller = ResellerFactory()
    customer = CustomerFactory(reseller=reseller)
    for number in sorted(accounts_of(path)):
        CloudAccountFactory(customer=customer, provider="aws", account_id=number)
    return reseller


def _raw_cost(path):
    with open(path, newline="", encoding="utf-8") as f:
        return sum(Decimal(row["BilledCost"]) for row in csv.DictReader(f))


def test_lines_repeated_across_and_within_chunks_are_each_imported_once(tmp_path):
    """Every chunk's plain insert gives a line its first occurrence's fingerprint: a line of the first
    chunk repeated in the last, one repeated inside a middle chunk and one inside the last make a plain
    insert fail; the chunks then go in as one, each occurrence once, and a re-import adds nothing."""
    source = generate(tmp_path, "aws", "1.2", 200)
    lines = source.read_text(encoding="utf-8").splitlines(keepends=True)
    path = tmp_path / "repeated.csv"
    path.write_text(
        "".join([*lines[:62], lines[60], *lines[62:], lines[10], lines[150], lines[150]]), "utf-8"
    )
    assert len(ingest.chunk_cuts(path, uuid.uuid4())) > 4
    reseller = _linked_reseller(path)
    with tenant_scope(reseller):
        first, again = import_file(path), import_file(path)
        assert (first.status, first.rows_read, first.rows_new) == (UsageImport.Status.DONE, 204, 204), (
            first.error
        )
        assert (again.rows_new, again.rows_duplicate) == (0, 204)
        assert UsageRow.objects.count() == 204
        assert UsageRow.objects.aggregate(t=Sum("cost"))["t"] == _raw_cost(path)
        assert round(DailySpend.objects.aggregate(t=Sum("cost"))["t"], 2) == round(_raw_cost(path), 2)
        assert sorted(UsageRow.objects.values_list("line_no", flat=True)) == list(range(2, 206))


@pytest.mark.parametrize("sample", [rollups.OVERLAP_SAMPLE, 0])
def test_a_file_whose_last_chunks_were_imported_adds_the_others(tmp_path, monkeypatch, sample):
    """The first chunks go in with plain inserts; the last ones' meet imported rows (in their sample, or
    without one in the insert itself): all are rolled back and the file goes in skipping the imported
    rows, with its rollups counted once."""
    monkeypatch.setattr(rollups, "OVERLAP_SAMPLE", sample)
    source = generate(tmp_path, "aws", "1.2", 200)
    lines = source.read_text(encoding="utf-8").splitlines(keepends=True)
    tail = tmp_path / "tail.csv"
    tail.write_text("".join([lines[0], *lines[151:]]), encoding="utf-8")  # rows 151-200: the last chunks'
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


def test_the_rows_read_are_shown_while_the_chunks_are_copied(tmp_path, monkeypatch):
    """The helpers write the rows read so far (ingest_split.Progress), then the whole file's count and
    "Processing" once every chunk is copied, while the import's transaction is still open."""
    writes = []
    write = ingest_split.Progress._write
    monkeypatch.setattr(ingest_split, "PROGRESS_SECONDS", 0)
    monkeypatch.setattr(ingest_split.Progress, "_write", lambda self, *a: writes.append(a) or write(self, *a))
    source = generate(tmp_path, "aws", "1.2", 200)
    with tenant_scope(_linked_reseller(source)):
        record = import_file(source)
        assert (record.status, record.rows_read, record.rows_new) == (UsageImport.Status.DONE, 200, 200)
    counts = [values[0] for assignments, *values in writes if "status" not in assignments]
    assert len(counts) > 3 and counts == sorted(counts) and counts[-1] <= 200
    assert writes[-1] == ("rows_read = %s, status = %s", 200, UsageImport.Status.PROCESSING.value)


@pytest.mark.parametrize("where", ["typing", "insert"])
def test_a_failure_in_a_helper_or_the_insert_keeps_nothing(tmp_path, monkeypatch, where):
    """An error that is no problem of the file (here an SQL error typing chunk 2, or the import's own
    insert of its third chunk failing) is raised; nothing of the import is kept, its tables are dropped
    and the helper thread is gone."""
    from billing import ingest_pipeline

    if where == "typing":
        typed_table_sql = ingest.typed_table_sql

        def broken(typed, *args, **kwargs):
            if typed.startswith("usage_typed2_"):
                return "SELECT no_such_function()"
            return typed_table_sql(typed, *args, **kwargs)

        monkeypatch.setattr(ingest, "typed_table_sql", broken)
    else:
        insert_plain, calls = ingest_pipeline._insert_plain, []

        def broken(*args):
            calls.append(1)
            if len(calls) == 3:
                raise RuntimeError("the worker was interrupted")
            return insert_plain(*args)

        monkeypatch.setattr(ingest_pipeline, "_insert_plain", broken)
    source = generate(tmp_path, "aws", "1.2", 200)
    threads = threading.active_count()
    with tenant_scope(_linked_reseller(source)):
        with pytest.raises((psycopg.Error, RuntimeError)):
            import_file(source)
        assert not UsageRow.objects.exists() and not UsageDaily.objects.exists()
    assert threading.active_count() == threads
    assert _staging_left() == 0


def test_accounts_are_matched_by_the_helpers(tmp_path):
    """The helpers match the cloud accounts as they type each chunk (in the reseller's scope, on their own
    connections): each row gets its SubAccountId's account and customer, or none when it is not linked."""
    source = generate(tmp_path, "aws", "1.2", 200)
    linked = sorted(accounts_of(source))[::2]  # half of the accounts: the others' rows stay unmatched
    reseller = ResellerFactory()
    customer = CustomerFactory(reseller=reseller)
    for number in linked:
        CloudAccountFactory(customer=customer, provider="aws", account_id=number)
    with open(source, newline="", encoding="utf-8") as f:
        subs = [row["SubAccountId"].lower() for row in csv.DictReader(f)]
    expected = sorted((i + 2, sub if sub in linked else None) for i, sub in enumerate(subs))
    with tenant_scope(reseller):
        record = import_file(source)
        assert record.status == UsageImport.Status.DONE, record.error
        matched = sum(1 for _, account in expected if account)
        assert 0 < matched < 200 and (record.rows_matched, record.rows_unmatched) == (matched, 200 - matched)
        rows = UsageRow.objects.values_list("line_no", "cloud_account__account_id", "customer_id")
        assert sorted((line, account) for line, account, _ in rows) == expected
        assert {c for _, account, c in rows if account} == {customer.pk}
        assert not any(c for _, account, c in rows if not account)


def test_each_chunk_is_priced_with_the_keys_its_helper_made(tmp_path):
    """The helpers make each chunk's pricing keys as they type it (usage_keys<k>_<import>): every row of
    every chunk gets the reseller's pricebook, its rule and the rule's price (cost plus 12 %, rounded
    half-up to the cent), and the keys' tables go with the import's others."""
    source = generate(tmp_path, "aws", "1.2", 200)
    reseller = _linked_reseller(source)
    aws = ProviderFactory(code="aws")
    authorize(reseller, aws)
    book = PricebookFactory(reseller=reseller, provider=aws)
    rule = RuleFactory(pricebook=book, value=Decimal("12"))
    AssignmentFactory(pricebook=book)
    with tenant_scope(reseller):
        record = import_file(source)
        assert record.status == UsageImport.Status.DONE, record.error
        rows = list(UsageRow.objects.values_list("cost", "price", "pricebook_id", "rule_id", "priced_note"))
    assert len(rows) == 200
    cent = Decimal("0.01")
    for cost, price, pricebook, priced_by, note in rows:
        assert (pricebook, priced_by, note) == (book.pk, rule.pk, "")
        assert price == (cost * Decimal("1.12")).quantize(cent, rounding=ROUND_HALF_UP)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_class WHERE relname ~ %s", [f"^usage_keys[0-9]+_{record.pk.hex}$"]
        )
        assert cursor.fetchone()[0] == 0
