"""Placing, tracking and cancelling orders; fills, fees and the order lifecycle."""
from __future__ import annotations

from decimal import Decimal

from behave import given, then, when
from hamcrest import (assert_that, contains_string, empty, equal_to, greater_than, has_item, has_length, is_, less_than,
                      is_not, none, not_none)

from tools.spec_support.facade import PAIR, describe, exchange_open_orders, exchange_order, status_name, submit

TOLERANCE = Decimal("0.00001")  # the exchange rounds fees to the pair's cost decimals


def _last(world):
    return world.notes.get("outcome") or world.notes["resting"][-1]


def _resting(world):
    return world.notes["resting"][-1]


def _bot_record(world, outcome):
    return world.safety.order(outcome.cl_ord_id)


def _bot_open_ids(world):
    return {getattr(o, "cl_ord_id", None) for o in world.safety.open_orders()}


# -- When -----------------------------------------------------------------------------------------
@when("the bot buys {volume:Amount} XBT at market")
def step_buy_market(context, volume):
    world = context.world
    world.notes["eur_before"] = world.sim.balances().get("ZEUR", Decimal(0))
    outcome = submit(world, "buy", "market", volume)
    assert_that(outcome.placed, is_(True), f"the buy should be placed: {describe(outcome)}")


@given("the bot has bought {volume:Amount} XBT at market a moment ago")
@given("the bot has bought {volume:Amount} XBT more at market since")
def step_bought_before(context, volume):
    world = context.world
    outcome = submit(world, "buy", "market", volume)
    assert_that(outcome.placed, is_(True), f"the buy should be placed: {describe(outcome)}")
    world.notes.pop("outcome")
    world.sim.advance(5)


@given("the bot has bought {volume:Amount} XBT at market {times:d} times since, a second apart")
def step_bought_times(context, volume, times):
    world = context.world
    for _ in range(times):
        world.sim.advance(1)
        outcome = submit(world, "buy", "market", volume)
        assert_that(outcome.placed, is_(True), f"the buy should be placed: {describe(outcome)}")


@given("the bot has bought {volume:Amount} XBT at market {minutes:d} minutes ago")
def step_bought_minutes_ago(context, volume, minutes):
    step_bought_before(context, volume)
    context.world.sim.advance(60 * minutes - 5)


@when("the bot cancels that order")
def step_cancel(context):
    world = context.world
    world.notes["cancel"] = world.safety.cancel_order(_resting(world).cl_ord_id)


@when("the bot is asked to cancel an order it has no record of")
def step_cancel_unknown(context):
    world = context.world
    unknown = _resting(world).cl_ord_id[:-4] + "9999"  # the bot's own id shape, an order it never placed
    assert_that(world.safety.order(unknown), none(), "the reference must name no order the bot placed")
    world.notes["cancel"] = world.safety.cancel_order(unknown)


@then("the cancel is refused for reason {code}")
def step_cancel_refused(context, code):
    outcome = context.world.notes["cancel"]
    assert_that((outcome.accepted, outcome.codes), equal_to((False, [code])),
                f"the cancel should be refused for {code}: {describe(outcome)}")


@given("the exchange will fail the next cancel, being unavailable for a moment")
def step_cancel_fails(context):
    context.world.sim.faults.inject(endpoint="CancelOrder", kind="error", error="EService:Unavailable", times=1)


@then("the bot reports the order as not cancelled, giving the exchange's reason")
def step_cancel_not_done(context):
    outcome = context.world.notes["cancel"]
    assert_that(outcome.accepted, is_(False), f"the cancel failed at the exchange: {describe(outcome)}")
    assert_that(outcome.reason, contains_string("EService:Unavailable"), "the operator should read the exchange's reason")


@then("the bot reports the order as not cancelled, because it has filled")
def step_cancel_not_done_filled(context):
    outcome = context.world.notes["cancel"]
    assert_that(outcome.accepted, is_(False), f"an order that filled cannot be cancelled: {describe(outcome)}")
    assert_that(outcome.status, equal_to("FILLED"), "the operator should read that the order filled")


