"""The strategy's own trades, read from what the exchange received from the bot."""
from __future__ import annotations

from decimal import Decimal

from behave import given, then
from hamcrest import assert_that, equal_to

from tools.spec_support.facade import PAIR


def _strategy_buys(world) -> list[Decimal]:
    return [Decimal(r.params.get("price", "0")) for r in world.bot_calls("AddOrder") if r.params.get("type") == "buy"]


@given("the bot has run its next trading cycle a minute later, buying at the asking price of {price:Amount} EUR")
def step_cycle_bought(context, price):
    world = context.world
    world.sim.advance(60)
    world.bot.run_once()
    assert_that(_strategy_buys(world), equal_to([price]), "the cycle should have bought the dip, once, at the ask")


@then("the strategy has bought {times} in all")
def step_bought_in_all(context, times):
    count = {"not at all": 0, "once": 1, "twice": 2}[times]
    buys = _strategy_buys(context.world)
    assert_that(len(buys), equal_to(count), f"the strategy's buys: {buys}")


@given("the bot has run its next trading cycle a minute later, selling the whole position at the bid, {price:Amount} EUR")
def step_cycle_sold(context, price):
    world = context.world
    sent = [(r.params.get("type"), Decimal(r.params.get("price", "0"))) for r in world.cycle_a_minute_later()]
    assert_that(sent, equal_to([("sell", price)]), "the cycle should have sold the position at the bid, once")
    assert_that(world.safety.position(PAIR)[0], equal_to(Decimal(0)), "the sale should have filled: nothing held")


@given("the bot has run its next trading cycle a minute later, placing no order")
def step_cycle_quiet(context):
    world = context.world
    sent = [r.params.get("type") for r in world.cycle_a_minute_later()]
    assert_that(sent, equal_to([]), "the cycle should have placed no order")
