"""The cross-tenant matrix: every URL pattern the project defines, requested by everyone who must not
see or change reseller A's data.

The patterns come from the URL resolver (urlwalk.walk), so a new URL is covered as soon as it exists.
Each pattern's kwargs are filled from KWARG_SOURCES below; a kwarg it doesn't know, or a pattern with no
name, fails test_every_url_pattern_can_be_built until someone says what it is. Then:

* reseller B's owner: every GET/POST/PUT/PATCH/DELETE (plain and htmx) to a URL holding A's ids is a 404
  (405 for methods the view doesn't take) and changes no row; pages without ids are 200 and show none
  of A's data, searched for A's marker too;
* reseller B's admin (owner with is_staff): no admin page, action or autocomplete shows or changes A's
  rows; A's objects are refused, not found or sent back (anything but a 200);
* anonymous: every URL redirects to the login page (the admin's to the admin login); so does every
  admin URL for users without is_staff;
* a viewer of A: reads A's pages, and every write method is refused (403 or 405) and changes nothing;
* platform staff: outside the admin every page sends them to the admin; inside it no page breaks;
* no response to B or to an anonymous visitor contains the marker planted in A's rows (nor, on B's
  own pages, A's ids or spend).

Each check is a plain function returning a list of problems: the tests assert it is empty, and
test_the_matrix_catches_leaky_views (and _a_leaky_admin) run the same checks over leaky_urls.py and
assert it is not.
"""

from collections.abc import Callable
from dataclasses import dataclass
from inspect import unwrap
from urllib.parse import parse_qs, quote, urlencode, urlsplit

import pytest
from django.conf import settings
from django.contrib.admin.views.autocomplete import AutocompleteJsonView
from django.contrib.contenttypes.models import ContentType
from django.db import transaction
from django.http import Http404
from django.shortcuts import resolve_url
from django.test import override_settings
from django.urls import Resolver404, resolve, reverse

from accounts.models import Reseller, User
from billing.models import ChargeGroup, ChargeItem, Credit, TaxRate, UsageImport
from billing.models_exports import BillingExport, ExportRun
from billing.models_invoices import Invoice, InvoiceRun
from customer360.tenancy import TenantModel
from customers import services
from customers.models import Alert, CloudAccount, Customer, CustomFieldDefinition
from marketplace.models import CartLine, Order, Subscription
from quotes.models import Inquiry, Quote, QuoteLine, QuoteScenario, QuoteSection

from .conftest import MARKER_A
from .urlwalk import changed_tables, response_text, tenant_digest, tenant_models, walk

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(world, settings, tmp_path):
    """The conftest's world plus each reseller's billing export with a finished run and its file
    (tests/billing/exports/world.py), and a cached long report (tests/reports/factories.py)."""
    from ..billing.exports.world import add_export_rows
    from ..reports.factories import report_rows_for

    settings.MEDIA_ROOT = tmp_path / "media"
    for tenant in (world.a, world.b):
        add_export_rows(tenant)
        # reports: a cached long report of the tenant's customer (tests/reports/factories.py).
        tenant.objects.update(report_rows_for(tenant.reseller, tenant.obj(Customer), tenant.marker))
    return world


@dataclass(frozen=True)
class Fixed:
    """A kwarg that names no tenant row (a tab, a period): the same value whoever asks."""

    value: object


@dataclass(frozen=True)
class Signed:
    """A kwarg that is a signed link to a tenant row, usable without signing in (a quote's accept link):
    `sign(row, reseller)` makes one. Holding a genuine link is the permission, so the matrix checks what
    no one may do with it: A's row signed for reseller B (the mix-up of a view that forgets the scope the
    token names) and A's link with a broken signature are a 404 to everyone and change nothing; the
    genuine link reaches a page (not a login), and writes nothing when posted empty."""

    model: type
    sign: Callable

    def make(self, row, reseller, *, tamper=False) -> str:
        token = self.sign(row, reseller)
        return token[:-1] + ("A" if token[-1] != "A" else "B") if tamper else token


