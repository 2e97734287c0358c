"""Building quotes: numbering, the four steps through the client, scenarios and sections, revisions of a sent
quote, closed quotes, cloning, roles, and the query count of the Scenarios step."""

import datetime
import re
from decimal import Decimal
from types import SimpleNamespace

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from accounts.models import Role
from billing.models_pricebook import Method
from customer360.tenancy import tenant_scope
from customers.models import ActivityLog
from marketplace.services import ProviderNotAuthorized
from quotes import services, services_lines
from quotes.models import Quote, QuoteLine, QuoteRevision, QuoteScenario, QuoteSection

from ..factories import DEFAULT_PASSWORD, CustomerFactory, ResellerFactory, UserFactory
from ..marketplace.factories import PlanFactory, ProductFactory, ProviderFactory, authorize
from .factories import LEAD_DATA, mark_sent, start_quote

pytestmark = pytest.mark.django_db


def client_for(client, user):
    assert client.login(email=user.email, password=DEFAULT_PASSWORD)
    return client


# --- Numbering -----------------------------------------------------------------------------------------------


def other_shop(shop, reseller):
    """Another reseller selling the same catalog, with a customer and an owner."""
    authorize(reseller, shop.m365, shop.azure)
    return SimpleNamespace(
        reseller=reseller, m365=shop.m365, user=UserFactory(reseller=reseller),
        customer=CustomerFactory(reseller=reseller, name="Hooli"), scope=lambda: tenant_scope(reseller),
    )  # fmt: skip


def test_numbers_are_per_reseller_and_year(shop, other_reseller):
    other = other_shop(shop, other_reseller)
    day = datetime.date(2026, 3, 1)
    first = start_quote(shop, on_date=day)
    second = start_quote(shop, on_date=day)
    theirs = start_quote(other, on_date=day)
    next_year = start_quote(shop, on_date=datetime.date(2027, 1, 2))
    assert (first.number, second.number) == ("Q-2026-00001", "Q-2026-00002")
    assert theirs.number == "Q-2026-00001"  # the other reseller counts on its own
    assert next_year.number == "Q-2027-00001"


def test_a_new_quote_has_option_a_with_a_section_and_is_logged(shop):
    quote = start_quote(shop)
    with shop.scope():
        scenario = QuoteScenario.objects.get(quote=quote)
        assert scenario.name == "Option A"
        assert list(scenario.sections.values_list("name", flat=True)) == ["Microsoft 365"]
        log = ActivityLog.objects.get(action="quote.created")
        assert log.customer == shop.customer and quote.number in log.message
    assert quote.step == Quote.Step.BASIC and quote.status == Quote.Status.DRAFT and quote.revision == 1
    assert quote.currency == "USD" and quote.valid_until > timezone.localdate()


def test_a_quote_needs_an_authorized_category(shop):
    gcp = ProviderFactory(code="gcp")
    with shop.scope(), pytest.raises(ProviderNotAuthorized):
        services.do_create_quote(shop.user, category=gcp, customer=shop.customer)
    with shop.scope():
        assert not Quote.objects.exists()


def test_lines_from_another_authorized_category_can_be_added(shop):
    quote = start_quote(shop, lines=[(shop.annual, 2, 0)])
    with shop.scope():
        section = QuoteSection.objects.get(scenario__quote=quote)
        services_lines.do_add_line(shop.user, quote, section, shop.azure_plan, quantity=1)
        assert section.lines.count() == 2
        gcp_plan = PlanFactory(product=ProductFactory(provider=ProviderFactory(code="gcp")))
        with pytest.raises(ValidationError, match="not authorized"):
            services_lines.do_add_line(shop.user, quote, section, gcp_plan, quantity=1)
        assert section.lines.count() == 2


def test_an_addon_line_belongs_to_its_plan_in_the_scenario(shop):
    start_quote(shop, lines=[(shop.monthly, 3, 0), (shop.addon, 3, 0)])
    with shop.scope():
        addon_line = QuoteLine.objects.get(addon=shop.addon)
    assert addon_line.plan == shop.monthly  # the plan already quoted, not the add-on's first plan
    assert addon_line.description == "Exchange Archiving (add-on to Business Standard (monthly))"
    assert addon_line.term == shop.monthly.billing_term


# --- Basic information ---------------------------------------------------------------------------------------


