"""Dry run against the simulator over HTTP: orders fill locally against the exchange's live
market, and no order-entry or cancel call ever reaches the exchange (its access log proves it)."""
from __future__ import annotations

from decimal import ROUND_CEILING, ROUND_HALF_UP, Decimal

import pytest

from krakenbot import cli
from krakenbot.bot import Bot
from krakenbot.client import endpoints as table
from krakenbot.config import Settings
from krakensim import KrakenSimulator
from krakensim.clock import ManualClock

# Every call that enters, changes or cancels an order at the exchange.
ORDER_CALLS = table.names(effect=table.Effect.PLACE) | table.names(effect=table.Effect.CANCEL)
WALLET = "ZEUR=5000,XXBT=0"
ZERO = Decimal(0)


def dry_bot(make_bot, **env):
    return make_bot("dry-run", DRY_RUN_WALLET=env.pop("DRY_RUN_WALLET", WALLET), **env)


def sent(sim, start, but=None):
    """What reached the exchange since ``start`` (``but``: leaving out the calls of that key's account)."""
    from krakensim.server import redact

    other = redact(but) if but is not None else None
    return [r.endpoint for r in sim.access_log_since(start) if other is None or r.key_id != other]


def cents(amount: Decimal) -> Decimal:
    return amount.quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP)


def test_a_dry_run_market_buy_walks_the_book_and_sends_no_order(sim, make_bot):
    sim.set_liquidity("XBTEUR", "0.004")  # a thin book: the order takes three levels
    bot = dry_bot(make_bot)
    start = len(sim.access_log)
    exchange_before = sim.balances()
    book = bot.safety.order_book("XBTEUR", 500)
    outcome = bot.safety.submit_order("XBTEUR", "buy", "market", Decimal("0.01"))
    assert not ORDER_CALLS & set(sent(sim, start)), sent(sim, start)
    assert outcome.accepted and outcome.placed, outcome
    assert sim.orders() == [] and sim.balances() == exchange_before
    fills = sorted(bot.store.fills(), key=lambda f: f.price)
    expected = [(level.price, min(level.volume, Decimal("0.01") - Decimal("0.004") * i))
                for i, level in enumerate(book.asks[:3])]
    assert [(f.price, f.volume) for f in fills] == expected
    assert all(f.fee == cents(f.cost * Decimal("0.40") / 100) and not f.maker for f in fills)
    wallet = bot.safety.balances()
    assert wallet["XXBT"] == Decimal("0.01")
    assert wallet["ZEUR"] == Decimal(5000) - sum(f.cost + f.fee for f in fills)
    [order] = bot.store.orders()
    assert order.status == "FILLED" and order.volume_executed == Decimal("0.01")


# -- the venue's rules, each as the exchange applies them -------------------------------------------------------
BID = Decimal("59999.9")  # the simulator's best bid at 60,000 (one tick below the mid)
STEP = Decimal(6)  # its distance between price levels at 60,000


def market_env(sim, mode: str, tmp: str, **env: str) -> dict[str, str]:
    values = {"KRAKEN_API_KEY": sim.api_key, "KRAKEN_API_SECRET": sim.api_secret, "API_DOMAIN": sim.url,
              "TRADING_MODE": mode, "KILL_SWITCH_FILE": f"{tmp}/KILL-{mode}", "STORE_PATH": ":memory:",
              "MAX_ORDER_EUR": "1000", "TOTAL_BTC": "0.1", "MAX_OPEN_ORDERS": "10", "KRAKEN_LIVE_TRADING": "yes",
              "DRY_RUN_WALLET": "snapshot"}
    values.update(env)
    return values


def another_trader(sim):
    """``trade(side, volume)``: another account's market order on XBT/EUR, over HTTP."""
    import requests

    from tools.spec_support.raw_client import signed_post

    key, secret = sim.create_key(account="someone-else")

    def trade(side: str, volume: str) -> None:
        answer = signed_post(requests, sim.url, key, secret, "AddOrder",
                             {"pair": "XXBTZEUR", "type": side, "ordertype": "market", "volume": volume})
        assert not answer["error"], answer

    trade.key = key
    return trade


