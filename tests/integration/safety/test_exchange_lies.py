"""An exchange answer that contradicts what happened (issue #20, finding 6), over real HTTP.

Three lies, each injected by the simulator after it processed the request for real:
- a replayed AddOrder answer: the txid of the order before, for a different order;
- a txid the exchange never issued;
- ``EOrder:Insufficient funds`` for an order that is in fact on the book.

The rule each test holds the bot to: the contradiction ends as a recorded discrepancy, the
affected pair halted (new orders on it refused with PAIR_HALTED until the operator clears it),
the bot's store and its other pairs working, and the bot's record following the exchange.
"""
from __future__ import annotations

from decimal import Decimal

import pytest

from krakenbot.bot import Bot
from krakenbot.config import Settings
from krakensim import KrakenSimulator
from krakensim.clock import ManualClock

XBT, ETH = "XBTEUR", "ETHEUR"


@pytest.fixture()
def world(tmp_path):
    with KrakenSimulator(seed=5, clock=ManualClock()) as sim:
        sim.set_price(XBT, "60000")
        sim.set_price(ETH, "3000")
        env = {"KRAKEN_API_KEY": sim.api_key, "KRAKEN_API_SECRET": sim.api_secret, "API_DOMAIN": sim.url,
               "TRADING_MODE": "live", "KRAKEN_LIVE_TRADING": "yes", "KILL_SWITCH_FILE": str(tmp_path / "KILL"),
               "MAX_ORDER_EUR": "1000", "TOTAL_BTC": "0.1", "PAIRS": f"{XBT},{ETH}"}
        settings = Settings.from_env(env)
        store = str(tmp_path / "bot.sqlite")

        def build() -> Bot:
            bot = Bot.build(settings, clock=sim.clock, store_path=store, live_flag=True)
            bot.safety.recover()
            return bot

        bot = build()
        try:
            yield sim, bot, build
        finally:
            bot.close()


def _buy(bot: Bot, pair: str = XBT, price: str = "59000", volume: str = "0.001"):
    if pair == ETH:
        price, volume = "2950", "0.02"
    return bot.safety.submit_order(pair, "buy", "limit", Decimal(volume), Decimal(price))


def _exchange_txid(sim: KrakenSimulator, cl_ord_id: str) -> str:
    [txid] = [o["txid"] for o in sim.orders() if o.get("cl_ord_id") == cl_ord_id]
    return txid


def _contradictions(bot: Bot) -> list[dict]:
    return bot.store.audit_rows("exchange_contradiction")


def _assert_pair_halted_rest_working(sim: KrakenSimulator, bot: Bot) -> None:
    refused = _buy(bot)
    assert not refused.placed and refused.codes == ["PAIR_HALTED"], refused
    assert "XXBTZEUR" in bot.safety.status()["halted_pairs"]
    other = _buy(bot, ETH)  # the other pair trades on, and the store records it
    assert other.placed, other
    assert bot.store.get_order(other.cl_ord_id).txid == _exchange_txid(sim, other.cl_ord_id)
    bot.safety.resume_pair(XBT, "operator checked the book")
    assert _buy(bot).placed  # cleared by the operator: the pair trades again


def test_a_replayed_addorder_answer_becomes_a_discrepancy_and_halts_the_pair(world):
    sim, bot, _ = world
    first = _buy(bot)
    assert first.placed
    sim.faults.inject("AddOrder", "replayed_answer")  # the next answer names the first order's txid

    second = _buy(bot, price="59100")  # before the fix: sqlite3.IntegrityError escaped here

    real = _exchange_txid(sim, second.cl_ord_id)
    assert second.placed and second.txid == real, second  # the bot follows the exchange, not the answer
    assert bot.store.get_order(first.cl_ord_id).txid == first.txid
    [row] = _contradictions(bot)
    assert row["detail"]["kind"] == "txid_of_another_order" and row["detail"]["pair"] == "XXBTZEUR"
    _assert_pair_halted_rest_working(sim, bot)


