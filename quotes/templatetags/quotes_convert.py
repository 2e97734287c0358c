"""{% convert_panel quote %}: the accepted quote's "Convert to order" panel (quotes/_convert_panel.html),
for the quote's summary page. It asks for a cloud account for each consumption line that has none, and
for a lead's quote the new customer's credit limit; converted and declined quotes say so."""

from django import template

from customers.models import CloudAccount

from ..models import Quote
from ..services_convert import can_convert, needs_cloud_account, scenario_lines

register = template.Library()


@register.inclusion_tag("quotes/_convert_panel.html", takes_context=True)
def convert_panel(context, quote: Quote):
    request = context.get("request")
    ctx = {"quote": quote, "request": request, "csrf_token": context.get("csrf_token"), "accounts_needed": []}
    if quote.status != Quote.Status.ACCEPTED or quote.order_id:
        return ctx
    lines = scenario_lines(quote)
    needed = [line for line in lines if needs_cloud_account(line)]
    if needed and quote.customer_id:
        providers = {line.plan.product.provider.code for line in needed}
        accounts = list(
            CloudAccount.objects.filter(customer_id=quote.customer_id, provider__in=providers)
            .exclude(status=CloudAccount.Status.CLOSED)
            .order_by("name", "account_id")
        )
        for line in needed:
            code = line.plan.product.provider.code
            line.account_choices = [a for a in accounts if a.provider == code]
    total = sum((line.amount for line in lines), 0)
    ctx.update(
        accounts_needed=needed, lines=lines, total=total, can_convert=can_convert(getattr(request, "user", None)),
        accepted_scenario=quote.accepted_scenario,
    )  # fmt: skip
    return ctx