@given("the market will fall through that price just as the bot's cancel reaches the exchange")
@given("the market will rise through that price just as the bot's cancel reaches the exchange")
def step_fill_as_cancel_arrives(context):
    world = context.world
    resting = world.safety.order(_resting(world).cl_ord_id)
    through = resting.price + (1000 if resting.side == "sell" else -1000)
    world.sim.faults.on_arrival("CancelOrder", lambda: world.sim.set_price("XBTEUR", through))


@given("the exchange cannot show the account's trades until it recovers")
def step_trades_unreadable(context):
    for endpoint in ("QueryTrades", "TradesHistory"):
        context.world.sim.faults.inject(endpoint=endpoint, kind="http_status", status=502, times=1000)


@given("the exchange refuses to show the account's trades for a while")
def step_trades_refused(context):
    """A refusal, not a failure of the exchange: the circuit breaker stays closed and other requests go on."""
    for endpoint in ("QueryTrades", "TradesHistory"):
        context.world.sim.faults.inject(endpoint=endpoint, kind="error", error="EGeneral:Permission denied",
                                        times=1000)


@then("the bot reports the order as not cancelled: the exchange had filled it")
def step_cancel_met_fill(context):
    outcome = context.world.notes["cancel"]
    assert_that((outcome.accepted, outcome.status), equal_to((False, "FILLED")),
                f"the cancel came too late, the order was filled: {describe(outcome)}")


@then("the bot's records do not hold that order's trade yet")
def step_trade_not_recorded(context):
    world = context.world
    assert_that(world.bot.store.fills(txid=_resting(world).txid), empty(),
                "the exchange could not show the trade: the bot could not record it at the cancel")


@given("the bot has cancelled that order too late: the exchange had filled it, and the bot could not read its trade")
def step_cancelled_too_late(context):
    step_cancel(context)
    step_cancel_met_fill(context)
    step_trade_not_recorded(context)


@given("two minutes have passed, the exchange still unable to show the account's trades")
def step_two_minutes_trades_unreadable(context):
    context.world.sim.advance(120)


@when("the bot runs its next trading cycle a minute later, the exchange having recovered")
def step_cycle_after_recovery(context):
    world = context.world
    world.sim.faults.clear()
    world.cycle_a_minute_later()


@then("the bot's audit trail says that order's missing trade was recorded")
def step_audit_missing_trade_recorded(context):
    world = context.world
    order = _resting(world)
    rows = [r for r in world.safety.audit_log() if r.get("action") == "fills_imported"]
    assert_that([(r.get("cl_ord_id"), len(r.get("trade_ids") or ())) for r in rows], equal_to([(order.cl_ord_id, 1)]),
                "the operator should read that the order's missing trade was recorded, once")


@then("the bot records the order as open, as the exchange holds it")
def step_record_open_after_failed_cancel(context):
    world = context.world
    record, held = _bot_record(world, _resting(world)), exchange_order(world, _resting(world))
    assert_that((record.status, held["status"]), equal_to(("OPEN", "open")),
                "the bot's record should say what the exchange holds: the order rests, its cancel failed")


@when("the bot refreshes its orders")
def step_refresh(context):
    context.world.safety.refresh_orders()


@when("the bot refreshes its orders a minute later")
def step_refresh_later(context):
    context.world.sim.advance(60)
    context.world.safety.refresh_orders()


@when("the market dips to {low:Amount} EUR and recovers {times:d} times, the bot following its orders after each dip")
def step_dips(context, low, times):
    """After each dip: the bot refreshes its orders and reconciles, as its trading cycle does;
    what the bot and the exchange then hold is noted for the Thens."""
    world = context.world
    resting = _resting(world)
    seen = world.notes["after_each_dip"] = []
    for _ in range(times):
        world.sim.set_price("XBTEUR", low)
        world.sim.set_price("XBTEUR", Decimal("60000"))
        world.safety.refresh_orders()
        order = exchange_order(world, resting)
        seen.append({
            "record": _bot_record(world, resting),
            "bot_open": resting.cl_ord_id in _bot_open_ids(world),
            "bot_fills": {f.trade_id: f.volume for f in world.bot.store.fills(txid=resting.txid)},
            "exchange": order,
            "exchange_fills": {t["txid"]: Decimal(t["vol"]) for t in world.sim.trades() if t.get("ordertxid") == resting.txid},
            "reconciliation": world.safety.reconcile(),
        })