def in_both_modes(tmp: str, story, **env: str) -> dict[str, object]:
    """``story(sim, bot, other_trader)`` once live and once as a dry run, each on its own simulator with the
    same seed: what each returned. ``other_trader(side, volume)`` sends another account's market order."""
    seen = {}
    for mode in ("live", "dry-run"):
        with KrakenSimulator(seed=42, clock=ManualClock()) as sim:
            sim.set_price("XBTEUR", "60000")
            sim.set_liquidity("XBTEUR", "0.004")
            other_trader = another_trader(sim)
            with Bot.build(Settings.from_env(market_env(sim, mode, tmp, **env)), clock=sim.clock,
                           store_path=":memory:", live_flag=mode == "live") as bot:
                start = len(sim.access_log)
                seen[mode] = story(sim, bot, other_trader)
                if mode == "dry-run":
                    assert not ORDER_CALLS & set(sent(sim, start, but=other_trader.key)), sent(sim, start)
    return seen


def fills_of(bot) -> list[tuple]:
    return [(f.side, f.price, f.volume, f.maker) for f in sorted(bot.store.fills(), key=lambda f: (f.time, f.price))]


def test_an_order_the_wallet_cannot_pay_is_refused_with_krakens_error_and_nothing_is_placed(sim, make_bot):
    # 602.50 EUR pays the bot's own estimate (0.01 at the ask plus the fee: 602.40), not the thin book's
    # real cost of 0.01 XBT over ten levels: the venue's check is the exchange's, on the book's cost.
    sim.set_liquidity("XBTEUR", "0.001")
    bot = dry_bot(make_bot, DRY_RUN_WALLET="ZEUR=602.50", MAX_POSITION_PCT="100")

    outcome = bot.safety.submit_order("XBTEUR", "buy", "market", Decimal("0.01"))

    assert not outcome.placed and "EOrder:Insufficient funds" in outcome.reason, outcome
    [order] = bot.store.orders()
    assert (order.status, order.txid, order.volume_executed) == ("REJECTED", None, Decimal(0))
    assert bot.store.fills() == [] and bot.client.venue.orders == {}
    assert bot.safety.balances() == {"ZEUR": Decimal("602.50")}


def test_a_resting_limit_fills_only_from_trades_through_its_price_and_no_more_than_they_traded(tmp_path):
    """Two bids of 0.003 at the best bid, behind the book's 0.004 there. Another trader sells 0.004: all of it
    at the bid, to the volume ahead (no fill). Then 0.004 more: it trades below the bid, through both bids:
    0.004 fills them, the first in full and the second in part, as live's queue fills them."""
    def story(sim, bot, other_trader):
        for _ in range(2):
            outcome = bot.safety.submit_order("XBTEUR", "buy", "limit", Decimal("0.003"), BID, post_only=True)
            assert outcome.placed, outcome
        other_trader("sell", "0.004")
        bot.safety.refresh_orders()
        before = fills_of(bot)
        other_trader("sell", "0.004")
        bot.safety.refresh_orders()
        executed = [o.volume_executed for o in sorted(bot.store.orders(), key=lambda o: o.created_at)]
        return before, fills_of(bot), executed

    seen = in_both_modes(str(tmp_path), story)

    before, fills, executed = seen["dry-run"]
    assert before == []  # a print at its price first uses up the volume ahead of it
    assert fills == [("buy", BID, Decimal("0.003"), True), ("buy", BID, Decimal("0.001"), True)]
    assert executed == [Decimal("0.003"), Decimal("0.001")]
    assert seen["dry-run"] == seen["live"]


