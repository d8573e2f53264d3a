"""Dry run against the simulator over HTTP: orders fill locally against the exchange's live
market, and no order-entry or cancel call ever reaches the exchange (its access log proves it)."""
from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

import pytest

from krakenbot.bot import Bot
from krakenbot.client import endpoints as table
from krakenbot.config import Settings
from krakensim import KrakenSimulator
from krakensim.clock import ManualClock

# Every call that enters, changes or cancels an order at the exchange.
ORDER_CALLS = table.names(effect=table.Effect.PLACE) | table.names(effect=table.Effect.CANCEL)
WALLET = "ZEUR=5000,XXBT=0"


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