def test_a_txid_the_exchange_never_issued_does_not_stall_refresh_reconcile_or_restart(world):
    sim, bot, build = world
    sim.faults.inject("AddOrder", "phantom_txid")
    lied = _buy(bot)
    assert lied.txid.startswith("OPHANT")  # the bot cannot know yet: the answer looked fine
    kept = _buy(bot, ETH)

    bot.safety.refresh_orders()  # before the fix: EOrder:Invalid order for the whole batch, every time

    assert bot.store.get_order(lied.cl_ord_id).txid == _exchange_txid(sim, lied.cl_ord_id)
    assert bot.store.get_order(kept.cl_ord_id).status == "OPEN"
    [row] = _contradictions(bot)
    assert row["detail"]["kind"] == "txid_unknown_at_exchange"
    bot.safety.reconcile()
    bot.close()
    restarted = build()  # start-up recovery works too
    try:
        _assert_pair_halted_rest_working(sim, restarted)
    finally:
        restarted.close()


def test_a_reconcile_with_a_phantom_txid_reports_it_instead_of_failing(world):
    sim, bot, _ = world
    sim.faults.inject("AddOrder", "phantom_txid")
    lied = _buy(bot)
    report = bot.safety.reconcile()  # before the fix: UnknownOrderError out of QueryOrders
    assert any(d.kind == "order_not_on_exchange" and d.key == lied.cl_ord_id for d in report.discrepancies)


def test_insufficient_funds_for_an_order_that_was_placed_is_tracked_and_halts_the_pair(world):
    sim, bot, _ = world
    sim.faults.inject("AddOrder", "error_but_processed", error="EOrder:Insufficient funds")
    trades_before = bot.safety.risk.daily_trades()

    outcome = _buy(bot)

    [on_book] = [o for o in sim.orders() if o["status"] == "open"]
    assert outcome.placed and outcome.txid == on_book["txid"], outcome  # before the fix: REJECTED, no txid
    record = bot.store.get_order(on_book["cl_ord_id"])
    assert record.status == "OPEN" and record.txid == on_book["txid"]
    assert bot.safety.risk.daily_trades() == trades_before + 1  # the daily cap counts it
    [row] = _contradictions(bot)
    assert row["detail"]["kind"] == "refused_but_placed"
    _assert_pair_halted_rest_working(sim, bot)


def test_a_true_refusal_is_still_a_refusal_and_halts_nothing(world):
    sim, bot, _ = world
    sim.faults.inject("AddOrder", "error", error="EOrder:Insufficient funds")  # not processed: true
    outcome = _buy(bot)
    assert not outcome.placed and outcome.status == "REJECTED"
    assert not _contradictions(bot) and bot.safety.status()["halted_pairs"] == {}
    assert _buy(bot).placed


@pytest.fixture()
def two_bots(tmp_path):
    """Two bots on one account (BOT_IDs aaaa and bbbb), each with its own store."""
    with KrakenSimulator(seed=5, clock=ManualClock()) as sim:
        sim.set_price(XBT, "60000")
        sim.set_price(ETH, "3000")

        def build(bot_id: str) -> Bot:
            env = {"KRAKEN_API_KEY": sim.api_key, "KRAKEN_API_SECRET": sim.api_secret, "API_DOMAIN": sim.url,
                   "TRADING_MODE": "live", "KRAKEN_LIVE_TRADING": "yes", "KILL_SWITCH_FILE": str(tmp_path / "KILL"),
                   "MAX_ORDER_EUR": "1000", "TOTAL_BTC": "0.1", "PAIRS": f"{XBT},{ETH}", "BOT_ID": bot_id}
            return Bot.build(Settings.from_env(env), clock=sim.clock, store_path=str(tmp_path / f"{bot_id}.sqlite"),
                             live_flag=True)

        a, b = build("aaaa"), build("bbbb")
        try:
            yield sim, a, b
        finally:
            a.close()
            b.close()