def _accept_token(quote, reseller) -> str:
    from django.core import signing

    from quotes.services_accept import SALT

    payload = {"q": str(quote.pk), "r": str(reseller.pk), "v": quote.revision}
    return signing.dumps(payload, salt=SALT, compress=True)


# URL kwarg -> the tenant model whose id it carries (the matrix fills in reseller A's row, or B's), or
# Fixed(value) for a kwarg that names no tenant row. A URL with a kwarg missing here fails the matrix.
KWARG_SOURCES = {
    "customer_id": Customer,
    "alert_id": Alert,
    "definition_id": CustomFieldDefinition,
    "subscription_id": Subscription,  # marketplace: Managed Products
    "line_id": CartLine,
    "order_id": Order,
    "provider_code": Fixed("m365"),  # a catalog provider both resellers are authorized for
    "import_id": UsageImport,
    "tax_rate_id": TaxRate,  # billing configuration (issue 8)
    "credit_id": Credit,
    "charge_id": ChargeItem,
    "charge_group_id": ChargeGroup,
    "invoice_id": Invoice,  # billing: Customer Invoice and the invoice runs (issue 8)
    "run_id": InvoiceRun,
    "quote_id": Quote,  # quotes: the builder
    "scenario_id": QuoteScenario,
    "section_id": QuoteSection,
    "quote_line_id": QuoteLine,
    "inquiry_id": Inquiry,  # quotes: a customer's inquiry
    "token": Signed(Quote, _accept_token),  # quotes: the customer's accept link (no sign-in)
    "revision": Fixed(1),  # quotes: a sent revision's number (each world's quote has a sent revision 1)
    "export_id": BillingExport,  # billing exports (issue 9)
    "export_run_id": ExportRun,
    "file_no": Fixed(0),  # the first file of an export run
}

# The reviewed list of patterns the matrix does not request, by name (or "<unnamed route>"), with why.
SKIPPED = {
    "login": "the sign-in page is for anonymous visitors by design; signed-in users are sent on",
    "logout": "signs the client out (POST only); shows and changes no tenant data",
    "admin:login": "the admin sign-in page is for anonymous visitors by design",
    "admin:logout": "signs the client out; Django sends non-staff to the admin index, not the login",
}

UNSAFE_METHODS = ("POST", "PUT", "PATCH", "DELETE")
METHODS = ("GET", *UNSAFE_METHODS)
VARIANTS = (False, True)  # plain request, htmx request (HX-Request: true)
ADMIN_METHODS = ("GET", "POST")  # Django's admin views treat every other method like one of these


@dataclass
class Problem:
    key: str  # the pattern's name, see Route.key
    text: str

    def __str__(self):
        return f"{self.key}: {self.text}"


def report(problems) -> str:
    lines = [str(p) for p in problems[:80]]
    if len(problems) > 80:
        lines.append(f"... and {len(problems) - 80} more")
    return f"{len(problems)} problem(s):\n" + "\n".join(lines)


# --- Building URLs -------------------------------------------------------------------------------------


def _admin_model(route):
    model_admin = route.model_admin
    return model_admin.model if model_admin is not None else Customer


def _admin_object_id(route, tenant):
    model = _admin_model(route)
    if model in tenant.objects:
        return tenant.obj(model).pk
    if model is Reseller:
        return tenant.reseller.pk
    if model is User:
        return tenant.owner.pk
    row = model._base_manager.order_by("pk").first()
    return row.pk if row is not None else "1"


def _admin_app_label(route, tenant):
    regex = route.pattern.pattern.regex
    labels = ["customers", *(m._meta.app_label for m in route.admin_site._registry)]
    return next(label for label in labels if regex.match(f"{label}/"))