def exchange_bids(sim) -> list[tuple[Decimal, Decimal]]:
    """The bids the exchange shows now, read as anyone reads them (no cache in between)."""
    import requests

    rows = requests.get(f"{sim.url}/0/public/Depth", params={"pair": "XXBTZEUR", "count": 10}, timeout=5).json()
    return [(Decimal(p), Decimal(v)) for p, v, _ in rows["result"]["XXBTZEUR"]["bids"]]


@pytest.mark.parametrize("ordertype, trigger, away", [("stop-loss", BID - 2 * STEP, "sell"),
                                                      ("take-profit", BID + 2 * STEP + Decimal("0.2"), "buy")])
def test_a_stop_loss_or_take_profit_triggers_on_the_last_trade_and_sells_at_the_book_as_the_exchange_does(
        sim, make_bot, ordertype, trigger, away):
    """A sell of 0.005 triggered two levels from the touch: another trader's 0.004 leaves it waiting (the last
    trade short of the trigger); 0.008 more trades through it; then it sells into the book as it is then."""
    sim.set_liquidity("XBTEUR", "0.004")
    other_trader = another_trader(sim)
    bot = dry_bot(make_bot, DRY_RUN_WALLET="ZEUR=0,XXBT=0.01")
    outcome = bot.safety.submit_order("XBTEUR", "sell", ordertype, Decimal("0.005"), trigger)
    assert outcome.placed, outcome
    other_trader(away, "0.004")
    bot.safety.refresh_orders()
    assert bot.store.fills() == [] and bot.store.get_order(outcome.cl_ord_id).status == "OPEN"

    other_trader(away, "0.008")
    left, expected = Decimal("0.005"), []
    for price, volume in exchange_bids(sim):
        expected.append((price, min(left, volume)))
        left -= expected[-1][1]
        if not left:
            break
    bot.safety.refresh_orders()

    assert bot.store.get_order(outcome.cl_ord_id).status == "FILLED"
    fills = sorted(bot.store.fills(), key=lambda f: -f.price)
    assert [(f.price, f.volume) for f in fills] == expected
    assert all(f.side == "sell" and not f.maker for f in fills)
    assert bot.safety.balances()["XXBT"] == Decimal("0.005")


def test_the_dead_mans_switch_cancels_the_dry_runs_resting_orders_when_it_expires(sim, make_bot):
    bot = dry_bot(make_bot)
    start = len(sim.access_log)
    bot.safety.arm_dead_mans_switch(60)
    outcome = bot.safety.submit_order("XBTEUR", "buy", "limit", Decimal("0.003"), Decimal(59000))
    assert outcome.placed, outcome
    sim.advance(59)
    bot.safety.refresh_orders()
    assert bot.store.get_order(outcome.cl_ord_id).status == "OPEN"

    sim.advance(2)
    bot.safety.refresh_orders()

    [order] = bot.client.venue.orders.values()
    assert (order.status, order.reason) == ("canceled", "Dead man's switch")
    assert bot.store.get_order(outcome.cl_ord_id).status == "CANCELED"
    assert not ORDER_CALLS & set(sent(sim, start)), sent(sim, start)


def test_the_kill_switch_in_a_dry_run_cancels_the_venues_orders_and_sends_no_cancel(sim, make_bot):
    bot = dry_bot(make_bot)
    start = len(sim.access_log)
    placed = [bot.safety.submit_order("XBTEUR", "buy", "limit", Decimal("0.003"), Decimal(59000 - i))
              for i in range(2)]
    assert all(o.placed for o in placed), placed

    report = bot.safety.kill("rehearsing the emergency stop")

    assert report.cancelled == 2 and not report.problems, report
    assert [o.status for o in bot.client.venue.orders.values()] == ["canceled", "canceled"]
    assert [bot.store.get_order(o.cl_ord_id).status for o in placed] == ["CANCELED", "CANCELED"]
    assert not ORDER_CALLS & set(sent(sim, start)), sent(sim, start)
    assert bot.safety.balances()["ZEUR"] == Decimal(5000)  # the holds are released


