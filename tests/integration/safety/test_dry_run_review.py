"""Review of the dry run (issue 21): each test shows a way the dry run's venue does what Kraken never does,
or lets live and dry-run books meet. They fail on the reviewed code on purpose (review2 reports them)."""
from __future__ import annotations

from decimal import ROUND_CEILING, Decimal

from krakenbot import cli
from krakenbot.bot import Bot
from krakenbot.config import Settings

from tests.integration.safety.test_dry_run_against_sim import (BID, STEP, another_trader, fills_of, in_both_modes,
                                                                market_env)

ZERO = Decimal(0)


def dry_bot(sim, tmp, **env):
    return Bot.build(Settings.from_env(market_env(sim, "dry-run", str(tmp), **env)), clock=sim.clock,
                     store_path=":memory:")


def negative(wallet: dict) -> dict:
    return {asset: amount for asset, amount in wallet.items() if amount < 0}


# -- fills from trades the order never saw ------------------------------------------------------------------------
def test_a_resting_limit_is_not_filled_by_trades_printed_before_it_was_placed(tmp_path):
    """The venue reads the tape from the cursor it set at the pair's first order, and moves it only while the
    pair has open orders: a bid placed later is filled by prints made before it existed (live: still open)."""
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


# -- the wallet going negative -------------------------------------------------------------------------------------
def test_a_triggered_stop_loss_buy_never_spends_more_than_the_wallet_holds(sim, tmp_path):
    """A stop-loss buy holds volume x trigger price + fee; when it fires in a gap it buys at the book's price
    with no funds check: the wallet goes negative, which Kraken never allows."""
    sim.set_liquidity("XBTEUR", "0.004")
    other_trader = another_trader(sim)
    with dry_bot(sim, tmp_path, DRY_RUN_WALLET="ZEUR=302", MAX_POSITION_PCT="100") as bot:
        stop = bot.safety.submit_order("XBTEUR", "buy", "stop-loss", Decimal("0.005"), Decimal("60010"))
        assert stop.placed, stop
        sim.set_price("XBTEUR", "66000")  # the market gaps up through the trigger
        other_trader("buy", "0.001")
        bot.safety.refresh_orders()

        assert negative(bot.client.venue.wallet.balances) == {}, bot.client.venue.wallet.balances


def test_a_market_buy_is_paid_at_the_book_its_funds_were_checked_on(sim, tmp_path):
    """The venue reads Depth once for the funds check and again for the fill; the market moving in between
    (here while the venue reads the tape for its cursor) makes the fill cost more than was checked."""
    sim.set_liquidity("XBTEUR", "0.004")
    with dry_bot(sim, tmp_path, DRY_RUN_WALLET="ZEUR=245", MAX_POSITION_PCT="100", PRICE_COLLAR_PCT="20") as bot:
        sim.faults.on_arrival("Trades", lambda: sim.set_price("XBTEUR", "63000"))
        outcome = bot.safety.submit_order("XBTEUR", "buy", "market", Decimal("0.004"))

        assert negative(bot.client.venue.wallet.balances) == {}, (outcome, bot.client.venue.wallet.balances)


def test_a_market_buy_the_funds_check_passed_never_leaves_the_wallet_below_zero_after_rounding(sim, tmp_path):
    """The funds check compares the wallet with the unrounded cost x (1 + fee); each level's fee is then rounded
    half-up to the quote's decimals, so a wallet that passes the check can end below zero."""
    q = Decimal("0.0001")  # ZEUR's decimals (Assets)
    sim.set_liquidity("XBTEUR", "0.004")
    with dry_bot(sim, tmp_path, DRY_RUN_WALLET="ZEUR=100000", MAX_POSITION_PCT="100") as probe:
        asks = probe.safety.order_book("XBTEUR", 500).asks
    volume, left, cost = Decimal("0.029"), Decimal("0.029"), ZERO
    for level in asks:
        take = min(left, level.volume)
        cost, left = cost + level.price * take, left - take
        if not left:
            break
    wallet = (cost * Decimal("1.004")).quantize(q, ROUND_CEILING)  # pays the check, to the unit
    with dry_bot(sim, tmp_path, DRY_RUN_WALLET=f"ZEUR={wallet}", MAX_POSITION_PCT="100",
                 MAX_ORDER_EUR="5000") as bot:
        outcome = bot.safety.submit_order("XBTEUR", "buy", "market", volume)

        assert negative(bot.client.venue.wallet.balances) == {}, (outcome, bot.client.venue.wallet.balances)


