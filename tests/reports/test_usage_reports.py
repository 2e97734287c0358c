"""The consumption reports of a customer: their numbers against sums of the raw usage rows, the provider
filter, the chart and its table equivalent, sorting, and the CSV and XLSX downloads."""

from datetime import date
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from .helpers import num, page_table, q2, read_csv, read_xlsx, sums

pytestmark = pytest.mark.django_db
RANGE = {"start": "2026-03-01", "end": "2026-06-30"}


def url(name, customer, fmt=""):
    return reverse(f"reports:customer-{name}{'-' + fmt if fmt else ''}", args=[customer.pk])


def test_spend_by_month_equals_the_raw_rows_on_the_page_and_in_both_downloads(owner_client, customer, usage):
    expected = sums(usage, lambda r: r["day"].strftime("%Y-%m"))
    response = owner_client.get(url("spend-by-month", customer), RANGE)
    assert response.status_code == 200
    table = page_table(response.content.decode())
    assert table[0][:4] == ["Month", "Spend (USD)", "Cost (USD)", "Margin (USD)"]
    body, totals = table[1:-1], table[-1]
    assert [r[0] for r in body] == ["2026-03", "2026-04", "2026-05", "2026-06"]
    for row in body:
        s = expected[row[0]]
        assert num(row[1]) == q2(s["price"]) and num(row[2]) == q2(s["cost"])
        assert num(row[3]) == q2(s["price"]) - q2(s["cost"])
    all_price = sum(q2(s["price"]) for s in expected.values())
    assert totals[0] == "Total" and num(totals[1]) == all_price

    csv_rows = read_csv(owner_client.get(url("spend-by-month", customer, "csv"), RANGE).content)
    assert csv_rows[0] == table[0]
    assert [[r[0], Decimal(r[1]), Decimal(r[2])] for r in csv_rows[1:]] == [
        [r[0], num(r[1]), num(r[2])] for r in table[1:]
    ]
    response = owner_client.get(url("spend-by-month", customer, "xlsx"), RANGE)
    assert response["Content-Type"].startswith("application/vnd.openxmlformats")
    assert "attachment" in response["Content-Disposition"]
    xlsx_rows = read_xlsx(response.content)
    assert xlsx_rows[0] == csv_rows[0]
    assert [[r[0], Decimal(str(r[1])), Decimal(str(r[3]))] for r in xlsx_rows[1:]] == [
        [r[0], Decimal(r[1]), Decimal(r[3])] for r in csv_rows[1:]
    ]


def test_provider_filter_narrows_the_monthly_report(owner_client, customer, usage):
    expected = sums(usage, lambda r: r["day"].strftime("%Y-%m"), provider="azure")
    response = owner_client.get(url("spend-by-month", customer), {**RANGE, "provider": "azure"})
    body = page_table(response.content.decode())[1:-1]
    assert {r[0]: num(r[1]) for r in body} == {m: q2(s["price"]) for m, s in expected.items()}
    csv_rows = read_csv(
        owner_client.get(url("spend-by-month", customer, "csv"), {**RANGE, "provider": "azure"}).content
    )
    assert {r[0]: Decimal(r[1]) for r in csv_rows[1:-1]} == {m: q2(s["price"]) for m, s in expected.items()}


def test_spend_by_provider_and_service_is_sorted_by_spend_and_sortable(owner_client, customer, usage):
    lo, hi = date(2026, 4, 1), date(2026, 5, 31)
    expected = sums(usage, lambda r: r["service"], lo, hi)
    params = {"start": lo.isoformat(), "end": hi.isoformat()}
    body = page_table(owner_client.get(url("spend-by-service", customer), params).content.decode())[1:-1]
    assert {r[1]: num(r[2]) for r in body} == {k: q2(v["price"]) for k, v in expected.items()}
    spends = [num(r[2]) for r in body]
    assert spends == sorted(spends, reverse=True)
    by_name = page_table(
        owner_client.get(url("spend-by-service", customer), {**params, "sort": "service"}).content.decode()
    )[1:-1]
    assert [r[1] for r in by_name] == sorted(expected)
    csv_rows = read_csv(
        owner_client.get(url("spend-by-service", customer, "csv"), {**params, "sort": "service"}).content
    )
    assert [r[1] for r in csv_rows[1:-1]] == sorted(expected)