def test_a_restart_continues_the_dry_run_wallet_resting_orders_fills_and_daily_count(sim, tmp_path):
    """The second process on the same dry-run store continues the first's rehearsal: its wallet (not
    DRY_RUN_WALLET again), its resting order, which fills from a trade made while no bot ran (and not again
    from the trades the first process had already seen), its fills, P&L and today's trade count."""
    sim.set_liquidity("XBTEUR", "0.004")
    other_trader = another_trader(sim)
    env = market_env(sim, "dry-run", str(tmp_path), STORE_PATH=str(tmp_path / "bot.sqlite"),
                     DRY_RUN_WALLET="ZEUR=5000,XXBT=0", MAX_DAILY_TRADES="3")
    with Bot.build(Settings.from_env(env), clock=sim.clock) as first:
        first.start()
        bought = first.safety.submit_order("XBTEUR", "buy", "market", Decimal("0.002"))
        resting = first.safety.submit_order("XBTEUR", "buy", "limit", Decimal("0.006"), BID, post_only=True)
        assert bought.placed and resting.placed, (bought, resting)
        other_trader("sell", "0.007")  # 0.004 at the bid (the queue ahead of it), 0.003 through it
        first.safety.refresh_orders()
        assert first.store.get_order(resting.cl_ord_id).volume_executed == Decimal("0.003")
        wallet, fills = first.safety.balances(), fills_of(first)
        pnl = first.safety.risk.daily_realised_pnl()
    assert str(first.store.path).endswith("bot.dry-run.sqlite")
    sim.advance(1)
    other_trader("sell", "0.001")  # while no bot runs: at the bid, nothing ahead of it any more

    with Bot.build(Settings.from_env(env), clock=sim.clock) as second:
        report = second.start()  # catches up with the trades made while no bot ran
        order = second.store.get_order(resting.cl_ord_id)
        assert (order.status, order.volume_executed) == ("PARTIALLY_FILLED", Decimal("0.004"))
        assert fills_of(second) == fills + [("buy", BID, Decimal("0.001"), True)]
        [late] = [f for f in second.store.fills() if f.txid == order.txid and f.volume == Decimal("0.001")]
        assert second.safety.balances() == {"XXBT": wallet["XXBT"] + Decimal("0.001"),
                                             "ZEUR": wallet["ZEUR"] - late.cost - late.fee}
        assert second.safety.risk.daily_realised_pnl() == pnl
        assert report.daily_trades == 2 and report.open_orders == 1
        assert second.safety.submit_order("XBTEUR", "buy", "market", Decimal("0.001")).placed
        refused = second.safety.submit_order("XBTEUR", "buy", "market", Decimal("0.001"))
        assert "DAILY_TRADE_LIMIT" in refused.codes, refused


def test_a_dry_run_store_with_orders_but_no_saved_venue_is_refused(sim, tmp_path):
    """A store the first dry-run release wrote (orders, no venue state): a fresh wallet beside its old fills
    would be a rehearsal that never happened, so the start is refused with what to do."""
    from krakenbot.store import Store

    env = market_env(sim, "dry-run", str(tmp_path), STORE_PATH=str(tmp_path / "bot.sqlite"))
    with Bot.build(Settings.from_env(env), clock=sim.clock) as first:
        assert first.safety.submit_order("XBTEUR", "buy", "market", Decimal("0.001")).placed
    with Store(str(tmp_path / "bot.dry-run.sqlite")) as store:
        for key in store.meta_items("dry_run."):
            store.clear_meta(key)

    with pytest.raises(ValueError, match="start the rehearsal on a fresh store"):
        Bot.build(Settings.from_env(env), clock=sim.clock)


def negative(wallet: dict) -> dict:
    return {asset: amount for asset, amount in wallet.items() if amount < 0}