def test_basic_information_is_checked_and_nothing_saved_on_error(shop):
    quote = start_quote(shop)
    today = timezone.localdate()
    with shop.scope():
        with pytest.raises(ValidationError) as exc:
            services.do_update_basic_info(
                shop.user,
                quote,
                name="x" * 101,
                valid_until=today - datetime.timedelta(days=1),
                currency="USD",
            )
        assert set(exc.value.message_dict) == {"name", "valid_until"}
        assert "at most 100" in exc.value.message_dict["name"][0]
        quote.refresh_from_db()
        assert quote.name != "x" * 101 and quote.step == Quote.Step.BASIC
        services.do_update_basic_info(
            shop.user, quote, name="x" * 100, valid_until=today, currency="USD", notes="n", terms="t"
        )
        quote.refresh_from_db()
    assert quote.name == "x" * 100 and quote.step == Quote.Step.SCENARIOS and quote.terms == "t"


# --- Revisions and closed quotes -------------------------------------------------------------------------------


def test_editing_a_sent_quote_starts_the_next_revision_and_leaves_the_sent_one(shop):
    quote = start_quote(shop, lines=[(shop.annual, 2, 0)])
    rev1 = mark_sent(quote, shop.user)
    with shop.scope():
        line = QuoteLine.objects.get(section__scenario__quote=quote)
        services_lines.do_update_line(shop.user, quote, line, quantity=5, discount_percent=0)
        quote.refresh_from_db()
        assert (quote.revision, quote.status) == (2, Quote.Status.DRAFT)
        # A second edit of revision 2 (never sent) stays on revision 2.
        services_lines.do_update_line(shop.user, quote, line, quantity=6, discount_percent=0)
        quote.refresh_from_db()
        assert quote.revision == 2
        frozen = QuoteRevision.objects.get(quote=quote)
        assert ActivityLog.objects.filter(action="quote.revision").count() == 1
    assert (frozen.pk, frozen.number, frozen.snapshot) == (rev1.pk, 1, rev1.snapshot)
    assert frozen.delivery == QuoteRevision.Delivery.SENT


def test_a_draft_whose_revision_was_sent_also_moves_on(shop):
    """A revision row for the working number (a send in flight, the status not yet changed) is frozen too."""
    quote = start_quote(shop, lines=[(shop.annual, 2, 0)])
    mark_sent(quote)
    with shop.scope():
        Quote.objects.filter(pk=quote.pk).update(status=Quote.Status.DRAFT)
        services.do_update_basic_info(
            shop.user, quote, name="New name", valid_until=quote.valid_until, currency="USD"
        )
        quote.refresh_from_db()
    assert quote.revision == 2


@pytest.mark.parametrize("status", ["accepted", "expired", "declined"])
def test_closed_quotes_are_read_on_their_summary(client, shop, status):
    quote = start_quote(shop, lines=[(shop.annual, 2, 0)])
    with shop.scope():
        Quote.objects.filter(pk=quote.pk).update(status=status, step=Quote.Step.SUMMARY)
    c = client_for(client, shop.user)
    summary = reverse("quotes:summary", args=[quote.pk])
    page = c.get(summary).content.decode()
    assert "cannot be edited because it" in page and "Back to edit" not in page and "Clone quote" in page
    assert c.get(reverse("quotes:scenarios", args=[quote.pk]))["Location"] == summary


@pytest.mark.parametrize("status", ["accepted", "expired", "declined"])
def test_closed_quotes_cannot_be_edited(shop, status):
    quote = start_quote(shop, lines=[(shop.annual, 2, 0)])
    with shop.scope():
        Quote.objects.filter(pk=quote.pk).update(status=status)
        quote.refresh_from_db()
        line = QuoteLine.objects.get(section__scenario__quote=quote)
        with pytest.raises(ValidationError, match="cannot be edited because it"):
            services_lines.do_update_line(shop.user, quote, line, quantity=9, discount_percent=0)
        line.refresh_from_db()
    assert line.quantity == 2


def test_a_converted_quote_cannot_be_edited(shop):
    quote = start_quote(shop)
    quote.status = Quote.Status.CONVERTED  # (a converted quote has an order: the conversion's tests make one)
    with pytest.raises(ValidationError, match="because it was converted to an order"):
        services.check_editable(quote)


# --- Scenarios and sections ------------------------------------------------------------------------------------


