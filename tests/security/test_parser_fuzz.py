"""Parser fuzzing: the FOCUS usage import and the catalog import, fed arbitrary bytes and
structured-but-mutated records (hypothesis). The only allowed outcomes are rows imported or the parser's
own refusal with a message: for a usage file, the upload check's ValidationError or a FAILED import with
its report and no row kept; for the catalog, an ImportResult with "line N: field: message" errors and
nothing kept.

Bounded in the suite (HYPOTHESIS_PROFILE=ci, derandomized); the long run is
`HYPOTHESIS_PROFILE=fuzz ./scripts/run-tests tests/security -k fuzz`, and the pure-Python parsers also
run under atheris (`python tests/security/atheris_fuzz.py`, see docs/security.md).
"""

import csv
import gzip
import io
import json
import logging

import pytest
from django.core.exceptions import ValidationError
from django.db import transaction
from django.urls import reverse
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from billing.ingest import run_import
from billing.models_usage import UsageImport, UsageRow
from billing.services_usage import do_create_import
from customer360.tenancy import tenant_scope
from marketplace.importer import COLUMNS, import_records, read_csv, read_json
from marketplace.models import AddOn, Plan, Product, Provider

from ..factories import ResellerFactory, UserFactory
from .conftest import PROFILE, examples
from .naughty import BLNS, NUMBERS, TEXT

pytestmark = pytest.mark.django_db
logger = logging.getLogger(__name__)  # the examples run, for docs/security.md

HEADER = ["BillingAccountId", "SubAccountId", "ProviderName", "ChargePeriodStart", "ChargePeriodEnd",
          "BilledCost", "EffectiveCost", "BillingCurrency", "ServiceName", "ConsumedQuantity"]  # fmt: skip
GOOD_ROW = ["111122223333", "111122223333", "AWS", "2026-01-05T00:00:00Z", "2026-01-06T00:00:00Z",
            "1.25", "1.20", "USD", "Amazon EC2", "3"]  # fmt: skip
NAUGHTY = st.sampled_from([*TEXT, *NUMBERS, *BLNS[:200], "", '"', '""', ",", "\n"])