@when("the bot trades {volume:Amount} XBT as a market buy")
def step_trade_taker(context, volume):
    submit(context.world, "buy", "market", volume)
    context.world.safety.refresh_orders()


@when("the bot trades {volume:Amount} XBT as a resting limit buy that is hit")
def step_trade_maker(context, volume):
    world = context.world
    outcome = submit(world, "buy", "limit", volume, Decimal("59900"))
    assert_that(outcome.placed, is_(True), f"the limit buy should rest: {describe(outcome)}")
    world.sim.set_price("XBTEUR", Decimal("59800"))
    world.safety.refresh_orders()


@when("the bot places {count:d} limit buys of {volume:Amount} XBT from {start:Amount} EUR downwards in steps of {step:Amount} EUR")
def step_several(context, count, volume, start, step):
    for i in range(count):
        submit(context.world, "buy", "limit", volume, start - i * step)


# -- Then: the exchange ---------------------------------------------------------------------------
@then("the order is filled")
def step_filled(context):
    world = context.world
    outcome = _last(world)
    order = exchange_order(world, outcome)
    assert_that(order, not_none(), f"the exchange should hold the order: {describe(outcome)}")
    assert_that(order["status"], equal_to("closed"), "the exchange should report the order fully filled")


@then("the exchange filled the order in {count:d} trades")
def step_filled_in_trades(context, count):
    world = context.world
    order = exchange_order(world, _last(world))
    assert_that(order["status"], equal_to("closed"), "the exchange should report the order fully filled")
    trades = [t for t in world.sim.trades() if t.get("ordertxid") == order["txid"]]
    assert_that(trades, has_length(count), "the order's trades at the exchange")


@then("the order is open on the exchange")
def step_open_on_exchange(context):
    world = context.world
    order = exchange_order(world, _last(world))
    assert_that(order, not_none(), f"the exchange should hold the order: {describe(_last(world))}")
    assert_that(order["status"], equal_to("open"), "the order should rest in the book")


@then("the order is cancelled on the exchange")
def step_cancelled_on_exchange(context):
    world = context.world
    order = exchange_order(world, _resting(world))
    assert_that(order["status"], equal_to("canceled"), "the exchange should report the order cancelled")


@then("the account holds {volume:Amount} XBT")
def step_holds_xbt(context, volume):
    assert_that(context.world.sim.balances().get("XXBT"), equal_to(volume), f"the account should hold {volume} XBT")


@then("the euro balance fell by the order's cost plus its fee")
def step_eur_fell(context):
    world = context.world
    order = exchange_order(world, _last(world))
    spent = Decimal(order["cost"]) + Decimal(order["fee"])
    now = world.sim.balances().get("ZEUR", Decimal(0))
    assert_that(world.notes["eur_before"] - now, equal_to(spent), "the euro balance should fall by cost plus fee")


@then("no euro is held for it any more")
def step_no_hold(context):
    held = context.world.sim.holds().get("ZEUR", Decimal(0))
    assert_that(held, equal_to(Decimal(0)), "cancelling should release the euros held for the order")


@then("the order is filled in more than one part")
def step_partial_parts(context):
    world = context.world
    order = exchange_order(world, _resting(world))
    fills = [t for t in world.sim.trades() if t.get("ordertxid") == order["txid"]]
    assert_that(len(fills), greater_than(1), "the order should be filled in several parts as the market moves")


@then("{count:d} orders are open on the exchange, each with its own client reference")
def step_n_open(context, count):
    orders = exchange_open_orders(context.world)
    assert_that(orders, has_length(count), f"{count} orders should rest on the exchange")
    references = {o.get("cl_ord_id") for o in orders}
    assert_that(len(references - {None}), equal_to(count), "every order should carry its own client reference")


@then("each order was sent to the exchange exactly once")
def step_sent_once(context):
    sent = [r.params.get("cl_ord_id") for r in context.world.exchange_calls("AddOrder")]
    assert_that(len(sent), equal_to(len(set(sent))), f"no order may be sent twice: {sent}")


