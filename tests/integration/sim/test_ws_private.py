"""The simulator's private WebSocket v2 endpoint over real sockets: the token, executions and
balances pushed from the same engine as REST, trading methods, permissions and the access log."""
from __future__ import annotations

from decimal import Decimal

import pytest
from sim_ws_client import WsClient, rest_private

from krakensim import KrakenSimulator
from krakensim.auth import QUERY_FUNDS, QUERY_ORDERS
from krakensim.clock import ManualClock


@pytest.fixture
def sim():
    with KrakenSimulator(seed=5, clock=ManualClock(), rate_limits=False, trading_limits=False) as s:
        yield s


def _token(sim, key=None, secret=None) -> str:
    answer = rest_private(sim, "GetWebSocketsToken", key=key, secret=secret)
    assert answer["error"] == []
    return answer["result"]["token"]


@pytest.fixture
def auth(sim):
    with WsClient(sim.ws_auth_url) as client:
        client.token = _token(sim)
        yield client


def _executions(auth) -> dict:
    ack = auth.reply(auth.send("subscribe", channel="executions", token=auth.token, snap_orders=True))
    assert ack["success"] is True
    return auth.channel("executions", kind="snapshot")


def test_an_order_added_over_ws_is_followed_on_executions_to_its_fill(sim, auth) -> None:
    snapshot = _executions(auth)
    assert snapshot["sequence"] == 1 and snapshot["data"] == []
    mid = sim.exchange.mid("XBTEUR")
    req = auth.send("add_order", token=auth.token, order_type="limit", side="buy", symbol="BTC/EUR",
                    order_qty=Decimal("0.01"), limit_price=mid - Decimal("0.1") - 100, cl_ord_id="ws-1")
    ack = auth.reply(req)
    assert ack["success"] is True and ack["result"]["cl_ord_id"] == "ws-1"
    order_id = ack["result"]["order_id"]
    events = []
    while len(events) < 2:
        message = auth.channel("executions")
        events += message["data"]
    assert [e["exec_type"] for e in events] == ["pending_new", "new"]
    assert events[0]["order_id"] == order_id and events[0]["symbol"] == "BTC/EUR"
    assert events[0]["order_qty"] == Decimal("0.01") and events[0]["cl_ord_id"] == "ws-1"
    # the market falls through the order (a control, as REST scenarios do): trade then filled
    sim.set_price("XBTEUR", mid - 200)
    done = []
    while not any(e["exec_type"] == "filled" for e in done):
        message = auth.channel("executions")
        assert message["sequence"] > 1
        done += message["data"]
    trade = next(e for e in done if e["exec_type"] == "trade")
    assert trade["cum_qty"] == Decimal("0.01") and trade["liquidity_ind"] == "m"
    assert trade["fees"][0]["asset"] == "EUR" and trade["fees"][0]["qty"] > 0
    assert sim.orders()[0]["status"] == "closed"


