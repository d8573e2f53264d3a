"""A market with other traders, over loopback HTTP with unmodified krakenex: queues in time priority,
two accounts trading with each other, self-trade prevention, seeded background flow, and a quiet
default. The simulator's clock is manual: the flow moves only when a test advances it."""
from __future__ import annotations

import http.client
import json
from decimal import Decimal

import krakenex
import pytest

from krakensim import KrakenSimulator
from krakensim.clock import ManualClock
from krakensim.pairs import PAIRS

D = Decimal
PAIR = "XBTUSD"
LOT = D("0.00000001")
FUNDS = {"ZUSD": "100000", "XXBT": "10"}


def client(sim: KrakenSimulator, key: str, secret: str) -> krakenex.API:
    api = krakenex.API(key, secret)
    api.uri = sim.url
    nonces = iter(range(1, 1 << 40))
    api._nonce = lambda: next(nonces)  # its millisecond clock repeats within a millisecond
    return api


def ok(api: krakenex.API, method: str, **params) -> dict:
    answer = api.query_private(method, params)
    assert answer["error"] == [], answer
    return answer["result"]


def place(api: krakenex.API, side: str, volume: str, price: str | None = None, **extra) -> str:
    params = {"pair": PAIR, "type": side, "volume": volume, "ordertype": "limit" if price else "market", **extra}
    if price:
        params["price"] = price
    return ok(api, "AddOrder", **params)["txid"][0]


def query(api: krakenex.API, txid: str) -> dict:
    return ok(api, "QueryOrders", txid=txid, trades="true")[txid]


def control(sim: KrakenSimulator, endpoint: str, body: dict) -> tuple[int, dict]:
    conn = http.client.HTTPConnection(sim.host, sim.port, timeout=5)
    try:
        conn.request("POST", f"/_sim/{endpoint}", json.dumps(body), {"Content-Type": "application/json"})
        resp = conn.getresponse()
        return resp.status, json.loads(resp.read())
    finally:
        conn.close()


@pytest.fixture
def sim():
    with KrakenSimulator(seed=11, clock=ManualClock(), balances=FUNDS) as s:
        yield s


@pytest.fixture
def alice(sim):
    return client(sim, sim.api_key, sim.api_secret)


@pytest.fixture
def bob(sim):
    return client(sim, *sim.create_key(account="bob", balances=FUNDS))


def inside(sim: KrakenSimulator) -> str:
    """The mid: one tick inside both synthetic touches, so an order there is alone at the front."""
    return str(sim.exchange.mid(PAIR))


# ------------------------------------------------------------------------ the queue
def test_two_accounts_at_one_price_fill_in_time_order_as_flow_arrives(sim, alice, bob):
    price = inside(sim)
    volume = str(PAIRS["XXBTZUSD"].level_volume)  # several of the flow's market orders to fill
    first = place(alice, "buy", volume, price)
    second = place(bob, "buy", volume, price)
    status, answer = control(sim, "flow", {"rate": 5})
    assert status == 200 and answer["rate"] == 5.0
    partial_seen = False
    for _ in range(600):
        sim.advance(1)
        a, b = query(alice, first), query(bob, second)
        if a["status"] == "open" and D(a["vol_exec"]) > 0:
            partial_seen = True
            assert "partial" in a["misc"]
        if D(b["vol_exec"]) > 0:
            assert a["status"] == "closed", "bob's later order filled while alice's was still ahead of it"
        if b["status"] == "closed":
            break
    assert b["status"] == "closed" and partial_seen  # the flow's orders are smaller than alice's: partial fills
    a_trades = ok(alice, "TradesHistory")["trades"].values()
    b_trades = ok(bob, "TradesHistory")["trades"].values()
    assert all(t["maker"] is True and t["price"] == f"{D(price):.5f}" for t in [*a_trades, *b_trades])
    assert max(t["time"] for t in a_trades) <= min(t["time"] for t in b_trades)
    assert sum(D(t["vol"]) for t in a_trades) == D(volume) == sum(D(t["vol"]) for t in b_trades)