def _replayed_onto_the_other_bot(sim: KrakenSimulator, a: Bot, b: Bot):
    """A places; B's AddOrder answer is a replay of A's: B's store has never seen that txid."""
    mine = _buy(a)
    sim.faults.inject("AddOrder", "replayed_answer")
    theirs = _buy(b, price="59100")
    assert theirs.txid == mine.txid  # the lie looks like an ordinary acknowledgement to B
    return mine, theirs


def test_a_replayed_answer_naming_an_order_the_store_does_not_know_is_found_out_at_refresh(two_bots):
    sim, a, b = two_bots
    mine, theirs = _replayed_onto_the_other_bot(sim, a, b)
    a.safety.cancel_order(mine.cl_ord_id)  # A's order ends; B's goes on resting

    b.safety.refresh_orders()  # before the fix: B's order taken for CANCELED (A's), no halt

    record = b.store.get_order(theirs.cl_ord_id)
    assert (record.status, record.txid) == ("OPEN", _exchange_txid(sim, theirs.cl_ord_id)), record
    [row] = _contradictions(b)
    assert row["detail"]["kind"] == "txid_of_another_order" and row["detail"]["answer"] == mine.txid
    assert [o.cl_ord_id for o in b.safety.open_orders()] == [theirs.cl_ord_id]
    assert not any(d.key == record.txid for d in b.safety.reconcile().discrepancies)
    assert a.store.get_order(mine.cl_ord_id).status == "CANCELED" and not _contradictions(a)
    _assert_pair_halted_rest_working(sim, b)


def test_a_reconcile_names_a_record_that_carries_another_orders_txid(two_bots):
    sim, a, b = two_bots
    _, theirs = _replayed_onto_the_other_bot(sim, a, b)

    report = b.safety.reconcile()  # changes nothing; before the fix: A's order compared as B's, no word of it

    assert any(d.kind == "order_mismatch" and d.key == f"{theirs.cl_ord_id}.cl_ord_id" for d in report.discrepancies)


def test_a_market_order_read_back_as_another_orders_halts_the_pair_at_once(two_bots):
    sim, a, b = two_bots
    mine = _buy(a)
    sim.faults.inject("AddOrder", "replayed_answer")

    theirs = b.safety.submit_order(XBT, "buy", "market", Decimal("0.001"))  # read back at once (QueryOrders)

    real = _exchange_txid(sim, theirs.cl_ord_id)
    assert theirs.txid == real != mine.txid, theirs  # before the fix: A's txid, A's order's state
    assert [r["detail"]["kind"] for r in _contradictions(b)] == ["txid_of_another_order"]
    assert "XXBTZEUR" in b.safety.status()["halted_pairs"]


def test_a_replayed_answer_naming_an_order_placed_by_hand_is_found_out_at_refresh(world):
    """Review of issue 20: an answer about an order without a client id was taken as the bot's own
    (a person's order, placed by hand, named by a replayed AddOrder answer). Kraken lists the client id
    of every order given one, and the bot gives one to every order: none means someone else's."""
    import requests

    from tools.spec_support.raw_client import signed_post

    sim, bot, _ = world
    key, secret = sim.create_key(account="demo")
    by_hand = signed_post(requests, sim.url, key, secret, "AddOrder", {
        "pair": "XXBTZEUR", "type": "buy", "ordertype": "limit", "volume": "0.001", "price": "59000"})
    hand_txid = by_hand["result"]["txid"][0]
    sim.faults.inject("AddOrder", "replayed_answer")
    mine = _buy(bot, price="58900")
    assert mine.txid == hand_txid  # the lie looks like an ordinary acknowledgement
    signed_post(requests, sim.url, key, secret, "CancelOrder", {"txid": hand_txid})  # the person cancels theirs

    bot.safety.refresh_orders()

    record = bot.store.get_order(mine.cl_ord_id)
    assert (record.status, record.txid) == ("OPEN", _exchange_txid(sim, mine.cl_ord_id)), record
    [row] = _contradictions(bot)
    assert row["detail"]["kind"] == "txid_of_another_order"
    assert [o.cl_ord_id for o in bot.safety.open_orders()] == [mine.cl_ord_id]
    _assert_pair_halted_rest_working(sim, bot)
