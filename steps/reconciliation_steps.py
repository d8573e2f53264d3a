"""Reconciliation: the bot's trades, balances, open orders and fees against the exchange's."""
from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

from behave import given, then, when
from hamcrest import assert_that, contains_string, empty, equal_to, has_item, has_key, is_, is_not, not_none

from tools.spec_support.facade import by_hand, describe, exchange_open_orders, status_name, submit


def _discrepancies(report) -> list:
    return list(report.discrepancies)


def _compared(context, what: str) -> None:
    """A clean report means something only if the things were actually compared."""
    counts = dict(context.world.notes["reconciliation"].counts)
    assert_that(counts.get(what, 0) > 0, is_(True), f"the reconciliation should have compared {what}: {counts}")


@given("the bot has traded for a while: {buys:d} market buys, {sells:d} market sell and {limits:d} resting limit buy")
def step_traded(context, buys, sells, limits):
    world = context.world
    plan = [("buy", "market", None)] * buys + [("sell", "market", None)] * sells
    plan += [("buy", "limit", Decimal("59000"))] * limits
    for side, ordertype, price in plan:
        outcome = submit(world, side, ordertype, Decimal("0.01"), price)
        assert_that(outcome.placed, is_(True), f"the day's trading should go through: {describe(outcome)}")
        world.sim.advance(30)
    world.safety.refresh_orders()


def _hand_order(world, **params) -> str:
    """An order placed by hand: its txid."""
    return by_hand(world, "AddOrder", pair="XXBTZEUR", **params)["txid"][0]


@given("someone cancelled that order by hand at the exchange")
def step_hand_cancel(context):
    world = context.world
    by_hand(world, "CancelOrder", txid=world.notes["resting"][-1].txid)


@then("a discrepancy is reported for that order: {ours} for the bot, {theirs} at the exchange")
def step_status_reported(context, ours, theirs):
    world = context.world
    cl_ord_id = world.notes["resting"][-1].cl_ord_id
    problems = _discrepancies(world.notes["reconciliation"])
    status = [(status_name(d.bot_value), status_name(d.exchange_value)) for d in problems
              if d.kind == "order_mismatch" and d.key == f"{cl_ord_id}.status"]
    assert_that(status, equal_to([(ours, theirs)]),
                f"the bot should report its {ours} order as {theirs} at the exchange: {problems!r}")


@given("the market has dipped to {low:Amount} EUR and recovered, the bot not looking")
def step_dipped_unseen(context, low):
    world = context.world
    world.sim.set_price("XBTEUR", low)
    world.sim.set_price("XBTEUR", Decimal("60000"))


@given("someone placed a limit {side:Side} of {volume:Amount} XBT at {price:Amount} EUR on the account by hand")
def step_hand_order(context, side, volume, price):
    context.world.notes["foreign_txid"] = _hand_order(context.world, type=side, ordertype="limit", volume=volume,
                                                      price=price)


@given("another program placed a limit sell of {volume:Amount} XBT at {price:Amount} EUR on the account, "
       "under its own client reference")
def step_other_program_order(context, volume, price):
    """Its reference is not this bot's: only the bot's own id head marks an order the bot may take back."""
    context.world.notes["foreign_txid"] = _hand_order(context.world, type="sell", ordertype="limit", volume=volume,
                                                      price=price, cl_ord_id="otherprog000000001")


@given("someone sold {volume:Amount} XBT at market on the account by hand half a minute later")
def step_hand_trade(context, volume):
    world = context.world
    world.sim.advance(30)
    txid = _hand_order(world, type="sell", ordertype="market", volume=volume)
    world.notes["foreign_trades"] = [t["txid"] for t in world.sim.trades() if t.get("ordertxid") == txid]
    assert_that(world.notes["foreign_trades"], is_not(empty()), "the hand-placed sell should have traded")


@given("someone bought {volume:Amount} XBT at market on the account by hand half a minute before the bot's first order")
def step_hand_trade_before_the_bot(context, volume):
    world = context.world
    assert_that(world.bot.store.orders(), empty(), "the bot should not have placed an order yet")
    txid = _hand_order(world, type="buy", ordertype="market", volume=volume)
    assert_that([t for t in world.sim.trades() if t.get("ordertxid") == txid], is_not(empty()),
                "the hand-placed buy should have traded")
    world.sim.advance(30)


@given("someone has bought {volume:Amount} XBT at market on the account by hand {times:d} times since")
def step_hand_trades_since(context, volume, times):
    world = context.world
    for _ in range(times):
        world.sim.advance(1)
        _hand_order(world, type="buy", ordertype="market", volume=volume)