def test_an_order_joining_a_synthetic_level_waits_behind_the_depth_already_there(sim, alice):
    price, ahead = (D(x) for x in alice.query_public("Depth", {"pair": PAIR, "count": 1})
                    ["result"]["XXBTZUSD"]["bids"][0][:2])
    txid = place(alice, "buy", "0.001", str(price))
    sold = D(0)
    carol = client(sim, *sim.create_key(account="carol", balances=FUNDS))
    while sold + D("0.1") < ahead:  # another account's market sells take the depth ahead first
        place(carol, "sell", "0.1")
        sold += D("0.1")
        assert query(alice, txid)["vol_exec"] == "0.00000000"
    place(carol, "sell", str(ahead - sold + D("0.0004")))
    assert query(alice, txid)["vol_exec"] == "0.00040000"


# ------------------------------------------------------------------------ two accounts trade
def test_two_accounts_trade_with_each_other_with_maker_and_taker_fees_on_each_side(sim, alice, bob):
    price = D(inside(sim))
    maker_txid = place(alice, "sell", "0.2", str(price))
    assert sim.holds() == {"XXBT": D("0.2")}
    before_a, before_b = sim.balances(), sim.balances("bob")
    taker_txid = place(bob, "buy", "0.05", str(price + 500))  # through alice's ask: takes it first, at her price
    maker, taker = query(alice, maker_txid), query(bob, taker_txid)
    assert maker["status"] == "open" and maker["vol_exec"] == "0.05000000" and taker["status"] == "closed"
    (mt,) = ok(alice, "QueryTrades", txid=maker["trades"][0]).values()
    (tt,) = ok(bob, "QueryTrades", txid=taker["trades"][0]).values()
    cost = price * D("0.05")
    assert (mt["type"], mt["maker"], D(mt["price"]), D(mt["cost"])) == ("sell", True, price, cost)
    assert (tt["type"], tt["maker"], D(tt["price"]), D(tt["cost"])) == ("buy", False, price, cost)
    assert D(mt["fee"]) == (cost * D("0.0025")).quantize(D("0.0001"))  # maker 0.25 %
    assert D(tt["fee"]) == (cost * D("0.0040")).quantize(D("0.0001"))  # taker 0.40 %
    after_a, after_b = sim.balances(), sim.balances("bob")
    assert after_a["ZUSD"] - before_a["ZUSD"] == cost - D(mt["fee"])
    assert after_a["XXBT"] - before_a["XXBT"] == D("-0.05")
    assert after_b["ZUSD"] - before_b["ZUSD"] == -(cost + D(tt["fee"]))
    assert after_b["XXBT"] - before_b["XXBT"] == D("0.05")
    assert sim.holds() == {"XXBT": D("0.15")} and sim.holds("bob") == {}
    public = sim.public_trades(PAIR, sim.clock.time(), sim.clock.time() + 1)
    assert [(p["price"], p["volume"], p["side"], p["trade_id"]) for p in public] == \
        [(price, D("0.05"), "b", tt["trade_id"])] and mt["trade_id"] == tt["trade_id"]


# ------------------------------------------------------------------------ self-trade prevention
@pytest.mark.parametrize("stptype, incoming, resting", [
    (None, "canceled", "open"),  # cancel-newest is the default
    ("cancel-newest", "canceled", "open"),
    ("cancel-oldest", "open", "canceled"),
    ("cancel-both", "canceled", "canceled"),
])
def test_self_trade_prevention_as_kraken_documents_it(sim, alice, bob, stptype, incoming, resting):
    price = inside(sim)
    ahead = place(bob, "buy", "0.01", price)  # another account's order first in the queue: that one trades
    own = place(alice, "buy", "0.03", price)
    extra = {"stptype": stptype} if stptype else {}
    txid = place(alice, "sell", "0.05", price, **extra)
    new, old = query(alice, txid), query(alice, own)
    assert (new["status"], old["status"]) == (incoming, resting)
    assert new["vol_exec"] == "0.01000000" and old["vol_exec"] == "0.00000000"
    assert query(bob, ahead)["status"] == "closed"
    assert all(o["reason"] == "Cannot trade with self" for o in (new, old) if o["status"] == "canceled")
    assert [t["ordertxid"] for t in ok(alice, "TradesHistory")["trades"].values()] == [txid]


def test_a_market_order_meeting_only_its_own_order_is_cancelled_untraded(sim, alice):
    own = place(alice, "buy", "0.03", inside(sim))
    txid = place(alice, "sell", "0.01")
    o = query(alice, txid)
    assert (o["status"], o["reason"], o["vol_exec"]) == ("canceled", "Cannot trade with self", "0.00000000")
    assert query(alice, own)["status"] == "open" and ok(alice, "TradesHistory")["count"] == 0


