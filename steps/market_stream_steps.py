"""Steps of "Watching the market as it moves" (MARKET_STREAM=on).

The bot is driven through the safety wrapper and its trading cycle only; what it knows is read
from its market data (the book it would decide on, and where its last price came from) and its
store; what the exchange holds and heard is read from the simulator (its book view, its faults,
its access log). Waits are on the bot's streams (woken by every message they handle) or, for
the simulator's own state, a short bounded look; none is a fixed sleep.
"""
from __future__ import annotations

import random
import threading
import time
from decimal import Decimal

from behave import given, then, when
from hamcrest import assert_that, empty, equal_to, greater_than, has_length, is_, not_none

from tools.spec_support.facade import exchange_order, pair_code

WAIT = 10.0  # real seconds: a stream message takes milliseconds on loopback
ORDER_READS = frozenset({"QueryOrders", "OpenOrders", "ClosedOrders", "QueryTrades", "TradesHistory"})


class _NO_BOOK:  # noqa: N801 - a book not there yet: no price to compare
    best_ask = Decimal("Infinity")


def _streams(world):
    streams = world.safety.streams
    assert_that(streams, not_none(), "the bot should be watching the market (MARKET_STREAM=on)")
    return streams


def _levels(book) -> tuple[list, list]:
    return [(lvl.price, lvl.volume) for lvl in book.asks], [(lvl.price, lvl.volume) for lvl in book.bids]


def _exchange_book(world, pair: str) -> tuple[list, list]:
    book = world.sim.book(pair, _streams(world).market.depth)
    return book["asks"], book["bids"]


def _same_book(world, pair: str) -> bool:
    """The book the bot would decide on is the exchange's, level for level."""
    book = world.bot.market_data.live_book(pair)
    return book is not None and _levels(book) == _exchange_book(world, pair)


def _until(condition, timeout: float = WAIT) -> bool:
    """For the simulator's own state, which wakes no stream: look every 10 ms until ``timeout``."""
    end = time.monotonic() + timeout
    pause = threading.Event()
    while not condition():
        if time.monotonic() >= end:
            return False
        pause.wait(0.01)
    return True


def _source(world, pair: str) -> str:
    return world.bot.market_data.sources.get(pair, "none")


# -- set-up ---------------------------------------------------------------------------------------
@given("the bot watches the market as it moves")
def step_watches(context):
    world = context.world
    world.configure(MARKET_STREAM="on", KRAKEN_WS_URL=world.sim.ws_url, KRAKEN_WS_AUTH_URL=world.sim.ws_auth_url)
    streams = _streams(world)
    assert_that(streams.market.wait_for(lambda: world.bot.market_data.live_book("XBTEUR") is not None, WAIT),
                is_(True), f"the bot should hold a checked book: {streams.market.book_problem('XBTEUR')}")
    assert_that(streams.executions.wait_for(lambda: streams.executions.subscribed, WAIT), is_(True),
                f"the bot should hear its own orders' events: {streams.executions.last_problem}")


# -- the book through many changes -----------------------------------------------------------------
@when("the price of {pair:Pair} moves {count:d} times in small steps")
def step_many_moves(context, pair, count):
    world = context.world
    market = _streams(world).market
    rng = random.Random(23)
    price = Decimal("60000")
    behind = []
    for move in range(count):
        price += Decimal(rng.randint(-300, 300)) / 10
        world.sim.set_price(pair, price)
        if not market.wait_for(lambda: _same_book(world, pair), WAIT):
            behind.append(f"move {move + 1} to {price}: {market.book_problem(pair) or 'a different book'}")
    world.notes["behind"] = behind


@then("after every move the bot's book of {pair:Pair} is the exchange's, level for level")
def step_book_kept(context, pair):
    assert_that(context.world.notes["behind"], empty(), "the bot's book should follow every move")


@then("every change the bot received passed the exchange's check")
def step_all_checked(context):
    market = _streams(context.world).market
    assert_that((market.mismatches, market.resubscribes), equal_to((0, 0)),
                "no change should have failed the check (or needed a fresh book)")


# -- an altered change ------------------------------------------------------------------------------
@when("the exchange alters one change to the book of {pair:Pair}, and sends the fresh book only a while later")
def step_alter(context, pair):
    world = context.world
    market = _streams(world).market
    world.notes["mismatches"] = market.mismatches
    world.sim.faults.inject("book", "ws_corrupt")
    world.sim.faults.inject("book", "ws_delay", seconds=2.0)  # the next book message: the fresh one
    world.sim.set_price(pair, Decimal("60012.5"))
    world.notes["pair"] = pair