@then("the fee is {rate:Amount}% of the order's cost")
def step_fee_rate(context, rate):
    order = exchange_order(context.world, _last(context.world))
    cost, fee = Decimal(order["cost"]), Decimal(order["fee"])
    assert_that(cost, greater_than(Decimal(0)), "the order should have executed")
    assert_that(abs(fee - cost * rate / 100), less_than(TOLERANCE), f"the fee should be {rate}% of {cost}, it is {fee}")


# -- Then: the bot's own records ------------------------------------------------------------------
@then("the order is among the bot's open orders")
def step_among_open(context):
    world = context.world
    assert_that(_bot_open_ids(world), has_item(_last(world).cl_ord_id), "the bot should list the order as open")


@then("the bot records the order as cancelled")
def step_bot_cancelled(context):
    record = _bot_record(context.world, _resting(context.world))
    assert_that(status_name(record.status), equal_to("cancelled"), "the bot's record should say cancelled")


@then("the bot records the order as filled")
def step_bot_filled(context):
    record = _bot_record(context.world, _last(context.world))
    assert_that(status_name(record.status), equal_to("filled"), "the bot's record should say filled")


@then("the bot's open orders are exactly the exchange's open orders")
def step_open_orders_match(context):
    world = context.world
    exchange = {o.get("txid") for o in exchange_open_orders(world)}
    bot = {getattr(o, "txid", None) for o in world.safety.open_orders()}
    assert_that(bot, equal_to(exchange), "the bot's open orders should be exactly the exchange's")


@then("after each dip the bot's record showed the volume the exchange had filled, each part as its own fill")
def step_bot_filled_volume(context):
    for n, seen in enumerate(context.world.notes["after_each_dip"], 1):
        exchange = Decimal(seen["exchange"]["vol_exec"])
        assert_that(seen["record"].volume_executed, equal_to(exchange),
                    f"after dip {n} the bot should record the {exchange} XBT the exchange had filled")
        assert_that(seen["bot_fills"], equal_to(seen["exchange_fills"]),
                    f"after dip {n} every part filled so far should be one fill in the bot's record")


@then("the bot kept the order open until its last part was filled")
def step_open_until_last(context):
    seen_all = context.world.notes["after_each_dip"]
    for n, seen in enumerate(seen_all, 1):
        complete = Decimal(seen["exchange"]["vol_exec"]) == Decimal(seen["exchange"]["vol"])
        expected = "filled" if complete else "partially filled"
        assert_that((status_name(seen["record"].status), seen["bot_open"]), equal_to((expected, not complete)),
                    f"after dip {n} the bot should record the order as {expected}"
                    + ("" if complete else " and among its open orders"))
    assert_that(Decimal(seen_all[-1]["exchange"]["vol_exec"]), equal_to(Decimal(seen_all[-1]["exchange"]["vol"])),
                "the dips should have filled the whole order")


@then("after each dip the bot's reconciliation with the exchange found no difference")
def step_reconciled_each_dip(context):
    for n, seen in enumerate(context.world.notes["after_each_dip"], 1):
        report = seen["reconciliation"]
        assert_that(list(report.discrepancies), equal_to([]), f"after dip {n} the bot and the exchange should agree")
        assert_that(report.counts.get("orders", 0), greater_than(0), f"after dip {n} the orders should be compared")


@then("the bot's record shows the same fee as the exchange")
def step_bot_fee(context):
    world = context.world
    order = exchange_order(world, _last(world))
    record = _bot_record(world, _last(world))
    assert_that(record.fee, equal_to(Decimal(order["fee"])), "the bot should record the fee the exchange charged")


@then("the order went through the statuses {first} then {second}")
def step_lifecycle(context, first, second):
    world = context.world
    cl_ord_id = _last(world).cl_ord_id
    seen = [status_name(r.get("outcome")) for r in world.safety.audit_log()
            if r.get("action") == "order_status" and r.get("cl_ord_id") == cl_ord_id]
    assert_that(seen, has_item(first), f"the order should have been {first}; its statuses were {seen}")
    assert_that(seen, has_item(second), f"the order should have become {second}; its statuses were {seen}")
    assert_that(seen.index(first), less_than(seen.index(second)), f"{first} should come before {second}: {seen}")
    assert_that(str(seen[-1]), contains_string(second), "the last status should be the final one")


