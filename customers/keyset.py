"""Keyset ("seek") pagination: pages are found by the last row's sort key, never by OFFSET,
so page 4,000 costs what page 1 costs. The page token travels in the URL (`page=`), so a page can be
bookmarked; it is opaque, signed-free and harmless to tamper with (a bad token is page 1).
"""

import base64
import json
from dataclasses import dataclass

from django.db.models import BooleanField
from django.db.models.expressions import RawSQL

COUNT_CAP = 10_000
FILTERED_COUNT_CAP = 1_000


@dataclass
class KeysetPage:
    rows: list
    next_token: str | None
    prev_token: str | None
    is_first: bool


def encode_token(direction: str, values: list) -> str:
    raw = json.dumps([direction, values], default=str, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_token(token: str):
    try:
        padded = token + "=" * (-len(token) % 4)
        direction, values = json.loads(base64.urlsafe_b64decode(padded.encode()))
        if direction in ("n", "p") and isinstance(values, list):
            return direction, values
    except (ValueError, TypeError):
        pass
    return None, None


def paginate(queryset, *, field: str, descending: bool, token: str | None, per_page: int) -> KeysetPage:
    """One page of `queryset` ordered by (`field`, id), seeking from `token`."""
    model = queryset.model
    table = model._meta.db_table
    sort_field = model._meta.get_field(field)
    column = f'"{table}"."{sort_field.column}"'
    pk_column = f'"{table}"."{model._meta.pk.column}"'
    direction, values = decode_token(token) if token else (None, None)
    backwards = direction == "p"
    if values is not None:
        try:
            key = [sort_field.to_python(values[0]), model._meta.pk.to_python(values[1])]
        except Exception:  # a tampered token: start from the first page
            direction, key, backwards = None, None, False
        if direction:
            # Row-value comparison lets PostgreSQL seek straight into the (reseller, field, id) index.
            op = ">" if descending == backwards else "<"
            placeholder = "%s::varchar(10)[]" if sort_field.get_internal_type() == "ArrayField" else "%s"
            queryset = queryset.filter(
                RawSQL(f"({column}, {pk_column}) {op} ({placeholder}, %s)", key, output_field=BooleanField())
            )
    asc = descending == backwards
    order = [field, "id"] if asc else [f"-{field}", "-id"]
    rows = list(queryset.order_by(*order)[: per_page + 1])
    has_more = len(rows) > per_page
    rows = rows[:per_page]
    if backwards:
        rows.reverse()
    is_first = direction is None or (backwards and not has_more)

    def key_of(obj):
        return [getattr(obj, field), obj.pk]

    next_token = prev_token = None
    if rows:
        if (has_more and not backwards) or backwards:
            next_token = encode_token("n", key_of(rows[-1]))
        if not is_first:
            prev_token = encode_token("p", key_of(rows[0]))
    return KeysetPage(rows=rows, next_token=next_token, prev_token=prev_token, is_first=is_first)


def capped_count(queryset, cap: int | None = None) -> tuple[int, bool]:
    """(count, exact): counts at most cap+1 rows, so the total never costs a full scan."""
    cap = COUNT_CAP if cap is None else cap
    n = queryset.order_by()[: cap + 1].count()
    return (min(n, cap), n <= cap)
