"""Reading the market: prices, candles, history across pages, caching, the order book."""
from __future__ import annotations

from decimal import Decimal

import requests
from behave import given, then, when
from hamcrest import (assert_that, contains_string, equal_to, greater_than, greater_than_or_equal_to, has_length,
                      instance_of, is_, less_than, less_than_or_equal_to)

from krakenbot.errors import KrakenError

HOUR, DAY = 3600, 86_400


def _read_price(world, pair):
    try:
        world.notes["ticker"] = world.safety.ticker(pair)
    except KrakenError as exc:  # failure is an outcome some scenarios expect
        world.notes.setdefault("errors", []).append(exc)


# -- When / Given ---------------------------------------------------------------------------------
@given("the bot read the price of {pair:Pair} a moment ago")
@when("the bot reads the price of {pair:Pair}")
def step_read_price(context, pair):
    _read_price(context.world, pair)


@when("the bot reads the price of {pair:Pair} again {seconds:d} second later")
@when("the bot reads the price of {pair:Pair} again {seconds:d} seconds later")
def step_read_price_later(context, pair, seconds):
    context.world.sim.advance(seconds)
    _read_price(context.world, pair)


@when("the bot reads the price of {pair:Pair} {count:d} times")
def step_read_price_n(context, pair, count):
    for _ in range(count):
        _read_price(context.world, pair)


@given("the exchange garbles every answer about candles")
def step_garbled_candles(context):
    context.world.sim.faults.inject(endpoint="OHLC", kind="truncated_json", probability=1.0)


@when("the bot reads the one-minute candles of {pair:Pair}")
def step_read_candles(context, pair):
    world = context.world
    try:
        world.notes["candles"] = _candles(world.safety.candles(pair, 1))
    except KrakenError as exc:  # failure is an outcome some scenarios expect
        world.notes["candles_error"] = exc


@given("the bot fetched the hourly candles of {pair:Pair} for the last {days:d} days")
@when("the bot fetches the hourly candles of {pair:Pair} for the last {days:d} days")
def step_fetch_history(context, pair, days):
    world = context.world
    end = int(world.clock.time()) // HOUR * HOUR - HOUR  # the last committed (closed) hour
    start = end - days * DAY
    world.notes["period"] = (start, end)
    world.notes.setdefault("ohlc_calls", []).append(len(world.exchange_calls("OHLC")))
    series = world.safety.history(pair, 60, start, end)
    world.notes["series"] = series
    world.notes["candles"] = _candles(series)


@when("the bot fetches every trade of {pair:Pair} in the last {days:d} days")
def step_fetch_trades(context, pair, days):
    world = context.world
    end = world.clock.time()
    world.notes["trade_period"] = (pair, end - days * DAY, end)
    world.notes["trades"] = world.safety.trade_history(pair, end - days * DAY, end)


@when("the bot reads the order book of {pair:Pair} with {count:d} levels on each side")
def step_read_book(context, pair, count):
    world = context.world
    world.notes["book"] = world.safety.order_book(pair, count)
    world.notes["book_request"] = (pair, count)


def _candles(result):
    """Candles from an ``OhlcPage`` or a plain sequence."""
    return list(getattr(result, "candles", result))


# -- Then: prices ---------------------------------------------------------------------------------
@then("the bid is below the ask")
def step_bid_below_ask(context):
    ticker = context.world.notes["ticker"]
    assert_that(ticker.bid, less_than(ticker.ask), "the best bid should be below the best ask")


@then("the last traded price lies within {pct:Amount}% of the middle of bid and ask")
def step_last_near_mid(context, pct):
    ticker = context.world.notes["ticker"]
    mid = (ticker.bid + ticker.ask) / 2
    assert_that(abs(ticker.last - mid) / mid * 100, less_than_or_equal_to(pct),
                f"the last price {ticker.last} should be close to the middle {mid}")


@then("the middle of bid and ask is within {pct:Amount}% of {price:Amount} EUR")
def step_mid_near(context, pct, price):
    ticker = context.world.notes["ticker"]
    mid = (ticker.bid + ticker.ask) / 2
    assert_that(abs(mid - price) / price * 100, less_than_or_equal_to(pct),
                f"the bot should see the exchange's price {price}, it saw {mid}")