def test_cancel_order_amend_and_cancel_all_go_through_the_engine(sim, auth) -> None:
    _executions(auth)
    mid = sim.exchange.mid("XBTEUR")
    placed = rest_private(sim, "AddOrder", pair="XBTEUR", type="buy", ordertype="limit", price=str(mid - 500),
                          volume="0.01")["result"]["txid"][0]
    ack = auth.reply(auth.send("amend_order", token=auth.token, order_id=placed, limit_price=mid - 400))
    assert ack["success"] is True and ack["result"]["order_id"] == placed
    ack = auth.reply(auth.send("cancel_order", token=auth.token, order_id=[placed]))
    assert ack["success"] is True and ack["result"] == {"order_id": placed}
    def kinds() -> list[str]:
        return [e["exec_type"] for m in auth.seen if m.get("channel") == "executions" and m["type"] == "update"
                for e in m["data"]]
    while "canceled" not in kinds():
        auth.recv()
    assert kinds() == ["pending_new", "new", "amended", "canceled"]
    again = auth.reply(auth.send("cancel_order", token=auth.token, order_id=[placed]))
    assert again["success"] is False and again["error"] == "EOrder:Unknown order"
    ack = auth.reply(auth.send("batch_add", token=auth.token, symbol="BTC/EUR", orders=[
        {"order_type": "limit", "side": "buy", "order_qty": Decimal("0.01"), "limit_price": mid - 300},
        {"order_type": "limit", "side": "buy", "order_qty": Decimal("0.01"), "limit_price": mid - 301}]))
    assert ack["success"] is True and len(ack["result"]) == 2
    ack = auth.reply(auth.send("cancel_all", token=auth.token))
    assert ack["result"] == {"count": 2}
    ack = auth.reply(auth.send("cancel_all_orders_after", token=auth.token, timeout=60))
    assert ack["success"] is True and ack["result"]["triggerTime"] != "0"
    assert sim.dead_mans_switch()["armed"] is True


def test_balances_snapshot_then_one_update_per_ledger_entry(sim, auth) -> None:
    ack = auth.reply(auth.send("subscribe", channel="balances", token=auth.token))
    assert ack["success"] is True
    snapshot = auth.channel("balances", kind="snapshot")
    assert {"asset": "EUR", "asset_class": "currency", "balance": Decimal("10000.0000"),
            "wallets": [{"type": "spot", "id": "main", "balance": Decimal("10000.0000")}]} in snapshot["data"]
    rest_private(sim, "AddOrder", pair="XBTEUR", type="buy", ordertype="market", volume="0.01")
    update = auth.channel("balances", kind="update")
    assert {e["asset"] for e in update["data"]} == {"BTC", "EUR"}
    assert len({e["ref_id"] for e in update["data"]}) == 1
    btc = next(e for e in update["data"] if e["asset"] == "BTC")
    assert btc["balance"] == sim.balances()["XXBT"]


def test_a_bad_token_a_public_socket_and_a_missing_permission_are_refused(sim, auth) -> None:
    ack = auth.reply(auth.send("subscribe", channel="executions", token="not-a-token"))
    assert ack["success"] is False and ack["error"] == "EAPI:Invalid token"
    key, secret = sim.create_key({QUERY_FUNDS, QUERY_ORDERS})
    read_only = _token(sim, key, secret)
    ack = auth.reply(auth.send("add_order", token=read_only, order_type="market", side="buy", symbol="BTC/EUR",
                               order_qty=Decimal("0.01")))
    assert ack["success"] is False and ack["error"] == "EGeneral:Permission denied"
    assert sim.orders() == []
    with WsClient(sim.ws_url) as public:
        ack = public.reply(public.send("add_order", token=auth.token, order_type="market", side="buy",
                                       symbol="BTC/EUR", order_qty=Decimal("0.01")))
        assert ack["success"] is False
    assert sim.orders() == []


def test_a_token_first_used_after_15_minutes_is_refused(sim, auth) -> None:
    late = _token(sim)
    sim.advance(901)
    ack = auth.reply(auth.send("subscribe", channel="balances", token=late))
    assert ack["error"] == "EAPI:Invalid token"


def test_every_ws_message_is_an_access_log_record_without_the_token(sim, auth) -> None:
    _executions(auth)
    auth.reply(auth.send("add_order", token=auth.token, order_type="market", side="buy", symbol="BTC/EUR",
                         order_qty=Decimal("0.01")))
    auth.reply(auth.send("ping"))
    records = [r for r in sim.access_log if r.http_method == "WS"]
    assert [r.endpoint for r in records] == ["subscribe", "add_order", "ping"]
    assert records[1].kind == "private" and records[1].key_id and records[1].key_id != sim.api_key
    assert all(auth.token not in repr(r) for r in sim.access_log)
    assert records[1].params["symbol"] == "BTC/EUR"
