"""Keyset ("seek") pagination: pages are found by the last row's sort key, never by OFFSET,
so page 4,000 costs what page 1 costs. The page token travels in the URL (`page=`), so a page can be
bookmarked; it is opaque, signed-free and harmless to tamper with (a bad token is page 1).
"""

import base64
import json
from dataclasses import dataclass

from django.db.models import F, Field, Func, Value
from django.db.models.functions import Cast
from django.db.models.lookups import GreaterThan, LessThan

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


def paginate(
    queryset, *, field: str, descending: bool, token: str | None, per_page: int, fetch=None
) -> KeysetPage:
    """One page of `queryset` ordered by (`field`, id), seeking from `token`.

    `fetch`, if given, turns a subquery of the page's ids into a queryset of their rows: the page is then
    found on the (reseller, field, id) index alone, and a filter on those columns (a name search) is
    tested on index entries rather than on a table row per customer passed over; only the page's rows
    are read (same single query)."""
    model = queryset.model
    sort_field = model._meta.get_field(field)
    direction, values = decode_token(token) if token else (None, None)
    backwards = direction == "p"
    if values is not None:
        try:
            key = [sort_field.to_python(values[0]), model._meta.pk.to_python(values[1])]
        except Exception:  # a tampered token: start from the first page
            direction, key, backwards = None, None, False
        if direction:
            # Row-value comparison lets PostgreSQL seek straight into the (reseller, field, id) index;
            # built from expressions (not raw SQL) so it names the right table inside a subquery.
            lookup = GreaterThan if descending == backwards else LessThan
            queryset = queryset.filter(
                lookup(_row(F(field), F("pk")), _row(_typed(key[0], sort_field), Value(key[1])))
            )
    asc = descending == backwards
    order = [field, "id"] if asc else [f"-{field}", "-id"]
    if fetch is None:
        rows = list(queryset.order_by(*order)[: per_page + 1])
    else:
        ids = queryset.order_by(*order).values("pk")[: per_page + 1]
        rows = list(fetch(ids).order_by(*order))
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


def _row(*expressions):
    return Func(*expressions, function="ROW", output_field=Field())


def _typed(value, field):
    # An array parameter must carry the column's type (varchar(10)[]) for the row comparison to resolve.
    return (
        Cast(Value(value), output_field=field) if field.get_internal_type() == "ArrayField" else Value(value)
    )


def capped_count(queryset, cap: int | None = None) -> tuple[int, bool]:
    """(count, exact): counts at most cap+1 rows, so the total never costs a full scan."""
    cap = COUNT_CAP if cap is None else cap
    n = queryset.order_by()[: cap + 1].count()
    return (min(n, cap), n <= cap)