def test_top_resources_rank_resources_by_their_raw_cost(owner_client, customer, usage):
    expected = sums(usage, lambda r: r["resource"])
    ranked = sorted(expected.items(), key=lambda kv: -kv[1]["cost"])[:3]
    response = owner_client.get(url("top-resources", customer), {**RANGE, "limit": "10"})
    body = page_table(response.content.decode())[1:-1]
    assert [(r[0], num(r[3])) for r in body[:3]] == [(k, q2(v["cost"])) for k, v in ranked]
    assert {r[0]: int(num(r[5])) for r in body} == {k: v["n"] for k, v in expected.items()}


def test_the_chart_has_a_title_a_description_patterns_and_a_table_equivalent(owner_client, customer, usage):
    html = owner_client.get(url("spend-by-month", customer), RANGE).content.decode()
    assert 'role="img"' in html and "<title id=" in html and "<desc id=" in html
    assert "Spend and margin by month, USD" in html
    assert (
        'fill="url(#chart-spend-by-month-hatch)"' in html
    )  # the second series is hatched, not only coloured
    chart_table = page_table(html, testid=None)  # the chart's data table has no test id of its own
    assert chart_table[0] == ["Category", "Spend (USD)", "Margin (USD)"]
    table = page_table(html)
    assert [r[0] for r in chart_table[1:]] == [r[0] for r in table[1:-1]]
    assert [r[1] for r in chart_table[1:]] == [r[1] for r in table[1:-1]]


def test_the_customer_menu_offers_the_report_picker(owner_client, customer):
    html = owner_client.get(reverse("customers:detail", args=[customer.pk])).content.decode()
    picker = reverse("reports:customer-reports", args=[customer.pk])
    assert f'href="{picker}"' in html and "Customer Reports" in html
    page = owner_client.get(picker).content.decode()
    for slug in (
        "spend-by-month",
        "spend-by-service",
        "top-resources",
        "subscriptions",
        "quotes",
        "invoices",
    ):
        assert url(slug, customer) in page


def test_a_report_page_costs_a_fixed_number_of_queries(owner_client, customer, usage):
    owner_client.get(url("spend-by-month", customer), RANGE)
    with CaptureQueriesContext(connection) as ctx:
        assert owner_client.get(url("spend-by-month", customer), RANGE).status_code == 200
    # session, user, customer, the rollup aggregate: if this grows, say why in the report's module.
    assert len(ctx.captured_queries) <= 5, [q["sql"][:120] for q in ctx.captured_queries]


def test_a_bad_date_range_shows_an_error_and_the_default_range(owner_client, customer, usage):
    response = owner_client.get(url("spend-by-month", customer), {"start": "2026-06-01", "end": "2026-03-01"})
    assert response.status_code == 200
    assert "The end date must be on or after the start date." in response.content.decode()


def test_a_customer_in_pounds_sees_cost_and_margin_in_pounds(owner_client, reseller):
    from ..billing.invoice_helpers import make_account, make_customer
    from .conftest import SPRING
    from .helpers import add_raw_usage

    customer = make_customer(reseller, "Bluepeak", currency="GBP")
    usage = add_raw_usage({"aws": make_account(customer, "210987654321", "aws")}, SPRING, currency="GBP",
                          rate=Decimal("0.79"))  # fmt: skip
    expected = sums(usage, lambda r: r["day"].strftime("%Y-%m"))
    table = page_table(owner_client.get(url("spend-by-month", customer), RANGE).content.decode())
    assert table[0][:5] == ["Month", "Spend (GBP)", "Cost (GBP)", "Margin (GBP)", "Margin %"]
    for row in table[1:-1]:
        s = expected[row[0]]
        assert num(row[2]) == q2(s["cost"]), "cost is the USD cost at the rate that priced the rows"
        assert num(row[3]) == q2(s["price"]) - q2(s["cost"])
        assert row[4].startswith("16.")  # a 20% markup is 1/6 of the price, not a loss


def test_a_customer_without_usage_sees_an_empty_state_not_a_chart_of_zeros(owner_client, customer):
    html = owner_client.get(url("spend-by-month", customer), RANGE).content.decode()
    assert 'data-testid="chart-empty"' in html and "nothing to chart" in html
    assert "<svg" not in html
    assert [r[0] for r in page_table(html)[1:-1]] == ["2026-03", "2026-04", "2026-05", "2026-06"]