# The admin's own kwargs: reseller A's row of the pattern's model where it has one (the platform's first
# row of a shared model like the catalog), so a reseller admin's request names A's object.
ADMIN_KWARG_SOURCES = {
    "object_id": _admin_object_id,
    "id": _admin_object_id,
    "content_type_id": lambda route, tenant: ContentType.objects.get_for_model(_admin_model(route)).pk,
    "app_label": _admin_app_label,
    "url": lambda route, tenant: "no-such-admin-page/",
}


def admin_post_data(route, tenant) -> dict:
    """What an admin form posts: a confirmed delete, or delete_selected run on the tenant's row."""
    data = {"post": "yes", "index": "0"}
    if route.model_admin is not None:
        data.update(action="delete_selected", _selected_action=[str(_admin_object_id(route, tenant))])
    return data


def is_admin_object_route(route) -> bool:
    return bool({"object_id", "id"} & set(route.kwarg_names))


def _is_tenant_data(route) -> bool:
    """Whether the admin pattern's object is a reseller's own (a tenant row, a reseller, a user), not
    the platform's shared catalog that every reseller admin may read."""
    model = _admin_model(route)
    return issubclass(model, (TenantModel, Reseller, User))


def is_autocomplete(route) -> bool:
    view = unwrap(route.callback)
    view_class = getattr(view, "view_class", None)
    return getattr(view, "__name__", "") == "autocomplete_view" or (
        view_class is not None and issubclass(view_class, AutocompleteJsonView)
    )


def autocomplete_queries(route, terms):
    """Query strings asking an admin autocomplete for the rows of every tenant foreign key of every
    model in its admin site."""
    for model in route.admin_site._registry:
        for f in model._meta.get_fields():
            remote = getattr(f.remote_field, "model", None) if f.concrete else None
            if (f.many_to_one or f.many_to_many) and remote and issubclass(remote, TenantModel):
                for term in terms:
                    yield urlencode(
                        {
                            "app_label": model._meta.app_label,
                            "model_name": model._meta.model_name,
                            "field_name": f.name,
                            "term": term,
                        }
                    )


def owned_kwargs(route) -> list:
    """The kwargs of an app URL that carry a tenant row's id."""
    if route.admin_site:
        return []
    return [n for n in route.kwarg_names if not isinstance(KWARG_SOURCES[n], Fixed)]


def build_url(route, default, tenants=None, *, signer=None, tamper=False) -> str:
    """The route's URL with every kwarg from `default`'s rows, except those named in `tenants`. Signed
    kwargs are signed for the row's own reseller, or `signer`'s; `tamper` breaks their signature."""
    tenants = tenants or {}
    kwargs = {}
    for name in route.kwarg_names:
        tenant = tenants.get(name, default)
        if route.admin_site:
            kwargs[name] = ADMIN_KWARG_SOURCES[name](route, tenant)
        else:
            source = KWARG_SOURCES[name]
            if isinstance(source, Signed):
                reseller = (signer or tenant).reseller
                kwargs[name] = source.make(tenant.obj(source.model), reseller, tamper=tamper)
            else:
                kwargs[name] = source.value if isinstance(source, Fixed) else tenant.obj(source).pk
    return route.build(kwargs)


def all_routes():
    return list(walk())