@then("the exchange was asked for the price of {pair:Pair} only once")
def step_price_asked_once(context, pair):
    assert_that(context.world.exchange_calls("Ticker"), has_length(1),
                "a fresh price should come from the bot's cache, not from the exchange")


@then("the exchange was asked for the price of {pair:Pair} {count:d} times")
def step_price_asked_n(context, pair, count):
    assert_that(context.world.exchange_calls("Ticker"), has_length(count),
                "a price older than the freshness window should be read again")


@then("the bot reports that the candles could not be read because the answer was malformed")
def step_candles_refused(context):
    from krakenbot.errors import MalformedResponse

    error = context.world.notes.get("candles_error")
    assert_that(error, instance_of(MalformedResponse), "a garbled answer should be reported as malformed")


@then("no candle was handed to the bot")
def step_no_candles(context):
    assert_that("candles" in context.world.notes, is_(False), "nothing from a garbled answer may be used")


# -- Then: candles --------------------------------------------------------------------------------
@then("every candle's high is at least its open, close and low")
def step_high(context):
    candles = context.world.notes["candles"]
    assert_that(len(candles), greater_than(0), "candles should be returned")
    bad = [c for c in candles if c.high < max(c.open, c.close, c.low)]
    assert_that(bad, equal_to([]), "no candle's high may be below its open, close or low")


@then("every candle's low is at most its open and close")
def step_low(context):
    bad = [c for c in context.world.notes["candles"] if c.low > min(c.open, c.close)]
    assert_that(bad, equal_to([]), "no candle's low may be above its open or close")


@then("no candle has a negative volume")
def step_volume(context):
    bad = [c for c in context.world.notes["candles"] if c.volume < Decimal(0)]
    assert_that(bad, equal_to([]), "volumes cannot be negative")


@then("the candles are in time order, one minute apart")
def step_one_minute_apart(context):
    times = [int(c.time) for c in context.world.notes["candles"]]
    steps = {b - a for a, b in zip(times, times[1:])}
    assert_that(steps, equal_to({60}), "one-minute candles should follow each other every 60 seconds")


@then("the candles cover the whole period without gaps or duplicates")
def step_history_complete(context):
    world = context.world
    start, end = world.notes["period"]
    times = [int(c.time) for c in world.notes["candles"]]
    assert_that(len(times), greater_than(0), "the history should not be empty")
    assert_that(len(set(times)), equal_to(len(times)), "no hour may appear twice")
    assert_that({b - a for a, b in zip(times, times[1:])}, equal_to({HOUR}), "no hour may be missing")
    assert_that(times[0], less_than_or_equal_to(start + HOUR), "the history should start at the start of the period")
    assert_that(times[-1], greater_than_or_equal_to(end - 2 * HOUR), "the history should reach the end of the period")


@then("the candles that were returned follow each other without gaps or duplicates")
def step_returned_contiguous(context):
    times = [int(c.time) for c in context.world.notes["candles"]]
    assert_that(len(times), greater_than(0), "the part the exchange keeps should be returned")
    assert_that({b - a for a, b in zip(times, times[1:])}, equal_to({HOUR}), "no hour may be missing or repeated")


@then("no gap is reported")
def step_no_gap(context):
    assert_that(list(context.world.notes["series"].gaps), equal_to([]), "a complete history has no gap")


@then("the missing start of the period is reported as a gap")
def step_gap_reported(context):
    world = context.world
    start, _ = world.notes["period"]
    first = int(world.notes["candles"][0].time)
    gaps = list(world.notes["series"].gaps)
    assert_that(first, greater_than(start), "the exchange keeps only its latest candles")
    assert_that(len(gaps), greater_than(0), f"the hours before {first} should be reported missing")
    assert_that(repr(gaps[0]), contains_string(str(start)), "the gap should start where the period starts")


@then("the exchange was asked for candles only for the first fetch")
def step_history_cached(context):
    world = context.world
    before_second = world.notes["ohlc_calls"][1]
    assert_that(len(world.exchange_calls("OHLC")), equal_to(before_second),
                "a period already fetched should come from the bot's store")


