"""Loading the catalog from a CSV or JSON file (docs/catalog-format.md): `manage.py import_catalog FILE`.

Every record is validated with the models' own checks (so the admin and the importer refuse the same
things) and written in file order inside one transaction, each row in a savepoint so that every bad row
is reported; if any row is bad the whole transaction is rolled back: nothing is half-imported.
Records are upserted by their natural keys: providers by code, products by (provider, name), plans and
add-ons by SKU. A record may refer to rows defined earlier in the same file.
"""

import csv
import io
import json
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path

from django.core.exceptions import ValidationError
from django.db import DataError, IntegrityError, transaction

from .models import AddOn, BillingFrequency, BillingTerm, Plan, Product, ProductType, Provider

RECORDS = ("provider", "product", "plan", "addon")
COLUMNS = [
    "record", "provider", "product", "name", "kind", "plan_filter_schema", "category", "type", "description",
    "sku", "attributes", "billing_term", "billing_frequency", "unit_cost", "list_price", "min_quantity",
    "max_quantity", "trial_available", "plans", "is_active",
]  # fmt: skip
TRUE, FALSE = {"true", "yes", "1", "y"}, {"false", "no", "0", "n", ""}


class RowError(Exception):
    def __init__(self, field, message, line=None):
        super().__init__(message)
        self.field, self.message, self.line = field, message, line


@dataclass
class ImportResult:
    errors: list = field(default_factory=list)  # "line N: field: message"
    created: dict = field(default_factory=lambda: dict.fromkeys(RECORDS, 0))
    updated: dict = field(default_factory=lambda: dict.fromkeys(RECORDS, 0))

    @property
    def ok(self) -> bool:
        return not self.errors


# --- Reading -------------------------------------------------------------------------------------------


def read_records(path: Path) -> list[tuple[int, dict]]:
    """[(line number, record)] from a .csv, .json (an array of objects) or .jsonl file."""
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise RowError(
            "file", f"not UTF-8 text (byte {exc.start + 1} cannot be read); save it as UTF-8"
        ) from exc
    suffix = Path(path).suffix.lower()
    if suffix == ".csv":
        return read_csv(text)
    if suffix in (".json", ".jsonl"):
        return read_json(text)
    raise RowError("file", f"unknown file type {suffix or '(none)'}: use .csv, .json or .jsonl")


def read_csv(text: str) -> list[tuple[int, dict]]:
    reader = csv.DictReader(io.StringIO(text, newline=""))
    try:
        return _csv_rows(reader)
    except csv.Error as exc:
        raise RowError("csv", str(exc), line=reader.line_num) from exc


def _csv_rows(reader) -> list[tuple[int, dict]]:
    unknown = [c for c in reader.fieldnames or [] if c and c.strip() not in COLUMNS]
    if not reader.fieldnames or "record" not in reader.fieldnames:
        raise RowError("header", "the first line names the columns and must include 'record'")
    if unknown:
        raise RowError("header", f"unknown column(s) {', '.join(unknown)}; see docs/catalog-format.md")
    rows = []
    for row in reader:
        values = {k.strip(): (v or "").strip() for k, v in row.items() if k}
        if any(values.values()):
            rows.append((reader.line_num, values))
    return rows


def read_json(text: str) -> list[tuple[int, dict]]:
    """Each object of a top-level array (or each line of JSON Lines), with the line it starts on."""
    decoder, records, pos = json.JSONDecoder(parse_float=Decimal), [], 0  # numbers exact, never floats

    def line_of(offset):
        return text.count("\n", 0, offset) + 1

    def skip(p):
        while p < len(text) and text[p] in " \t\r\n,":
            p += 1
        return p

    try:
        pos = skip(pos)
        array = pos < len(text) and text[pos] == "["
        pos = skip(pos + 1) if array else pos
        while pos < len(text) and not (array and text[pos] == "]"):
            value, end = decoder.raw_decode(text, pos)
            if not isinstance(value, dict):
                raise RowError("record", "each record is a JSON object", line=line_of(pos))
            records.append((line_of(pos), value))
            pos = skip(end)
    except json.JSONDecodeError as exc:
        raise RowError("json", exc.msg, line=exc.lineno) from exc
    except RecursionError as exc:
        raise RowError("json", "nested too deeply", line=line_of(pos)) from exc
    except (InvalidOperation, ValueError) as exc:  # a number too big to be one (1e999999999, 5,000 digits)
        raise RowError("json", "a number is out of range", line=line_of(pos)) from exc
    return records