# -- the tape an order sees ------------------------------------------------------------------------------------------
def test_a_resting_limit_sees_only_the_trades_printed_after_it_was_placed(tmp_path):
    """Another trader walks the bids down before the bid exists (the pair has no open order then): live, the bid
    stays open; the dry run must not fill it from those earlier prints either."""
    def story(sim, bot, other_trader):
        assert bot.safety.submit_order("XBTEUR", "buy", "market", Decimal("0.001")).placed
        other_trader("sell", "0.02")  # walks the bids down to ~59,952, before the bid below exists
        resting = bot.safety.submit_order("XBTEUR", "buy", "limit", Decimal("0.003"), BID - 2 * STEP,
                                          post_only=True)
        assert resting.placed, resting
        bot.safety.refresh_orders()
        return fills_of(bot), bot.store.get_order(resting.cl_ord_id).status

    seen = in_both_modes(str(tmp_path), story)

    assert seen["live"][1] == "OPEN"
    assert seen["dry-run"] == seen["live"]


def test_after_a_crash_the_trades_made_before_the_dead_mans_switch_fired_fill_first(tmp_path):
    """The bot dies with a bid resting and the switch armed for 60 s; 10 s later a seller trades through the bid;
    the switch fires at 60 s. Live, the bid filled before the switch fired: the dry run's next process catches up
    on the trades up to the switch's time, then applies the switch."""
    seen = {}
    for mode in ("live", "dry-run"):
        folder = tmp_path / mode
        folder.mkdir()
        with KrakenSimulator(seed=42, clock=ManualClock()) as sim:
            sim.set_price("XBTEUR", "60000")
            sim.set_liquidity("XBTEUR", "0.004")
            other_trader = another_trader(sim)
            env = market_env(sim, mode, str(folder), STORE_PATH=str(folder / "bot.sqlite"),
                             DRY_RUN_WALLET="ZEUR=5000,XXBT=0", DEAD_MANS_SWITCH_SECONDS="60")
            first = Bot.build(Settings.from_env(env), clock=sim.clock, live_flag=mode == "live")
            first.start()
            resting = first.safety.submit_order("XBTEUR", "buy", "limit", Decimal("0.003"), BID, post_only=True)
            assert resting.placed, resting
            first.client.close()  # the process dies: no disarm, no further call
            first.store.close()
            sim.advance(10)
            other_trader("sell", "0.008")  # 0.004 ahead of it, then through it: fills its 0.003
            sim.advance(100)  # the switch fired at 60 s
            with Bot.build(Settings.from_env(env), clock=sim.clock, live_flag=mode == "live") as second:
                second.start()
                order = second.store.get_order(resting.cl_ord_id)
                seen[mode] = (order.status, order.volume_executed)

    assert seen["live"] == ("FILLED", Decimal("0.003"))
    assert seen["dry-run"] == seen["live"]


# -- the wallet never below zero -------------------------------------------------------------------------------------
def test_a_stop_loss_buy_triggered_in_a_gap_buys_what_the_wallet_pays_and_cancels_the_rest(sim, make_bot):
    """The stop holds 0.005 x its trigger price plus the fee; the market gaps far past it: it buys at the book's
    price what the wallet pays for, and the rest is cancelled ``Insufficient funds`` (README "Dry run")."""
    sim.set_liquidity("XBTEUR", "0.004")
    other_trader = another_trader(sim)
    bot = dry_bot(make_bot, DRY_RUN_WALLET="ZEUR=302", MAX_POSITION_PCT="100")
    stop = bot.safety.submit_order("XBTEUR", "buy", "stop-loss", Decimal("0.005"), Decimal("60010"))
    assert stop.placed, stop
    sim.set_price("XBTEUR", "66000")  # the market gaps up through the trigger
    other_trader("buy", "0.001")
    bot.safety.refresh_orders()

    venue = bot.client.venue
    assert negative(venue.wallet.balances) == {}, venue.wallet.balances
    [order] = venue.orders.values()
    assert (order.status, order.reason) == ("canceled", "Insufficient funds")
    assert Decimal("0.004") < order.vol_exec < Decimal("0.005")
    assert venue.wallet.balance("ZEUR") < Decimal("0.01")  # it spent what it had


