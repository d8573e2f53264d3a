"""Risk limits: position size, daily trades (also across a restart), daily loss, open orders, leverage,
the documented defaults, the price collar."""
from __future__ import annotations

from decimal import Decimal

from behave import given, then, when
from hamcrest import (all_of, assert_that, contains_string, equal_to, has_item, is_, is_not, less_than_or_equal_to,
                      none)

from tools.spec_support.facade import PAIR, denial_codes, describe, exchange_order, submit

SMALL_TRADE = Decimal("0.0001")  # 6 EUR at 60,000: above the 5 EUR minimum, and 20 of them stay within 0.01 XBT


@given("the operator configured no risk limits")
def step_no_limits(context):
    context.world.configure_no_limits()


@given("the account holds only {eur:Amount} EUR")
def step_fund_account(context, eur):
    context.world.fund_account({"ZEUR": str(eur)})


@given("the account holds only {xbt:Amount} XBT")
def step_fund_account_xbt(context, xbt):
    context.world.fund_account({"XXBT": str(xbt)})


@given("the bot has made {count:d} trades today")
def step_made_trades(context, count):
    for _ in range(count):
        outcome = submit(context.world, "buy", "market", SMALL_TRADE)
        assert_that(outcome.placed, is_(True), f"each of the day's first trades should be placed: {describe(outcome)}")
    context.world.notes.pop("outcome")


@given("the bot's records have been lost")
def step_records_lost(context):
    context.world.lose_store()


@given("the bot has started again")
@when("the bot starts again")
def step_start_again(context):
    context.world.notes["start_report"] = context.world.start_again()


@given("the operator has resumed trading")
def step_operator_resumed(context):
    context.world.safety.resume("operator checked the exchange", actor="operator")


@then("the bot is halted until the operator resumes, because its records were lost")
def step_halted_records_lost(context):
    status = context.world.safety.status()
    assert_that(status["trading_state"], equal_to("HALTED"), f"a bot whose records were lost must not trade: {status}")
    assert_that(status["halt_reason"], all_of(contains_string("missing or empty"), contains_string("krakenbot resume")),
                "the halt should say what happened and what the operator does next")


@then("the bot counts {count:d} trades today")
def step_counts_trades(context, count):
    assert_that(context.world.safety.status()["daily_trades"], equal_to(count), "today's trades, as the exchange shows them")


