"""Risk limits: position size, daily trades (also across a restart), leverage, sizing, the price collar."""
from __future__ import annotations

from decimal import Decimal

from behave import given, then, when
from hamcrest import assert_that, greater_than, is_, less_than, less_than_or_equal_to

from tools.spec_support.facade import PAIR, describe, submit


@given("the bot has made {count:d} trades today")
def step_made_trades(context, count):
    for _ in range(count):
        outcome = submit(context.world, "buy", "market", Decimal("0.001"))
        assert_that(outcome.placed, is_(True), f"each of the day's first trades should be placed: {describe(outcome)}")
    context.world.notes.pop("outcome")


@given("the bot made {count:d} trades yesterday")
def step_made_trades_yesterday(context, count):
    step_made_trades(context, count)
    world = context.world
    now = world.clock.time()
    world.sim.advance((now // 86_400 + 1) * 86_400 + 3600 - now)  # 01:00 UTC the next day


@when("the bot asks to buy {volume:Amount} XBT at market with {leverage:d} times leverage")
def step_leverage(context, volume, leverage):
    submit(context.world, "buy", "market", volume, leverage=str(leverage))


# -- sizing ---------------------------------------------------------------------------------------
def _closes(swing_pct: Decimal, count: int = 48) -> list[Decimal]:
    """Prices that alternate up and down by ``swing_pct`` around 60,000: a market of known volatility."""
    price, closes = Decimal("60000"), []
    for i in range(count):
        closes.append(price * (1 + (swing_pct / 100) * (1 if i % 2 else -1)))
    return closes


def _size(world, swing_pct: Decimal):
    """The bot's sizing rule with its own limits, pair rules, equity and position.

    The facade has no sizing call (the orchestrator sizes inside a cycle), so the step
    applies the bot's rule to the bot's live inputs, read through the safety wrapper.
    """
    from krakenbot.risk.sizing import size_order

    safety = world.safety
    price = safety.ticker(PAIR).mid
    balances = safety.balances()
    equity = balances.get("ZEUR", Decimal(0)) + balances.get("XXBT", Decimal(0)) * price
    world.notes["equity"] = equity
    return size_order(equity, price, _closes(swing_pct), safety.risk.limits, safety.pair_info(PAIR),
                      position_base=safety.position(PAIR)[0])


@when("the bot sizes a buy of XBT/EUR in a market moving about {swing:Amount}% per candle")
def step_size_one(context, swing):
    world = context.world
    world.notes["size"] = _size(world, swing)
    world.notes["swing"] = swing


@when("the bot sizes a buy of XBT/EUR in a market moving {calm:Amount}% per candle and in one moving {wild:Amount}% per candle")
def step_size_two(context, calm, wild):
    world = context.world
    world.notes["calm"] = _size(world, calm)
    world.notes["wild"] = _size(world, wild)


@then("a move of {k:d} typical swings against the position would cost at most {pct:Amount}% of the equity")
def step_size_risk(context, k, pct):
    world = context.world
    size = world.notes["size"]
    equity = world.notes["equity"]
    loss = size.notional * size.volatility * k
    assert_that(size.volume, greater_than(Decimal(0)), "the bot should propose a position")
    assert_that(loss, less_than_or_equal_to(equity * pct / 100 * Decimal("1.0001")),
                f"the loss on a {k}-swing move ({loss}) should be at most {pct}% of equity ({equity})")


@then("the proposed size is within the largest position allowed")
def step_size_capped(context):
    world = context.world
    limit = Decimal(world.env["TOTAL_BTC"])
    assert_that(world.notes["size"].volume, less_than_or_equal_to(limit), "the size must respect the position limit")


@then("the size proposed in the market moving more is smaller")
def step_size_smaller(context):
    calm, wild = context.world.notes["calm"], context.world.notes["wild"]
    assert_that(wild.volume, greater_than(Decimal(0)), "a position should still be proposed")
    assert_that(wild.volume, less_than(calm.volume), "a more volatile market should get a smaller position")


@then("the refusal names the price the order would have filled at")
def step_refusal_names_fill_price(context):
    from hamcrest import contains_string

    outcome = context.world.notes["outcome"]
    collar = [d.detail for d in outcome.denials if "PRICE_COLLAR" in str(getattr(d.code, "value", d.code))]
    assert_that(len(collar), is_(1), f"one price-collar refusal expected ({describe(outcome)})")
    for words in ("on average", "worst", "from mid"):
        assert_that(collar[0], contains_string(words), "the refusal should give the estimated fill against mid")