@given("the bot has reconciled with the exchange and found no difference")
def step_reconciled_clean(context):
    report = context.world.safety.reconcile()
    assert_that(_discrepancies(report), empty(), f"the first reconciliation should be clean: {report!r}")
    context.world.notes["newest_trade_seen"] = max(Decimal(str(t["time"])) for t in context.world.sim.trades())


@given("the bot's record of its {which:w} trade has been lost")
def step_fill_lost(context, which):
    """A row gone from the bot's database (a restored backup, a bad sector), staged on the store's connection.
    The first trade is older than the last reconciliation took on trust; the newest one is not."""
    world = context.world
    at = {"first": 0, "newest": -1}
    assert_that(at, has_key(which), f"write one of {sorted(at)}")
    lost = world.bot.store.fills()[at[which]]
    world.bot.store._db.execute("DELETE FROM fills WHERE trade_id = ?", (lost.trade_id,))
    world.notes["lost_trade"] = lost.trade_id
    world.notes["lost_trade_order"] = lost.cl_ord_id
    world.notes.setdefault("planted_losses", []).append(lost.trade_id)  # the safety report judges it as planted
    assert_that(world.bot.store.has_fill(lost.trade_id), is_(False), "the trade's record should be gone")


@given("the bot's records have gained a copy of that trade, under an id the exchange never gave")
def step_phantom_fill(context):
    """A row the bot's database gained (a restored backup of another account, a bad write), staged on the store."""
    world = context.world
    last = world.bot.store.fills()[-1]
    phantom = replace(last, trade_id="TPHANT-OMXXX-NEVER1", seq=None)
    assert_that(world.bot.store.record_fill(phantom), is_(True), "the copied trade should be in the bot's records")
    world.notes["phantom_trade"] = phantom.trade_id
    world.notes.setdefault("planted_losses", []).append(phantom.trade_id)  # the safety report judges it as planted


@given("the bot's limit buy of {volume:Amount} XBT at {price:Amount} EUR was turned away by the exchange")
def step_turned_away(context, volume, price):
    world = context.world
    outcome = submit(world, "buy", "limit", volume, price)
    assert_that((outcome.accepted, outcome.placed), equal_to((False, False)),
                f"the exchange should have turned the order away: {describe(outcome)}")
    assert_that(world.safety.order(outcome.cl_ord_id), not_none(), "the bot keeps a record of the refused order")


@when("the bot reconciles with the exchange")
def step_reconcile(context):
    context.world.notes["reconciliation"] = context.world.safety.reconcile()


@then("no discrepancy is reported")
def step_no_discrepancy(context):
    report = context.world.notes["reconciliation"]
    assert_that(_discrepancies(report), empty(), f"the bot and the exchange should agree: {report!r}")


@then("the audit trail records that reconciliation found {what}")
def step_reconcile_audited(context, what):
    """The operator's record of it: a difference shown only to the caller would be hidden from the operator."""
    kinds = {"an order the bot does not know": ("discrepancies", "order_unknown_to_bot"),
             "a wrong fee": ("discrepancies", "fee_mismatch"), "no difference": ("clean", "")}
    assert_that(kinds, has_key(what), f"write one of {sorted(kinds)}")
    rows = [r for r in context.world.safety.audit_log() if r.get("action") == "reconcile"]
    assert_that(rows, is_not(empty()), "the reconciliation should be in the audit trail")
    assert_that((rows[-1].get("outcome"), rows[-1].get("reason")), equal_to(kinds[what]),
                f"the audit row should say what reconciliation found: {rows[-1]}")


@then("the bot's trades are exactly the exchange's trades")
def step_trades_match(context):
    _compared(context, "trades")
    world = context.world
    exchange = {t["txid"]: Decimal(t["vol"]) for t in world.sim.trades()}
    bot = {f.trade_id: f.volume for f in world.bot.store.fills()}
    assert_that(bot, equal_to(exchange), "every trade on the exchange should be in the bot's records, and no other")


@then("the bot's balances equal the exchange's balances")
def step_balances_match(context):
    _compared(context, "assets")
    world = context.world
    shown = {k: v for k, v in world.safety.balances().items() if v}
    assert_that(shown, equal_to({k: v for k, v in world.sim.balances().items() if v}),
                "the bot's balances should be the exchange's")