@given("the exchange offers only {volume:Amount} XBT at each price level")
def step_thin_book(context, volume):
    context.world.sim.set_liquidity("XBTEUR", volume)


# -- canary mode ----------------------------------------------------------------------------------
@given("the operator has switched the bot to canary mode")
def step_switch_canary(context):
    context.world.set_mode("canary")


@then("the order is placed and cancelled at once")
def step_placed_and_cancelled(context):
    """Read from the exchange: the canary reached the book and left it with nothing filled."""
    world = context.world
    outcome = world.notes["outcome"]
    assert_that(outcome.placed, is_(True), f"the canary should reach the exchange: {describe(outcome)}")
    order = exchange_order(world, outcome)
    assert_that((order["status"], Decimal(order["vol_exec"])), equal_to(("canceled", Decimal(0))),
                "the canary should end cancelled at once, with nothing filled")


# -- the strategy ---------------------------------------------------------------------------------
def _bot_orders(world):
    """Every order the bot sent in this scenario (not only in the When): an early buy is a wrong buy too."""
    return world.bot_calls("AddOrder")


@then("the bot's only order is a limit buy of {volume:Amount} XBT at {price:Amount} EUR, worth {eur:Amount} EUR")
def step_only_order(context, volume, price, eur):
    sent = [(r.params.get("type"), r.params.get("ordertype"), Decimal(r.params.get("volume", "0")),
             Decimal(r.params.get("price", "0"))) for r in _bot_orders(context.world)]
    assert_that(sent, equal_to([("buy", "limit", volume, price)]), "the strategy should have sent exactly this buy")
    assert_that(eur - volume * price, less_than(volume * price / 10000),
                f"the buy should be worth {eur} EUR, the fractions of the last unit aside")


@then("the bot has sent no order")
def step_sent_no_order(context):
    sent = [f"{r.params.get('type')} {r.params.get('volume')} at {r.params.get('price')}" for r in _bot_orders(context.world)]
    assert_that(sent, equal_to([]), "the strategy should not have bought")


# -- an order in doubt ----------------------------------------------------------------------------
@given("the exchange cannot list the account's orders until it recovers")
def step_no_order_lists(context):
    for endpoint in ("OpenOrders", "ClosedOrders", "QueryOrders"):
        context.world.sim.faults.inject(endpoint=endpoint, kind="error", error="EService:Unavailable", probability=1.0)


@given("the bot has placed a limit buy of {volume:Amount} XBT at {price:Amount} EUR whose outcome it could not learn")
@given("the bot has placed a market buy of {volume:Amount} XBT whose outcome it could not learn")
def step_placed_in_doubt(context, volume, price=None):
    world = context.world
    outcome = submit(world, "buy", "limit" if price is not None else "market", volume, price)
    record = _bot_record(world, outcome)
    assert_that((status_name(outcome.status), outcome.placed, record.txid), equal_to(("unknown", False, None)),
                f"the order's outcome should be unknown to the bot: {describe(outcome)}")


@then("the bot's audit trail shows the order's statuses in turn, each change once: {statuses}")
def step_audit_statuses(context, statuses):
    """The audit trail is how an operator reconstructs an order: one row per change, none for a non-change."""
    world = context.world
    cl_ord_id = _resting(world).cl_ord_id
    seen = [status_name(r.get("outcome")) for r in world.safety.audit_log()
            if r.get("action") == "order_status" and r.get("cl_ord_id") == cl_ord_id]
    expected = [s.strip() for s in statuses.replace(" and ", ", ").split(",")]
    assert_that(seen, equal_to(expected), "the order's status changes in the audit trail")