# -- Then: trade history --------------------------------------------------------------------------
@then("the trades were fetched in several parts, each continuing where the previous part ended")
def step_trades_paged(context):
    world = context.world
    if not world.on_simulator:  # the real exchange shows us no request log: the bot's audit trail must
        asked = [r for r in world.safety.audit_log() if r.get("endpoint") == "Trades"]
        assert_that(len(asked), greater_than(1), "a period longer than one answer needs several requests")
        return
    asked = world.bot_calls("Trades")
    cursors = [int(r.params["since"]) for r in asked]
    assert_that(len(asked), greater_than(1), "a period longer than one answer needs several requests")
    assert_that(cursors, equal_to(sorted(set(cursors))), "each part should ask for what follows the previous one")


@then("every trade lies within the period, appears once, and follows the one before it in time")
def step_trades_once_in_order(context):
    world = context.world
    _, start, end = world.notes["trade_period"]
    trades = world.notes["trades"]
    ids = [t.trade_id for t in trades]
    times = [t.time for t in trades]
    assert_that(len(trades), greater_than(1000), "the period should hold more trades than one answer")
    assert_that(len(set(ids)), equal_to(len(ids)), "no trade may be counted twice")
    assert_that(times, equal_to(sorted(times)), "the trades should be in time order")
    assert_that(all(start <= t < end for t in times), is_(True), "every trade should lie within the period")


@then("the trades are exactly the ones the exchange recorded for the period")
def step_trades_match_exchange(context):
    world = context.world
    pair, start, end = world.notes["trade_period"]
    trades = world.notes["trades"]
    if not world.on_simulator:  # the real exchange's full record is what it answered; check the reach
        assert_that(trades[0].time, less_than_or_equal_to(start + HOUR), "the trades should reach the period's start")
        return
    recorded = [(r["trade_id"], r["price"], r["volume"], r["time"]) for r in world.sim.public_trades(pair, start, end)]
    fetched = [(t.trade_id, t.price, t.volume, t.time) for t in trades]
    assert_that(len(fetched), equal_to(len(recorded)), "no trade of the period may be missing or extra")
    assert_that(fetched, equal_to(recorded), "each trade should be the exchange's, with its price, volume and time")


# -- Then: order book -----------------------------------------------------------------------------
@then("the asks rise from the best ask outwards")
def step_asks_sorted(context):
    prices = [level.price for level in context.world.notes["book"].asks]
    assert_that(len(prices), greater_than(0), "the book should have asks")
    assert_that(prices, equal_to(sorted(prices)), "asks should be sorted from the lowest price up")
    assert_that(len(set(prices)), equal_to(len(prices)), "each ask price level appears once")


@then("the bids fall from the best bid outwards")
def step_bids_sorted(context):
    prices = [level.price for level in context.world.notes["book"].bids]
    assert_that(len(prices), greater_than(0), "the book should have bids")
    assert_that(prices, equal_to(sorted(prices, reverse=True)), "bids should be sorted from the highest price down")


@then("the best bid is below the best ask")
def step_not_crossed(context):
    book = context.world.notes["book"]
    assert_that(book.bids[0].price, less_than(book.asks[0].price), "the book must not be crossed")


@then("the bot's order book shows the same prices and volumes as the exchange's")
def step_book_matches(context):
    world = context.world
    pair, count = world.notes["book_request"]
    before = len(world.sim.access_log)
    answer = requests.get(f"{world.sim.url}/0/public/Depth", params={"pair": pair, "count": count}, timeout=5).json()
    world.foreign.update(r.seq for r in world.sim.access_log_since(before))
    (exchange_book,) = answer["result"].values()
    book = world.notes["book"]
    for side, levels in (("asks", book.asks), ("bids", book.bids)):
        expected = [(Decimal(p), Decimal(v)) for p, v, *_ in exchange_book[side]]
        shown = [(level.price, level.volume) for level in levels]
        assert_that(shown, equal_to(expected), f"the bot's {side} should be the exchange's {side}")
