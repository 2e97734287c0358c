"""CSV cells a spreadsheet shows as text, never evaluates (CSV formula injection).

A text cell that begins with =, +, -, @, a tab or a carriage return is read by Excel, LibreOffice and
Google Sheets as a formula; customer names, descriptions and resource ids come from users and files, so
every CSV download passes its rows through `safe_row`: such text gets a leading apostrophe (shown, not
evaluated). Numbers, dates and None are left alone, so numbers stay numbers. The billing exports do the
same in SQL (billing.exports.columns.neutralized), with the same characters."""

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value):
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def safe_row(values) -> list:
    return [safe_cell(v) for v in values]