# -- liquidity the dry run already took ----------------------------------------------------------------------------
def test_two_market_buys_in_a_row_do_not_both_take_the_same_offer(tmp_path):
    """The venue walks the exchange's book as shown, which its own fills never depleted: the second buy takes
    the 0.004 at the best ask again, where live's first buy had taken it (README: market orders agree to the
    unit)."""
    def story(sim, bot, other_trader):
        for _ in range(2):
            assert bot.safety.submit_order("XBTEUR", "buy", "market", Decimal("0.004")).placed
        bot.safety.refresh_orders()
        return fills_of(bot)

    seen = in_both_modes(str(tmp_path), story)

    assert len({price for _, price, _, _ in seen["live"]}) == 2
    assert seen["dry-run"] == seen["live"]


# -- a read failing inside the venue's AddOrder --------------------------------------------------------------------
def test_a_market_order_is_never_left_resting_when_the_book_cannot_be_read(sim, tmp_path):
    """The venue registers the order, then reads Depth to fill it; a Depth outage there leaves a market order
    open for good (it never rests on Kraken), holding its place under the open-order cap."""
    sim.set_liquidity("XBTEUR", "0.004")
    with dry_bot(sim, tmp_path, DRY_RUN_WALLET="ZEUR=5000", MAX_POSITION_PCT="100") as bot:
        bot.safety.order_book("XBTEUR", 500)  # the wrapper's own look, cached
        sim.faults.on_arrival("Trades", lambda: sim.faults.inject("Depth", "http_status", status=503, times=10))
        bot.safety.submit_order("XBTEUR", "buy", "market", Decimal("0.004"))
        sim.faults.reset()
        sim.advance(60)
        bot.safety.refresh_orders()

        resting = [(o.txid, o.ordertype) for o in bot.client.venue.orders.values()
                   if o.status == "open" and o.ordertype == "market"]
        assert resting == []
        assert [o.status for o in bot.store.orders() if o.status == "OPEN"] == []


# -- the venue's journal -------------------------------------------------------------------------------------------
def test_a_journal_write_that_fails_once_loses_no_fill_across_a_restart(sim, tmp_path):
    """``_save`` forgets the closed orders and new fills before it writes them: when that write fails (a disk
    turned read-only for a moment), later saves never write them. The next process restores the filled order
    as open with nothing executed, holds its funds again, and has lost its fill."""
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
            first.client.venue.call("OpenOrders", {})  # fills it, then the journal write fails
        except Exception:  # noqa: BLE001 - the failed write is the point
            pass
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


# -- live books and dry-run books ----------------------------------------------------------------------------------
def test_run_mode_live_with_trading_mode_dry_run_in_the_env_file_keeps_the_live_store(tmp_path, monkeypatch):
    """`krakenbot run --mode live --live` on an env file that says TRADING_MODE=dry-run (as the README's
    rehearsal sets it): the settings keep the dry run's store path, so live orders and fills go into
    krakenbot.dry-run.sqlite (a fresh one is not refused), where `--dry-run` history and the next dry run find
    them, and the real live store never sees them."""
    monkeypatch.chdir(tmp_path)
    home = tmp_path / "home"
    base = ("KRAKEN_API_KEY=abcdefghijklmnop\nKRAKEN_API_SECRET=c2VjcmV0\nKRAKEN_LIVE_TRADING=yes\n"
            "DRY_RUN_WALLET=ZEUR=1000\n")
    stores = {}
    for mode in ("live", "dry-run"):
        env_file = tmp_path / f"{mode}.env"
        env_file.write_text(base + f"TRADING_MODE={mode}\n")
        env_file.chmod(0o600)
        settings, _ = cli._settings(cli._parse(["--env-file", str(env_file), "--home", str(home),
                                                "run", "--mode", "live", "--live"]))
        stores[mode] = settings.store_path

    assert stores["dry-run"] == stores["live"], stores



# -- the dead man's switch after a crash ---------------------------------------------------------------------------
def test_after_a_crash_the_dead_mans_switch_cancels_only_after_the_trades_made_before_it_fired(tmp_path):
    """The bot dies with a bid resting and the switch armed for 60 s; 10 s later a seller trades through the
    bid. Live: the bid filled then, before the switch fired. The dry run's next process cancels everything
    first (``catch_up``: the switch, then the tape), so the fill live had is lost."""
    from krakensim import KrakenSimulator
    from krakensim.clock import ManualClock

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