@then("the bot notices the altered change at once")
def step_noticed(context):
    world = context.world
    market = _streams(world).market
    assert_that(market.wait_for(lambda: market.mismatches > world.notes["mismatches"], WAIT), is_(True),
                "the bot should notice that the change did not pass the exchange's check")


@then("the bot's next decision is taken on the exchange's price service, not on the altered book")
def step_decided_on_rest(context):
    world = context.world
    pair = world.notes["pair"]
    report = world.bot.run_once()
    assert_that(report.errors, empty(), "the cycle should run")
    assert_that(_source(world, pair), equal_to("REST"), "the bot should not decide on a book it cannot vouch for")


@then("before the decision after it the bot's book of {pair:Pair} is the exchange's again")
def step_rebuilt(context, pair):
    world = context.world
    market = _streams(world).market
    assert_that(market.wait_for(lambda: _same_book(world, pair), WAIT), is_(True),
                f"the bot should rebuild its book from a fresh one: {market.book_problem(pair)}")


@then("that decision is taken on the rebuilt book")
def step_decided_on_rebuilt(context):
    world = context.world
    report = world.bot.run_once()
    assert_that(report.errors, empty(), "the cycle should run")
    assert_that(_source(world, world.notes["pair"]), equal_to("live book"), "the rebuilt book should be used again")


# -- silence ------------------------------------------------------------------------------------------
@when("the exchange's stream goes silent")
def step_silent(context):
    world = context.world
    silence = world.sim.faults.inject("*", "ws_silence", seconds=600.0, probability=1.0)  # every connection
    world.notes["silence"] = silence
    assert_that(_until(lambda: silence.fired >= 2), is_(True), "both of the bot's connections should fall silent")


@when("{seconds:d} seconds pass, in which the bot tries the stream again")
def step_seconds_pass(context, seconds):
    world = context.world
    market = _streams(world).market
    connects = market.connects
    world.sim.advance(seconds)
    assert_that(market.wait_for(lambda: market.connects > connects, WAIT), is_(True),
                "the bot should give up on the silent connection and connect again")


@then("the bot's next trading cycle places no order, because its market data is stale")
def step_no_order_stale(context):
    world = context.world
    mark = len(world.sim.access_log)
    report = world.bot.run_once()
    placed = [r for r in world.sim.access_log_since(mark) if r.endpoint == "AddOrder"]
    assert_that(placed, empty(), "no order should reach the exchange without a fresh book")
    assert_that("STALE_DATA" in report.skipped.get("XBTEUR", ""), is_(True),
                f"the cycle should say the market data is stale: {report.decisions}")


@when("the exchange's stream speaks again")
def step_speaks(context):
    world = context.world
    world.sim.faults.clear()
    for endpoint in ("Ticker", "Depth", "OHLC", "Spread", "Trades"):  # prices still only from the stream
        world.sim.faults.inject(endpoint=endpoint, kind="error", error="EService:Unavailable", probability=1.0)
    streams = _streams(world)
    world.sim.advance(max(streams.market.silence_s, streams.executions.silence_s) + 1)  # the bot gives up on them
    assert_that(streams.market.wait_for(lambda: world.bot.market_data.live_book("XBTEUR") is not None, WAIT),
                is_(True), f"a fresh book should come: {streams.market.book_problem('XBTEUR')}")


@then("the bot's next trading cycle buys, on the fresh book")
def step_buys_on_fresh(context):
    world = context.world
    report = world.bot.run_once()
    assert_that(report.placed, equal_to(1), f"the cycle should buy: {report.decisions} {report.errors}")
    assert_that(_source(world, "XBTEUR"), equal_to("live book"), "the decision should be on the stream's book")
    # the exchange's notices of that buy arrive after the cycle: the scenario ends once the bot has them all, so
    # the records judged afterwards are the bot's settled view, not one caught between two notices
    newest = max(world.bot.store.orders(), key=lambda o: o.created_at)
    assert_that(_streams(world).executions.wait_for(lambda: _settled(world, newest.cl_ord_id), WAIT), is_(True),
                f"the bot should learn the whole outcome of its buy: {world.bot.store.get_order(newest.cl_ord_id)}")