def test_scenarios_and_sections(shop):
    quote = start_quote(shop, lines=[(shop.annual, 2, 0)])
    user = shop.user
    with shop.scope():
        first = QuoteScenario.objects.get(quote=quote)
        with pytest.raises(ValidationError, match="at least one scenario"):
            services_lines.do_delete_scenario(user, quote, first)
        copy = services_lines.do_clone_scenario(user, quote, first)
        assert copy.name == "Copy of Option A"
        assert QuoteLine.objects.filter(section__scenario=copy).count() == 1
        services_lines.do_rename_scenario(user, quote, copy, "Business Premium, monthly")
        extra = services_lines.do_add_section(user, quote, copy, "Add-ons")
        with pytest.raises(ValidationError, match="at most 100"):
            services_lines.do_rename_section(user, quote, extra, "y" * 101)
        services_lines.do_delete_section(user, quote, extra)
        only = QuoteSection.objects.get(scenario=copy)
        with pytest.raises(ValidationError, match="at least one section"):
            services_lines.do_delete_section(user, quote, only)
        services_lines.do_delete_scenario(user, quote, first)
        names = list(QuoteScenario.objects.filter(quote=quote).values_list("name", flat=True))
    assert names == ["Business Premium, monthly"]


# --- Cloning -----------------------------------------------------------------------------------------------


def test_clone_is_a_new_draft_repriced_today(shop):
    quote = start_quote(shop, lines=[(shop.annual, 4, Decimal("5"))])
    mark_sent(quote)
    with shop.scope():
        services_lines.do_add_scenario(shop.user, Quote.objects.get(pk=quote.pk), "Option B")
        quote.refresh_from_db()
    with shop.scope():
        shop.rule.value = Decimal("50")  # the pricebook changed since: cost 10 + 50 % = 15.00
        shop.rule.save()
        clone = services.do_clone_quote(shop.user, quote)
        old_line = QuoteLine.objects.get(section__scenario__quote=quote)
        new_line = QuoteLine.objects.get(section__scenario__quote=clone)
        scenario_names = list(clone.scenarios.values_list("name", flat=True))
    assert clone.number != quote.number and clone.revision == 1 and clone.status == Quote.Status.DRAFT
    assert clone.customer == quote.customer and clone.category == quote.category
    assert scenario_names == ["Option A", "Option B"]
    assert old_line.unit_price == Decimal("12.00")  # the original keeps its prices
    assert new_line.unit_price == Decimal("15.00") and new_line.quantity == 4
    assert new_line.amount == Decimal("57.00")  # 4 x 15.00 less 5 %


# --- The steps through the client -----------------------------------------------------------------------------


def test_the_four_steps_through_the_client(client, shop):
    c = client_for(client, shop.user)
    response = c.post(reverse("customers:quote-start", args=[shop.customer.pk]), {"category": "m365"})
    with shop.scope():
        quote = Quote.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse("quotes:basic", args=[quote.pk])
    # A step not reached yet sends the user to the furthest one.
    assert c.get(reverse("quotes:summary", args=[quote.pk]))["Location"] == reverse(
        "quotes:basic", args=[quote.pk]
    )
    page = c.get(reverse("quotes:basic", args=[quote.pk])).content.decode()
    assert 'aria-current="step"' in page and "Basic information" in page
    valid = (timezone.localdate() + datetime.timedelta(days=10)).isoformat()
    response = c.post(
        reverse("quotes:basic", args=[quote.pk]),
        {"name": "Initech renewal", "valid_until": valid, "currency": "USD", "notes": "", "terms": "Net 30"},
    )
    assert response["Location"] == reverse("quotes:scenarios", args=[quote.pk])
    with shop.scope():
        section = QuoteSection.objects.get(scenario__quote=quote)
    response = c.post(
        reverse("quotes:line-add", args=[quote.pk, section.pk]),
        {"provider": shop.m365.pk, "item": f"plan:{shop.annual.pk}", "quantity": 3, "discount_percent": "0"},
    )
    assert response.status_code == 302
    page = c.get(reverse("quotes:scenarios", args=[quote.pk])).content.decode()
    assert "Business Standard (annual)" in page and "36.00" in page  # 3 x 12.00
    assert c.post(reverse("quotes:scenarios", args=[quote.pk]))["Location"] == reverse(
        "quotes:summary", args=[quote.pk]
    )
    summary = c.get(reverse("quotes:summary", args=[quote.pk])).content.decode()
    assert quote.number in summary and "Revision 1" in summary and "Initech renewal" in summary
    assert "Net 30" in summary and "36.00 USD" in summary and "Clone quote" in summary
    assert c.get(reverse("quotes:detail", args=[quote.pk]))["Location"] == reverse(
        "quotes:summary", args=[quote.pk]
    )


