"""Two promises checked on every URL the resolver knows (the same walk as the tenancy matrix, so a new
URL is covered as soon as it exists): a state-changing request without a CSRF token is refused and
changes nothing, and no GET request writes to the database."""

import pytest
from django.db import connection
from django.test import Client

from .test_tenancy_matrix import (
    UNSAFE_METHODS,
    VARIANTS,
    Probe,
    all_routes,
    build_url,
    checked_routes,
    report,
    status,
)
from .test_tenancy_matrix import (
    world as matrix_world,  # noqa: F401 - pytest knows it as "world": the matrix's world (export, report rows)
)

pytestmark = pytest.mark.django_db
WRITES = ("insert", "update", "delete", "truncate", "copy", "create", "drop", "alter")


def _client(world, **kwargs) -> Client:
    client = Client(**kwargs)
    client.force_login(world.a.owner)
    return client


def check_csrf(world, routes) -> list:
    """Reseller A's owner, signed in, sends every unsafe method without a CSRF token: 403, no change."""
    probe = Probe(world, _client(world, enforce_csrf_checks=True), "A's owner without a CSRF token",
                  check_marker=False)  # fmt: skip
    refused = status(403, wanted="403 (CSRF token missing)")
    for route in checked_routes(world, routes):
        url = build_url(route, world.a)
        for method in UNSAFE_METHODS if not route.admin_site else ("POST",):
            for htmx in VARIANTS:
                probe.send(route, method, url, expect=refused, htmx=htmx, data={"name": "x", "amount": "1"})
    return probe.problems


def check_get_writes(world, routes) -> list:
    """Reseller A's owner GETs every page (plain and htmx): not one write statement reaches PostgreSQL."""
    client = _client(world)
    client.get("/")  # the session's first request may refresh its cookie; pages are what is checked
    problems = []
    for route in checked_routes(world, routes):
        url = build_url(route, world.a)
        for htmx in VARIANTS:
            seen = []

            def record(execute, sql, params, many, context, seen=seen):
                if sql.lstrip().split(None, 1)[0].lower() in WRITES:
                    seen.append(sql[:120])
                return execute(sql, params, many, context)

            with connection.execute_wrapper(record):
                client.get(url, headers={"HX-Request": "true"} if htmx else {})
            if seen:
                problems.append(f"{route.key}: GET{' htmx' if htmx else ''} {url} wrote: {seen[0]}")
    return problems


def test_every_unsafe_request_without_a_csrf_token_is_refused(world):
    problems = check_csrf(world, all_routes())
    assert not problems, report(problems)


def test_no_get_request_writes_to_the_database(world):
    problems = check_get_writes(world, all_routes())
    assert not problems, "GET requests that wrote:\n" + "\n".join(problems)


def test_the_write_check_catches_a_get_that_writes(world, monkeypatch):
    """Not vacuous: a dashboard that writes on GET is reported."""
    from customer360 import views
    from customers.models import Alert

    original = views.DashboardView.get

    def writing_get(self, request, *args, **kwargs):
        Alert.objects.filter(pk=world.a.obj(Alert).pk).update(is_read=True)
        return original(self, request, *args, **kwargs)

    monkeypatch.setattr(views.DashboardView, "get", writing_get)
    problems = check_get_writes(world, [r for r in all_routes() if r.key == "dashboard"])
    assert problems and "update" in problems[0].lower()
