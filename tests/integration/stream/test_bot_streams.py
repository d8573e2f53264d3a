"""Issue 23, the bot with MARKET_STREAM=on against the simulator: decisions read the live book
while it is trusted and fresh, REST otherwise; the exchange's own notices move the bot's orders
and fills (each fill once, whoever reports it), and a gap is reconciled over REST first."""
from __future__ import annotations

import time
from decimal import Decimal

import pytest

from krakenbot.bot import Bot
from krakenbot.config import ConfigError, Settings
from krakenbot.stream.connection import Backoff
from krakenbot.stream.executions import ExecEvent
from krakensim import KrakenSimulator
from krakensim.clock import ManualClock

WAIT = 10.0
FAST = {"poll_s": 0.02, "backoff": Backoff(first_s=0.05, cap_s=0.2)}


@pytest.fixture
def sim():
    with KrakenSimulator(seed=42, clock=ManualClock(time.time())) as simulator:
        simulator.set_price("XBTEUR", "60000")
        yield simulator


def _bot(sim, tmp_path, **env: str) -> Bot:
    settings = Settings.from_env({
        "KRAKEN_API_KEY": sim.api_key, "KRAKEN_API_SECRET": sim.api_secret, "API_DOMAIN": sim.url,
        "TRADING_MODE": "live", "KRAKEN_LIVE_TRADING": "yes", "KRAKENBOT_HOME": str(tmp_path),
        "MAX_ORDER_EUR": "1000", "TOTAL_BTC": "0.1", "MAX_OPEN_ORDERS": "10", "MARKET_STREAM": "on",
        "KRAKEN_WS_URL": sim.ws_url, "KRAKEN_WS_AUTH_URL": sim.ws_auth_url, **env})
    return Bot.build(settings, clock=sim.clock, live_flag=True)


def _levels(book) -> list:
    return [(lvl.price, lvl.volume) for lvl in (*book.asks, *book.bids)]


def _same_as_exchange(bot: Bot) -> bool:
    live = bot.market_data.live_book("XBTEUR")
    return live is not None and _levels(live) == _levels(bot.client.market.depth("XBTEUR", 10))


def test_decisions_read_the_live_book_while_it_is_trusted_and_rest_when_it_is_not(sim, tmp_path):
    with _bot(sim, tmp_path) as bot:
        streams = bot.start_streams(**FAST)
        market = streams.market
        sim.set_price("XBTEUR", "61000")
        assert market.wait_for(lambda: _same_as_exchange(bot), WAIT), market.book_problem("XBTEUR")
        assert bot.safety.market_data_problem("XBTEUR") is None
        assert bot.market_data.sources["XBTEUR"] == "live book"
        live = bot.market_data.live_book("XBTEUR")
        assert bot.safety.last_ticker("XBTEUR").bid == live.best_bid
        market.stop()  # the stream is down: the same question goes to REST
        assert bot.market_data.live_book("XBTEUR") is None
        assert bot.safety.market_data_problem("XBTEUR") is None
        assert bot.market_data.sources["XBTEUR"] == "REST"


def test_a_book_older_than_the_staleness_limit_is_never_read(sim, tmp_path):
    with _bot(sim, tmp_path, STALE_DATA_SECONDS="5") as bot:
        market = bot.start_streams(**FAST, silence_s=60.0).market
        assert market.wait_for(lambda: bot.market_data.live_book("XBTEUR") is not None, WAIT)
        sim.clock.advance(6)  # nothing received for 6 s of the bot's clock: older than the limit, not yet silent
        assert market.connected and market.book("XBTEUR") is not None
        assert bot.market_data.live_book("XBTEUR") is None
        bot.safety.market_data_problem("XBTEUR")
        assert bot.market_data.sources["XBTEUR"] == "REST"


