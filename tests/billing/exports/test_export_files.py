"""Exports to the platform's own storage (download in the browser), read back with the csv module and
pyarrow: the partitioned layout, the manifest, the sums against the invoices, neutralised CSV cells,
tenancy, the price basis."""

import uuid
from decimal import Decimal

import pyarrow.dataset as ds
import pytest
from django.db.models import Sum

from billing.exports.destinations import export_root
from billing.invoicing import generate_invoice
from billing.models_exports import BillingExport
from billing.models_invoices import LineKind
from billing.models_usage import UsageImport, UsageRow
from customer360.tenancy import tenant_scope
from customers.models import CloudAccount

from .conftest import MAY
from .helpers import billed_total, check_manifest, make_export, manifest_json, rows_of, run_now

pytestmark = pytest.mark.django_db


def stored(export, run) -> dict:
    root = export_root(export)
    paths = [f["path"] for f in run.files] + [run.manifest_path]
    return {p: (root / p).read_bytes() for p in paths}


@pytest.mark.parametrize("fmt", ["csv", "csv.gz", "parquet"])
def test_export_matches_the_invoices_to_the_cent(usage, fmt):
    export = make_export(usage.reseller, format=fmt, month=MAY, settings={"prefix": "focus/acme"})
    run = run_now(export)
    assert run.status == "done", run.error
    files = stored(export, run)
    [entry] = run.files
    assert entry["path"] == f"focus/acme/BILLING_PERIOD=2026-05/part-00000.{fmt}"
    assert run.manifest_path == "focus/acme/BILLING_PERIOD=2026-05/_manifest.json"
    manifest = manifest_json(files[run.manifest_path])
    check_manifest(manifest, files)
    rows = rows_of(files[entry["path"]], fmt)
    assert len(rows) == entry["rows"] == run.rows_written == run.rows_estimated == 600
    with tenant_scope(usage.reseller):
        for customer in usage.customers:
            invoice = generate_invoice(customer, MAY)
            invoiced = sum(ln.amount for ln in invoice.lines.all() if ln.kind == LineKind.USAGE)
            mine = [r for r in rows if r["x_CustomerId"] == str(customer.pk)]
            assert mine and {r["BillingCurrency"] for r in mine} == {customer.currency}
            assert billed_total(mine) == invoiced, customer.currency
    assert {r["x_CustomerId"] for r in rows} == {str(c.pk) for c in usage.customers}


def test_csv_cells_that_look_like_formulas_are_neutralised_and_numbers_stay_numbers(usage):
    usd = usage.customers[0]
    with tenant_scope(usage.reseller):
        record = UsageImport.objects.get()
        account = CloudAccount.objects.filter(customer=usd).first()
        UsageRow.objects.create(
            usage_import=record, line_no=9999, fingerprint=uuid.uuid4(), customer=usd, cloud_account=account,
            provider="aws", sub_account_id=account.account_id, usage_date=MAY, charge_category="Credit",
            service_name="\tTabbed", service_category="\rReturn", sku="@SUM(A1:A9)", region="+1-555",
            resource_id='=HYPERLINK("http://evil.example","x")', cost=Decimal("-1.25"), price=Decimal("-1.41"),
            price_currency="USD",
        )  # fmt: skip
    export = make_export(usage.reseller, format="csv", month=MAY, basis="cost")
    run = run_now(export)
    rows = rows_of(stored(export, run)[run.files[0]["path"]], "csv")
    [credit] = [r for r in rows if r["ChargeCategory"] == "Credit"]
    assert credit["ResourceId"] == '\'=HYPERLINK("http://evil.example","x")'
    assert (credit["SkuId"], credit["RegionId"]) == ("'@SUM(A1:A9)", "'+1-555")
    assert (credit["ServiceName"], credit["ServiceCategory"]) == ("'\tTabbed", "'\rReturn")
    assert (credit["BilledCost"], credit["x_CustomerPrice"]) == ("-1.25", "-1.4100")
    hooli = [r for r in rows if r["x_CustomerName"].startswith("'")]
    assert hooli and {r["x_CustomerName"] for r in hooli} == {"'=Hooli+Europe"}
    assert {r["SubAccountName"][:2] for r in rows} == {"'-"}  # account names "-acct N"
    for r in rows:  # numbers stay numbers: no apostrophe before a negative amount
        Decimal(r["BilledCost"]), Decimal(r["x_CustomerPrice"]), Decimal(r["ConsumedQuantity"])