def structure_problems(world, routes) -> list:
    """Patterns the matrix can't request: unnamed, with kwargs it doesn't know, or not round-tripping."""
    problems = []
    for route in routes:
        if route.key in SKIPPED:
            continue
        if not route.name and not route.admin_site:
            problems.append(
                Problem(
                    route.key,
                    "this URL pattern has no name: give it one, or add it to SKIPPED in "
                    "tests/foundation/test_tenancy_matrix.py with the reason it needs no tenancy check",
                )
            )
            continue
        if route.has_positional_groups:
            problems.append(Problem(route.key, "uses unnamed regex groups; use named kwargs"))
            continue
        sources = ADMIN_KWARG_SOURCES if route.admin_site else KWARG_SOURCES
        unknown = [name for name in route.kwarg_names if name not in sources]
        if unknown:
            where = "ADMIN_KWARG_SOURCES" if route.admin_site else "KWARG_SOURCES"
            problems.append(
                Problem(
                    route.key,
                    f"takes URL kwarg(s) {', '.join(unknown)} that {where} in "
                    "tests/foundation/test_tenancy_matrix.py doesn't know: add each, mapped to the "
                    "tenant model whose id it carries (or Fixed(value) if it names no tenant row)",
                )
            )
            continue
        missing = [
            m.__name__
            for m in {getattr(KWARG_SOURCES[n], "model", KWARG_SOURCES[n]) for n in owned_kwargs(route)}
            if m not in world.a.objects
        ]
        if missing:
            problems.append(
                Problem(route.key, f"reseller A has no {', '.join(missing)} row: add one in build_tenant()")
            )
            continue
        try:
            url = build_url(route, world.a)
            match = resolve(urlsplit(url).path)
        except Resolver404:
            problems.append(Problem(route.key, f"its URL {url} does not resolve"))
            continue
        except Exception as exc:  # noqa: BLE001 - reported, with the pattern it came from
            problems.append(Problem(route.key, f"could not build its URL: {exc!r}"))
            continue
        if match.func is not route.callback:
            problems.append(
                Problem(
                    route.key,
                    f"its URL {url} resolves to {match.view_name or match._func_path}, an earlier pattern: "
                    "the matrix would be testing the wrong view",
                )
            )
    return problems


def checked_routes(world, routes) -> list:
    """The routes every check requests: not skipped, and buildable (structure_problems reports the rest)."""
    broken = {p.key for p in structure_problems(world, routes)}
    return [r for r in routes if r.key not in SKIPPED and r.key not in broken]


# --- Sending requests ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Expect:
    """What a response must be: `ok(response)`, described as `wanted` in problems."""

    ok: Callable
    wanted: str


def status(*codes, wanted=None) -> Expect:
    return Expect(lambda r: r.status_code in codes, wanted or " or ".join(map(str, codes)))


NO_SERVER_ERROR = Expect(lambda r: r.status_code < 500, "no server error")


def login_redirect(login_path, url) -> Expect:
    """A 302 to the login page, asking to come back to `url`."""

    def ok(response):
        if response.status_code != 302:
            return False
        location = urlsplit(response["Location"])
        return location.path == login_path and parse_qs(location.query).get("next") == [url]

    return Expect(ok, f"a redirect to {login_path}?next={url}")


def redirect_to(path) -> Expect:
    return Expect(
        lambda r: r.status_code == 302 and urlsplit(r["Location"]).path == path, f"a redirect to {path}"
    )


def _is_page(response) -> bool:
    if response.status_code == 200:
        return True
    if response.status_code in (301, 302, 303):
        path = urlsplit(response["Location"]).path
        return path not in (resolve_url(settings.LOGIN_URL), reverse("admin:login"))
    return False


PAGE = Expect(_is_page, "200 (or a redirect to a page other than a login)")


def describe(response) -> str:
    if response.status_code in (301, 302, 303, 307, 308):
        return f"{response.status_code} -> {response['Location']}"
    return str(response.status_code)


