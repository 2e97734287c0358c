"""The FOCUS column mapping: which columns of a FinOps FOCUS cost-and-usage file (1.0 to 1.3) the usage
import reads, how a provider name becomes a customers.CloudProvider code, and the SQL expressions that
turn the staging table's text columns into usage rows.

Checked against focus-data-toolkit 0.14.1's `generate` output: every provider (AWS, Azure, Google Cloud)
writes the same column names; 1.3 adds ServiceProviderName / HostProviderName (ProviderName is deprecated
but still written), ContractApplied and the Allocated* columns. Costs are BillingCurrency amounts; the
pricing engine prices from USD, so only USD billing files are accepted.
"""

from dataclasses import dataclass

REQUIRED = ("ChargePeriodStart", "BilledCost")
ACCOUNT_COLUMNS = ("SubAccountId", "BillingAccountId")  # at least one
PROVIDER_COLUMNS = ("ServiceProviderName", "ProviderName")  # first present wins (1.3: ServiceProviderName)

# Optional columns read when present; an absent one is empty.
OPTIONAL = (
    "ProviderName", "ServiceProviderName", "SubAccountId", "BillingAccountId", "ChargePeriodEnd",
    "ChargeCategory", "ChargeClass", "ChargeDescription", "EffectiveCost", "ListCost", "ConsumedQuantity",
    "PricingQuantity", "BillingCurrency", "ServiceName", "ServiceCategory", "SkuId", "SkuPriceId",
    "RegionId", "ResourceId", "CommitmentDiscountId", "Tags",
)  # fmt: skip
# Every column the import reads (the staging table keeps only these: billing.ingest.staging_sql).
READ = frozenset((*REQUIRED, *OPTIONAL))
NUMERIC = ("BilledCost", "EffectiveCost", "ListCost", "ConsumedQuantity", "PricingQuantity")
# The columns that identify a charge line, in fingerprint order (with the line's occurrence in the file).
IDENTITY = (
    "BillingAccountId", "SubAccountId", "ChargePeriodStart", "ChargePeriodEnd", "ChargeCategory",
    "ChargeClass", "ChargeDescription", "ServiceName", "SkuId", "SkuPriceId", "ResourceId", "RegionId",
    "CommitmentDiscountId", "BilledCost", "EffectiveCost", "ListCost", "ConsumedQuantity",
    "PricingQuantity", "Tags",
)  # fmt: skip

PROVIDER_NAMES = {
    "aws": "aws",
    "amazon web services": "aws",
    "microsoft azure": "azure",
    "azure": "azure",
    "microsoft": "azure",
    "google cloud": "gcp",
    "google cloud platform": "gcp",
    "gcp": "gcp",
    "google": "gcp",
}

NUMBER_RE = r"^\s*[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?\s*$"
# Marks the error raised by a row that fails typed_rows_sql's checks (billing.ingest.type_rows).
NOT_IMPORTABLE = "not-importable-line"
DATE_RE = r"^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?\s*(Z|UTC|[+-]\d{2}(:?\d{2})?)?$"


class FocusFormatError(ValueError):
    """The file cannot be imported; the message says why, naming lines where it can."""


@dataclass
class Layout:
    """A file's header mapped onto the staging table: FOCUS column name -> staging column."""

    header: list
    columns: dict  # FOCUS name -> "c<N>"
    focus_version: str

    @property
    def staging_columns(self) -> list:
        return [f"c{i}" for i in range(len(self.header))]

    def col(self, name: str) -> str:
        """SQL for the column's text, trimmed of spaces; NULL when empty or absent. btrim() only for a
        value that starts or ends with a space: in a UTF-8 database it measures every character of the
        value first (a fifth of the typing pass, for the ~20 columns read), where strpos() and LIKE
        compare bytes, and most values (ids, numbers, dates) have no space at all."""
        if name not in READ:
            raise ValueError(f"{name} is not a column the import keeps (focus.READ)")
        column = self.columns.get(name)
        if not column:
            return "NULL::text"
        value = f"s.{column}"
        padded = f"strpos({value}, ' ') > 0 AND ({value} LIKE ' %%' OR {value} LIKE '%% ')"
        return f"NULLIF(CASE WHEN {padded} THEN btrim({value}) ELSE {value} END, '')"


