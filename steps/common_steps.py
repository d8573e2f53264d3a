"""Steps every feature shares: the bot's mode, the market price, time, order outcomes.

Steps drive the bot only through ``world.safety`` / ``world.bot.run_once`` and read the
exchange through the simulator's views. Time moves with the shared manual clock.
"""
from __future__ import annotations

import parse
from behave import given, register_type, then, use_step_matcher, when
from hamcrest import assert_that, empty, equal_to, has_item, is_, is_not, none, not_none

from tools.spec_support.facade import (amount, denial_codes, describe, exchange_order, pair_code, submit,
                                        submit_phrase)


@parse.with_pattern(r"-?\d[\d,]*(?:\.\d+)?")
def _amount(text):
    return amount(text)


@parse.with_pattern(r"[A-Z]{3,4}/[A-Z]{3,4}")
def _pair(text):
    return pair_code(text)


@parse.with_pattern(r"read-only|paper|dry-run|canary|live")
def _mode(text):
    return text


@parse.with_pattern(r"buy|sell")
def _side(text):
    return text


register_type(Amount=_amount, Pair=_pair, Mode=_mode, Side=_side)


# -- the bot and its mode ------------------------------------------------------------------------
@given("the bot is connected to the exchange in {mode:Mode} mode")
def step_bot_in_mode(context, mode):
    world = context.world
    if not world.on_simulator and mode not in ("read-only", "paper"):
        context.scenario.skip(f"{mode} mode is never used against the real exchange from the specification")
        return
    world.build_bot(mode)
    assert_that(world.mode, equal_to(mode), f"the bot should be in {mode} mode")


@given("the bot's risk limits are")
@given("the bot's risk limits are:")
def step_risk_limits(context):
    from tools.spec_support.world import LIMIT_SETTINGS

    settings = {}
    for row in context.table:
        name = row["limit"].strip()
        assert_that(LIMIT_SETTINGS, has_item(name), f"'{name}' should be a risk limit the specification knows")
        settings[LIMIT_SETTINGS[name]] = str(amount(row["value"]))
    context.world.configure(**settings)


@given("the bot has been restarted since")
def step_restart(context):
    context.world.restart()


# -- the market -----------------------------------------------------------------------------------
@given("the price of {pair:Pair} is {price:Amount} EUR")
@given("the price of {pair:Pair} has fallen to {price:Amount} EUR")
@given("the price of {pair:Pair} has risen to {price:Amount} EUR")
@given("the price of {pair:Pair} has moved to {price:Amount} EUR")
@when("the price of {pair:Pair} falls to {price:Amount} EUR")
@when("the price of {pair:Pair} rises to {price:Amount} EUR")
def step_set_price(context, pair, price):
    context.world.sim.set_price(pair, price)


# -- asking for orders ----------------------------------------------------------------------------
@when("the bot asks to {side:Side} {volume:Amount} XBT at market")
def step_ask_market(context, side, volume):
    submit(context.world, side, "market", volume)


@when("the bot asks to {side:Side} {volume:Amount} XBT at a limit of {price:Amount} EUR")
def step_ask_limit(context, side, volume, price):
    submit(context.world, side, "limit", volume, price)


use_step_matcher("re")


@when(r"the bot places (?P<order_text>an? (?:post-only )?(?:market|limit) (?:buy|sell) of [\d.,]+ XBT(?: at [\d.,]+ EUR)?)")
def step_places(context, order_text):
    submit_phrase(context.world, order_text)


@given(r"the bot has (?P<order_text>an? (?:market|limit) (?:buy|sell) of [\d.,]+ XBT) resting at (?P<price>[\d.,]+) EUR")
def step_has_resting(context, order_text, price):
    outcome = submit_phrase(context.world, f"{order_text} at {price} EUR")
    assert_that(getattr(outcome, "placed", False), is_(True), f"the resting order should be placed: {describe(outcome)}")
    context.world.notes.setdefault("resting", []).append(outcome)


use_step_matcher("parse")


# -- outcomes -------------------------------------------------------------------------------------
@then("the order is accepted")
def step_accepted(context):
    outcome = context.world.notes.get("outcome")
    assert_that(getattr(outcome, "accepted", False), is_(True), f"the order should pass every check: {describe(outcome)}")


@then("the order is accepted by the exchange")
def step_accepted_by_exchange(context):
    outcome = context.world.notes.get("outcome")
    assert_that(getattr(outcome, "placed", False), is_(True), f"the exchange should take the order: {describe(outcome)}")
    assert_that(exchange_order(context.world, outcome), not_none(), "the exchange should hold the order")


@then("the order is refused")
def step_refused(context):
    outcome = context.world.notes.get("outcome")
    assert_that(getattr(outcome, "accepted", True), is_(False), f"the order should be refused: {describe(outcome)}")
    assert_that(getattr(outcome, "placed", True), is_(False), f"a refused order must not be placed: {describe(outcome)}")


@then("the order is refused for reason {code}")
def step_refused_for(context, code):
    step_refused(context)
    outcome = context.world.notes["outcome"]
    codes = denial_codes(outcome)
    assert_that(codes, has_item(code),  # the exact code: HALTED must not pass for TRADING_HALTED
                f"the refusal should name the rule {code}, it named {codes} ({describe(outcome)})")


@then("the exchange received no order for it")
@then("the exchange received no order")
def step_no_order_sent(context):
    world = context.world
    if not world.on_simulator:  # the real exchange shows us no request log: the bot's audit trail must
        sent = [r for r in world.safety.audit_log() if r.get("endpoint") == "AddOrder" and r.get("outcome") == "sent"]
        assert_that(sent, empty(), "no order should have been sent to the exchange")
        return
    sent = world.bot_calls("AddOrder", since=world.notes.get("when_mark", 0))
    assert_that(sent, empty(), "no order should have reached the exchange")


@then("the exchange holds no new order")
def step_no_new_order(context):
    world = context.world
    if not world.on_simulator:
        now = set(world.safety.call("OpenOrders").get("open", {}))
        assert_that(now - world.notes["live_open_before"], empty(), "no new order should rest on the exchange")
        return
    before = world.notes.get("orders_at_when", set())
    new = [o for o in world.sim.orders() if o.get("txid") not in before]
    assert_that(new, empty(), "the exchange should not hold any order placed by this action")


@then("no order is open on the exchange")
def step_nothing_open(context):
    open_orders = [o for o in context.world.sim.orders() if o.get("status") in ("open", "pending")]
    assert_that(open_orders, empty(), "every order should be closed or cancelled on the exchange")


@then("the account's balances are unchanged")
def step_balances_unchanged(context):
    world = context.world
    if world.on_simulator:
        assert_that(world.sim.balances(), equal_to(world.start_balances), "no money should have moved")
    else:
        assert_that(world.notes.get("live_balances_before"), is_not(none()), "the balances were read before")
        assert_that(world.safety.balances(), equal_to(world.notes["live_balances_before"]), "no money should have moved")
