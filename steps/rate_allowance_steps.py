"""The exchange's request allowance: the bot's pacing per verification tier, seen on the exchange's counter."""
from __future__ import annotations

from behave import given, then
from hamcrest import (all_of, assert_that, greater_than, greater_than_or_equal_to, has_length, less_than,
                      less_than_or_equal_to, not_none)


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


@given("the exchange refuses the next price request for exceeding the rate limit")
def step_public_rate_limited(context):
    context.world.sim.faults.inject(endpoint="Ticker", kind="error", error="EAPI:Rate limit exceeded", times=1)


@then("the bot has the price of {pair:Pair}")
def step_has_price(context, pair):
    ticker = context.world.notes.get("ticker")
    assert_that(ticker, not_none(), f"the bot should have read the price: {context.world.notes.get('errors')}")


@then("the exchange saw the price request twice, the second {gap:d} seconds after the first")
def step_price_request_gap(context, gap):
    world = context.world
    times = [r.time for r in world.bot_calls("Ticker", since=world.notes.get("when_mark", 0))]
    assert_that(times, has_length(2), "the refused price request should be asked again, once")
    assert_that(times[1] - times[0], all_of(greater_than_or_equal_to(gap), less_than(gap + 1)),
                f"the pause after the refusal, s (requests at {times})")