def _settled(world, cl_ord_id: str) -> bool:
    """The bot's record of the order says what the exchange's does: still open there, or filled with every fill."""
    order = world.bot.store.get_order(cl_ord_id)
    there = next((o for o in world.sim.orders() if o.get("cl_ord_id") == cl_ord_id), None)
    if there is None or there.get("status") in ("open", "pending"):
        return order.status in ("OPEN", "PARTIALLY_FILLED", "REJECTED")
    if there.get("status") != "closed":
        return order.status in ("CANCELED", "EXPIRED")
    return order.status == "FILLED" and \
        sum((f.volume for f in world.bot.store.fills(txid=order.txid)), Decimal(0)) == order.volume


# -- own orders -----------------------------------------------------------------------------------------
def _resting(world):
    outcome = world.notes["resting"][-1]
    return world.bot.store.get_order(outcome.cl_ord_id)


def _filled_once(world) -> bool:
    order = _resting(world)
    fills = world.bot.store.fills(txid=order.txid)
    return order.status == "FILLED" and sum((f.volume for f in fills), Decimal(0)) == order.volume


@then("the bot knows the order is filled, with its fill and fee and what it cost, from the exchange's notice alone")
def step_known_from_notice(context):
    world = context.world
    executions = _streams(world).executions
    assert_that(executions.wait_for(lambda: _filled_once(world), WAIT), is_(True),
                f"the exchange's notice should tell the bot of the fill: {_resting(world)}")
    fills = world.bot.store.fills(txid=_resting(world).txid)
    assert_that(all(f.fee > 0 for f in fills), is_(True), "each fill should carry its fee")
    record = world.bot.store.get_order(_resting(world).cl_ord_id)
    held = exchange_order(world, _resting(world))
    assert_that(record.cost, equal_to(Decimal(held["cost"])), "the bot's record of the order should say what it cost")


@then("the bot asked the exchange nothing about its orders since it placed that order")
def step_asked_nothing(context):
    world = context.world
    placed = [r.seq for r in world.exchange_calls("AddOrder")][-1]
    asked = [f"{r.endpoint} (#{r.seq})" for r in world.scenario_log() if r.seq > placed and r.endpoint in ORDER_READS]
    assert_that(asked, empty(), "the fill should be known without asking the exchange")


@when("the connection to the exchange's stream drops just as the order fills")
def step_drop_as_fills(context):
    world = context.world
    executions = _streams(world).executions
    connects = executions.connects
    world.sim.faults.inject("executions", "ws_drop")  # the notice of the fill is lost with the connection
    world.sim.set_price("XBTEUR", Decimal("59000"))
    assert_that(executions.wait_for(lambda: executions.connects > connects and executions.subscribed, WAIT),
                is_(True), "the bot should reconnect")
    assert_that(_resting(world).status, equal_to("OPEN"), "the bot cannot have heard of the fill yet")


@when("the exchange's last notices of the order's fill never arrive")
def step_last_notices_lost(context):
    world = context.world
    # every notice of the fill (one per trade that fills it, then "filled"), and nothing follows to show a gap
    world.sim.faults.inject("executions", "ws_skip", times=10)
    world.sim.set_price("XBTEUR", Decimal("59000"))
    market = _streams(world).market
    assert_that(market.wait_for(lambda: (world.bot.market_data.live_book("XBTEUR") or _NO_BOOK).best_ask
                                < Decimal("59400"), WAIT), is_(True), "the bot should see the market fall")
    assert_that(_resting(world).status, equal_to("OPEN"), "the bot cannot have heard of the fill")


@then("the bot knows the order is filled, with each of its fills recorded once")
def step_filled_once(context):
    world = context.world
    order = _resting(world)
    assert_that(_filled_once(world), is_(True), f"the order should be known filled: {order}")
    fills = world.bot.store.fills(txid=order.txid)
    at_exchange = [t for t in world.sim.trades(world.account) if t.get("ordertxid") == order.txid]
    assert_that(fills, has_length(len(at_exchange)), "each of the exchange's fills once")
    assert_that(len(at_exchange), greater_than(0), "the exchange should have filled it")


@then("the exchange received that order once and no other order")
def step_order_once(context):
    world = context.world
    assert_that(world.exchange_calls("AddOrder"), has_length(1), "one order request, never a second")
    assert_that(world.sim.orders(world.account), has_length(1), "one order at the exchange")
