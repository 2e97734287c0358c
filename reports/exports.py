"""CSV and XLSX downloads of a report: the table's columns, rows (in the table's order) and totals,
with the raw numbers (amounts rounded as on the page, no thousands separators)."""

import csv
import io
import re
from datetime import date

from django.http import HttpResponse
from django.utils.text import slugify

from customer360.spreadsheets import safe_cell

from .data import DATE, INT, MONEY, PCT, ReportData

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
FORMATS = {MONEY: "#,##0.00", INT: "#,##0", PCT: "0.0", DATE: "yyyy-mm-dd"}


def _lines(data: ReportData):
    yield [c.label for c in data.columns]
    for row in data.rows:
        yield [row.get(c.key) for c in data.columns]
    if data.totals:
        yield [data.totals.get(c.key) for c in data.columns]


def _text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def csv_bytes(data: ReportData) -> bytes:
    buf = io.StringIO()
    writer = csv.writer(buf)
    for line in _lines(data):
        writer.writerow([_text(safe_cell(v)) for v in line])  # text a spreadsheet would evaluate: neutralised
    return buf.getvalue().encode("utf-8-sig")  # the BOM makes Excel read UTF-8 names right


def xlsx_bytes(data: ReportData) -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Font

    wb = Workbook()
    ws = wb.active
    ws.title = re.sub(r"[\\/*?:\[\]]", " ", data.title)[:31]  # characters Excel refuses in sheet names
    bold = Font(bold=True)
    for r, line in enumerate(_lines(data), start=1):
        for c, (col, value) in enumerate(zip(data.columns, line, strict=True), start=1):
            cell = ws.cell(row=r, column=c)
            if r == 1:
                cell.value, cell.font = value, bold
                continue
            cell.value = value  # openpyxl writes Decimals as numbers
            if isinstance(value, str):
                cell.data_type = "s"  # text, even when it starts with "=": openpyxl would write a formula
            if col.kind in FORMATS and value is not None and not isinstance(value, str):
                cell.number_format = FORMATS[col.kind]
    if data.totals:
        for cell in ws[ws.max_row]:
            cell.font = bold
    for c, col in enumerate(data.columns, start=1):
        ws.column_dimensions[ws.cell(row=1, column=c).column_letter].width = max(12, len(col.label) + 4)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def download(data: ReportData, fmt: str, name: str) -> HttpResponse:
    filename = f"{slugify(name)}-{data.slug}.{fmt}"
    if fmt == "xlsx":
        response = HttpResponse(xlsx_bytes(data), content_type=XLSX_TYPE)
    else:
        response = HttpResponse(csv_bytes(data), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