def test_create_quote_for_a_new_lead_from_the_quotes_page(client, shop):
    c = client_for(client, shop.user)
    tiles = c.get(reverse("quotes:new")).content.decode()
    assert "Microsoft 365" in tiles and "Microsoft Azure" in tiles
    form = c.get(reverse("quotes:new"), {"category": "m365"}).content.decode()
    assert "New lead" in form
    missing = c.post(reverse("quotes:new"), {"category": "m365", "kind": "lead", "company_name": "Umbrella"})
    assert missing.status_code == 400 and "Required for a lead." in missing.content.decode()
    response = c.post(reverse("quotes:new"), {"category": "m365", "kind": "lead", **LEAD_DATA})
    with shop.scope():
        quote = Quote.objects.select_related("lead").get()
    assert response["Location"] == reverse("quotes:basic", args=[quote.pk])
    assert quote.customer is None and quote.lead.company_name == "Umbrella Prospects"
    assert quote.lead.contact_email == "alice@umbrella.example"


def test_the_recipient_search_and_switching_to_a_customer(client, shop):
    c = client_for(client, shop.user)
    quote = start_quote(shop, lead_data=LEAD_DATA, lines=[(shop.annual, 2, 0)])
    results = c.get(
        reverse("quotes:customer-search"), {"q": "initech"}, HTTP_HX_REQUEST="true"
    ).content.decode()
    assert "Initech" in results and 'name="customer"' in results
    response = c.post(
        reverse("quotes:recipients", args=[quote.pk]), {"kind": "customer", "customer": shop.customer.pk}
    )
    assert response.status_code == 302
    with shop.scope():
        quote.refresh_from_db()
        line = QuoteLine.objects.get(section__scenario__quote=quote)
        assert quote.customer == shop.customer and quote.lead is None
    assert line.unit_price == Decimal("12.00")  # re-priced from the customer's pricebook (list was 12.50)


def test_another_resellers_customer_cannot_be_the_recipient(client, shop, other_reseller):
    theirs = other_shop(shop, other_reseller)
    c = client_for(client, shop.user)
    response = c.post(
        reverse("quotes:new"), {"category": "m365", "kind": "customer", "customer": theirs.customer.pk}
    )
    assert response.status_code == 400
    with shop.scope():
        assert not Quote.objects.exists()


@pytest.mark.parametrize("role", [Role.BILLING, Role.VIEWER])
def test_billing_and_viewers_read_quotes_but_do_not_write(client, shop, role):
    quote = start_quote(shop, lines=[(shop.annual, 2, 0)])
    user = UserFactory(reseller=shop.reseller, role=role)
    c = client_for(client, user)
    with shop.scope():
        section = QuoteSection.objects.get(scenario__quote=quote)
    assert c.get(reverse("quotes:basic", args=[quote.pk])).status_code == 200
    page = c.get(reverse("quotes:scenarios", args=[quote.pk])).content.decode()
    assert "Add line" not in page and "Refresh prices" not in page
    response = c.post(
        reverse("quotes:line-add", args=[quote.pk, section.pk]),
        {"provider": shop.m365.pk, "item": f"plan:{shop.annual.pk}", "quantity": 1, "discount_percent": "0"},
    )
    assert response.status_code == 403
    assert (
        c.post(reverse("customers:quote-start", args=[shop.customer.pk]), {"category": "m365"}).status_code
        == 403
    )
    with shop.scope():
        assert QuoteLine.objects.count() == 1 and Quote.objects.count() == 1


def test_sales_write_quotes(client, shop):
    sales = UserFactory(reseller=shop.reseller, role=Role.SALES)
    c = client_for(client, sales)
    response = c.post(reverse("customers:quote-start", args=[shop.customer.pk]), {"category": "azure"})
    assert response.status_code == 302
    with shop.scope():
        assert Quote.objects.get().category == shop.azure