def test_a_market_buy_is_checked_and_filled_on_one_read_of_the_book(sim, make_bot):
    """The market moves between the venue's reads (here as it reads the tape): the fill costs what was checked."""
    sim.set_liquidity("XBTEUR", "0.004")
    bot = dry_bot(make_bot, DRY_RUN_WALLET="ZEUR=245", MAX_POSITION_PCT="100", PRICE_COLLAR_PCT="20")
    sim.faults.on_arrival("Trades", lambda: sim.set_price("XBTEUR", "63000"))
    outcome = bot.safety.submit_order("XBTEUR", "buy", "market", Decimal("0.004"))

    assert negative(bot.client.venue.wallet.balances) == {}, (outcome, bot.client.venue.wallet.balances)


def test_the_funds_check_rounds_as_the_fills_do_so_a_market_buy_never_leaves_the_wallet_below_zero(sim, make_bot):
    """A wallet that pays the unrounded cost x (1 + fee) to the unit: each level's fee rounded half-up costs more.
    The check counts the fills as they will be booked: refused, or paid in full."""
    q = Decimal("0.0001")  # ZEUR's decimals (Assets)
    sim.set_liquidity("XBTEUR", "0.004")
    asks = dry_bot(make_bot, DRY_RUN_WALLET="ZEUR=100000").safety.order_book("XBTEUR", 500).asks
    volume, left, cost = Decimal("0.029"), Decimal("0.029"), ZERO
    for level in asks:
        take = min(left, level.volume)
        cost, left = cost + level.price * take, left - take
        if not left:
            break
    wallet = (cost * Decimal("1.004")).quantize(q, ROUND_CEILING)  # pays the unrounded check, to the unit
    bot = dry_bot(make_bot, DRY_RUN_WALLET=f"ZEUR={wallet}", MAX_POSITION_PCT="100", MAX_ORDER_EUR="5000")
    outcome = bot.safety.submit_order("XBTEUR", "buy", "market", volume)

    assert negative(bot.client.venue.wallet.balances) == {}, (outcome, bot.client.venue.wallet.balances)


# -- liquidity the dry run already took ------------------------------------------------------------------------------
def test_two_market_buys_in_a_row_never_take_the_same_offer_twice(tmp_path):
    """Kraken's book never shows the dry run's fills: the second buy must not take the 0.004 at the best ask that
    the first one took, as live's first buy took it."""
    def story(sim, bot, other_trader):
        for _ in range(2):
            assert bot.safety.submit_order("XBTEUR", "buy", "market", Decimal("0.004")).placed
        bot.safety.refresh_orders()
        return fills_of(bot)

    seen = in_both_modes(str(tmp_path), story)

    assert len({price for _, price, _, _ in seen["live"]}) == 2
    assert seen["dry-run"] == seen["live"]


def test_a_level_the_exchange_shows_refreshed_is_taken_whole_again(tmp_path):
    """After the first buy the market moves and its book is rebuilt (the level's timestamp is newer): the best
    ask is whole again, live and in the dry run."""
    def story(sim, bot, other_trader):
        assert bot.safety.submit_order("XBTEUR", "buy", "market", Decimal("0.004")).placed
        sim.advance(1)
        sim.set_price("XBTEUR", "60000")
        assert bot.safety.submit_order("XBTEUR", "buy", "market", Decimal("0.004")).placed
        bot.safety.refresh_orders()
        return fills_of(bot)

    seen = in_both_modes(str(tmp_path), story)

    assert len({price for _, price, _, _ in seen["live"]}) == 1
    assert seen["dry-run"] == seen["live"]


