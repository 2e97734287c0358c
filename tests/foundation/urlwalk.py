"""Walking every URL pattern the project defines, and turning each into a concrete URL.

The tenancy matrix (test_tenancy_matrix.py) uses this to request every page as another reseller, an
anonymous visitor and a viewer. Nothing here knows the project's URLs: they come from the resolver, so
a new URL is walked as soon as it is added.
"""

import re
from dataclasses import dataclass
from inspect import unwrap

from django.apps import apps
from django.contrib.admin.options import ModelAdmin
from django.contrib.admin.sites import all_sites
from django.db import connection
from django.urls import URLResolver, get_resolver, reverse
from django.urls.resolvers import LocalePrefixPattern, RegexPattern, RoutePattern
from django.utils.regex_helper import normalize

from accounts.models import Reseller, User
from customer360.tenancy import TenantModel, platform_scope

_PARAMETER = re.compile(r"<(?:(?P<converter>[^>:]+):)?(?P<parameter>[^>]+)>")


@dataclass(frozen=True)
class Route:
    """One URL pattern, with the resolvers (include()s) it sits under."""

    pieces: tuple  # the URLResolvers from the root down, then the URLPattern
    namespaces: tuple

    @property
    def pattern(self):
        return self.pieces[-1]

    @property
    def callback(self):
        return self.pattern.callback

    @property
    def name(self):
        return self.pattern.name

    @property
    def qualified_name(self):
        """The name reverse() takes ("customers:detail"), or None for an unnamed pattern."""
        if not self.name:
            return None
        return ":".join((*self.namespaces, self.name))

    @property
    def route(self) -> str:
        """The whole pattern from the root, e.g. "customers/<uuid:customer_id>/"."""
        return "".join(str(piece.pattern) for piece in self.pieces)

    @property
    def key(self) -> str:
        """How problems and the skip list name this pattern: its name, or its route when unnamed."""
        if self.qualified_name:
            return self.qualified_name
        prefix = ":".join(self.namespaces)
        return f"{prefix}:<unnamed {self.route}>" if prefix else f"<unnamed {self.route}>"

    @property
    def kwarg_names(self) -> tuple:
        names = []
        for piece in self.pieces:
            pattern = piece.pattern
            if isinstance(pattern, RoutePattern):
                names.extend(pattern.converters)
            elif isinstance(pattern, RegexPattern):
                names.extend(pattern.regex.groupindex)
        return tuple(names)

    @property
    def has_positional_groups(self) -> bool:
        return any(
            isinstance(piece.pattern, RegexPattern)
            and piece.pattern.regex.groups > len(piece.pattern.regex.groupindex)
            for piece in self.pieces
        )

    @property
    def admin_site(self):
        """The AdminSite this pattern belongs to, or None for the app's own pages."""
        if not self.namespaces:
            return None
        for site in all_sites:
            if site.name == self.namespaces[0]:
                return site
        return None

    @property
    def model_admin(self):
        """The ModelAdmin serving this admin pattern, if any (changelist, change, delete, ...)."""
        model_admin = getattr(self.callback, "model_admin", None)
        if model_admin is None:
            owner = getattr(unwrap(self.callback), "__self__", None)
            model_admin = owner if isinstance(owner, ModelAdmin) else None
        return model_admin

    @property
    def view_methods(self):
        """Lowercase HTTP methods a class-based view handles, or None when that isn't knowable."""
        view_class = getattr(self.callback, "view_class", None)
        if view_class is None:
            return None
        return {m for m in view_class.http_method_names if hasattr(view_class, m)}

    def build(self, kwargs: dict) -> str:
        """The concrete URL: reverse() of the name, or the pattern filled in by hand when unnamed."""
        if self.qualified_name:
            return reverse(self.qualified_name, kwargs=kwargs)
        parts = ["/"]
        for piece in self.pieces:
            pattern = piece.pattern
            if isinstance(pattern, RoutePattern):

                def fill(match, pattern=pattern):
                    name = match["parameter"]
                    return str(pattern.converters[name].to_url(kwargs[name]))

                parts.append(_PARAMETER.sub(fill, str(pattern)))
            elif isinstance(pattern, RegexPattern):
                template, params = normalize(pattern.regex.pattern)[0]
                parts.append(template % {p: str(kwargs[p]) for p in params})
            elif isinstance(pattern, LocalePrefixPattern):
                parts.append(pattern.language_prefix)
            else:
                raise TypeError(f"don't know how to fill a {type(pattern).__name__}")
        return "".join(parts)


def walk(resolver=None, pieces=(), namespaces=()):
    """Every URLPattern under the resolver (the ROOT_URLCONF by default), depth first, in order."""
    resolver = resolver or get_resolver()
    for entry in resolver.url_patterns:
        if isinstance(entry, URLResolver):
            inner = (*namespaces, entry.namespace) if entry.namespace else namespaces
            yield from walk(entry, (*pieces, entry), inner)
        else:
            yield Route(pieces=(*pieces, entry), namespaces=namespaces)


def tenant_models():
    """Every concrete tenant-owned model (a TenantModel subclass) of every installed app."""
    return [m for m in apps.get_models() if issubclass(m, TenantModel)]


def tenant_digest() -> dict:
    """{(table, reseller id): digest} of every tenant row, every reseller and every user.

    Read with SQL under the platform scope, so every reseller's rows count (row-level security would
    otherwise show this process, outside any request's scope, no row at all). Keyed by reseller, so a check can ask "did reseller A's
    rows change" or "did anything change". `last_login` is left out: signing a test client in is not
    a change the matrix looks for. One query, as it runs after every request of the matrix.
    """
    quote = connection.ops.quote_name
    parts, params = [], []
    for model in tenant_models():
        opts = model._meta
        parts.append(
            f"SELECT %s, t.reseller_id::text, md5(string_agg(to_jsonb(t)::text, ',' "
            f"ORDER BY t.{quote(opts.pk.column)})) FROM {quote(opts.db_table)} t GROUP BY t.reseller_id"
        )
        params.append(opts.label)
    parts.append(f"SELECT %s, t.id::text, md5(to_jsonb(t)::text) FROM {quote(Reseller._meta.db_table)} t")
    params.append(Reseller._meta.label)
    parts.append(
        "SELECT %s, coalesce(t.reseller_id::text, ''), md5(string_agg((to_jsonb(t) - 'last_login')::text, ',' "
        f"ORDER BY t.id)) FROM {quote(User._meta.db_table)} t GROUP BY t.reseller_id"
    )
    params.append(User._meta.label)
    with platform_scope(), connection.cursor() as cursor:
        cursor.execute(" UNION ALL ".join(parts), params)
        return {(label, reseller_id): digest for label, reseller_id, digest in cursor.fetchall()}


def changed_tables(before: dict, after: dict, reseller=None) -> list:
    """The tables whose rows differ between two fingerprints (only one reseller's rows, if given)."""
    keys = set(before) | set(after)
    if reseller is not None:
        keys = {k for k in keys if k[1] == str(reseller.pk)}
    return sorted({key[0] for key in keys if before.get(key) != after.get(key)})


def response_text(response) -> str:
    """Status line, headers and body of a response, lowercased, for marker searches."""
    if getattr(response, "streaming", False):
        body = b"".join(response.streaming_content)
    else:
        body = response.content
    headers = "\n".join(f"{k}: {v}" for k, v in response.headers.items())
    return f"{response.status_code}\n{headers}\n\n{body.decode('utf-8', 'replace')}".lower()
