"""import_catalog: CSV and JSON, upserts, and bad rows reported by line with nothing half-imported."""

import json
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command

from marketplace.models import AddOn, Plan, Product, Provider

from .factories import M365_SCHEMA, ProviderFactory

pytestmark = pytest.mark.django_db

HEADER = "record,provider,product,name,category,type,sku,attributes,billing_term,billing_frequency,unit_cost,list_price,min_quantity,max_quantity,trial_available,plans\n"
GOOD = (
    "product,m365,,Business Standard,Productivity,license,,,,,,,,,,\n"
    "plan,m365,Business Standard,Standard annual,,,M365-STD-A,term=annual;billing=monthly;segment=commercial,annual,monthly,10.20,12.50,1,300,true,\n"
    "plan,m365,Business Standard,Standard monthly,,,M365-STD-M,term=monthly;billing=monthly;segment=commercial,monthly,monthly,12.24,15.00,1,300,false,\n"
    "addon,m365,Business Standard,Extra storage,,,M365-STOR,,,,0.16,0.20,1,,,M365-STD-A M365-STD-M\n"
)


@pytest.fixture
def m365(db):
    return ProviderFactory(
        code="m365", name="Microsoft 365", kind=Provider.Kind.LICENSES, plan_filter_schema=M365_SCHEMA
    )


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def run(path, capsys):
    call_command("import_catalog", path)
    return capsys.readouterr()


def test_csv_import_and_reimport(m365, tmp_path, capsys):
    path = write(tmp_path, "catalog.csv", HEADER + GOOD)
    out = run(path, capsys).out
    assert "products: 1 new" in out and "plans: 2 new" in out and "addons: 1 new" in out
    plan = Plan.objects.get(sku="M365-STD-A")
    assert plan.attributes == {"term": "annual", "billing": "monthly", "segment": "commercial"}
    assert (plan.unit_cost, plan.list_price, plan.max_quantity, plan.trial_available) == (
        Decimal("10.20"), Decimal("12.50"), 300, True,
    )  # fmt: skip
    assert set(AddOn.objects.get(sku="M365-STOR").plans.values_list("sku", flat=True)) == {
        "M365-STD-A",
        "M365-STD-M",
    }
    # Again, with a new price: updated in place.
    out = run(write(tmp_path, "again.csv", HEADER + GOOD.replace("10.20,12.50", "10.50,12.90")), capsys).out
    assert "plans: 0 new, 2 updated" in out
    assert Plan.objects.get(sku="M365-STD-A").unit_cost == Decimal("10.50")
    assert Plan.objects.count() == 2


def test_bad_rows_are_reported_by_line_and_nothing_is_imported(m365, tmp_path, capsys):
    bad = (
        "plan,m365,Business Standard,Negative,,,M365-NEG,term=annual,annual,monthly,-1,12.50,1,300,,\n"
        "plan,m365,Business Standard,Backwards,,,M365-BACK,term=annual,annual,monthly,1,2,10,5,,\n"
        "plan,m365,Business Standard,Odd term,,,M365-ODD,term=weekly,annual,monthly,1,2,1,,,\n"
        "plan,nosuch,Business Standard,Who,,,NOPE-1,,annual,monthly,1,2,1,,,\n"
        "gadget,m365,,,,,,,,,,,,,,\n"
        "plan,m365,Business Standard,Not a number,,,M365-NAN,term=annual,annual,monthly,ten,2,1,,,\n"
        "addon,m365,Business Standard,Orphan,,,M365-ORPH,,,,1,2,1,,,NO-SUCH-PLAN\n"
    )
    path = write(tmp_path, "bad.csv", HEADER + GOOD + bad)
    with pytest.raises(CommandError, match="7 error"):
        call_command("import_catalog", path)
    errors = capsys.readouterr().err.splitlines()
    assert errors == [
        "line 6: unit_cost: Prices cannot be negative.",
        "line 7: max_quantity: The maximum quantity cannot be below the minimum (10).",
        "line 8: attributes: term: 'weekly' is not one of monthly, annual, three_year.",
        "line 9: provider: no provider with code 'nosuch' (add it first, in the admin or a provider record)",
        "line 10: record: 'gadget' is not one of provider, product, plan, addon",
        "line 11: unit_cost: 'ten' is not a number",
        "line 12: plans: no plan with SKU NO-SUCH-PLAN",
    ]
    # The good rows above the bad ones were rolled back too.
    assert not Product.objects.exists() and not Plan.objects.exists() and not AddOn.objects.exists()


def test_json_import_with_a_provider_record_and_line_numbers(db, tmp_path, capsys):
    records = [
        {"record": "provider", "provider": "acronis", "name": "Acronis", "kind": "saas",
         "plan_filter_schema": [{"key": "edition", "choices": ["standard", "advanced"]}]},
        {"record": "product", "provider": "acronis", "name": "Cyber Protect", "category": "Backup", "type": "license"},
        {"record": "plan", "provider": "acronis", "product": "Cyber Protect", "sku": "ACR-STD", "name": "Standard",
         "attributes": {"edition": "standard"}, "unit_cost": 4.2, "list_price": "6.00", "max_quantity": 1000},
    ]  # fmt: skip
    text = "[\n" + ",\n".join(json.dumps(r) for r in records) + "\n]\n"
    run(write(tmp_path, "catalog.json", text), capsys)
    plan = Plan.objects.get(sku="ACR-STD")
    assert (
        plan.unit_cost == Decimal("4.2") and plan.product.provider.plan_filter_schema[0]["label"] == "Edition"
    )
    records[2] = {**records[2], "sku": "ACR-ADV", "attributes": {"edition": "ultimate"}, "list_price": "-6"}
    text = "[\n" + ",\n".join(json.dumps(r) for r in records) + "\n]\n"
    with pytest.raises(CommandError):
        call_command("import_catalog", write(tmp_path, "bad.json", text))
    assert capsys.readouterr().err.splitlines() == [
        "line 4: list_price: Prices cannot be negative.",
        "line 4: attributes: edition: 'ultimate' is not one of standard, advanced.",
    ]
    assert not Plan.objects.filter(sku="ACR-ADV").exists()


def test_unreadable_files_are_refused(db, tmp_path):
    with pytest.raises(CommandError):
        call_command("import_catalog", write(tmp_path, "catalog.json", '[{"record": "plan",}]'))
    with pytest.raises(CommandError):
        call_command("import_catalog", write(tmp_path, "catalog.csv", "sku,price\nX,1\n"))
    with pytest.raises(CommandError):
        call_command("import_catalog", write(tmp_path, "catalog.xlsx", "whatever"))