# -- a read failing inside the venue's AddOrder ----------------------------------------------------------------------
def test_a_market_order_is_refused_and_nothing_recorded_when_the_book_cannot_be_read(sim, make_bot):
    """Depth fails as the venue reads it for the order (after the wrapper's own look): refused like an exchange
    error, nothing placed; never a market order left open (it never rests on Kraken)."""
    sim.set_liquidity("XBTEUR", "0.004")
    bot = dry_bot(make_bot, DRY_RUN_WALLET="ZEUR=5000", MAX_POSITION_PCT="100")
    bot.safety.order_book("XBTEUR", 500)  # the wrapper's own look, cached
    sim.faults.on_arrival("Trades", lambda: sim.faults.inject("Depth", "http_status", status=503, times=10))
    outcome = bot.safety.submit_order("XBTEUR", "buy", "market", Decimal("0.004"))
    sim.faults.reset()
    sim.advance(60)
    bot.safety.refresh_orders()

    assert not outcome.placed, outcome
    assert bot.client.venue.orders == {}
    assert [o.status for o in bot.store.orders() if o.status == "OPEN"] == []


def test_a_stop_triggered_while_the_book_cannot_be_read_executes_at_the_next_look(sim, make_bot):
    """The print that triggers it arrives while Depth fails: the stop waits, triggered, and sells at the next call
    that can read the book (never left open for good, never triggered twice)."""
    sim.set_liquidity("XBTEUR", "0.004")
    other_trader = another_trader(sim)
    bot = dry_bot(make_bot, DRY_RUN_WALLET="ZEUR=0,XXBT=0.01")
    stop = bot.safety.submit_order("XBTEUR", "sell", "stop-loss", Decimal("0.005"), BID - 2 * STEP)
    assert stop.placed, stop
    other_trader("sell", "0.012")  # trades through the trigger
    sim.faults.inject("Depth", "http_status", status=503, times=10)
    bot.client.venue.call("OpenOrders", {})  # one look, the book unreadable
    [order] = bot.client.venue.orders.values()
    assert (order.status, order.triggered, order.vol_exec) == ("open", True, ZERO)

    sim.faults.reset()
    bot.safety.refresh_orders()

    assert (order.status, order.vol_exec) == ("closed", Decimal("0.005"))
    assert bot.store.get_order(stop.cl_ord_id).status == "FILLED"


# -- the venue's journal ---------------------------------------------------------------------------------------------
def test_a_journal_write_that_fails_is_made_by_the_next_save_and_no_fill_is_lost_across_a_restart(sim, tmp_path):
    """The write after a fill fails (the disk read-only for a moment): the next save writes it, and the next
    process restores the order filled, its fill once, and no hold."""
    sim.set_liquidity("XBTEUR", "0.004")
    other_trader = another_trader(sim)
    env = market_env(sim, "dry-run", str(tmp_path), STORE_PATH=str(tmp_path / "bot.sqlite"),
                     DRY_RUN_WALLET="ZEUR=5000,XXBT=0")
    with Bot.build(Settings.from_env(env), clock=sim.clock) as first:
        first.start()
        resting = first.safety.submit_order("XBTEUR", "buy", "limit", Decimal("0.003"), BID, post_only=True)
        assert resting.placed, resting
        other_trader("sell", "0.008")  # 0.004 ahead of it at the bid, then 0.004 more: fills its 0.003
        first.store._db.execute("PRAGMA query_only=ON")
        try:
            with pytest.raises(Exception):  # noqa: B017 - the failed write is the point
                first.client.venue.call("OpenOrders", {})  # fills it, then the journal write fails
        finally:
            first.store._db.execute("PRAGMA query_only=OFF")
        first.safety.refresh_orders()  # a later call saves fine
        assert first.client.venue.orders[resting.txid].status == "closed"
        fills = {t: f.volume for t, f in first.client.venue.fills.items()}

    with Bot.build(Settings.from_env(env), clock=sim.clock) as second:
        second.start()
        venue = second.client.venue
        order = venue.orders[resting.txid]
        assert (order.status, order.vol_exec) == ("closed", Decimal("0.003"))
        assert {t: f.volume for t, f in venue.fills.items()} == fills
        assert venue._held() == {}