def test_an_unknown_stptype_is_refused(alice):
    answer = alice.query_private("AddOrder", {"pair": PAIR, "type": "buy", "ordertype": "market", "volume": "0.01",
                                              "stptype": "cancel-all"})
    assert answer["error"] == ["EGeneral:Invalid arguments:stptype"]


# ------------------------------------------------------------------------ seeded flow
def _run(seed: int) -> tuple[list, list]:
    with KrakenSimulator(seed=seed, clock=ManualClock(), balances=FUNDS, flow_rate=3, volatility="0.0002",
                         rate_limits=False) as s:
        api = client(s, s.api_key, s.api_secret)
        start = s.clock.time()
        place(api, "buy", "0.3", str(s.exchange.mid(PAIR) - 20))
        place(api, "sell", "0.3", str(s.exchange.mid(PAIR) + 20))
        for _ in range(120):
            s.advance(1)
            ok(api, "Balance")
        public = [(t["price"], t["volume"], t["side"], t["time"]) for t in s.public_trades(PAIR, start, s.clock.time())]
        own = [(t["txid"], t["price"], t["vol"], t["time"]) for t in s.trades()]
        return public, own


def test_the_same_seed_gives_the_same_trades():
    public, own = _run(5)
    assert len(public) > 100 and own  # the flow traded, and reached the account's orders
    assert _run(5) == (public, own)
    assert _run(6)[0] != public


def test_the_default_is_a_quiet_book(sim, alice):
    depth = sim.exchange.handle_public("Depth", {"pair": PAIR, "count": "10"})
    start = sim.clock.time()
    txid = place(alice, "buy", "0.01", inside(sim))
    sim.advance(600)
    assert sim.public_trades(PAIR, start, sim.clock.time()) == []
    assert query(alice, txid)["vol_exec"] == "0.00000000"
    ok(alice, "CancelOrder", txid=txid)
    assert sim.exchange.handle_public("Depth", {"pair": PAIR, "count": "10"}) == depth
    assert sim.state()["flow"] == {"rate": 0.0, "volatility": "0"}


def test_set_price_and_shock_still_move_the_market_under_flow(sim, alice):
    sim.set_flow(rate=4)
    mid = sim.exchange.mid(PAIR)
    txid = place(alice, "sell", "0.01", str(mid + 300))
    sim.advance(5)
    sim.set_price(PAIR, mid + 400)  # through the resting sell: it fills as maker at its own price
    o = query(alice, txid)
    assert o["status"] == "closed" and D(o["price"]) == mid + 300
    assert sim.exchange.mid(PAIR) == mid + 400
    sim.shock(PAIR, "-10")
    assert sim.exchange.mid(PAIR) == ((mid + 400) * D("0.9")).quantize(D("0.1"))
    shocked = sim.clock.time()
    sim.advance(30)  # the flow goes on around the new price
    recent = sim.public_trades(PAIR, shocked + 0.001, sim.clock.time())
    assert recent and all(abs(t["price"] - sim.exchange.mid(PAIR)) < 100 for t in recent)


@pytest.mark.parametrize("body", [{"rate": -1}, {"rate": "fast"}, {"rate": True}, {"volatility": "-0.1"}, {},
                                  {"speed": 1}])
def test_bad_flow_settings_are_one_clear_error(sim, body):
    status, answer = control(sim, "flow", body)
    assert status == 400 and len(answer["error"]) == 1 and "\n" not in answer["error"][0]
    assert sim.state()["flow"]["rate"] == 0.0


def test_a_stop_triggers_at_the_flow_trade_that_reaches_it(sim, alice):
    sim.set_flow(rate=5)
    below = D(inside(sim)) - D("0.1")  # the bid touch: the flow's market sells print there
    txid = ok(alice, "AddOrder", pair=PAIR, type="sell", ordertype="stop-loss", price=str(below),
              volume="0.01")["txid"][0]
    for _ in range(60):
        sim.advance(1)
        if query(alice, txid)["status"] == "closed":
            break
    (fill,) = ok(alice, "TradesHistory")["trades"].values()
    reached = [t for t in sim.public_trades(PAIR, sim.clock.time() - 60, sim.clock.time()) if t["price"] <= below]
    assert fill["time"] == reached[0]["time"] and fill["time"] % 1 != 0  # then, not at the next whole second