class Probe:
    """Sends requests as one identity and records what went wrong with each: an exception, a status
    other than expected, reseller A's marker (or ids) in the response, rows that changed."""

    def __init__(self, world, client, who, *, check_marker=True):
        self.world = world
        self.client = client
        self.who = who
        self.check_marker = check_marker
        self.problems = []
        self.state = tenant_digest()
        # The "no row changed" checks compare digests: they only mean something if the rows are seen.
        assert sum(1 for key in self.state if key[1] == str(world.a.reseller.pk)) > 10, (
            "the digest sees no tenant rows"
        )

    def fail(self, route, text):
        self.problems.append(Problem(route.key, f"{self.who}: {text}"))

    def send(self, route, method, url, *, expect=None, htmx=False, watch=None, forbidden=(), data=None):
        """One request. A row that changes is a problem: any row, or only reseller `watch`'s.
        `forbidden`: more lowercase strings the response must not contain."""
        label = f"{method}{' htmx' if htmx else ''} {url}"
        headers = {"HX-Request": "true"} if htmx else {}
        response = None
        try:
            with transaction.atomic():
                call = getattr(self.client, method.lower())
                response = call(url, data, headers=headers) if data else call(url, headers=headers)
        except Exception as exc:  # noqa: BLE001 - a view that raises is reported, not fatal
            self.fail(route, f"{label} raised {exc.__class__.__name__}: {exc}")
        if response is not None:
            if expect is not None and not expect.ok(response):
                self.fail(route, f"{label} answered {describe(response)}, expected {expect.wanted}")
            text = response_text(response)
            if self.check_marker and MARKER_A.lower() in text:
                self.fail(route, f"{label} answered {response.status_code} with reseller A's marker in it")
            for needle in forbidden:
                if needle in text:
                    self.fail(route, f"{label} answered {response.status_code} with A's {needle!r} in it")
            response.text_lower = text
        after = tenant_digest()
        changed = changed_tables(self.state, after, watch)
        if changed:
            whose = f"reseller {watch.name}'s" if watch is not None else "these"
            self.fail(route, f"{label} changed {whose} rows: {', '.join(changed)}")
        self.state = after
        return response


def admin_login(route) -> str:
    return reverse(f"{route.admin_site.name}:login")


def _look_at_skipped(probe, world, routes):
    """The skipped pages are still read once: no marker, no exception, no change."""
    for route in routes:
        if route.key in SKIPPED:
            probe.send(route, "GET", build_url(route, world.a), expect=NO_SERVER_ERROR)


def is_signed_route(route) -> bool:
    return not route.admin_site and any(isinstance(KWARG_SOURCES[n], Signed) for n in route.kwarg_names)


GENUINE_LINK = Expect(
    lambda r: r.status_code < 500 and not (r.status_code == 302 and "login" in r["Location"]),
    "a page (not a login, no server error)",
)


def check_signed_route(probe, world, route, holder) -> bool:
    """A signed route (see Signed): `probe` requests the forged links (404/405, nothing changes, no
    marker); `holder` (a probe that may see A's data) the genuine one. Whether its GET was a 200."""
    not_found = status(404, 405, wanted="404 (or 405 for a method the view doesn't take)")
    for url in (build_url(route, world.a, signer=world.b), build_url(route, world.a, tamper=True)):
        for htmx in VARIANTS:
            for method in METHODS:
                probe.send(route, method, url, expect=not_found, htmx=htmx)
    url = build_url(route, world.a)
    response = holder.send(route, "GET", url, expect=GENUINE_LINK)
    for method in UNSAFE_METHODS:
        holder.send(route, method, url, expect=NO_SERVER_ERROR)
    return response is not None and response.status_code == 200


def _refused_by_the_admin(probe, world, route):
    """Someone who isn't staff: every admin URL sends them to the admin login, and changes nothing."""
    url = build_url(route, world.a)
    expect = login_redirect(admin_login(route), url)
    for method in ADMIN_METHODS:
        data = admin_post_data(route, world.a) if method == "POST" else None
        probe.send(route, method, url, expect=expect, data=data)


# --- The checks ----------------------------------------------------------------------------------------


