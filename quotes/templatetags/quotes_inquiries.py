"""{% customer_inquiries customer as inquiries %}: the customer's inquiries for the Inquiries section of its
Quotes and Inquiries page (quotes/_customer_inquiries.html), so that page's view needs to know nothing."""

from django import template

from ..services_inquiries import INQUIRY_ROLES
from ..services_inquiries import customer_inquiries as inquiries_of

register = template.Library()
SHOWN = 50


@register.simple_tag(takes_context=True)
def customer_inquiries(context, customer):
    """{"rows": the first SHOWN inquiries (open, quoted, closed), "more": whether there are others,
    "can_write": whether the user may record one}. One query."""
    rows = list(inquiries_of(customer)[: SHOWN + 1])
    user = context.get("user") or getattr(context.get("request"), "user", None)
    return {
        "rows": rows[:SHOWN],
        "more": len(rows) > SHOWN,
        "can_write": getattr(user, "role", None) in INQUIRY_ROLES,
    }
