"""Quote URLs (builder and lists); included by quotes/urls.py (namespace quotes, under /quotes/)."""

from django.urls import path

from . import views_builder, views_lines, views_lists

Q = "<uuid:quote_id>/"
urlpatterns = [
    path("", views_lists.QuoteListView.as_view(), name="list"),
    path("new/", views_builder.QuoteNewView.as_view(), name="new"),
    path("new/customers/", views_builder.CustomerSearchView.as_view(), name="customer-search"),
    path("discount-limits/", views_lists.DiscountLimitsView.as_view(), name="discount-limits"),
    path(Q, views_builder.QuoteDetailView.as_view(), name="detail"),
    path(Q + "recipients/", views_builder.RecipientsStepView.as_view(), name="recipients"),
    path(Q + "basic/", views_builder.BasicStepView.as_view(), name="basic"),
    path(Q + "scenarios/", views_lines.ScenariosStepView.as_view(), name="scenarios"),
    path(Q + "summary/", views_builder.SummaryStepView.as_view(), name="summary"),
    path(Q + "clone/", views_builder.CloneQuoteView.as_view(), name="clone"),
    path(Q + "refresh-prices/", views_lines.RefreshPricesView.as_view(), name="refresh-prices"),
    path(Q + "items/", views_lines.ItemOptionsView.as_view(), name="items"),
    path(Q + "scenarios/add/", views_lines.ScenarioAddView.as_view(), name="scenario-add"),
    path(Q + "scenarios/<uuid:scenario_id>/", views_lines.ScenarioActionView.as_view(), name="scenario"),
    path(Q + "sections/<uuid:section_id>/", views_lines.SectionActionView.as_view(), name="section"),
    path(Q + "sections/<uuid:section_id>/lines/", views_lines.LineAddView.as_view(), name="line-add"),
    path(Q + "lines/<uuid:quote_line_id>/", views_lines.LineView.as_view(), name="line"),
]
