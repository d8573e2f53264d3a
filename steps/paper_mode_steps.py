"""Paper mode: orders the exchange only validates, through the safety wrapper."""
from __future__ import annotations

from behave import given
from hamcrest import assert_that, is_

from tools.spec_support.facade import describe, submit


@given("the bot has had an order to {side:Side} {volume:Amount} XBT at market validated by the exchange")
def step_paper_order_validated(context, side, volume):
    """Through ``submit_order``: the wrapper builds it validate-only and opens the guard for it alone."""
    outcome = submit(context.world, side, "market", volume)
    assert_that(outcome.accepted and not outcome.placed, is_(True),
                f"the exchange should have validated the paper order, not placed it: {describe(outcome)}")