def check_other_reseller(world, routes) -> list:
    """Reseller B's owner against reseller A's objects."""
    probe = Probe(world, world.b_owner, "reseller B's owner")
    holder = Probe(world, world.b_owner, "reseller B's owner holding A's link", check_marker=False)
    a_secrets = [s.lower() for s in world.a.secrets]
    not_found = status(404, 405, wanted="404 (or 405 for a method the view doesn't take)")
    saw_own_data = False
    for route in checked_routes(world, routes):
        if route.admin_site:
            _refused_by_the_admin(probe, world, route)
            continue
        if is_signed_route(route):  # B holding A's genuine link may read it: that is what a link is
            check_signed_route(probe, world, route, holder)
            continue
        owned = owned_kwargs(route)
        if owned:
            # All of A's ids; then, for URLs with several, A's id in one place and B's in the others
            # (a view that checks the customer but not the alert under it).
            combos = [{}]
            if len(owned) > 1:
                combos += [{n: world.b for n in owned if n != a_kwarg} for a_kwarg in owned]
            for combo in combos:
                url = build_url(route, world.a, combo)
                for htmx in VARIANTS:
                    statuses = {}
                    for method in METHODS:
                        r = probe.send(route, method, url, expect=not_found, htmx=htmx)
                        if r is not None:
                            statuses[method] = r.status_code
                    if statuses and 404 not in statuses.values():
                        probe.fail(route, f"no request to {url} was a 404: {statuses}")
            continue
        # A page of B's own (list, dashboard, create form): B's data and none of A's. Searches that
        # would find A's rows too (pages echo the search box, so never with the whole marker).
        url = build_url(route, world.a)
        head, tail = MARKER_A.rsplit("-", 1)
        account_prefix = world.a.obj(CloudAccount).account_id[: len(head) + 2]
        searches = [head, tail, "MARKER", account_prefix]
        gets = [url, *(f"{url}?q={quote(q)}" for q in searches)]
        for get_url in gets:
            for htmx in VARIANTS:
                r = probe.send(
                    route, "GET", get_url, expect=PAGE, htmx=htmx, watch=world.a.reseller, forbidden=a_secrets
                )
                if r is not None and world.b.marker.lower() in r.text_lower:
                    saw_own_data = True
        for method in UNSAFE_METHODS:
            for htmx in VARIANTS:
                probe.send(
                    route,
                    method,
                    url,
                    expect=NO_SERVER_ERROR,
                    htmx=htmx,
                    watch=world.a.reseller,
                    forbidden=a_secrets,
                )
    _look_at_skipped(probe, world, routes)
    if not saw_own_data:
        probe.problems.append(
            Problem("(matrix)", "no page showed reseller B its own marker: is the marker check blind?")
        )
    return probe.problems + holder.problems


def check_anonymous(world, routes) -> list:
    """Someone not signed in: every URL sends them to a login page."""
    probe = Probe(world, world.anonymous, "anonymous")
    holder = Probe(world, world.anonymous, "anonymous holding A's link", check_marker=False)
    login = resolve_url(settings.LOGIN_URL)
    signed_pages = set()
    for route in checked_routes(world, routes):
        if route.admin_site:
            _refused_by_the_admin(probe, world, route)
            continue
        if is_signed_route(route):
            signed_pages.add(check_signed_route(probe, world, route, holder))
            continue
        url = build_url(route, world.a)
        expect = login_redirect(login, url)
        for method in METHODS:
            for htmx in VARIANTS:
                probe.send(route, method, url, expect=expect, htmx=htmx)
    _look_at_skipped(probe, world, routes)
    if signed_pages and True not in signed_pages:
        holder.problems.append(
            Problem("(matrix)", "no signed link's genuine URL answered 200: are tokens right?")
        )
    return probe.problems + holder.problems


def check_viewer(world, routes) -> list:
    """A viewer of reseller A: reads A's pages, writes nothing."""
    probe = Probe(world, world.a_viewer, "a viewer of reseller A", check_marker=False)
    refused = status(403, 405, wanted="403 (or 405 for a method the view doesn't take)")
    for route in checked_routes(world, routes):
        if route.admin_site:
            _refused_by_the_admin(probe, world, route)
            continue
        if is_signed_route(route):  # public: the viewer is any holder; an empty post writes nothing
            check_signed_route(probe, world, route, probe)
            continue
        url = build_url(route, world.a)
        methods = route.view_methods
        readable = PAGE if methods is None or "get" in methods else status(405)
        for htmx in VARIANTS:
            probe.send(route, "GET", url, expect=readable, htmx=htmx)
            for method in UNSAFE_METHODS:
                probe.send(route, method, url, expect=refused, htmx=htmx)
    return probe.problems