# --- Converting fields ---------------------------------------------------------------------------------


def _text(row, name, default=""):
    """A text value of the record (JSON may hold any type there)."""
    value = row.get(name)
    if value is None or value == "":
        return default
    if isinstance(value, bool) or not isinstance(value, str | int | Decimal):
        raise RowError(name, f"must be text, not {type(value).__name__}")
    return str(value).strip()


def _has_nul(value) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    return isinstance(value, list) and any(_has_nul(v) for v in value)


def _decimal(value, name):
    if value in (None, ""):
        raise RowError(name, "required")
    if isinstance(value, float):
        raise RowError(name, "money is never a float; write the amount as a string or an exact number")
    try:
        return Decimal(str(value).strip())
    except InvalidOperation as exc:
        raise RowError(name, f"'{value}' is not a number") from exc


def _int(value, name, default=None):
    if value in (None, ""):
        return default
    try:
        return int(str(value).strip())
    except ValueError as exc:
        raise RowError(name, f"'{value}' is not a whole number") from exc


def _bool(value, name, default=False):
    if isinstance(value, bool):
        return value
    text = str(value if value is not None else "").strip().lower()
    if text == "":
        return default
    if text in TRUE | FALSE:
        return text in TRUE
    raise RowError(name, f"'{value}' is not true or false")


def _attributes(value):
    """{key: value} from a JSON object or "key=value; key=value"."""
    if isinstance(value, dict):
        return {str(k): str(v) for k, v in value.items()}
    pairs = {}
    for part in filter(None, (p.strip() for p in str(value or "").split(";"))):
        if "=" not in part:
            raise RowError("attributes", f"'{part}' is not key=value")
        key, val = (s.strip() for s in part.split("=", 1))
        pairs[key] = val
    return pairs


def _choice(value, name, choices, default=None):
    value = str(value or default or "").strip()
    if value not in choices.values:
        raise RowError(name, f"'{value}' is not one of {', '.join(choices.values)}")
    return value


def _list(value):
    if isinstance(value, list):
        return [str(v).strip() for v in value if str(v).strip()]
    return [v for v in str(value or "").replace(";", " ").split() if v]


# --- Applying records ----------------------------------------------------------------------------------


def _provider(code):
    provider = Provider.objects.filter(code=code).first()
    if provider is None:
        raise RowError(
            "provider", f"no provider with code '{code}' (add it first, in the admin or a provider record)"
        )
    return provider


def _product(provider, name):
    product = Product.objects.filter(provider=provider, name=name).first()
    if product is None:
        raise RowError("product", f"{provider} has no product named '{name}' (add a product record first)")
    return product


def _save(obj, result, kind, created):
    obj.full_clean()
    obj.save()
    (result.created if created else result.updated)[kind] += 1


def apply_provider(row, result):
    code = _text(row, "provider")
    provider = Provider.objects.filter(code=code).first()
    created = provider is None
    provider = provider or Provider(code=code)
    provider.name = _text(row, "name")
    provider.kind = _choice(row.get("kind"), "kind", Provider.Kind, default=Provider.Kind.CLOUD)
    schema = row.get("plan_filter_schema") or []
    if isinstance(schema, str):
        try:
            schema = json.loads(schema) if schema.strip() else []
        except json.JSONDecodeError as exc:
            raise RowError("plan_filter_schema", f"not valid JSON: {exc.msg}") from exc
    provider.plan_filter_schema = schema
    provider.is_active = _bool(row.get("is_active"), "is_active", default=True)
    _save(provider, result, "provider", created)


def apply_product(row, result):
    provider = _provider(_text(row, "provider"))
    name = _text(row, "name") or _text(row, "product")
    product = Product.objects.filter(provider=provider, name=name).first()
    created = product is None
    product = product or Product(provider=provider, name=name)
    product.category = _text(row, "category")
    product.type = _choice(row.get("type"), "type", ProductType)
    product.description = _text(row, "description")
    product.is_active = _bool(row.get("is_active"), "is_active", default=True)
    _save(product, result, "product", created)


