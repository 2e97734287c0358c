"""Server errors the bad-input walk found, each pinned where it was fixed."""

import pytest
from django.core.exceptions import ValidationError

from customer360.validators import NUL_MESSAGE, check_no_nul
from marketplace.models import QUANTITY_LIMIT, Plan
from marketplace.services_cart import do_add_to_cart, do_update_cart_line

pytestmark = pytest.mark.django_db


def test_a_cart_lines_quantity_can_be_changed(shop):
    """It was a server error: the line was locked FOR UPDATE through an outer join (its add-on)."""
    with shop.scope():
        line = do_add_to_cart(shop.user, shop.customer, plan_id=shop.annual.pk, quantity=3)
        assert do_update_cart_line(shop.user, shop.customer, line, 5).quantity == 5


def test_an_unlimited_item_still_refuses_a_quantity_the_database_cannot_hold():
    plan = Plan(sku="UNLIMITED", min_quantity=1, max_quantity=None)
    plan.check_quantity(QUANTITY_LIMIT)
    with pytest.raises(ValidationError, match=f"at most {QUANTITY_LIMIT}"):
        plan.check_quantity(QUANTITY_LIMIT + 1)


def test_text_with_a_nul_character_is_refused_on_its_field():
    check_no_nul(name="fine", note="")
    with pytest.raises(ValidationError) as caught:
        check_no_nul(name="a\x00b", note="fine")
    assert caught.value.message_dict == {"name": [NUL_MESSAGE]}
