"""The strategy's own trades, read from what the exchange received from the bot."""
from __future__ import annotations

from decimal import Decimal

from behave import given, then
from hamcrest import assert_that, equal_to


def _strategy_buys(world) -> list[Decimal]:
    return [Decimal(r.params.get("price", "0")) for r in world.exchange_calls("AddOrder")
            if r.seq not in world.foreign and r.params.get("type") == "buy"]


@given("the bot has run its next trading cycle a minute later, buying at the asking price of {price:Amount} EUR")
def step_cycle_bought(context, price):
    world = context.world
    world.sim.advance(60)
    world.bot.run_once()
    assert_that(_strategy_buys(world), equal_to([price]), "the cycle should have bought the dip, once, at the ask")


@then("the strategy has bought {times} in all")
def step_bought_in_all(context, times):
    count = {"once": 1, "twice": 2}[times]
    buys = _strategy_buys(context.world)
    assert_that(len(buys), equal_to(count), f"the strategy's buys: {buys}")