def _priced(model, row, kind):
    provider = _provider(_text(row, "provider"))
    product = _product(provider, _text(row, "product"))
    sku = _text(row, "sku")
    if not sku:
        raise RowError("sku", "required")
    other = AddOn if model is Plan else Plan
    if other.objects.filter(sku=sku).exists():
        raise RowError("sku", f"{sku} is already an {'add-on' if other is AddOn else 'plan'} SKU")
    item = model.objects.select_related("product__provider").filter(sku=sku).first()
    if item is not None and item.product.provider_id != provider.pk:
        raise RowError("sku", f"{sku} is a {item.product.provider} SKU, not {provider}")
    created = item is None
    item = item or model(sku=sku)
    item.product = product
    item.name = _text(row, "name")
    item.unit_cost = _decimal(row.get("unit_cost"), "unit_cost")
    item.list_price = _decimal(row.get("list_price"), "list_price")
    item.min_quantity = _int(row.get("min_quantity"), "min_quantity", default=1)
    item.max_quantity = _int(row.get("max_quantity"), "max_quantity")
    item.is_active = _bool(row.get("is_active"), "is_active", default=True)
    return item, created, provider


def apply_plan(row, result):
    plan, created, _ = _priced(Plan, row, "plan")
    plan.attributes = _attributes(row.get("attributes"))
    plan.billing_term = _choice(
        row.get("billing_term"), "billing_term", BillingTerm, default=BillingTerm.MONTHLY
    )
    plan.billing_frequency = _choice(
        row.get("billing_frequency"), "billing_frequency", BillingFrequency, default=BillingFrequency.MONTHLY
    )
    plan.trial_available = _bool(row.get("trial_available"), "trial_available")
    _save(plan, result, "plan", created)


def apply_addon(row, result):
    addon, created, provider = _priced(AddOn, row, "addon")
    skus = _list(row.get("plans"))
    plans = list(Plan.objects.filter(sku__in=skus).select_related("product"))
    missing = sorted(set(skus) - {p.sku for p in plans})
    if missing:
        raise RowError("plans", f"no plan with SKU {', '.join(missing)}")
    foreign = [p.sku for p in plans if p.product.provider_id != provider.pk]
    if foreign:
        raise RowError("plans", f"{', '.join(foreign)} are not {provider} plans")
    _save(addon, result, "addon", created)
    addon.plans.set(plans)


APPLY = {"provider": apply_provider, "product": apply_product, "plan": apply_plan, "addon": apply_addon}


def _messages(exc: ValidationError):
    if hasattr(exc, "error_dict"):
        for name, errors in exc.message_dict.items():
            for message in errors:
                yield ("record" if name == "__all__" else name), message
    else:
        for message in exc.messages:
            yield "record", message


def import_records(records, *, dry_run=False) -> ImportResult:
    """Apply the records in one transaction; if any is refused, nothing stays (and on dry_run either)."""
    result = ImportResult()
    with transaction.atomic():
        for line, row in records:
            kind = str(row.get("record") or "").strip().lower()
            try:
                if kind not in APPLY:
                    raise RowError("record", f"'{kind}' is not one of {', '.join(RECORDS)}")
                # PostgreSQL text and JSON cannot hold NUL: refused here, not as a database error.
                for name, value in row.items():
                    if _has_nul(name) or _has_nul(value):
                        raise RowError(name.replace("\x00", "\\0"), "contains a NUL character")
                with transaction.atomic():
                    APPLY[kind](row, result)
            except RowError as exc:
                result.errors.append(f"line {line}: {exc.field}: {exc.message}")
            except ValidationError as exc:
                result.errors.extend(f"line {line}: {name}: {message}" for name, message in _messages(exc))
            except (IntegrityError, DataError) as exc:  # a constraint, or a value PostgreSQL refuses
                result.errors.append(f"line {line}: record: {str(exc).splitlines()[0]}")
        if result.errors or dry_run:
            transaction.set_rollback(True)
    return result


def import_file(path, *, dry_run=False) -> ImportResult:
    try:
        records = read_records(path)
    except RowError as exc:
        return ImportResult(errors=[f"line {exc.line or 1}: {exc.field}: {exc.message}"])
    return import_records(records, dry_run=dry_run)
