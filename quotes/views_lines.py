"""The Scenarios step: scenarios, their sections and lines, edited inline with htmx (every form also works
without it), the add-line provider → plan/add-on select, and "Refresh prices".

An htmx edit answers with the scenarios partial re-rendered (lines, subtotals, totals); an edit that starts
the next revision reloads the page instead, since the quote's header (revision, status) changed too."""

from collections import defaultdict
from decimal import Decimal

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponse
from django.shortcuts import redirect
from django.utils import timezone
from django.views.generic import TemplateView

from customer360.money import Money
from marketplace.models import AddOn, Plan
from marketplace.services import access_addon, access_plan, authorized_providers

from . import services, services_lines
from .forms import LineAddForm, LineUpdateForm, NameForm
from .models import Quote, QuoteLine, QuoteScenario, QuoteSection
from .views_builder import QuoteMixin, StepMixin, _add_errors, step_url


def scenario_cards(quote: Quote, *, add_forms=None, edit_forms=None, providers=None, options=None) -> list:
    """The scenarios with .section_list (each with .line_list, .subtotal, .add_form) and .subtotal, .tax,
    .total: the numbers quote_totals gives, from three queries plus the tax estimates."""
    add_forms, edit_forms = add_forms or {}, edit_forms or {}
    currency, today = quote.currency, timezone.localdate()
    scenarios = list(QuoteScenario.objects.filter(quote=quote))
    sections = list(QuoteSection.objects.filter(scenario__quote=quote))
    by_section, by_scenario = defaultdict(list), defaultdict(list)
    for line in QuoteLine.objects.filter(section__scenario__quote=quote):
        line.edit_form = edit_forms.get(line.pk) or LineUpdateForm(
            initial={"quantity": line.quantity, "discount_percent": f"{line.discount_percent.normalize():f}"},
            prefix=f"l{line.pk.hex[:8]}",
        )
        by_section[line.section_id].append(line)
    for section in sections:
        section.line_list = by_section[section.pk]
        section.subtotal = Money(sum((x.amount for x in section.line_list), Decimal(0)), currency)
        if providers is not None:
            section.add_form = add_forms.get(section.pk) or LineAddForm(
                providers=providers,
                initial={"provider": quote.category_id, "quantity": 1, "discount_percent": 0},
            )
            section.options = options
        by_scenario[section.scenario_id].append(section)
    for scenario in scenarios:
        scenario.section_list = by_scenario[scenario.pk]
        scenario.subtotal = Money(
            sum((s.subtotal.amount for s in scenario.section_list), Decimal(0)), currency
        )
        scenario.tax = services.estimated_tax(quote, scenario.subtotal, today)
        scenario.total = scenario.subtotal + scenario.tax
    return scenarios


def item_options(provider) -> list:
    """[(product name, [(value, label)])] of the provider's plans and add-ons on sale, for <optgroup>s."""
    groups = defaultdict(list)
    plans = Plan.objects.filter(product__provider=provider, is_active=True, product__is_active=True)
    for plan in plans.select_related("product").order_by("product__name", "list_price", "sku"):
        label = f"{plan.name} · {plan.sku} · {plan.get_billing_term_display()}, {plan.get_billing_frequency_display()}"
        groups[plan.product.name].append((f"plan:{plan.pk}", label))
    addons = AddOn.objects.filter(product__provider=provider, is_active=True, product__is_active=True)
    for addon in addons.select_related("product").order_by("product__name", "list_price", "sku"):
        groups[addon.product.name].append((f"addon:{addon.pk}", f"+ {addon.name} (add-on) · {addon.sku}"))
    return sorted(groups.items())


class ScenariosStepView(StepMixin, TemplateView):
    template_name = "quotes/step_scenarios.html"
    step = Quote.Step.SCENARIOS

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        quote = self.quote
        providers = list(authorized_providers().order_by("name"))
        category = next(
            (p for p in providers if p.pk == quote.category_id), providers[0] if providers else None
        )
        ctx["scenarios"] = scenario_cards(
            quote, add_forms=kwargs.get("add_forms"), edit_forms=kwargs.get("edit_forms"), providers=providers,
            options=item_options(category) if category else [],
        )  # fmt: skip
        ctx["has_lines"] = any(s.line_list for sc in ctx["scenarios"] for s in sc.section_list)
        ctx["scenario_form"] = kwargs.get("scenario_form") or NameForm()
        return ctx

    def post(self, request, *args, **kwargs):
        """ "Continue to summary"."""
        try:
            services.do_reach_summary(request.user, self.quote)
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
            return redirect(step_url(self.quote, Quote.Step.SCENARIOS))
        return redirect(step_url(self.quote, Quote.Step.SUMMARY))


class EditView(ScenariosStepView):
    """A POST that edits the scenarios; answers with the partial (htmx) or the page."""

    http_method_names = ["post"]
    partial_template_name = "quotes/_scenarios.html"

    def post(self, request, *args, **kwargs):
        self.reloads = services.editing_starts_revision(self.quote)
        try:
            message = self.edit(request, **kwargs)
        except ValidationError as exc:
            return self.invalid(exc)
        return self.done(message)

    def edit(self, request, **kwargs) -> str:
        raise NotImplementedError

    def page_url(self, anchor: str = "") -> str:
        return step_url(self.quote, Quote.Step.SCENARIOS) + (f"#{anchor}" if anchor else "")

    def done(self, message: str, anchor: str = ""):
        if self.request.htmx and not self.reloads:
            self.quote = services.access_quote(self.quote.pk)
            return self.render_partial(message=message)
        if self.reloads:
            message += (
                f" Editing revision {self.quote.revision + 1}: revision {self.quote.revision} stays as sent."
            )
        messages.success(self.request, message)
        if self.request.htmx:
            return HttpResponse(status=204, headers={"HX-Redirect": self.page_url(anchor)})
        return redirect(self.page_url(anchor))

    def invalid(self, exc: ValidationError, **forms):
        if not forms:
            messages.error(self.request, " ".join(exc.messages))
            if self.request.htmx:
                return HttpResponse(status=204, headers={"HX-Redirect": self.page_url()})
            return redirect(self.page_url())
        if self.request.htmx:
            return self.render_partial(**forms)
        return self.render_to_response(self.get_context_data(**forms), status=400)

    def render_partial(self, **kwargs):
        ctx = self.get_context_data(**kwargs)
        return self.response_class(
            request=self.request,
            template=[self.partial_template_name],
            context=ctx,
            using=self.template_engine,
        )


