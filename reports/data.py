"""What every report returns: columns, rows, totals and a chart, in one shape the page, the CSV, the
XLSX and the cache all read, so the chart, the table and the downloads always show the same numbers.

Amounts are Decimals already rounded by customer360.money.quantize; counts are ints; percentages are
Decimals rounded to 0.1. `display()` formats one cell for the page; the downloads write the raw value.
"""

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from customer360.money import quantize

MONEY, INT, PCT, TEXT, DATE = "money", "int", "pct", "text", "date"
PCT_EXP = Decimal("0.1")


@dataclass(frozen=True)
class Column:
    key: str
    label: str
    kind: str = TEXT

    @property
    def numeric(self) -> bool:
        return self.kind in (MONEY, INT, PCT)


@dataclass
class Chart:
    """A horizontal bar chart: one group of bars per category, one bar per series."""

    title: str
    desc: str
    categories: list[str]
    series: list[tuple[str, list]]  # [(label, [value per category])]
    unit: str = ""  # "USD", "%", "" (a count)


@dataclass
class ReportData:
    slug: str
    title: str
    columns: list[Column]
    rows: list[dict]
    currency: str = ""
    totals: dict | None = None
    chart: Chart | None = None
    summary: list[tuple[str, str]] = field(default_factory=list)  # [(label, formatted value)]
    note: str = ""

    def column(self, key) -> Column | None:
        return next((c for c in self.columns if c.key == key), None)

    def sorted_by(self, sort: str) -> "ReportData":
        """The rows sorted by `sort` (a column key, "-key" for descending); an unknown key keeps the
        report's own order. Empty values sort last either way."""
        key = sort.lstrip("-")
        col = self.column(key)
        if col is None:
            return self
        desc = sort.startswith("-")
        present = [r for r in self.rows if r.get(key) is not None]
        missing = [r for r in self.rows if r.get(key) is None]
        present.sort(key=lambda r: r[key].lower() if isinstance(r[key], str) else r[key], reverse=desc)
        self.rows = present + missing
        return self

    # --- the cache stores reports as JSON ---------------------------------------------------------

    def to_json(self) -> dict:
        def enc(v):
            if isinstance(v, Decimal):
                return {"d": str(v)}
            if isinstance(v, date):
                return {"t": v.isoformat()}
            return v

        chart = None
        if self.chart:
            chart = {
                "title": self.chart.title,
                "desc": self.chart.desc,
                "categories": self.chart.categories,
                "series": [[label, [enc(v) for v in values]] for label, values in self.chart.series],
                "unit": self.chart.unit,
            }
        return {
            "slug": self.slug,
            "title": self.title,
            "columns": [[c.key, c.label, c.kind] for c in self.columns],
            "rows": [{k: enc(v) for k, v in r.items()} for r in self.rows],
            "currency": self.currency,
            "totals": {k: enc(v) for k, v in self.totals.items()} if self.totals else None,
            "chart": chart,
            "summary": self.summary,
            "note": self.note,
        }

    @classmethod
    def from_json(cls, data: dict) -> "ReportData":
        def dec(v):
            if isinstance(v, dict) and "d" in v:
                return Decimal(v["d"])
            if isinstance(v, dict) and "t" in v:
                return date.fromisoformat(v["t"])
            return v

        chart = data["chart"]
        if chart:
            chart = Chart(
                chart["title"],
                chart["desc"],
                chart["categories"],
                [(label, [dec(v) for v in values]) for label, values in chart["series"]],
                chart["unit"],
            )
        return cls(
            slug=data["slug"],
            title=data["title"],
            columns=[Column(*c) for c in data["columns"]],
            rows=[{k: dec(v) for k, v in r.items()} for r in data["rows"]],
            currency=data["currency"],
            totals={k: dec(v) for k, v in data["totals"].items()} if data["totals"] else None,
            chart=chart,
            summary=[tuple(s) for s in data["summary"]],
            note=data["note"],
        )


def display(value, kind: str) -> str:
    """One cell as the page shows it (the downloads keep the raw number)."""
    if value is None or value == "":
        return ""
    if kind == MONEY:
        return f"{value:,.2f}" if isinstance(value, Decimal) else str(value)
    if kind == INT:
        return f"{value:,}"
    if kind == PCT:
        return f"{value:.1f}%"
    if kind == DATE:
        return value.isoformat() if isinstance(value, date) else str(value)
    return str(value)


def pct(part, whole) -> Decimal | None:
    if not whole:
        return None
    return quantize(Decimal(part) * 100 / Decimal(whole), exp=PCT_EXP)


def money(amount, currency: str) -> Decimal:
    return quantize(amount or Decimal("0"), currency)


# --- Spend, cost and margin: the four columns several reports share ------------------------------


def margin_figures(price, cost, currency: str) -> dict:
    """A row's spend, cost, margin and margin % from its summed price and cost, rounded once."""
    spend, cost = money(price, currency), money(cost, currency)
    return {"spend": spend, "cost": cost, "margin": spend - cost, "margin_pct": pct(spend - cost, spend)}


def margin_totals(rows) -> dict:
    """The total of rows made by margin_figures: the sums of the rounded rows, as the table shows them."""
    spend = sum((r["spend"] for r in rows), Decimal("0"))
    cost = sum((r["cost"] for r in rows), Decimal("0"))
    return {"spend": spend, "cost": cost, "margin": spend - cost, "margin_pct": pct(spend - cost, spend)}


def margin_columns(currency: str) -> list:
    return [
        Column("spend", f"Spend ({currency})", MONEY),
        Column("cost", f"Cost ({currency})", MONEY),
        Column("margin", f"Margin ({currency})", MONEY),
        Column("margin_pct", "Margin %", PCT),
    ]