def _next_day(world) -> None:
    now = world.clock.time()
    world.sim.advance((now // 86_400 + 1) * 86_400 + 3600 - now)  # 01:00 UTC the next day


@given("the next day has begun")
def step_next_day(context):
    _next_day(context.world)


@given("the bot's next buy that day, of {volume:Amount} XBT at market, was refused for reason {code}")
def step_buy_refused_that_day(context, volume, code):
    """Asked on the day of the loss, so the bot has already worked out that day's result once."""
    outcome = submit(context.world, "buy", "market", volume)
    assert_that((outcome.placed, denial_codes(outcome)), equal_to((False, [code])),
                f"that day's buy should be refused by {code} alone: {describe(outcome)}")
    context.world.notes.pop("outcome")


@given("the bot made {count:d} trades yesterday")
def step_made_trades_yesterday(context, count):
    step_made_trades(context, count)
    _next_day(context.world)


@given("the bot placed a limit buy of {volume:Amount} XBT resting at {price:Amount} EUR yesterday")
def step_resting_since_yesterday(context, volume, price):
    outcome = submit(context.world, "buy", "limit", volume, price)
    assert_that(outcome.placed, is_(True), f"yesterday's limit buy should rest on the exchange: {describe(outcome)}")
    _next_day(context.world)


@given("the bot holds {volume:Amount} XBT it bought yesterday")
def step_holds_bought_yesterday(context, volume):
    step_holds_bought(context, volume)
    _next_day(context.world)


@given("the bot holds {volume:Amount} XBT it bought earlier today")
@given("the bot holds {volume:Amount} XBT it bought in {orders:d} orders earlier today")
def step_holds_bought(context, volume, orders=1):
    for _ in range(orders):
        outcome = submit(context.world, "buy", "market", volume / orders)
        assert_that(outcome.placed, is_(True), f"the purchase should be placed: {describe(outcome)}")
    context.world.notes.pop("outcome")


@when("the bot asks to buy {volume:Amount} ETH at market")
def step_buy_eth(context, volume):
    submit(context.world, "buy", "market", volume, pair="ETHEUR")


@when("the bot asks to buy {volume:Amount} DOGE, a coin the exchange does not list, at market")
def step_buy_unlisted(context, volume):
    submit(context.world, "buy", "market", volume, pair="DOGEEUR")


@given("the bot has a limit buy of {volume:Amount} ETH resting at {price:Amount} EUR")
def step_resting_eth_buy(context, volume, price):
    outcome = submit(context.world, "buy", "limit", volume, price, pair="ETHEUR")
    assert_that(outcome.placed, is_(True), f"the resting ETH buy should be placed: {describe(outcome)}")
    context.world.notes.pop("outcome", None)


@given("the bot has {count:d} limit buys of {volume:Amount} XBT resting at {price:Amount} EUR")
def step_resting_buys(context, count, volume, price):
    for _ in range(count):
        outcome = submit(context.world, "buy", "limit", volume, price)
        assert_that(outcome.placed, is_(True), f"each resting buy should be placed: {describe(outcome)}")
    context.world.notes.pop("outcome", None)


@given("the bot bought {volume:Amount} XBT with the price at {bought:Amount} EUR and sold it at {sold:Amount} EUR, "
       "a {kind} of {result:Amount} EUR after {fees:Amount} EUR in fees")
def step_round_trip(context, volume, bought, sold, kind, result, fees):
    """A real round trip at market; the stated result and fees are checked against the exchange's own
    trade records (not the bot's accounting, which is what the scenario tests)."""
    assert kind in ("loss", "profit"), f"write 'a loss of' or 'a profit of', not 'a {kind} of'"
    world = context.world
    txids = []
    for side, price in (("buy", bought), ("sell", sold)):
        world.sim.set_price(PAIR, price)
        outcome = submit(world, side, "market", volume)
        assert_that(outcome.placed, is_(True), f"the {side} of the round trip should be placed: {describe(outcome)}")
        txids.append(outcome.txid)
    world.notes.pop("outcome")
    trades = [t for t in world.sim.trades(world.account) if t.get("ordertxid") in txids]
    net = sum((Decimal(t["cost"]) * (1 if t["type"] == "sell" else -1) - Decimal(t["fee"]) for t in trades),
              Decimal(0))
    paid = sum((Decimal(t["fee"]) for t in trades), Decimal(0))
    assert_that(paid, equal_to(fees), "the fees the exchange charged for the round trip")
    assert_that(net, equal_to(result if kind == "profit" else -result),
                "the round trip's result on the exchange, fees included (positive: a profit)")


@given("a minute later the bot has sold {volume:Amount} XBT at market, before learning that its buy was filled")
def step_sold_before_learning(context, volume):
    world = context.world
    world.sim.advance(60)
    assert_that(exchange_order(world, world.notes["resting"][-1])["status"], equal_to("closed"),
                "the resting buy should have filled at the exchange")
    outcome = submit(world, "sell", "market", volume)
    assert_that(outcome.placed, is_(True), f"the sale should be placed: {describe(outcome)}")
    world.notes.pop("outcome")


@given("the bot's status showed no loss today")
def step_status_no_loss(context):
    status = context.world.safety.status()
    assert_that(Decimal(status["daily_realised_pnl"]), equal_to(Decimal(0)),
                f"a sale of coins the bot does not know it bought realises nothing yet: {status}")


@given("the bot has refreshed its orders since")
def step_refreshed(context):
    context.world.safety.refresh_orders()


@then("no other limit refused it")
def step_no_other_denial(context):
    outcome = context.world.notes["outcome"]
    assert_that(len(denial_codes(outcome)), less_than_or_equal_to(1),
                f"only the rule under test may stand in the way: {describe(outcome)}")


@when("the bot asks to buy {volume:Amount} XBT at market with {leverage:d} times leverage")
def step_leverage(context, volume, leverage):
    submit(context.world, "buy", "market", volume, leverage=str(leverage))


@when("the bot asks to place a {kind} {side:Side} of {volume:Amount} XBT triggered at {price:Amount} EUR")
def step_ask_trigger(context, kind, side, volume, price):
    assert kind in ("stop-loss", "take-profit"), f"write 'a stop-loss' or 'a take-profit', not 'a {kind}'"
    submit(context.world, side, kind, volume, price)


@then("the audit trail records the refusal by the risk limits, naming {code}")
def step_audit_risk_refusal(context, code):
    """The risk gate's own row, not the wrapper's: an operator reading the trail sees which rule said no."""
    rows = [r for r in context.world.safety.audit_log() if r.get("actor") == "risk" and r.get("action") == "risk_check"]
    assert_that(len(rows), is_(1), f"one risk refusal should be audited: {rows}")
    assert_that(rows[0].get("allowed"), is_(False), f"the audit row should show the order as not allowed: {rows[0]}")
    assert_that(rows[0].get("codes"), equal_to([code]), f"the audit row should name the rule: {rows[0]}")


@given("the bot bought {volume:Amount} XBT with the price at {bought:Amount} EUR and sold half of it at {sold:Amount} "
       "EUR, a loss of {loss:Amount} EUR on the half sold, fees included")
def step_partial_sale(context, volume, bought, sold, loss):
    """Average cost: the half sold carries half of what the whole cost, its fee included. The stated loss is
    checked against the exchange's own trade records, not the bot's accounting under test."""
    world = context.world
    txids = []
    for side, price, size in (("buy", bought, volume), ("sell", sold, volume / 2)):
        world.sim.set_price(PAIR, price)
        outcome = submit(world, side, "market", size)
        assert_that(outcome.placed, is_(True), f"the {side} should be placed: {describe(outcome)}")
        txids.append(outcome.txid)
    world.notes.pop("outcome")
    trades = {t["type"]: t for t in world.sim.trades(world.account) if t.get("ordertxid") in txids}
    bought_for = Decimal(trades["buy"]["cost"]) + Decimal(trades["buy"]["fee"])
    result = Decimal(trades["sell"]["cost"]) - Decimal(trades["sell"]["fee"]) - bought_for / 2
    assert_that(result, equal_to(-loss), "the half sold's result on the exchange, fees included")


@given("the bot read the price of {pair:Pair} {age:d} seconds ago, and the exchange has not answered a price request "
       "since")
def step_price_read_ago(context, pair, age):
    """An error the bot does not retry: a retry's backoff would move the clock and age the price further."""
    world = context.world
    world.safety.ticker(pair)
    world.sim.faults.inject(endpoint="Ticker", kind="error", error="EGeneral:Invalid arguments", probability=1.0)
    world.sim.advance(age)


def _start_from_command_line(world, setting, value):
    """``krakenbot check`` with the setting in its environment: its exit code and stderr in the notes."""
    code, stderr = world.start_from_command_line(**{setting: value})
    world.notes.update(exit_code=code, stderr=stderr, setting=setting)


@when('the operator starts the bot with the limit "{name}" set to {value}')
def step_start_with_limit(context, name, value):
    from tools.spec_support.world import LIMIT_SETTINGS

    assert_that(LIMIT_SETTINGS, has_item(name), f"'{name}' should be a risk limit the specification knows")
    _start_from_command_line(context.world, LIMIT_SETTINGS[name], value)


@when("the operator starts the bot with {setting}={value} in its environment, a misspelling")
def step_start_with_misspelling(context, setting, value):
    _start_from_command_line(context.world, setting, value)


@then("the bot refuses to start with a one-line configuration error about that limit, saying it {rule}")
@then("the bot refuses to start with a one-line configuration error about it, saying {rule}")
def step_config_refused(context, rule):
    from hamcrest import contains_string, starts_with

    from krakenbot.cli import EXIT_CONFIG

    notes = context.world.notes
    assert_that(notes["exit_code"], equal_to(EXIT_CONFIG), f"the bot should have refused to start: {notes['stderr']}")
    line = notes["stderr"].strip()
    assert_that("\n" in line, is_(False), f"the error should be one line: {line}")
    assert_that(line, contains_string(f"{notes['setting']}: "), "the error should name the setting")
    assert_that(line, contains_string(rule), "the error should say what is wrong")


@then("the refusal names the price the order would have filled at")
def step_refusal_names_fill_price(context):
    from hamcrest import contains_string

    outcome = context.world.notes["outcome"]
    collar = [d.detail for d in outcome.denials if "PRICE_COLLAR" in str(getattr(d.code, "value", d.code))]
    assert_that(len(collar), is_(1), f"one price-collar refusal expected ({describe(outcome)})")
    for words in ("on average", "worst", "from mid"):
        assert_that(collar[0], contains_string(words), "the refusal should give the estimated fill against mid")


@then("the refusal says the book shown cannot fill the order")
def step_refusal_book_too_thin(context):
    outcome = context.world.notes["outcome"]
    details = [d.detail for d in outcome.denials]
    assert_that(any("cannot fill" in d for d in details), is_(True),
                f"the refusal should be for the unknown fill price, not a price too far: {details}")