def test_htmx_line_edit_answers_with_the_scenarios_partial(client, shop):
    quote = start_quote(shop, lines=[(shop.annual, 2, 0)])
    c = client_for(client, shop.user)
    with shop.scope():
        line = QuoteLine.objects.get()
    prefix = f"l{line.pk.hex[:8]}"
    response = c.post(
        reverse("quotes:line", args=[quote.pk, line.pk]),
        {"action": "update", f"{prefix}-quantity": 7, f"{prefix}-discount_percent": "0"},
        HTTP_HX_REQUEST="true",
    )
    body = response.content.decode()
    assert response.status_code == 200 and "<html" not in body and 'id="scenarios"' in body
    assert "84.00" in body  # 7 x 12.00, the new subtotal
    # A sent quote's edit reloads the page (the header's revision changed).
    mark_sent(quote)
    response = c.post(
        reverse("quotes:line", args=[quote.pk, line.pk]),
        {"action": "update", f"{prefix}-quantity": 8, f"{prefix}-discount_percent": "0"},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 204 and response["HX-Redirect"].endswith("/scenarios/")
    with shop.scope():
        assert Quote.objects.get().revision == 2


def test_item_options_follow_the_provider(client, shop):
    quote = start_quote(shop)
    c = client_for(client, shop.user)
    body = c.get(reverse("quotes:items", args=[quote.pk]), {"provider": shop.azure.pk}).content.decode()
    assert "AZ-PLAN" in body and "BST-ANNUAL" not in body
    gcp = ProviderFactory(code="gcp")
    PlanFactory(product=ProductFactory(provider=gcp), sku="GCP-SECRET")
    assert (
        "GCP-SECRET"
        not in c.get(reverse("quotes:items", args=[quote.pk]), {"provider": gcp.pk}).content.decode()
    )


def test_the_scenarios_step_query_count(client, shop, django_assert_max_num_queries):
    quote = start_quote(shop, lines=[(shop.annual, 2, 0), (shop.monthly, 1, 0), (shop.addon, 2, 0)])
    with shop.scope():
        scenario = QuoteScenario.objects.get(quote=quote)
        for _ in range(3):
            services_lines.do_clone_scenario(shop.user, quote, scenario)
        Quote.objects.filter(pk=quote.pk).update(step=Quote.Step.SCENARIOS)
    c = client_for(client, shop.user)
    # session, user, quote, sent-revision check, providers, plans, add-ons, scenarios, sections, lines,
    # tax profile, reseller (top bar): 12 for 4 scenarios of 3 lines, the same for 1 or 100.
    with django_assert_max_num_queries(
        12, info="the Scenarios step: a query per line or scenario? why was one added?"
    ):
        response = c.get(reverse("quotes:scenarios", args=[quote.pk]))
    assert response.status_code == 200


def test_another_resellers_quote_is_not_found(client, shop, other_reseller):
    quote = start_quote(shop, lines=[(shop.annual, 2, 0)])
    stranger = UserFactory(reseller=ResellerFactory(), role=Role.OWNER)
    c = client_for(client, stranger)
    assert c.get(reverse("quotes:scenarios", args=[quote.pk])).status_code == 404
    with tenant_scope(shop.reseller):
        line = QuoteLine.objects.get()
    assert c.post(reverse("quotes:line", args=[quote.pk, line.pk]), {"action": "delete"}).status_code == 404
    with tenant_scope(shop.reseller):
        assert QuoteLine.objects.count() == 1


def test_refresh_prices(shop):
    quote = start_quote(shop, lines=[(shop.annual, 2, 0)])
    with shop.scope():
        shop.rule.method, shop.rule.value = Method.MARKUP, Decimal("30")
        shop.rule.save()
        assert services_lines.do_refresh_prices(shop.user, quote) == 1
        line = QuoteLine.objects.get()
    assert (line.unit_price, line.amount) == (Decimal("13.00"), Decimal("26.00"))


def test_the_share_link_is_shown_once_the_quote_was_sent(client, shop):
    quote = start_quote(shop, lines=[(shop.annual, 2, 0)])
    with shop.scope():
        services.do_reach_summary(shop.user, quote)
    c = client_for(client, shop.user)
    url = reverse("quotes:summary", args=[quote.pk])
    assert 'data-testid="share-link"' not in c.get(url).content.decode()
    mark_sent(quote)
    page = c.get(url).content.decode()
    assert 'data-testid="share-link"' in page and "Copy link" in page
    assert re.search(r'id="share-url" value="http://testserver/quotes/[^"]+"', page)


def test_a_tampered_add_line_is_a_field_error(client, shop):
    quote = start_quote(shop)
    gcp_plan = PlanFactory(product=ProductFactory(provider=ProviderFactory(code="gcp")), sku="GCP-X")
    with shop.scope():
        section = QuoteSection.objects.get()
        Quote.objects.filter(pk=quote.pk).update(step=Quote.Step.SCENARIOS)
    c = client_for(client, shop.user)
    url = reverse("quotes:line-add", args=[quote.pk, section.pk])
    data = {"provider": shop.m365.pk, "quantity": 1, "discount_percent": "0"}
    unauthorized = c.post(url, {**data, "item": f"plan:{gcp_plan.pk}"})
    assert unauthorized.status_code == 400 and "not authorized to sell" in unauthorized.content.decode()
    other_provider = c.post(url, {**data, "item": f"plan:{shop.azure_plan.pk}"})
    assert "Choose a plan or add-on of the selected provider." in other_provider.content.decode()
    with shop.scope():
        assert not QuoteLine.objects.exists()