class ScenarioAddView(EditView):
    def edit(self, request, **kwargs):
        form = NameForm(request.POST)
        if not form.is_valid():
            raise ValidationError(form.errors["name"])
        scenario = services_lines.do_add_scenario(request.user, self.quote, form.cleaned_data["name"])
        return f"Scenario {scenario.name} added."


class ScenarioActionView(EditView):
    """rename, clone, delete a scenario, or add a section to it (the button's `action`)."""

    def edit(self, request, **kwargs):
        scenario = services.access_scenario(self.quote, kwargs["scenario_id"])
        action, name = request.POST.get("action"), request.POST.get("name", "")
        user = request.user
        if action == "rename":
            services_lines.do_rename_scenario(user, self.quote, scenario, name)
            return f"Scenario renamed {name.strip()}."
        if action == "clone":
            copy = services_lines.do_clone_scenario(user, self.quote, scenario)
            return f"{copy.name} added."
        if action == "delete":
            services_lines.do_delete_scenario(user, self.quote, scenario)
            return f"Scenario {scenario.name} deleted."
        if action == "add_section":
            section = services_lines.do_add_section(user, self.quote, scenario, name)
            return f"Section {section.name} added to {scenario.name}."
        raise ValidationError("Unknown action.")


class SectionActionView(EditView):
    def edit(self, request, **kwargs):
        section = services.access_section(self.quote, kwargs["section_id"])
        action, name = request.POST.get("action"), request.POST.get("name", "")
        if action == "rename":
            services_lines.do_rename_section(request.user, self.quote, section, name)
            return f"Section renamed {name.strip()}."
        if action == "delete":
            services_lines.do_delete_section(request.user, self.quote, section)
            return f"Section {section.name} deleted."
        raise ValidationError("Unknown action.")


class LineAddView(EditView):
    def post(self, request, *args, **kwargs):
        self.reloads = services.editing_starts_revision(self.quote)
        section = services.access_section(self.quote, kwargs["section_id"])
        form = LineAddForm(request.POST, providers=list(authorized_providers().order_by("name")))
        if form.is_valid():
            kind, pk = form.cleaned_data["item"]
            try:
                item = (access_plan if kind == "plan" else access_addon)(pk)
                if item.product.provider_id != form.cleaned_data["provider"]:
                    raise ValidationError({"item": "Choose a plan or add-on of the selected provider."})
                line = services_lines.do_add_line(
                    request.user, self.quote, section, item, quantity=form.cleaned_data["quantity"],
                    discount_percent=form.cleaned_data["discount_percent"],
                )  # fmt: skip
            except (Plan.DoesNotExist, AddOn.DoesNotExist):
                form.add_error("item", "That plan or add-on is not sold now.")
            except PermissionDenied as exc:  # ProviderNotAuthorized: a provider the reseller may not sell
                form.add_error("item", str(exc))
            except ValidationError as exc:
                _add_errors(form, exc)
            else:
                return self.done(f"{line.description} added.", anchor=f"section-{section.pk}")
        return self.invalid(ValidationError("The line was not added."), add_forms={section.pk: form})


class LineView(EditView):
    """update (quantity, discount) or delete one line."""

    def post(self, request, *args, **kwargs):
        self.reloads = services.editing_starts_revision(self.quote)
        line = services.access_line(self.quote, kwargs["quote_line_id"])
        if request.POST.get("action") == "delete":
            try:
                services_lines.do_remove_line(request.user, self.quote, line)
            except ValidationError as exc:
                return self.invalid(exc)
            return self.done(f"{line.description} removed.")
        form = LineUpdateForm(request.POST, prefix=f"l{line.pk.hex[:8]}")
        if form.is_valid():
            try:
                services_lines.do_update_line(request.user, self.quote, line, **form.cleaned_data)
            except ValidationError as exc:
                _add_errors(form, exc)
            else:
                return self.done(f"{line.description} updated.")
        return self.invalid(ValidationError("The line was not changed."), edit_forms={line.pk: form})


class RefreshPricesView(EditView):
    def edit(self, request, **kwargs):
        changed = services_lines.do_refresh_prices(request.user, self.quote)
        return f"Prices refreshed: {changed} line{'s' if changed != 1 else ''} changed."


class ItemOptionsView(QuoteMixin, TemplateView):
    """htmx: the <option>s of the plan/add-on select for the provider chosen in an add-line form."""

    template_name = "quotes/_item_options.html"
    http_method_names = ["get", "head", "options"]

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        try:
            provider_id = int(self.request.GET.get("provider", ""))
        except ValueError:
            provider_id = None
        provider = authorized_providers().filter(pk=provider_id).first() if provider_id else None
        ctx["options"] = item_options(provider) if provider else []
        return ctx
