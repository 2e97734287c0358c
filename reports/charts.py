"""Server-rendered, accessible SVG charts (no JavaScript, no chart library).

A horizontal bar chart: one group of bars per category, one bar per series. Accessible:
* role="img" with a <title> and a <desc> the screen reader announces (aria-labelledby both);
* colour is never the only cue: each series has its own fill pattern (solid, hatched, dotted), the
  legend repeats the pattern beside the series name, and every bar carries its value as text;
* the page shows the chart's data as a table too (templates/reports/_chart.html).
"""

from decimal import Decimal

from django.utils.html import escape

from .data import Chart

WIDTH = 760
# The category labels' column grows with the longest label (estimated at CHAR_W per character of the
# 12px font) between LABEL_W and LABEL_W_MAX; a longer label ends in an ellipsis and keeps its full text
# in a <title> (the table under the chart has it too).
LABEL_W = 120
LABEL_W_MAX = 300
CHAR_W = 7
VALUE_W = 110
BAR_H = 14
GAP = 10
TOP = 34
# (fill colour, pattern id or None): series 1 solid, 2 hatched, 3 dotted.
STYLES = [("#2f5d9f", None), ("#c0762b", "hatch"), ("#3c8d5a", "dots")]

DEFS = """<defs>
  <pattern id="{uid}-hatch" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)">
    <rect width="6" height="6" fill="#fbe9d7"/><line x1="0" y1="0" x2="0" y2="6" stroke="#c0762b" stroke-width="3"/>
  </pattern>
  <pattern id="{uid}-dots" width="5" height="5" patternUnits="userSpaceOnUse">
    <rect width="5" height="5" fill="#dcefe2"/><circle cx="2.5" cy="2.5" r="1.4" fill="#3c8d5a"/>
  </pattern>
</defs>"""


def _fill(uid: str, index: int) -> str:
    colour, pattern = STYLES[index % len(STYLES)]
    return f"url(#{uid}-{pattern})" if pattern else colour


def fmt(value, unit: str) -> str:
    if value is None:
        return ""
    if isinstance(value, Decimal) and unit != "":
        return f"{value:,.2f}"
    return f"{value:,}"


def _label_width(categories) -> int:
    longest = max((len(str(c)) for c in categories), default=0)
    return min(max(LABEL_W, longest * CHAR_W + 16), LABEL_W_MAX)


def _label(category, x: float, y: float) -> str:
    """A category label right-aligned at x, cut to fit the label column with its full text as a tooltip."""
    text = str(category)
    room = (LABEL_W_MAX - 16) // CHAR_W
    shown, tooltip = text, ""
    if len(text) > room:
        shown, tooltip = text[: room - 1].rstrip() + "\u2026", f"<title>{escape(text)}</title>"
    return f'<text x="{x}" y="{y}" font-size="12" text-anchor="end">{tooltip}{escape(shown)}</text>'


def render(chart: Chart, uid: str = "chart") -> str:
    """The chart as an <svg> element (a safe string: every text is escaped)."""
    label_w = _label_width(chart.categories)
    values = [v or 0 for _, series in chart.series for v in series]
    lo, hi = min([0, *values]), max([0, *values])
    span = (hi - lo) or 1
    plot_w = WIDTH - label_w - VALUE_W
    n = max(len(chart.series), 1)
    group_h = n * BAR_H + GAP
    height = TOP + max(len(chart.categories), 1) * group_h + 8

    def x(v) -> float:
        return label_w + float((Decimal(v) - Decimal(lo)) / Decimal(span)) * plot_w

    zero = x(0)
    parts = [
        f'<svg class="chart" xmlns="http://www.w3.org/2000/svg" role="img" viewBox="0 0 {WIDTH} {height}" '
        f'width="100%" aria-labelledby="{uid}-title {uid}-desc" data-testid="report-chart">',
        f'<title id="{uid}-title">{escape(chart.title)}</title>',
        f'<desc id="{uid}-desc">{escape(chart.desc)}</desc>',
        DEFS.format(uid=uid),
    ]
    # Legend: the pattern swatch and the series name.
    lx = label_w
    for i, (label, _) in enumerate(chart.series):
        parts.append(
            f'<rect x="{lx}" y="8" width="16" height="12" fill="{_fill(uid, i)}" stroke="#333" stroke-width=".5"/>'
            f'<text x="{lx + 22}" y="18" font-size="12">{escape(label)}</text>'
        )
        lx += 30 + 8 * len(label)
    if not chart.categories:
        parts.append(f'<text x="{label_w}" y="{TOP + 14}" font-size="12">No data in this range.</text>')
    for c, category in enumerate(chart.categories):
        y0 = TOP + c * group_h
        parts.append(_label(category, label_w - 8, y0 + n * BAR_H / 2 + 4))
        for i, (label, series) in enumerate(chart.series):
            v = series[c] if c < len(series) else None
            v0 = v or 0
            x1, x2 = sorted((zero, x(v0)))
            y = y0 + i * BAR_H
            parts.append(
                f'<rect x="{x1:.1f}" y="{y}" width="{max(x2 - x1, 0.5):.1f}" height="{BAR_H - 2}" '
                f'fill="{_fill(uid, i)}" stroke="#333" stroke-width=".5">'
                f"<title>{escape(category)}, {escape(label)}: {escape(fmt(v, chart.unit))} {escape(chart.unit)}"
                "</title></rect>"
                f'<text x="{x2 + 4:.1f}" y="{y + BAR_H - 4}" font-size="11">{escape(fmt(v, chart.unit))}</text>'
            )
    parts.append(
        f'<line x1="{zero:.1f}" y1="{TOP - 4}" x2="{zero:.1f}" y2="{height - 6}" stroke="#666" stroke-width="1"/>'
    )
    parts.append("</svg>")
    return "".join(parts)


def table_rows(chart: Chart) -> list[list[str]]:
    """The chart's data as table rows: the category, then each series' value as the chart labels it."""
    return [
        [str(cat), *[fmt(series[i], chart.unit) for _, series in chart.series]]
        for i, cat in enumerate(chart.categories)
    ]