def check_platform_staff(world, routes) -> list:
    """A superuser with no reseller: sent to the admin from every app page; no admin page breaks."""
    probe = Probe(world, world.platform_staff, "platform staff", check_marker=False)
    to_admin = redirect_to(reverse("admin:index"))
    for route in checked_routes(world, routes):
        url = build_url(route, world.a)
        if route.admin_site:
            probe.send(route, "GET", url, expect=NO_SERVER_ERROR)
            continue
        if is_signed_route(route):
            check_signed_route(probe, world, route, probe)
            continue
        for method in ("GET", "POST"):
            probe.send(route, method, url, expect=to_admin)
    return probe.problems


def check_other_resellers_admin(world, routes) -> list:
    """Reseller B's owner with is_staff, a reseller admin: in the admin site too, A's rows are out of
    reach (refused, not found or sent back to the index) and no page or autocomplete shows them."""
    probe = Probe(world, world.b_admin, "reseller B's admin (is_staff)")
    # Not A's ids: the admin echoes an id it can't find in the next page's message.
    spend = world.a.spend_texts
    not_shown = Expect(lambda r: r.status_code != 200 and r.status_code < 500, "anything but 200 or 5xx")
    terms = ["", *MARKER_A.rsplit("-", 1)]
    for route in checked_routes(world, routes):
        if not route.admin_site:
            continue
        url = build_url(route, world.a)
        expect = not_shown if is_admin_object_route(route) and _is_tenant_data(route) else NO_SERVER_ERROR
        for method in ADMIN_METHODS:
            data = admin_post_data(route, world.a) if method == "POST" else None
            probe.send(route, method, url, expect=expect, data=data, forbidden=spend)
        if is_autocomplete(route):
            for query in autocomplete_queries(route, terms):
                probe.send(route, "GET", f"{url}?{query}", expect=NO_SERVER_ERROR, forbidden=spend)
    return probe.problems


CHECKS = (
    check_other_reseller,
    check_other_resellers_admin,
    check_anonymous,
    check_viewer,
    check_platform_staff,
)


# --- The tests -----------------------------------------------------------------------------------------


def test_the_walk_finds_the_app_and_the_admin():
    keys = {r.key for r in all_routes()}
    for expected in ("dashboard", "customers:list", "customers:detail", "admin:customers_customer_change"):
        assert expected in keys


def test_every_url_pattern_can_be_built(world):
    problems = structure_problems(world, all_routes())
    assert not problems, report(problems)


def test_the_skip_list_names_patterns_that_exist():
    keys = {r.key for r in all_routes()}
    gone = sorted(set(SKIPPED) - keys)
    assert not gone, f"SKIPPED names patterns that no longer exist: {gone}; remove them"
    assert len(SKIPPED) <= 8, "the skip list is meant to stay short and reviewed"


def test_every_kwarg_source_is_used():
    used = {name for r in all_routes() if not r.admin_site for name in r.kwarg_names}
    unused = sorted(set(KWARG_SOURCES) - used)
    assert not unused, f"KWARG_SOURCES has entries no URL takes any more: {unused}; remove them"


def test_world_has_a_row_of_every_tenant_model(world):
    for tenant in (world.a, world.b):
        missing = [m._meta.label for m in tenant_models() if m not in tenant.objects]
        assert not missing, f"build_tenant() (tests/foundation/conftest.py) makes no row of {missing}"


def test_another_reseller_gets_404_and_changes_nothing(world):
    problems = check_other_reseller(world, all_routes())
    assert not problems, report(problems)


def test_anonymous_visitors_are_sent_to_the_login(world):
    problems = check_anonymous(world, all_routes())
    assert not problems, report(problems)


def test_a_viewer_reads_but_cannot_write(world):
    problems = check_viewer(world, all_routes())
    assert not problems, report(problems)