def test_stream_urls_need_tls_except_to_this_machine():
    base = {"KRAKEN_API_KEY": "k", "KRAKEN_API_SECRET": "c2VjcmV0", "MARKET_STREAM": "on"}
    kraken = Settings.from_env(base)
    assert (kraken.ws_url, kraken.ws_auth_url) == ("wss://ws.kraken.com/v2", "wss://ws-auth.kraken.com/v2")
    assert not Settings.from_env({**base, "MARKET_STREAM": "off"}).market_stream
    assert not Settings.from_env({k: v for k, v in base.items() if k != "MARKET_STREAM"}).market_stream
    for name, url in (("KRAKEN_WS_AUTH_URL", "ws://ws-auth.example.com/v2"), ("KRAKEN_WS_URL", "https://x.example")):
        with pytest.raises(ConfigError, match=name):
            Settings.from_env({**base, name: url})
    local = Settings.from_env({**base, "API_DOMAIN": "http://127.0.0.1:9", "KRAKEN_WS_URL": "ws://127.0.0.1:8/v2",
                               "KRAKEN_WS_AUTH_URL": "ws://localhost:8/auth/v2"})
    assert local.ws_auth_url == "ws://localhost:8/auth/v2"
    with pytest.raises(ConfigError, match="KRAKEN_WS_URL: is required"):
        Settings.from_env({**base, "API_DOMAIN": "http://127.0.0.1:9"})
    with pytest.raises(ConfigError, match="MARKET_STREAM"):
        Settings.from_env({**base, "MARKET_STREAM": "maybe"})


ORDER_READS = {"QueryOrders", "OpenOrders", "ClosedOrders", "QueryTrades", "TradesHistory"}


def _resting_buy(bot: Bot, sim, streams=None) -> str:
    """A limit buy 1 % under the market (it rests), placed once the bot follows its orders. With ``streams``:
    returned once the exchange's two notices of it (pending, new) were handled, so a fault injected next
    falls on later notices, whatever the machine's load."""
    if streams is not None:
        # subscribed and its snapshot handled (the snapshot carries the first sequence number)
        assert streams.executions.wait_for(lambda: streams.executions.sequence is not None, WAIT)
        before = streams.executions.sequence
    outcome = bot.safety.submit_order("XBTEUR", "buy", "limit", Decimal("0.001"), Decimal("59400"))
    assert outcome.placed and outcome.status == "OPEN", outcome
    if streams is not None:
        assert streams.executions.wait_for(lambda: streams.executions.sequence >= before + 2, WAIT)
    return outcome.cl_ord_id


def _filled(bot: Bot, cl_ord_id: str) -> bool:
    order = bot.store.get_order(cl_ord_id)
    return order.status == "FILLED" and sum(f.volume for f in bot.store.fills(txid=order.txid)) == order.volume


def test_a_fill_is_known_from_the_exchanges_notice_without_asking_and_counted_once(sim, tmp_path):
    with _bot(sim, tmp_path) as bot:
        streams = bot.start_streams(**FAST)
        cl_ord_id = _resting_buy(bot, sim)  # the stream's first reconciliation ran before it
        assert streams.follows_orders
        asked = len(sim.access_log)
        sim.set_price("XBTEUR", "59000")  # the market falls through the order: it fills
        assert streams.executions.wait_for(lambda: _filled(bot, cl_ord_id), WAIT), bot.store.get_order(cl_ord_id)
        assert bot.safety.refresh_orders() == []  # the cycle's order refresh asks nothing while the stream follows
        reads = [r.endpoint for r in sim.access_log_since(asked) if r.endpoint in ORDER_READS]
        assert reads == []
        fills = bot.store.fills()
        assert bot.safety.executor.refresh() is not None and bot.safety.reconcile().clean  # REST reports them too
        assert bot.store.fills() == fills and sum(f.volume for f in fills) == Decimal("0.001")


def test_after_a_drop_no_fill_is_missed_and_rest_reconciles_first(sim, tmp_path):
    with _bot(sim, tmp_path) as bot:
        streams = bot.start_streams(**FAST)
        executions = streams.executions
        cl_ord_id = _resting_buy(bot, sim)
        connects = executions.connects
        sim.faults.inject("executions", "ws_drop")  # the fill's notice is lost with the connection
        sim.set_price("XBTEUR", "59000")
        assert executions.wait_for(lambda: executions.connects > connects and executions.subscribed, WAIT)
        assert not streams.follows_orders and bot.store.get_order(cl_ord_id).status == "OPEN"
        report = bot.run_once()  # REST first: the order's fill is found and recorded before any decision
        assert report.ok, report.errors
        assert _filled(bot, cl_ord_id) and streams.follows_orders
        assert len(bot.store.fills()) == len({f.trade_id for f in bot.store.fills()})
        placed = [r for r in sim.access_log if r.endpoint == "AddOrder"]
        assert len(placed) == 1


