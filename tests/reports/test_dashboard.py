"""The reseller dashboard: KPI cards and reseller-wide reports, filtered by provider and custom field,
against sums of the raw rows; the lists behind the cards; its query count."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from customer360.tenancy import tenant_scope
from reports.rollup import fresh, rebuild

from .dashboard_world import build
from .helpers import num, page_table, q2, read_csv, sums

pytestmark = pytest.mark.django_db


def card(html, key) -> list[str]:
    import re

    block = re.search(rf'data-testid="card-{key}"(.*?)</a>', html, re.S).group(1)
    return [
        " ".join(re.sub("<[^>]+>", " ", line).split())
        for line in re.findall(r'<div class="(?:value|small)[^"]*"[^>]*>(.*?)</div>', block)
    ]


@pytest.fixture(params=["daily", "monthly"])
def world(request, reseller):
    """The dashboard reads the daily rollup until the monthly one (reports.SpendMonth) is built from the
    current data, then the monthly one: both give the same numbers."""
    built = build(reseller)
    if request.param == "monthly":
        with tenant_scope(reseller):
            assert rebuild() >= 0 and fresh()
    return built


def test_cards_without_filters_cover_every_customer(owner_client, world):
    emea, amer, rows = world
    html = owner_client.get(reverse("dashboard")).content.decode()
    total = sums(rows, lambda r: "all")["all"]
    assert card(html, "mtd")[0] == f"{q2(total['price']):,.2f} USD"
    assert card(html, "mtd")[1] == f"Margin {q2(total['price']) - q2(total['cost']):,.2f} USD"
    assert card(html, "mrr")[0] == "180.00 USD"  # 10 x 12.00 + 3 x 240.00 / 12
    assert card(html, "customers")[0] == "2"
    assert card(html, "expiring")[:2] == ["1", "1 not set to auto-renew"]
    assert card(html, "quotes")[:2] == ["2", "Value 500.00 USD"]
    assert card(html, "overdue")[:2] == ["1", "Due 200.00 USD"]


def test_a_custom_field_filter_applies_to_every_card_and_stays_in_the_links(owner_client, world):
    emea, amer, rows = world
    html = owner_client.get(reverse("dashboard"), {"cf_region": "EMEA"}).content.decode()
    emea_total = sums([r for r in rows if r["customer_id"] == emea.pk], lambda r: "all")["all"]
    assert card(html, "mtd")[0] == f"{q2(emea_total['price']):,.2f} USD"
    assert card(html, "mrr")[0] == "120.00 USD"
    assert card(html, "customers")[0] == "1"
    assert card(html, "expiring")[0] == "0"
    assert card(html, "quotes")[0] == "1"
    assert card(html, "overdue")[:2] == ["1", "Due 200.00 USD"]
    assert "cf_region=EMEA" in html.split('data-testid="card-customers"')[0].rsplit("<a", 1)[1]
    top = page_table(html.split('data-testid="top-customers-spend"')[1], testid=None)
    assert [r[0] for r in top[1:]] == ["Emea Widgets"]
    # The list behind the active customers card applies the same filter.
    listing = owner_client.get(reverse("customers:list"), {"status": "active", "cf_region": "EMEA"})
    assert "Emea Widgets" in listing.content.decode() and "Amer Gadgets" not in listing.content.decode()


def test_the_provider_filter_keeps_that_provider_spend_only(owner_client, world):
    emea, amer, rows = world
    html = owner_client.get(reverse("dashboard"), {"provider": "azure"}).content.decode()
    azure = sums(rows, lambda r: "all", provider="azure")["all"]
    assert card(html, "mtd")[0] == f"{q2(azure['price']):,.2f} USD"
    assert card(html, "customers")[0] == "1"
    assert card(html, "mrr")[0] == "60.00 USD"


def test_reseller_reports_top_customers_margin_by_provider_and_growth(owner_client, world):
    emea, amer, rows = world
    per_customer = sums(rows, lambda r: r["customer_id"])
    response = owner_client.get(reverse("reports:top-customers"))
    body = page_table(response.content.decode())[1:]
    expected = sorted(((c, q2(s["price"])) for c, s in per_customer.items()), key=lambda kv: -kv[1])
    names = {emea.pk: "Emea Widgets", amer.pk: "Amer Gadgets"}
    assert [(r[0], num(r[1])) for r in body] == [(names[c], v) for c, v in expected]
    csv_rows = read_csv(owner_client.get(reverse("reports:top-customers-csv")).content)
    assert [(r[0], num(r[1])) for r in csv_rows[1:]] == [(r[0], num(r[1])) for r in body]
    per_provider = sums(rows, lambda r: r["provider"])
    body = page_table(owner_client.get(reverse("reports:margin-by-provider")).content.decode())[1:-1]
    assert {r[0]: num(r[3]) for r in body} == {
        {"aws": "AWS", "azure": "Microsoft Azure"}[p]: q2(s["price"]) - q2(s["cost"])
        for p, s in per_provider.items()
    }
    growth = page_table(owner_client.get(reverse("reports:growth")).content.decode())[1:]
    assert len(growth) == 12 and num(growth[-1][1]) == sum(q2(s["price"]) for s in per_customer.values())
    for name in ("mrr", "expiring-subscriptions", "overdue-invoices"):
        assert owner_client.get(reverse(f"reports:{name}"), {"cf_region": "EMEA"}).status_code == 200
    overdue = page_table(owner_client.get(reverse("reports:overdue-invoices")).content.decode())
    assert [r[1] for r in overdue[1:-1]] == ["INV-EMEA"]


def test_the_dashboard_costs_a_fixed_number_of_queries(owner_client, world):
    owner_client.get(reverse("dashboard"), {"cf_region": "EMEA"})
    with CaptureQueriesContext(connection) as ctx:
        assert owner_client.get(reverse("dashboard"), {"cf_region": "EMEA"}).status_code == 200
    # session, user, custom field definitions, data version (3), the live cards (6), customer counts,
    # alerts (2), activity: if this grows, say why in reports/dashboard.py.
    assert len(ctx.captured_queries) <= 18, "\n".join(q["sql"][:150] for q in ctx.captured_queries)


def test_the_beat_task_rebuilds_each_stale_monthly_rollup_once(reseller, other_reseller):
    from billing.models import UsageImport
    from customer360.celery import app
    from reports.tasks import refresh_stale_spend_months

    build(reseller)
    schedule = {e["task"] for e in app.conf.beat_schedule.values()}
    assert "reports.tasks.refresh_stale_spend_months" in schedule
    assert refresh_stale_spend_months() == 2  # neither reseller's rollup was built
    with tenant_scope(reseller):
        assert fresh()
    with tenant_scope(other_reseller):
        assert fresh()
    assert refresh_stale_spend_months() == 0, "nothing changed: nothing to rebuild"
    with tenant_scope(reseller):  # a finished import changes the reseller's data version
        UsageImport.objects.create(original_name="late.csv", file="late.csv", status="done",
                                   finished_at=timezone.now())  # fmt: skip
        assert not fresh()
    assert refresh_stale_spend_months() == 1
    with tenant_scope(reseller):
        assert fresh()


def test_while_the_rollup_is_rebuilt_the_dashboard_shows_the_previous_build_and_says_so(
    owner_client, reseller
):
    """An import's rows reach the monthly rollup seconds after its commit; meanwhile the dashboard keeps
    the figures it had (fast) and says since when, rather than a slow read of the daily rollup."""
    from billing.models_usage import UsageImport
    from customers.models import CloudAccount

    from .dashboard_world import this_month_days
    from .helpers import add_raw_usage

    emea, amer, rows = build(reseller)
    with tenant_scope(reseller):
        assert rebuild() >= 0
        account = CloudAccount.objects.get(customer=emea)
    html = owner_client.get(reverse("dashboard")).content.decode()
    before = card(html, "mtd")[0]
    assert 'data-testid="spend-as-of"' not in html
    more = add_raw_usage({"aws": account}, this_month_days(), seed=9)
    with tenant_scope(reseller):
        UsageImport.objects.filter(finished_at__isnull=True).update(finished_at=timezone.now())
    html = owner_client.get(reverse("dashboard")).content.decode()
    assert card(html, "mtd")[0] == before
    assert 'data-testid="spend-as-of"' in html and "the latest usage import is being added" in html
    with tenant_scope(reseller):
        assert rebuild() > 0 and fresh()
    html = owner_client.get(reverse("dashboard")).content.decode()
    total = sums(rows + more, lambda r: "all")["all"]
    assert card(html, "mtd")[0] == f"{q2(total['price']):,.2f} USD" != before
    assert 'data-testid="spend-as-of"' not in html
