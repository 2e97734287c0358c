"""Every form of the product, fed bad input: zero server errors, each bad value refused with a message,
nothing half-saved, and accepted text stored as typed.

The forms are found, not listed: every page the URL resolver knows (the tenancy matrix's walk and world,
tests/foundation/) is read as reseller A's owner, and each <form method="post"> (or hx-post) on it is
posted as a browser would, with its fields' values from the page. Then every field in turn gets each
naughty value of its kind (tests/security/naughty.py; the other fields keep the page's values), text
fields a share of the Big List of Naughty Strings, and each form a few hypothesis-generated sets of
values. The admin's add and change forms of every registered model get the same, as platform staff and
as a reseller admin. The figures are logged and written to docs/security.md by hand.
"""

import itertools
import logging
from urllib.parse import urlsplit

import pytest
from django.urls import Resolver404, resolve
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from ..foundation.conftest import signed_in
from ..foundation.test_tenancy_matrix import (
    SKIPPED,
    all_routes,
    build_url,
    checked_routes,
)
from ..foundation.test_tenancy_matrix import (
    world as matrix_world,  # noqa: F401 - pytest knows it as "world": the matrix's world
)
from .conftest import PROFILE, examples
from .formwalk import Poster, forms_of
from .naughty import BLNS, LONG_TEXT, NUL, NUMBERS, TEXT, TEXT_CORE, TEXT_KINDS, payloads_for

pytestmark = pytest.mark.django_db
logger = logging.getLogger(__name__)

# Fields whose stored value is not the typed text (after Django's stripping), and why: field name -> the
# normalisation, or None for a value that is not stored as text.
NORMALISED = {
    "q": None,  # a search box (the quote builder's recipient search): it filters, it is not stored
    "choices": None,  # custom field options: one per line, stored as a list, only for a "choice" field
}
# The admin gets the worst of each kind (it is many models with many fields): the first two in the
# suite, all of them in the long run.
ADMIN_PAYLOADS = {
    "text": [NUL, LONG_TEXT, "\ud800x", "<script>alert(1)</script>", "=1+1"],
    "number": ["1e309", "NaN", "-0", NUMBERS[7], "\x00"],
    "date": ["0000-00-00", "9999-12-31", "\x00"],
    "select": ["\x00", "not-a-choice"],
    "checkbox": ["\x00"],
    "hidden": ["\x00", "-1", "not-a-number"],
}


def _route_key(url):
    try:
        match = resolve(urlsplit(url).path)
    except Resolver404:
        return None
    return match.view_name


def discover(client, urls, *, one_button=False) -> list:
    """The distinct post forms on the pages at `urls` (by action, button and field names; only the
    first button with `one_button`: the admin's Save, Save and continue, Save and add another)."""
    found = {}
    for url in urls:
        response = client.get(url)
        if response.status_code != 200 or getattr(response, "streaming", False):
            continue
        if "text/html" not in response.get("Content-Type", ""):
            continue
        for form in forms_of(url, response.content.decode("utf-8", "replace")):
            name = _route_key(form.action)
            if name is None or name in SKIPPED:
                continue
            key = (form.action if one_button else form.key, tuple(f.name for f in form.fields))
            found.setdefault(key, form)
    return list(found.values())


def strategy(f):
    if f.kind in ("number",):
        return st.one_of(
            st.integers().map(str),
            st.decimals(allow_nan=True, allow_infinity=True).map(str),
            st.floats().map(str),
            st.from_regex(r"-?\d{0,40}(\.\d{0,40})?([eE]-?\d{1,4})?", fullmatch=True),
        )
    if f.kind in ("date", "datetime-local", "month"):
        return st.one_of(st.dates().map(str), st.from_regex(r"\d{1,5}-\d{1,2}-\d{1,2}", fullmatch=True))
    if f.kind in ("select", "radio"):
        return st.one_of(st.sampled_from([v for v, _ in f.options] or [""]), st.text(max_size=40))
    if f.kind == "checkbox":
        return st.sampled_from(["", "on", f.value or "on"])
    if f.kind == "hidden":
        return st.one_of(st.just(f.value), st.text(max_size=40))
    return st.text(max_size=400)


def app_payloads(kind):
    values = payloads_for(kind)
    return TEXT_CORE if values is TEXT and PROFILE != "fuzz" else values


def fuzz_form(poster, form, payloads, blns, generated: int):
    """Each field gets each payload of its kind; text fields also the next BLNS strings; then
    `generated` hypothesis examples of the whole form."""
    defaults = form.defaults()
    poster.post(form, defaults)
    fields = [f for f in form.editable() if f.kind != "file"]
    for f in fields:
        values = list(payloads(f.kind))
        round_trip = f.kind in TEXT_KINDS and poster.stores_as_text(form, defaults, f.name)
        if f.kind in TEXT_KINDS and blns is not None:
            values += list(itertools.islice(blns, examples(1) * 2))
        for value in values:
            poster.post(
                form, {**defaults, f.name: [value]}, field_name=f.name, typed=value, round_trip=round_trip
            )
    if not fields or not generated:
        return

    @hsettings(hsettings.get_profile(PROFILE), max_examples=generated)
    @given(st.fixed_dictionaries({f.name: strategy(f) for f in fields}))
    def generated_values(values):
        poster.post(form, {**defaults, **{k: [v] for k, v in values.items()}})

    generated_values()


def figures(poster, forms) -> str:
    fields = sum(len(f.editable()) for f in forms)
    return (
        f"{poster.who}: {len(forms)} forms, {fields} fields, {poster.posts} posts "
        f"({poster.accepted} accepted, {poster.refused} refused), {poster.server_errors} server errors, "
        f"{poster.half_saves} half-saves"
    )


def test_every_form_refuses_bad_input_without_a_server_error(world):
    client = signed_in(world.a.owner)
    routes = [r for r in checked_routes(world, all_routes()) if not r.admin_site]
    urls = [build_url(r, world.a) for r in routes if (r.view_methods or {"get"}) & {"get"}]
    forms = discover(client, urls)
    assert len(forms) > 30, "the walk found too few forms: is the parser still reading the pages?"
    poster = Poster(client, "A's owner", normalised=NORMALISED)
    blns = itertools.cycle(BLNS)
    for form in forms:
        fuzz_form(poster, form, app_payloads, blns, examples(2))
    logger.warning("bad input, app forms: %s", figures(poster, forms))
    assert not poster.problems, f"{len(poster.problems)} problem(s):\n" + "\n".join(poster.problems)


def admin_payloads(kind):
    values = ADMIN_PAYLOADS.get(kind, ADMIN_PAYLOADS["text"])
    return values if PROFILE == "fuzz" else values[:2]


def admin_urls(world, who):
    tenant = world.b if who == "reseller admin" else world.a
    for route in checked_routes(world, all_routes()):
        if route.admin_site and route.name and route.name.endswith(("_add", "_change")):
            yield build_url(route, tenant)


@pytest.mark.parametrize("who", ["platform staff", "reseller admin"])
def test_every_admin_form_refuses_bad_input_without_a_server_error(world, who):
    client = world.platform_staff if who == "platform staff" else world.b_admin
    forms = [f for f in discover(client, admin_urls(world, who), one_button=True) if "/admin/" in f.action]
    assert len(forms) > 10, "the walk found too few admin forms"
    poster = Poster(client, who)
    for form in forms:
        fuzz_form(poster, form, admin_payloads, None, examples(1))
    logger.warning("bad input, admin forms: %s", figures(poster, forms))
    assert not poster.problems, f"{len(poster.problems)} problem(s):\n" + "\n".join(poster.problems)
