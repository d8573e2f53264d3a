"""Dry run: the bot's own wallet and fills, read through the safety wrapper and its store; the
exchange's side through the simulator's views."""
from __future__ import annotations

from collections import Counter
from decimal import ROUND_HALF_UP, Decimal

from behave import given, then, when
from hamcrest import assert_that, equal_to, has_length, is_

from tools.spec_support.facade import describe, submit


def _fills(world):
    return sorted(world.bot.store.fills(), key=lambda f: (f.time, f.price))


def _fee(cost: Decimal, rate: Decimal) -> Decimal:
    return (cost * rate / 100).quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP)


@given("the order book of {pair:Pair} offers {volume:Amount} XBT at each price")
def step_book_depth(context, pair, volume):
    context.world.sim.set_liquidity(pair, str(volume))


@given("the bot has bought {volume:Amount} XBT at market")
def step_bought(context, volume):
    world = context.world
    world.notes["wallet_before"] = dict(world.safety.balances())
    outcome = submit(world, "buy", "market", volume)
    assert_that(outcome.placed, is_(True), f"the buy should be placed: {describe(outcome)}")


@then("the dry run's wallet holds {volume:Amount} XBT more")
def step_wallet_more(context, volume):
    world = context.world
    wallet = world.safety.balances()
    assert_that(wallet["XXBT"] - world.start_balances.get("XXBT", Decimal(0)), equal_to(volume),
                "the dry run's wallet should hold what its order bought")


@then("the dry run's fills are the book's first {count:d} offers, the last one in part")
def step_fills_walk_book(context, count):
    world = context.world
    book = world.safety.order_book("XBTEUR", 500)  # the book the exchange shows: nothing was taken from it
    fills = _fills(world)
    assert_that(fills, has_length(count), "one fill per price level the order reached")
    order = world.bot.store.orders()[0]
    left = order.volume
    for fill, level in zip(fills, book.asks):
        assert_that(fill.price, equal_to(level.price), "each fill at the price the book offered there")
        assert_that(fill.volume, equal_to(min(level.volume, left)), "as much as the level offered")
        left -= fill.volume
    assert_that(left, equal_to(Decimal(0)), "the whole order filled")


@then("each fill paid the taker fee")
def step_taker_fee(context):
    world = context.world
    rate = world.safety.pair_info("XBTEUR").fee_taker
    for fill in _fills(world):
        assert_that(fill.maker, is_(False), "a market order takes liquidity")
        assert_that(fill.fee, equal_to(_fee(fill.cost, rate)), f"the taker fee of {rate} % on {fill.cost}")


@then("the dry run's realised profit is what its sales brought in less what its buys cost and every fee")
def step_pnl_is_fills(context):
    world = context.world
    fills = _fills(world)
    expected = sum((f.cost if f.side == "sell" else -f.cost) - f.fee for f in fills)
    assert_that(world.safety.risk.daily_realised_pnl(), equal_to(expected), "P&L is the fills and their fees")
    context.world.notes["pnl"] = expected


@then("the dry run's wallet moved by the same amount of EUR")
def step_wallet_moved(context):
    world = context.world
    moved = world.safety.balances()["ZEUR"] - world.notes["wallet_before"]["ZEUR"]
    assert_that(moved, equal_to(world.notes["pnl"]), "the wallet's EUR moved by the profit")


@given("a dry run has bought {volume:Amount} XBT at market")
def step_dry_run_bought(context, volume):
    world = context.world
    world.build_bot("dry-run")
    before = dict(world.safety.balances())
    step_bought(context, volume)
    after = world.safety.balances()
    world.notes["dry"] = {"fills": [(f.price, f.volume, f.cost, f.fee, f.maker) for f in _fills(world)],
                          "moved": {a: after.get(a, Decimal(0)) - before.get(a, Decimal(0)) for a in ("ZEUR", "XXBT")}}
    world.close_bot()
    world.sim.advance(1)  # the next moment: the book shows the same offers again


@when("the bot buys {volume:Amount} XBT at market in live mode on the same market")
def step_live_buys(context, volume):
    world = context.world
    world.build_bot("live")
    world.notes["live_before"] = dict(world.sim.balances(world.account))
    outcome = submit(world, "buy", "market", volume)
    assert_that(outcome.placed, is_(True), f"the live buy should be placed: {describe(outcome)}")


@then("live got the same fills at the same prices and fees as the dry run")
def step_same_fills(context):
    world = context.world
    live = [(f.price, f.volume, f.cost, f.fee, f.maker) for f in _fills(world)]
    assert_that(live, equal_to(world.notes["dry"]["fills"]), "the same fills, to the unit")


@then("the account's balances moved exactly as the dry run's wallet did")
def step_same_balances(context):
    world = context.world
    after, before = world.sim.balances(world.account), world.notes["live_before"]
    moved = {a: after.get(a, Decimal(0)) - before.get(a, Decimal(0)) for a in ("ZEUR", "XXBT")}
    assert_that(moved, equal_to(world.notes["dry"]["moved"]), "the same balances, to the unit")


@given("the dry run's wallet holds {amount:Amount} EUR")
def step_dry_wallet(context, amount):
    context.world.configure(DRY_RUN_WALLET=f"ZEUR={amount}")


@then("the order is refused for insufficient funds, in the exchange's words")
def step_refused_for_funds(context):
    outcome = context.world.notes["outcome"]
    assert_that(outcome.placed, is_(False), f"an order the wallet cannot pay must not be placed: {describe(outcome)}")
    assert_that("EOrder:Insufficient funds" in outcome.reason, is_(True),
                f"the refusal should be Kraken's own: {describe(outcome)}")


@then("the dry run bought nothing and its wallet still holds {amount:Amount} EUR")
def step_nothing_bought(context, amount):
    world = context.world
    assert_that(world.bot.store.fills(), equal_to([]), "no fill")
    assert_that(world.safety.balances(), equal_to({"ZEUR": amount}), "the wallet as it started")


@then("the audit trail shows the order as answered by the dry run, and as sent only what the exchange received")
def step_audit_local(context):
    """A product owner reads the audit after a dry run: nothing there may say "sent" that never left."""
    world = context.world
    rows = [r for r in world.safety.audit_log() if r.get("action") == "endpoint" and r.get("allowed")]
    orders = [r.get("outcome") for r in rows if r.get("endpoint") == "AddOrder"]
    assert_that(orders, equal_to(["local"]), "the order should be written down as answered by the dry run itself")
    sent = Counter(r.get("endpoint") for r in rows if r.get("outcome") == "sent")
    received = Counter(r.endpoint for r in world.bot_calls())
    unsent = {name: count - received[name] for name, count in sent.items() if count > received[name]}
    assert_that(unsent, equal_to({}), f"requests the audit says were sent but the exchange never received "
                                      f"(the exchange received {dict(received)})")