def test_a_late_stream_event_never_moves_an_orders_executed_volume_backwards(sim, tmp_path):
    """REST's catch-up (main thread) can apply the order's final state before the stream's thread
    delivers an earlier, queued 'partially_filled' event: the order must keep what was executed."""
    with _bot(sim, tmp_path) as bot:
        streams = bot.start_streams(**FAST)
        cl_ord_id = _resting_buy(bot, sim)
        sim.set_price("XBTEUR", "59000")
        assert streams.executions.wait_for(lambda: _filled(bot, cl_ord_id), WAIT)
        order = bot.store.get_order(cl_ord_id)
        fill = bot.store.fills(txid=order.txid)[0]
        late = ExecEvent(exec_type="trade", order_id=order.txid, cl_ord_id=cl_ord_id,
                         order_status="partially_filled", symbol="BTC/EUR", side="buy", cum_qty=Decimal("0.0005"),
                         cum_cost=Decimal("29.7"), avg_price=Decimal("59400"), exec_id=fill.trade_id,
                         last_qty=Decimal("0.0005"), last_price=Decimal("59400"), cost=Decimal("29.7"),
                         maker=True, fees=(), timestamp=None, sequence=2, snapshot=False)
        bot.safety.executor.apply_execution(late)
        after = bot.store.get_order(cl_ord_id)
        assert (after.status, after.volume_executed) == ("FILLED", Decimal("0.001")), after


def _unknown_buy(bot: Bot, sim) -> str:
    """AddOrder's answer is lost and the lookups fail: the order is UNKNOWN (it was placed)."""
    sim.faults.inject("AddOrder", "accept_then_drop")
    for endpoint in ("QueryOrders", "OpenOrders", "ClosedOrders"):
        sim.faults.inject(endpoint, "error", probability=1.0)
    outcome = bot.safety.submit_order("XBTEUR", "buy", "limit", Decimal("0.001"), Decimal("59400"))
    assert bot.store.get_order(outcome.cl_ord_id).status == "UNKNOWN", outcome
    sim.faults.clear()
    bot.client.breaker.reset("REST answers again")  # the outage is over: only the stream path is left
    return outcome.cl_ord_id


def test_an_unknown_order_is_settled_over_rest_while_the_executions_stream_follows(sim, tmp_path):
    """Only REST settles an UNKNOWN order (by client id); the stream's events for an order without
    a recorded txid are left to it: the cycle's order refresh asks REST while one exists."""
    with _bot(sim, tmp_path) as bot:
        streams = bot.start_streams(**FAST)
        streams.catch_up(bot.safety.executor.refresh)
        assert streams.follows_orders
        cl_ord_id = _unknown_buy(bot, sim)
        sim.set_price("XBTEUR", "59000")  # it was placed: it fills, and the stream tells of it
        assert streams.executions.wait_for(lambda: streams.executions.frames > 0 and streams.follows_orders, WAIT)
        bot.safety.refresh_orders()
        order = bot.store.get_order(cl_ord_id)
        assert _filled(bot, cl_ord_id) and streams.follows_orders, order


def test_a_fill_whose_notice_was_the_last_message_lost_is_found_by_the_cycles_reconciliation(sim, tmp_path):
    """The exchange's last executions messages (the fill and the 'filled') never arrive and nothing
    follows them: no sequence gap can show. The cycle's reconciliation asks REST about the orders."""
    with _bot(sim, tmp_path) as bot:
        streams = bot.start_streams(**FAST)
        cl_ord_id = _resting_buy(bot, sim, streams)
        assert streams.follows_orders
        sim.faults.inject("executions", "ws_skip", times=2)
        sim.set_price("XBTEUR", "59000")
        assert streams.market.wait_for(lambda: bot.market_data.live_book("XBTEUR") is not None
                                       and bot.market_data.live_book("XBTEUR").best_ask < Decimal("59400"), WAIT)
        assert bot.run_once().ok
        assert _filled(bot, cl_ord_id), bot.store.get_order(cl_ord_id)