@then("the bot's own records show the {volume:Amount} XBT bought, as on the exchange")
def step_position_recorded(context, volume):
    world = context.world
    txid = _bot_record(world, _last(world)).txid  # an order in doubt learnt its exchange id after the outcome
    assert_that(txid, not_none(), "the bot should know the order's exchange id")
    exchange = {t["txid"]: Decimal(t["vol"]) for t in world.sim.trades() if t.get("ordertxid") == txid}
    bot = {f.trade_id: f.volume for f in world.bot.store.fills(txid=txid)}
    assert_that(bot, equal_to(exchange), "each of the order's trades should be in the bot's records, once")
    assert_that(world.safety.position(PAIR)[0], equal_to(volume), "the bot's position should hold what it bought")


@then("the bot's own records show that sale, as on the exchange, and the {volume:Amount} XBT the bot still holds")
def step_sale_recorded(context, volume):
    world = context.world
    sale = _resting(world)
    exchange = {t["txid"]: Decimal(t["vol"]) for t in world.sim.trades() if t.get("ordertxid") == sale.txid}
    bot = {f.trade_id: f.volume for f in world.bot.store.fills(txid=sale.txid)}
    assert_that(bot, equal_to(exchange), "each of the sale's trades should be in the bot's records, once")
    assert_that(world.safety.position(PAIR)[0], equal_to(volume), "the bot's position should no longer hold what it sold")


@when("the bot places its canary {side} order")
def step_canary_order(context, side):
    world = context.world
    outcome = world.safety.canary_order(PAIR, side)
    world.notes["outcome"] = outcome


@then("the order was sent at {price:Amount} EUR")
def step_sent_at(context, price):
    order = exchange_order(context.world, _last(context.world))
    assert_that(Decimal(order["descr"]["price"]), equal_to(price), "the order's price on the exchange")


@then("the strategy has made {count:d} buy at the asking price of {price:Amount} EUR")
@then("the strategy has made {count:d} buys at the asking price of {price:Amount} EUR")
def step_bought_times(context, count, price):
    sent = [(r.params.get("type"), r.params.get("ordertype"), Decimal(r.params.get("price", "0")))
            for r in _bot_orders(context.world)]
    assert_that(sent, equal_to([("buy", "limit", price)] * count), f"the strategy should have bought {count} times")


@then("the bot settled it as not placed only once its deadline of {seconds:d} seconds at the exchange had passed")
def step_settled_after_deadline(context, seconds):
    """Before its deadline the exchange may still execute the order: "not found" means nothing yet."""
    world = context.world
    cl_ord_id = world.notes["outcome"].cl_ord_id
    rows = [r for r in world.safety.audit_log() if r.get("cl_ord_id") == cl_ord_id]
    sent = [r["time"] for r in rows if r.get("action") == "order_intent"]
    settled = [r["time"] for r in rows if r.get("action") == "order_status" and status_name(r.get("outcome")) == "rejected"]
    assert_that((len(sent), len(settled)), equal_to((1, 1)), f"the order's audit rows: {rows}")
    assert_that(settled[0] - sent[0], greater_than(seconds), "the order should be settled only after its deadline")


@then("the bot's start-up names that order as settled, and no order as still in doubt")
def step_startup_settled(context):
    world = context.world
    cl_ord_id = world.notes["outcome"].cl_ord_id
    rows = [r for r in world.safety.audit_log() if r.get("action") == "recover"]
    assert_that(rows, is_not(empty()), "the start-up's recovery should be in the audit trail")
    found = (rows[-1].get("outcome"), rows[-1].get("resolved"), rows[-1].get("still_unknown"))
    assert_that(found, equal_to(("ok", [cl_ord_id], [])), f"the start-up should name the order as settled: {rows[-1]}")
    still = world.notes["start_report"].still_unknown  # what the operator is warned of at start-up
    assert_that(still, empty(), "the start-up should warn of no order still in doubt")


@given("the exchange finds no order when the bot looks its orders up by client reference")
def step_lookup_filter_missed(context):
    """Each look-up of open or closed orders by client reference answers with none (a lagging or careless
    index); the full lists still show every order."""
    for endpoint in ("OpenOrders", "ClosedOrders"):
        context.world.sim.faults.inject(endpoint=endpoint, kind="filter_missed", times=1000)