def test_another_resellers_admin_cannot_reach_a_in_the_admin(world):
    problems = check_other_resellers_admin(world, all_routes())
    assert not problems, report(problems)


def test_platform_staff_are_sent_to_the_admin(world):
    problems = check_platform_staff(world, all_routes())
    assert not problems, report(problems)


LEAKY = {
    "leaky-customer": check_other_reseller,
    "leaky-gadget": structure_problems,
    "<unnamed leaky/nameless/>": structure_problems,
    "leaky-public": check_anonymous,
    "leaky-unguarded": check_viewer,
    "leaky-link": check_other_reseller,
}


@pytest.fixture
def without_database_backstop(monkeypatch):
    """These tests prove the matrix sees the application's own leaks; PostgreSQL's row-level security
    (customer360.rls) would hide them, so here every statement runs with the platform setting on."""
    from customer360.rls import PLATFORM_SETTING, RESELLER_SETTING
    from customer360.rls.base import DatabaseWrapper

    def platform_everywhere(self):
        if self._session_scope != "test-platform" and self.connection is not None:
            with self.connection.cursor() as cursor:
                cursor.execute(
                    "SELECT set_config(%s, '', false), set_config(%s, 'on', false)",
                    [RESELLER_SETTING, PLATFORM_SETTING],
                )
            self._session_scope = "test-platform"

    monkeypatch.setattr(DatabaseWrapper, "apply_scope", platform_everywhere)


@override_settings(ROOT_URLCONF="tests.foundation.leaky_urls")
def test_the_matrix_catches_leaky_views(world, without_database_backstop):
    """The matrix fails when a view forgets the scope, the login, the role check, a name or a kwarg."""
    # The leaky patterns, plus the list pages the marker sanity check reads; the project's own patterns
    # are checked by the tests above.
    routes = [r for r in all_routes() if r.key in LEAKY or r.key in ("dashboard", "customers:list")]
    found = {check: check(world, routes) for check in (structure_problems, *CHECKS)}
    for key, check in LEAKY.items():
        assert any(p.key == key for p in found[check]), f"{check.__name__} missed {key}"
    leaked = [p for p in found[check_other_reseller] if p.key == "leaky-customer"]
    assert any("marker" in p.text for p in leaked), "the marker in the leaky page went unnoticed"
    assert any("changed" in p.text for p in leaked), "the leaky write went unnoticed"
    others = [p for problems in found.values() for p in problems if p.key not in LEAKY]
    assert not others, report(others)


@override_settings(ROOT_URLCONF="tests.foundation.leaky_urls")
def test_the_matrix_catches_a_leaky_admin(world, without_database_backstop):
    """A ModelAdmin that forgets the scope shows A's customers to B's reseller admin."""
    routes = [r for r in all_routes() if r.key.startswith("leakyadmin:customers_customer_")]
    problems = check_other_resellers_admin(world, routes)
    for key in ("leakyadmin:customers_customer_changelist", "leakyadmin:customers_customer_change"):
        assert any(p.key == key and "marker" in p.text for p in problems), f"missed {key}"
    assert any(p.key == "leakyadmin:customers_customer_change" and "answered 200" in p.text for p in problems)


def test_the_matrix_fails_when_a_real_view_loses_its_scope(world, monkeypatch, without_database_backstop):
    """The project's own customer pages, with access_customer() reading past the scope."""

    def unscoped_access_customer(customer_id):
        try:
            return Customer._base_manager.get(pk=customer_id)
        except (Customer.DoesNotExist, ValueError) as exc:
            raise Http404 from exc

    monkeypatch.setattr(services, "access_customer", unscoped_access_customer)
    names = ("dashboard", "customers:list", "customers:detail", "customers:general")
    problems = check_other_reseller(world, [r for r in all_routes() if r.key in names])
    assert {p.key for p in problems} == {"customers:detail", "customers:general"}
    assert all(any("marker" in p.text for p in problems if p.key == k) for k in names[2:])