def test_a_stop_triggers_at_another_accounts_trade_that_reaches_it(sim, alice):
    """Not only the flow's trades: a market sell by another account printing at the stop triggers it at once."""
    bids = alice.query_public("Depth", {"pair": PAIR, "count": 2})["result"]["XXBTZUSD"]["bids"]
    stop = D(bids[1][0])  # the second bid level
    txid = ok(alice, "AddOrder", pair=PAIR, type="sell", ordertype="stop-loss", price=str(stop),
              volume="0.01")["txid"][0]
    carol = client(sim, *sim.create_key(account="carol", balances=FUNDS))
    place(carol, "sell", str(D(bids[0][1]) + D(bids[1][1]) / 2))  # through the first level into the second
    now = sim.clock.time()
    assert min(t["price"] for t in sim.public_trades(PAIR, now - 1, now + 1)) <= stop  # the tape reached it
    assert query(alice, txid)["status"] == "closed", "the stop did not trigger on a trade at its price"


def test_an_amend_keeps_queue_priority_when_smaller_and_loses_it_when_larger(sim, alice, bob):
    price = inside(sim)
    first, second = place(alice, "buy", "0.02", price), place(bob, "buy", "0.02", price)
    carol = client(sim, *sim.create_key(account="carol", balances=FUNDS))
    ok(alice, "AmendOrder", txid=first, order_qty="0.015")
    place(carol, "sell", "0.005")
    assert (query(alice, first)["vol_exec"], query(bob, second)["vol_exec"]) == ("0.00500000", "0.00000000")
    ok(alice, "AmendOrder", txid=first, order_qty="0.03")
    place(carol, "sell", "0.005")
    assert (query(alice, first)["vol_exec"], query(bob, second)["vol_exec"]) == ("0.00500000", "0.00500000")


def test_an_amend_that_reaches_another_accounts_resting_order_trades_with_it(sim, alice, bob):
    """A limit price amended onto the other side trades as a new order would: no locked book."""
    price = D(inside(sim))  # one tick inside both synthetic touches: alice alone at the front
    ask = place(alice, "sell", "0.05", str(price))
    bid = place(bob, "buy", "0.05", str(price - 5))
    ok(bob, "AmendOrder", txid=bid, limit_price=str(price))
    sold, bought = query(alice, ask), query(bob, bid)
    assert (sold["vol_exec"], bought["vol_exec"]) == ("0.05000000", "0.05000000"), \
        f"locked book left standing: alice {sold['status']} {sold['vol_exec']}, bob {bought['status']} " \
        f"{bought['vol_exec']}"
    (trade,) = ok(bob, "TradesHistory")["trades"].values()
    assert (D(trade["price"]), trade["maker"]) == (price, False)  # the amended order is the taker


def test_an_amend_through_the_touch_takes_the_best_priced_resting_order_first(sim, alice, bob):
    price = D(inside(sim))
    ask = place(alice, "sell", "0.05", str(price))
    bid = place(bob, "buy", "0.05", str(price - 5))
    ok(bob, "AmendOrder", txid=bid, limit_price=str(price + 1))  # through alice's ask and the synthetic touch
    trades = list(ok(bob, "TradesHistory")["trades"].values())
    assert query(alice, ask)["vol_exec"] == "0.05000000", \
        f"alice's ask at {price} skipped; bob bought at {[(t['price'], t['maker']) for t in trades]}"


def test_a_post_only_amend_that_would_reach_another_accounts_order_is_refused_and_changes_nothing(sim, alice, bob):
    price = D(inside(sim))
    ask = place(alice, "sell", "0.05", str(price))
    bid = place(bob, "buy", "0.05", str(price - 5))
    answer = bob.query_private("AmendOrder", {"txid": bid, "limit_price": str(price), "post_only": "true"})
    assert answer["error"] == ["EOrder:Post only order"]
    mine, theirs = query(bob, bid), query(alice, ask)
    assert (D(mine["descr"]["price"]), mine["vol_exec"], theirs["vol_exec"]) == \
        (price - 5, "0.00000000", "0.00000000")