@then("the fees the bot recorded add up to the fees the exchange charged")
def step_fees_match(context):
    world = context.world
    exchange = sum((Decimal(t["fee"]) for t in world.sim.trades()), Decimal(0))
    bot = sum((f.fee for f in world.bot.store.fills()), Decimal(0))
    assert_that(exchange, is_not(equal_to(Decimal(0))), "the day's trading should have cost fees")
    assert_that(bot, equal_to(exchange), "the fees the bot recorded should equal the fees charged")


@then("a discrepancy is reported for an open order the bot does not know")
def step_foreign_reported(context):
    world = context.world
    report = world.notes["reconciliation"]
    problems = _discrepancies(report)
    assert_that(problems, is_not(empty()), "an order the bot did not place should be reported")
    assert_that(repr(problems), contains_string(world.notes["foreign_txid"]),
                "the report should name the unknown order")
    assert_that(len(exchange_open_orders(world)), equal_to(2), "the bot must not cancel someone else's order on its own")


@then("a discrepancy is reported for the trade the bot did not make")
def step_foreign_trade_reported(context):
    world = context.world
    problems = _discrepancies(world.notes["reconciliation"])
    named = sorted(d.key for d in problems if d.kind == "foreign_fill")
    assert_that(named, equal_to(sorted(world.notes["foreign_trades"])),
                f"the hand-made trade should be reported as a trade the bot did not make: {problems!r}")


@then("none of the bot's own trades is reported missing from the exchange")
def step_no_own_trade_missing(context):
    """Trades older than the window read are taken on trust, not reported as gone from the exchange."""
    problems = _discrepancies(context.world.notes["reconciliation"])
    missing = [d for d in problems if d.kind == "fill_not_on_exchange"]
    assert_that(missing, empty(), f"the bot's trades are all on the exchange: {problems!r}")


def _one_trade_reported(context, note: str, kind: str, what: str) -> None:
    """The trade a scenario removed or planted is the one difference of its kind."""
    world = context.world
    problems = _discrepancies(world.notes["reconciliation"])
    named = [d.key for d in problems if d.kind == kind]
    assert_that(named, equal_to([world.notes[note]]), f"{what} should be reported as {kind}: {problems!r}")


@then("a discrepancy is reported for the lost trade, as missing from the bot's records")
def step_lost_trade_reported(context):
    _one_trade_reported(context, "lost_trade", "fill_missing", "the lost trade")


@then("the order of the lost trade is reported as missing part of its fills")
def step_lost_trade_order_reported(context):
    """The order is named too, though the bot's record of it has not changed since the last reconciliation."""
    world = context.world
    problems = _discrepancies(world.notes["reconciliation"])
    named = [d.key for d in problems if d.kind == "order_fills_incomplete"]
    assert_that(named, equal_to([world.notes["lost_trade_order"]]),
                f"the order whose trade was lost should be reported as missing part of its fills: {problems!r}")


@then("a discrepancy is reported for that trade, as not made at the exchange")
def step_phantom_reported(context):
    _one_trade_reported(context, "phantom_trade", "fill_not_on_exchange", "the trade the exchange never made")


@then("that reconciliation read the exchange's trades only from a minute before the newest one it had seen")
def step_read_window(context):
    """Reading the whole day at every pass costs minutes of the exchange's request allowance; a minute
    of overlap keeps a trade the exchange shows late, with an earlier time."""
    world = context.world
    newest = world.notes["newest_trade_seen"]
    starts = [r.params.get("start") for r in world.bot_calls("TradesHistory", since=world.notes["when_mark"])]
    # Kraken's start is exclusive and in whole seconds: one second earlier keeps the minute's first second.
    assert_that(starts, equal_to([str(int(newest - 60) - 1)]), f"the trades read (newest seen at {newest})")


@then("the bot's records do not hold the order placed by hand")
def step_hand_order_not_adopted(context):
    world = context.world
    txid = world.notes["foreign_txid"]
    mine = world.bot.store.order_by_txid(txid)
    assert_that(mine, is_(None), f"the order placed by hand should not be taken over by the bot: {mine!r}")


@then("the exchange still shows the order placed by hand open")
def step_hand_order_open(context):
    world = context.world
    open_txids = [o.get("txid") for o in exchange_open_orders(world)]
    assert_that(open_txids, has_item(world.notes["foreign_txid"]), "the bot must not cancel someone else's order")