def clip(value: str, length: int) -> str:
    """SQL for the first `length` characters of the text `value`: left() measures every character (UTF-8),
    so only a value of more bytes than that is cut (a character is at least a byte)."""
    return f"(CASE WHEN octet_length({value}) <= {length} THEN {value} ELSE left({value}, {length}) END)"


def detect_version(header) -> str:
    names = set(header)
    if {"ServiceProviderName", "HostProviderName"} & names or "ContractApplied" in names:
        return "1.3"
    if "ChargeClass" in names or "CapacityReservationId" in names:
        return "1.2"
    return "1.0-1.1"


def layout_for(header, *, provider: str = "") -> Layout:
    """Map a header; raise FocusFormatError naming the missing required columns."""
    header = [h.strip().lstrip("\ufeff") for h in header]
    columns = {}
    for i, name in enumerate(header):
        columns.setdefault(name, f"c{i}")
    missing = [c for c in REQUIRED if c not in columns]
    if not any(c in columns for c in ACCOUNT_COLUMNS):
        missing.append(" or ".join(ACCOUNT_COLUMNS))
    if not provider and not any(c in columns for c in PROVIDER_COLUMNS):
        missing.append(" or ".join(PROVIDER_COLUMNS) + " (or choose the provider)")
    if missing:
        raise FocusFormatError(
            "This is not a FOCUS cost-and-usage file: the header (line 1) lacks the required column(s) "
            + ", ".join(missing)
            + "."
        )
    return Layout(header=header, columns=columns, focus_version=detect_version(header))


def provider_sql(layout: Layout, provider: str = "") -> str:
    """SQL giving the row's CloudProvider code (NULL for a provider name we do not know)."""
    if provider:
        return "%(forced_provider)s::text"
    names = [layout.col(c) for c in PROVIDER_COLUMNS if c in layout.columns]
    raw = f"lower(COALESCE({', '.join(names)}))"
    cases = " ".join(f"WHEN '{k}' THEN '{v}'" for k, v in PROVIDER_NAMES.items())
    return f"(CASE {raw} {cases} ELSE NULL END)"


def problems_sql(layout: Layout, provider: str = "") -> str:
    """A CASE naming a row's first problem (NULL for a good row)."""
    checks = []
    for name in REQUIRED:
        checks.append((f"{layout.col(name)} IS NULL", f"'{name} is empty'"))
    start = layout.col("ChargePeriodStart")
    checks.append((f"{start} !~ '{DATE_RE}'", f"'ChargePeriodStart is not a date: ' || left({start}, 40)"))
    for name in NUMERIC:
        if name in layout.columns:
            value = layout.col(name)
            checks.append((f"{value} !~ '{NUMBER_RE}'", f"'{name} is not a number: ' || left({value}, 40)"))
    accounts = ", ".join(layout.col(c) for c in ACCOUNT_COLUMNS)
    checks.append((f"COALESCE({accounts}) IS NULL", "'SubAccountId and BillingAccountId are empty'"))
    checks.append((f"{provider_sql(layout, provider)} IS NULL", "'unknown provider name'"))
    if "BillingCurrency" in layout.columns:
        currency = layout.col("BillingCurrency")
        checks.append(
            (
                f"upper({currency}) <> 'USD'",
                f"'BillingCurrency ' || {currency} || ' is not supported (USD files only)'",
            )
        )
    whens = " ".join(f"WHEN {cond} THEN {text}" for cond, text in checks)
    return f"(CASE {whens} ELSE NULL END)"


def _alias(name: str) -> str:
    return f"f_{name.lower()}"


