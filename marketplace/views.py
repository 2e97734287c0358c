"""The reseller's read-only catalog: the authorized providers' plans, filtered by each provider's schema."""

from django.core.paginator import Paginator
from django.http import Http404
from django.views.generic import TemplateView

from customer360.mixins import HtmxPartialMixin, ResellerViewMixin
from customer360.money import Money

from .filtersets import PlanFilterSet
from .models import Product
from .services import authorized_providers, catalog_plans


class CatalogView(ResellerViewMixin, HtmxPartialMixin, TemplateView):
    template_name = "marketplace/catalog.html"
    partial_template_name = "marketplace/_plan_table.html"
    http_method_names = ["get", "head", "options"]

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        providers = list(authorized_providers().order_by("name"))
        code = self.request.GET.get("provider")
        provider = next((p for p in providers if p.code == code), None) if code else (providers or [None])[0]
        if code and provider is None:
            raise Http404("Your reseller is not authorized for this provider.")
        ctx.update(providers=providers, provider=provider)
        if provider is None:
            return ctx
        categories = Product.objects.filter(provider=provider, is_active=True).values_list(
            "category", flat=True
        )
        filterset = PlanFilterSet(
            self.request.GET, queryset=catalog_plans(provider), provider=provider,
            categories=sorted(set(categories)),
        )  # fmt: skip
        plans = filterset.qs if filterset.is_valid() else filterset.queryset.none()
        page = Paginator(plans, 50).get_page(self.request.GET.get("page"))
        labels = {
            a["key"]: {"label": a["label"], "choices": dict(map(tuple, a["choices"]))}
            for a in provider.plan_filter_schema
        }
        for plan in page.object_list:
            plan.attribute_labels = [
                (labels[k]["label"], labels[k]["choices"].get(v, v))
                for k, v in plan.attributes.items()
                if k in labels
            ]
            plan.cost_money, plan.list_money = (
                Money(plan.unit_cost, plan.currency),
                Money(plan.list_price, plan.currency),
            )
        query = self.request.GET.copy()
        query.pop("page", None)
        ctx.update(filterset=filterset, page=page, query=query.urlencode())
        return ctx