@pytest.mark.parametrize("step", ["the cycle's order refresh", "the next order"])
def test_open_orders_are_asked_over_rest_every_order_check_interval_while_the_stream_follows(sim, tmp_path, step):
    with _bot(sim, tmp_path, ORDER_CHECK_SECONDS="5") as bot:
        streams = bot.start_streams(**FAST, silence_s=60.0)
        cl_ord_id = _resting_buy(bot, sim, streams)
        sim.faults.inject("executions", "ws_skip", times=2)  # the fill's notices are lost, nothing follows
        sim.set_price("XBTEUR", "59000")
        assert streams.market.wait_for(lambda: bot.market_data.live_book("XBTEUR") is not None
                                       and bot.market_data.live_book("XBTEUR").best_ask < Decimal("59400"), WAIT)
        asked = len(sim.access_log)
        assert bot.safety.refresh_orders() == [] and streams.follows_orders  # within the interval: not asked
        assert [r for r in sim.access_log_since(asked) if r.endpoint in ORDER_READS] == []
        sim.clock.advance(5)
        if step == "the next order":  # asked before it is placed (its events then show the gap)
            assert bot.safety.submit_order("XBTEUR", "buy", "limit", Decimal("0.001"), Decimal("58000")).placed
        else:
            bot.safety.refresh_orders()
            assert streams.follows_orders
        assert _filled(bot, cl_ord_id), bot.store.get_order(cl_ord_id)


def test_a_move_of_the_book_is_decided_on_at_once_between_cycles(sim, tmp_path):
    with _bot(sim, tmp_path, STRATEGY_DIP_PCT="2", STRATEGY_BUY_EUR="20") as bot:
        streams = bot.start_streams(**FAST)
        assert bot.run_once().decisions["XBTEUR"] == "hold"  # the strategy's reference: 60,000
        streams.wait_for_move(0)
        assert streams.wait_for_move(0) == []  # nothing moved since
        sim.set_price("XBTEUR", "58000")
        moved = streams.wait_for_move(WAIT)
        assert moved == ["XBTEUR"]
        report = bot.orchestrator.react(moved)
        assert report.placed == 1 and bot.market_data.sources["XBTEUR"] == "live book", report.decisions


def test_a_dry_run_streams_prices_but_its_orders_stay_with_its_venue(sim, tmp_path):
    with _bot(sim, tmp_path, TRADING_MODE="dry-run", DRY_RUN_WALLET="ZEUR=1000,XXBT=0") as bot:
        streams = bot.start_streams(**FAST)
        assert streams.executions is None and not streams.needs_reconciliation
        outcome = bot.safety.submit_order("XBTEUR", "buy", "limit", Decimal("0.001"), Decimal("59400"))
        assert outcome.placed, outcome
        sim.set_price("XBTEUR", "59000")
        assert streams.market.wait_for(lambda: bot.market_data.live_book("XBTEUR").best_ask < Decimal("59400"), WAIT)
        bot.safety.refresh_orders()  # the venue fills it: only its read says so
        assert bot.store.get_order(outcome.cl_ord_id).status == "FILLED"


def test_the_slippage_walk_reads_the_live_book_when_its_levels_hold_the_volume(sim, tmp_path):
    with _bot(sim, tmp_path, MAX_ORDER_EUR="100000", TOTAL_BTC="100", MAX_POSITION_PCT="100") as bot:
        bot.start_streams(**FAST)
        live = bot.market_data.live_book("XBTEUR")
        assert live is not None
        held = sum(level.volume for level in live.asks)
        mark = len(sim.access_log)
        assert bot.safety.submit_order("XBTEUR", "buy", "market", Decimal("0.001")).placed
        assert [r.endpoint for r in sim.access_log_since(mark) if r.endpoint == "Depth"] == []
        mark = len(sim.access_log)  # more than the live book's levels hold: the walk needs REST's 500
        bot.safety.submit_order("XBTEUR", "buy", "market", held + Decimal("0.001"))
        assert [r.params.get("count") for r in sim.access_log_since(mark) if r.endpoint == "Depth"] == ["500"]