def typed_rows_sql(layout: Layout, provider: str, staging: str) -> str:
    """One pass over the text staging table: every row typed, with its fingerprint base (the md5 of the
    provider and the IDENTITY columns, numbers normalised, joined by '|') and an `ok` flag for the checks
    that a cast does not make (empty required columns, unknown provider, no account, another currency,
    NaN/Infinity, a ChargePeriodStart that does not start with a date). A number or a timestamp that does not parse
    raises. PostgreSQL's regular expressions cost ~9 µs a row against ~1 µs for the casts, so
    problems_sql's run only to report a failed file. The query is written to stay parallel-safe
    (no OFFSET fences): billing.ingest creates the typed table with CREATE TABLE AS, which PostgreSQL
    may run with parallel workers."""
    raw = [c for c in dict.fromkeys(("BillingCurrency", *IDENTITY, "ServiceCategory")) if c not in NUMERIC]
    inner = ["s.line_no", f"{provider_sql(layout, provider)} AS provider"]
    inner += [f"{layout.col(c)} AS {_alias(c)}" for c in raw]
    inner += [f"trim_scale({layout.col(c)}::numeric) AS {_alias(c)}" for c in NUMERIC]
    identity = ["provider"] + [f"{_alias(c)}::text" if c in NUMERIC else _alias(c) for c in IDENTITY]
    base = "md5(concat_ws('|', " + ", ".join(f"COALESCE({p}, '')" for p in identity) + "))::uuid"
    finite = " AND ".join(f"({_alias(c)} IS NULL OR abs({_alias(c)}) < 'Infinity')" for c in NUMERIC)
    start = _alias("ChargePeriodStart")
    # PostgreSQL flattens subqueries into their reader, copying an expression to every place that reads its
    # alias: each number would be parsed five times and the identity md5 computed twice. A volatile
    # (and parallel-safe) call in a subquery's output keeps it from being flattened, so each value is
    # computed once; clock_timestamp() is the cheapest such call (~30 ns). For the same reason the checks
    # are no filter (a qual would be pushed down to the staging scan, expressions copied): a row that fails
    # them makes its fingerprint a cast that raises, naming NOT_IMPORTABLE and the line.
    fence = "clock_timestamp() AS fence"
    return f"""
        SELECT line_no,
               CASE WHEN ok THEN md5(base::text || '#1')::uuid
                    ELSE ('{NOT_IMPORTABLE} ' || line_no)::uuid END AS fingerprint,
               base, provider,
               COALESCE(lower(f_billingaccountid), '') AS billing, COALESCE(lower(f_subaccountid), '') AS sub,
               CASE WHEN {start} LIKE '____-__-__%%' AND {start}::timestamptz IS NOT NULL
                    THEN substr({start}, 1, 10)::date END AS usage_date,
               {clip("COALESCE(f_chargecategory, '')", 40)} AS charge_category,
               {clip("COALESCE(f_servicename, '')", 150)} AS service_name,
               {clip("COALESCE(f_servicecategory, '')", 100)} AS service_category,
               {clip("COALESCE(f_skuid, '')", 80)} AS sku, {clip("COALESCE(f_regionid, '')", 60)} AS region,
               COALESCE(f_resourceid, '') AS resource_id,
               COALESCE(f_consumedquantity, f_pricingquantity, 0) AS quantity, f_billedcost AS cost,
               COALESCE(f_effectivecost, f_billedcost, 0) AS effective_cost,
               COALESCE(f_listcost, f_billedcost, 0) AS list_cost
        FROM (SELECT *, {base} AS base,
                     (provider IS NOT NULL AND f_billedcost IS NOT NULL AND {start} LIKE '____-__-__%%'
                      AND COALESCE(f_subaccountid, f_billingaccountid) IS NOT NULL
                      AND (f_billingcurrency IS NULL OR upper(f_billingcurrency) = 'USD') AND {finite}) AS ok,
                     {fence}
              FROM (SELECT {", ".join(inner)}, {fence} FROM {staging} AS s) AS i) AS v"""
