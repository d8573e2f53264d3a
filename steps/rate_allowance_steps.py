"""The exchange's request allowance: the bot's pacing per verification tier, seen on the exchange's counter."""
from __future__ import annotations

from behave import given, then
from hamcrest import all_of, assert_that, greater_than, less_than_or_equal_to


@given("the account is on the {tier} verification tier, and the bot is set for it")
def step_tier(context, tier):
    world = context.world
    world.sim.set_tier(tier)
    world.configure(KRAKEN_TIER=tier)


@then("the exchange's request counter came within one request of {highest:d} and never went above it")
def step_counter_highest(context, highest):
    """Over the reserve the bot could meet a count it did not make (another program on the key); far
    under it, it waits for nothing."""
    counters = context.world.sim.counters(context.world.api_key)
    assert_that(counters["api_peak"], all_of(greater_than(highest - 1), less_than_or_equal_to(highest)),
                f"the exchange's request counter's highest, of an allowance of {counters['api_max']:g}")