@pytest.fixture
def reseller(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    reseller = ResellerFactory()
    with tenant_scope(reseller):
        yield reseller


def profile(n):
    return hsettings(hsettings.get_profile(PROFILE), max_examples=examples(n))


def import_usage(content: bytes, name: str, actor=None):
    """Upload and run one usage file (the task's work, synchronously); checks the allowed outcomes and
    rolls back what it made, so every example starts from the same rows."""
    with transaction.atomic():
        try:
            record = do_create_import(actor, file=io.BytesIO(content), name=name, queue=False)
        except ValidationError as exc:  # refused on the upload form, with a message
            assert exc.messages and all(m.strip() for m in exc.messages)
            transaction.set_rollback(True)
            return "refused"
        run_import(record)
        record.refresh_from_db()
        assert record.status in (UsageImport.Status.DONE, UsageImport.Status.FAILED)
        if record.status == UsageImport.Status.FAILED:
            assert record.error.strip(), "a failed import says why"
            assert not UsageRow.objects.filter(usage_import=record).exists(), "a failed import keeps no row"
        transaction.set_rollback(True)
        return record.status


def _csv(rows) -> bytes:
    out = io.StringIO()
    import csv

    csv.writer(out).writerows(rows)
    return out.getvalue().encode("utf-8", "surrogatepass")


def test_the_usage_import_takes_any_bytes(reseller):
    seen = {"runs": 0}

    # Bytes that get past the upload's content check as often as not: a text header, gzip, Parquet.
    header = (",".join(HEADER) + "\n").encode()
    content = st.one_of(
        st.binary(max_size=2000),
        st.binary(max_size=2000).map(lambda b: header + b),
        st.binary(max_size=2000).map(lambda b: gzip.compress(header + b)),
        st.binary(max_size=2000).map(lambda b: b"PAR1" + b + b"PAR1"),
    )

    @profile(40)
    @given(content, st.sampled_from(["u.csv", "u.csv.gz", "u.parquet"]))
    def run(content, name):
        seen["runs"] += 1
        import_usage(content, name)

    run()
    logger.warning("parser fuzz, focus bytes: %s examples", seen["runs"])


def test_the_usage_import_takes_mutated_focus_rows(reseller):
    """A good FOCUS file, with any cell replaced by a naughty value, cells dropped or added."""
    seen = {"runs": 0, "done": 0}
    mutation = st.lists(
        st.tuples(st.integers(0, 3), st.integers(0, len(HEADER) - 1), NAUGHTY | st.text(max_size=50)),
        min_size=1,
        max_size=4,
    )

    @profile(100)
    @given(mutation, st.booleans())
    def run(changes, bom):
        rows = [list(HEADER), list(GOOD_ROW), list(GOOD_ROW)]
        for row, column, value in changes:
            if row == 3:  # a ragged row
                rows.append(list(GOOD_ROW[: column + 1]) + [value])
            else:
                rows[row][column] = value
        content = (b"\xef\xbb\xbf" if bom else b"") + _csv(rows)
        seen["runs"] += 1
        if import_usage(content, "mutated.csv") == UsageImport.Status.DONE:
            seen["done"] += 1

    run()
    logger.warning("parser fuzz, focus rows: %s examples", seen["runs"])
    assert seen["done"], "some mutations leave a good file: the import must still take those"


def catalog_outcome(records):
    """Import `records`; the result is ok, or errors with messages and no catalog row changed."""
    before = [m.objects.count() for m in (Provider, Product, Plan, AddOn)]
    with transaction.atomic():
        result = import_records(records)
        if not result.ok:
            assert all(":" in e and e.split(":", 2)[-1].strip() for e in result.errors), result.errors
            assert [m.objects.count() for m in (Provider, Product, Plan, AddOn)] == before
        transaction.set_rollback(True)
    return result


def parse_catalog(text: str, kind: str):
    from marketplace.importer import RowError

    try:
        return read_csv(text) if kind == "csv" else read_json(text)
    except RowError as exc:
        assert exc.message.strip()
        return None


def test_the_catalog_import_takes_any_text(db):
    seen = {"runs": 0}

    @profile(100)
    @given(st.text(max_size=600) | NAUGHTY, st.sampled_from(["csv", "json"]))
    def run(text, kind):
        seen["runs"] += 1
        records = parse_catalog(text, kind)
        if records:
            catalog_outcome(records)

    run()
    logger.warning("parser fuzz, catalog text: %s examples", seen["runs"])


def test_the_catalog_import_takes_mutated_records(db):
    """Good provider/product/plan records with naughty values, in CSV and JSON (any JSON value)."""
    seen = {"runs": 0}
    base = [
        {"record": "provider", "provider": "fz", "name": "Fuzz Cloud"},
        {"record": "product", "provider": "fz", "name": "Fuzz Suite", "type": "license"},
        {"record": "plan", "provider": "fz", "product": "Fuzz Suite", "sku": "FZ-1", "name": "Basic",
         "unit_cost": "1.00", "list_price": "2.00"},
    ]  # fmt: skip
    json_value = st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=20),
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
        max_leaves=6,
    )

    @profile(100)
    @given(
        st.integers(0, 2), st.sampled_from(COLUMNS), NAUGHTY | json_value, st.sampled_from(["csv", "json"])
    )
    def run(index, column, value, kind):
        records = [dict(r) for r in base]
        records[index][column] = value
        if kind == "csv":
            out = io.StringIO()
            writer = csv.DictWriter(out, fieldnames=COLUMNS)
            writer.writeheader()
            writer.writerows(
                {k: (v if isinstance(v, str) else json.dumps(v)) for k, v in r.items()} for r in records
            )
            text = out.getvalue()
        else:
            text = json.dumps(records, ensure_ascii=False)
        seen["runs"] += 1
        parsed = parse_catalog(text, kind)
        if parsed:
            catalog_outcome(parsed)

    run()
    logger.warning("parser fuzz, catalog records: %s examples", seen["runs"])


def test_a_failed_import_is_shown_with_its_reason(reseller, client, settings):
    """What the user sees of a refused value: the import page names the line and the problem."""
    user = UserFactory(reseller=reseller)
    client.force_login(user)
    rows = [HEADER, GOOD_ROW, [*GOOD_ROW[:5], "=1+1", *GOOD_ROW[6:]]]
    with transaction.atomic():
        record = do_create_import(user, file=io.BytesIO(_csv(rows)), name="bad.csv", queue=False)
        run_import(record)
        response = client.get(reverse("billing:usage_import", kwargs={"import_id": record.pk}))
        transaction.set_rollback(True)
    assert response.status_code == 200
    assert "BilledCost is not a number: =1+1" in response.content.decode()
