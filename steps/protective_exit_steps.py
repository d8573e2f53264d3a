"""The bot's own stop-loss and take-profit, watched in its trading cycle (not the exchange's trigger orders)."""
from __future__ import annotations

from decimal import Decimal

from behave import given, then
from hamcrest import assert_that, empty, equal_to, has_length, is_

from tools.spec_support.facade import PAIR, describe, exchange_open_orders, submit


@given("the bot holds {volume:Amount} XBT bought at an asking price of {ask:Amount} EUR, an average entry of "
       "{entry:Amount} EUR with the fee, and no protective order at the exchange")
def step_holds_unprotected(context, volume, ask, entry):
    """A round entry puts the exits on whole prices, so a bid can sit exactly on one."""
    world = context.world
    world.sim.set_price(PAIR, ask - Decimal("0.1"))  # the simulated book's ask is one tick above its price
    assert_that(world.safety.ticker(PAIR).ask, equal_to(ask), "the asking price the purchase fills at")
    world.notes["xbt_before_purchase"] = world.sim.balances().get("XXBT", Decimal(0))
    bought = submit(world, "buy", "market", volume)
    assert_that(bought.placed, is_(True), f"the position should be bought: {describe(bought)}")
    world.notes.pop("outcome")
    assert_that(world.safety.position(PAIR), equal_to((volume, entry)), "the bot's position and its average entry")
    assert_that(exchange_open_orders(world), empty(), "no protective order should rest at the exchange")
    world.notes["xbt_held"] = world.sim.balances().get("XXBT", Decimal(0))


@given("the bot offers {volume:Amount} XBT of its position with a limit sell resting at {price:Amount} EUR")
def step_offers_part(context, volume, price):
    world = context.world
    offered = submit(world, "sell", "limit", volume, price)
    assert_that(offered.placed, is_(True), f"the offer should rest on the book: {describe(offered)}")
    assert_that([o.get("cl_ord_id") for o in exchange_open_orders(world)], equal_to([offered.cl_ord_id]),
                "the offer should be the one order resting at the exchange")
    world.notes["offer"] = offered


@then("the bot's resting sell is cancelled on the exchange")
def step_offer_cancelled(context):
    world = context.world
    offer = world.notes["offer"]
    assert_that(exchange_open_orders(world), empty(), "nothing should rest at the exchange after the exit")
    order = next((o for o in world.sim.orders() if o.get("cl_ord_id") == offer.cl_ord_id), {})
    assert_that(order.get("status"), equal_to("canceled"), "the offer should have been cancelled, not filled")


def _orders_sent(world) -> list:
    return world.bot_calls("AddOrder", since=world.notes["when_mark"])


@then("the bot has sold the whole position at market by its {exit}")
def step_sold_by(context, exit):
    world = context.world
    sent = _orders_sent(world)
    assert_that(sent, has_length(1), "the cycle should send exactly one order: the protective sell")
    params = sent[0].params
    assert_that((params.get("type"), params.get("ordertype"), Decimal(params.get("volume", "0"))),
                equal_to(("sell", "market", world.safety.pair_info(PAIR).round_volume(Decimal("0.01")))),
                "the exit should be a market sell of the whole position")
    order = next((o for o in world.sim.orders() if o.get("cl_ord_id") == params.get("cl_ord_id")), {})
    assert_that(order.get("status"), equal_to("closed"), "the exchange should have filled the exit")
    assert_that(world.sim.balances().get("XXBT", Decimal(0)), equal_to(world.notes["xbt_before_purchase"]),
                "the account should hold the XBT it held before the purchase")
    started = world.notes["cycle"].started_at
    fired = [r.get("outcome") for r in world.safety.audit_log()
             if r.get("action") == "protective_exit" and r.get("time", 0) >= started]
    assert_that(fired, equal_to([exit.replace("-", "_")]), f"the bot should record that its {exit} fired, once")


@then("the bot has sold at market by its {exit} the {volume:Amount} XBT its records hold")
def step_sold_recorded(context, exit, volume):
    world = context.world
    sent = [(r.params.get("type"), r.params.get("ordertype"), Decimal(r.params.get("volume", "0")), r.outcome)
            for r in _orders_sent(world)]
    refused = [r.get("reason") for r in world.safety.audit_log()
               if r.get("time", 0) >= world.notes["cycle"].started_at and r.get("allowed") is False]
    assert_that(sent, equal_to([("sell", "market", volume, "ok")]),
                f"the cycle should send exactly one order: a market sell of the {volume} XBT the records hold"
                f" (refused: {refused}; cycle errors: {world.notes['cycle'].errors})")
    fired = [r.get("outcome") for r in world.safety.audit_log()
             if r.get("action") == "protective_exit" and r.get("time", 0) >= world.notes["cycle"].started_at]
    assert_that(fired, equal_to([exit.replace("-", "_")]), f"the bot should record that its {exit} fired, once")


@then("the bot has sold the whole position with a limit sell at the bid, {price:Amount} EUR")
def step_sold_at_bid(context, price):
    """The strategy's own exit: a limit order at the bid (a ceiling on how far a thin book fills it)."""
    world = context.world
    sent = [(r.params.get("type"), r.params.get("ordertype"), Decimal(r.params.get("volume", "0")),
             Decimal(r.params.get("price", "0"))) for r in _orders_sent(world)]
    assert_that(sent, equal_to([("sell", "limit", Decimal("0.01"), price)]),
                "the cycle should send exactly one order: a limit sell of the whole position at the bid")
    assert_that(world.sim.balances().get("XXBT", Decimal(0)), equal_to(world.notes["xbt_before_purchase"]),
                "the exchange should have filled the sell: the account holds the XBT it held before the purchase")


@given("the exchange turns away the bot's next order, accepting only cancellations for a moment")
def step_turn_away_next_order(context):
    context.world.sim.faults.inject(endpoint="AddOrder", kind="error", error="EService:Market in cancel_only mode")


@given("the bot has run its next trading cycle a minute later, its stop-loss sell turned away")
def step_cycle_turned_away(context):
    world = context.world
    sent = world.cycle_a_minute_later()
    assert_that([r.outcome != "ok" for r in sent], equal_to([True]), "the cycle's stop-loss sell should be turned away")
    assert_that(world.sim.balances().get("XXBT", Decimal(0)), equal_to(world.notes["xbt_held"]),
                "the position should still be held")


@then("the bot still holds the position and sent no order")
def step_still_holds(context):
    world = context.world
    assert_that([f"#{r.seq} {r.params.get('type')} {r.params.get('ordertype')}" for r in _orders_sent(world)], empty(),
                "no order should leave the bot while the price is between its exits")
    assert_that(world.sim.balances().get("XXBT", Decimal(0)), equal_to(world.notes["xbt_held"]),
                "the account should still hold the position")
    report = world.notes["cycle"]
    assert_that(report.errors, empty(), "the trading cycle should have run through")