def test_parquet_is_typed_and_readable_as_a_hive_partitioned_dataset(usage):
    export = make_export(usage.reseller, format="parquet", month=MAY, settings={"prefix": "lake"})
    run = run_now(export)
    dataset = ds.dataset(export_root(export) / "lake", format="parquet", partitioning="hive")
    table = dataset.to_table()
    assert table.num_rows == 600
    assert str(table.schema.field("BilledCost").type) == "decimal128(38, 18)"
    assert str(table.schema.field("ChargePeriodStart").type) == "timestamp[ms, tz=UTC]"
    assert set(table.column("BILLING_PERIOD").to_pylist()) == {"2026-05"}
    assert run.files[0]["sha256"]


def test_an_export_never_contains_another_resellers_rows(usage):
    other_customer = usage.other_customer
    export = make_export(usage.reseller, format="csv", month=MAY)
    # Whatever lands in the export's filters (another reseller's customer or accounts, posted or not):
    with tenant_scope(usage.reseller):
        export.customer_id = None
        export.providers = ["aws", "gcp"]
        export.save()
    run = run_now(export)
    rows = rows_of(stored(export, run)[run.files[0]["path"]], "csv")
    assert rows and str(other_customer.pk) not in {r["x_CustomerId"] for r in rows}
    assert {r["ProviderName"] for r in rows} == {"AWS"}
    assert "Globex" not in stored(export, run)[run.files[0]["path"]].decode()


def test_one_customer_and_the_cost_basis(usage):
    usd, eur = usage.customers
    export = make_export(usage.reseller, customer=eur, format="parquet", basis="cost", month=MAY)
    run = run_now(export)
    rows = rows_of(stored(export, run)[run.files[0]["path"]], "parquet")
    assert rows and {r["x_CustomerId"] for r in rows} == {str(eur.pk)}
    assert {r["BillingCurrency"] for r in rows} == {"USD"}
    assert {r["x_CustomerPriceCurrency"] for r in rows} == {"EUR"}
    with tenant_scope(usage.reseller):
        invoice = generate_invoice(eur, MAY)
        lines = [ln for ln in invoice.lines.all() if ln.kind == LineKind.USAGE]
    assert sum((r["x_CustomerPrice"] for r in rows), Decimal(0)) == sum(ln.amount for ln in lines)
    with tenant_scope(usage.reseller):
        cost = UsageRow.objects.filter(customer=eur).aggregate(total=Sum("cost"))["total"]
    assert sum((r["BilledCost"] for r in rows), Decimal(0)) == cost


def test_another_resellers_ids_in_the_filters_select_nothing_of_theirs(usage):
    """Ids of another reseller's customer and accounts, written straight into the export (no form): the
    SELECT still reads only the export's reseller's rows, so the file is empty."""
    with tenant_scope(usage.other_reseller):
        accounts = list(CloudAccount.objects.values_list("pk", flat=True))
    export = make_export(usage.reseller, format="csv", month=MAY)
    with tenant_scope(usage.reseller):
        BillingExport.objects.filter(pk=export.pk).update(
            customer_id=usage.other_customer.pk, cloud_account_ids=accounts
        )
        export.refresh_from_db()
    run = run_now(export)
    assert run.status == "done" and run.rows_written == 0
    data = stored(export, run)[run.files[0]["path"]]
    assert rows_of(data, "csv") == [] and b"Globex" not in data