# -- live books and dry-run books ------------------------------------------------------------------------------------
def test_run_mode_live_keeps_the_live_store_whatever_trading_mode_the_env_file_says(tmp_path, monkeypatch):
    """`krakenbot run --mode live --live` on an env file saying TRADING_MODE=dry-run (as the README's rehearsal
    sets it): the store follows the mode run, the live one; and `--mode dry-run` on a live env file the dry run's."""
    monkeypatch.chdir(tmp_path)
    home = tmp_path / "home"
    base = ("KRAKEN_API_KEY=abcdefghijklmnop\nKRAKEN_API_SECRET=c2VjcmV0\nKRAKEN_LIVE_TRADING=yes\n"
            "DRY_RUN_WALLET=ZEUR=1000\n")
    stores = {}
    for said in ("live", "dry-run"):
        env_file = tmp_path / f"{said}.env"
        env_file.write_text(base + f"TRADING_MODE={said}\n")
        env_file.chmod(0o600)
        for run in (["--mode", "live", "--live"], ["--mode", "dry-run"]):
            settings, _ = cli._settings(cli._parse(["--env-file", str(env_file), "--home", str(home), "run", *run]))
            stores[(said, run[1])] = settings.store_path

    assert {stores[("live", "live")], stores[("dry-run", "live")]} == {str(home / "krakenbot.sqlite")}, stores
    assert {stores[("live", "dry-run")], stores[("dry-run", "dry-run")]} == {str(home / "krakenbot.dry-run.sqlite")}


def test_a_live_bot_refuses_a_dry_run_store_even_unmarked_and_a_dry_run_refuses_the_live_store(sim, tmp_path):
    """The name says dry run (a fresh file no dry run has marked yet): live, canary and paper refuse it. The live
    bot marks its own store: a dry run pointed at it (renamed) refuses it, though it holds no order."""
    import shutil

    for mode in ("live", "canary", "paper"):
        env = market_env(sim, mode, str(tmp_path), STORE_PATH=str(tmp_path / f"{mode}.dry-run.sqlite"))
        with pytest.raises(ValueError, match="holds a dry run's books"):
            Bot.build(Settings.from_env(env), clock=sim.clock, live_flag=True)
    env = market_env(sim, "live", str(tmp_path), STORE_PATH=str(tmp_path / "bot.sqlite"))
    with Bot.build(Settings.from_env(env), clock=sim.clock, live_flag=True):
        pass
    shutil.copy(tmp_path / "bot.sqlite", tmp_path / "copy.dry-run.sqlite")

    env = market_env(sim, "dry-run", str(tmp_path), STORE_PATH=str(tmp_path / "copy.dry-run.sqlite"))
    with pytest.raises(ValueError, match="holds the exchange's books, not a dry run's"):
        Bot.build(Settings.from_env(env), clock=sim.clock)


def test_check_runs_beside_a_dry_run_on_its_store(sim, tmp_path, monkeypatch, capsys):
    """With TRADING_MODE=dry-run, `krakenbot check` opens the dry run's store (read-only mode: it orders
    nothing) and checks the connection."""
    home = tmp_path / "home"
    home.mkdir(mode=0o700)
    env = market_env(sim, "dry-run", str(tmp_path), KRAKENBOT_HOME=str(home), STORE_PATH="krakenbot.sqlite",
                     DRY_RUN_WALLET="ZEUR=1000")
    with Bot.build(Settings.from_env(env), clock=sim.clock) as bot:
        assert bot.safety.submit_order("XBTEUR", "buy", "market", Decimal("0.001")).placed
    env_file = tmp_path / "dry.env"
    env_file.write_text("".join(f"{k}={v}\n" for k, v in env.items()))
    env_file.chmod(0o600)
    monkeypatch.chdir(tmp_path)

    code = cli.main(["--env-file", str(env_file), "check"])

    out = capsys.readouterr()
    assert code == 0, out.err
    assert "auth       ok" in out.out