@then("the balances of XBT and EUR are reported as differing from the bot's by that trade")
def step_balance_difference(context):
    world = context.world
    trades = [t for t in world.sim.trades() if t["txid"] in world.notes["foreign_trades"]]
    moved = {"XXBT": -sum(Decimal(t["vol"]) for t in trades),
             "ZEUR": sum(Decimal(t["cost"]) - Decimal(t["fee"]) for t in trades)}
    problems = _discrepancies(world.notes["reconciliation"])
    found = {d.key: Decimal(d.exchange_value) - Decimal(d.bot_value) for d in problems if d.kind == "balance_mismatch"}
    assert_that(found, equal_to(moved), f"the hand trade's effect on the balances should be reported: {problems!r}")


@given("the exchange will charge the bot's next trade twice the account's fee")
def step_overcharge(context):
    context.world.sim.faults.inject(endpoint="AddOrder", kind="wrong_fee")


@given("an hour has passed, and the exchange will fail every try of the bot's next request for its markets' rules")
def step_pair_rules_fail_once(context):
    """An hour: the bot's copy of the markets' rules (AssetPairs) has expired, so it asks again; the
    exchange fails that request as often as the bot tries it, and answers the one after."""
    world = context.world
    world.sim.advance(3600)
    world.sim.faults.inject(endpoint="AssetPairs", kind="error", error="EService:Unavailable",
                            times=world.safety.client.retry_policy.max_attempts)


@given("the account has traded {amount:Amount} EUR over the last 30 days")
def step_account_volume(context, amount):
    """Its fee tier: the exchange counts the account's 30-day volume, the bot's trades and any other."""
    world = context.world
    world.sim.set_trade_volume(amount, account=world.account)
    world.notes["trades_before_tier"] = {t["txid"] for t in world.sim.trades(world.account)}


@then("a discrepancy is reported for the fee of that trade, and for no other")
def step_fee_reported(context):
    world = context.world
    last = world.bot.store.fills()[-1]
    problems = _discrepancies(world.notes["reconciliation"])
    assert_that(Decimal(problems[0].exchange_value) if problems else None, equal_to(last.fee),
                f"the overcharged trade should be reported first: {problems!r}")
    named = [(d.kind, d.key) for d in problems]
    assert_that(named, equal_to([("fee_mismatch", last.trade_id)]),
                f"only the overcharged trade's fee should be reported: {problems!r}")


def _charged_since(world) -> list[tuple[bool, Decimal]]:
    """The scenario's teeth: the fees the exchange really charged (maker?, percent), in the order of the trades."""
    since = [t for t in world.sim.trades(world.account) if t["txid"] not in world.notes["trades_before_tier"]]
    return [(t["maker"], (Decimal(t["fee"]) / Decimal(t["cost"]) * 100).quantize(Decimal("0.01")))
            for t in sorted(since, key=lambda t: t["time"])]


@then("the bot's trades since were charged {taker:Amount} % as a taker, then {maker:Amount} % as a maker")
def step_fees_charged(context, taker, maker):
    assert_that(_charged_since(context.world), equal_to([(False, taker), (True, maker)]),
                "the fees charged, as taker or maker")


@then("the bot's trades since were charged {first:Amount} % as a taker, then {later:Amount} % as a taker {times:d} times")
def step_fees_charged_later(context, first, later, times):
    assert_that(_charged_since(context.world), equal_to([(False, first)] + [(False, later)] * times),
                "the fees charged: the first trade's, then the lower tier's")


@given("the bot has seen its resting buy filled")
def step_resting_filled(context):
    world = context.world
    world.safety.refresh_orders()
    makers = [f for f in world.bot.store.fills() if f.maker]
    assert_that(len(makers), equal_to(1), "the resting buy should have filled, as a maker")


@given("the exchange cannot tell the account's fee tier until it recovers")
def step_no_fee_tier(context):
    context.world.sim.faults.inject(endpoint="TradeVolume", kind="error", error="EService:Unavailable", probability=1.0)


@then("the bot's records hold the lost trade again, and its start-up says it took back {count:d} trade")
def step_lost_trade_taken_back(context, count):
    world = context.world
    exchange = {t["txid"] for t in world.sim.trades()}
    assert_that({f.trade_id for f in world.bot.store.fills()}, equal_to(exchange),
                "every trade on the exchange should be in the bot's records again, each once")
    rows = [r for r in world.safety.audit_log() if r.get("action") == "recover"]
    assert_that(rows, is_not(empty()), "the start-up's recovery should be in the audit trail")
    assert_that(rows[-1].get("imported_fills"), equal_to(count), f"the trades the start-up took back: {rows[-1]}")
