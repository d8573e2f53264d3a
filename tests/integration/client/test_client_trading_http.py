"""Placing, validating and cancelling orders on the simulator."""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import pytest

from krakenbot.errors import InsufficientFundsError, OrderMinimumError, UnknownOrderError
from krakenbot.models import OrderRequest, OrderType, Side


def limit_buy(cl_ord_id, volume="0.001", price="30000", validate=False):
    return OrderRequest("XBTEUR", Side.BUY, OrderType.LIMIT, Decimal(volume), Decimal(price),
                        cl_ord_id=cl_ord_id, validate=validate)


def test_validate_places_nothing(client, sim):
    ack = client.trading.add_order(limit_buy("v-1", validate=True))
    assert ack.validated_only and ack.txids == () and "XBTEUR" in ack.description
    assert sim.orders() == []


def test_add_query_and_cancel_by_client_id(client, sim, clock):
    ack = client.trading.add_order(limit_buy("live-1"))
    assert len(ack.txids) == 1 and not ack.validated_only
    record = [r for r in sim.access_log if r.endpoint == "AddOrder"][-1]
    deadline = datetime.fromisoformat(record.params["deadline"].replace("Z", "+00:00")).timestamp()
    assert deadline == pytest.approx(clock.time() + 15, abs=1)
    open_orders = client.account.open_orders(cl_ord_id="live-1")
    assert list(open_orders) == list(ack.txids)
    order = open_orders[ack.txids[0]]
    assert order.cl_ord_id == "live-1" and order.volume == Decimal("0.001") and order.side is Side.BUY
    assert client.trading.cancel_order(cl_ord_id="live-1") == 1
    closed = client.account.query_orders(ack.txids)
    assert closed[ack.txids[0]].status == "canceled"
    with pytest.raises(UnknownOrderError):
        client.trading.cancel_order(txid=ack.txids[0])


def test_cancel_all_and_dead_mans_switch(client, sim):
    client.trading.add_order(limit_buy("a-1"))
    client.trading.add_order(limit_buy("a-2"))
    assert client.trading.cancel_all() == 2
    armed = client.trading.cancel_all_orders_after(60)
    assert armed["triggerTime"] != "0" and sim.dead_mans_switch()["armed"]
    assert client.trading.cancel_all_orders_after(0)["triggerTime"] == "0"


def test_market_buy_fills_and_shows_in_history(client, sim):
    order = OrderRequest("XBTEUR", Side.BUY, OrderType.MARKET, Decimal("0.001"), cl_ord_id="m-1")
    ack = client.trading.add_order(order)
    info = client.account.query_orders(ack.txids)[ack.txids[0]]
    assert info.status == "closed" and info.volume_executed == Decimal("0.001")
    trades = client.account.trades_history()
    assert any(t.order_txid == ack.txids[0] for t in trades.values())
    assert client.account.balance_ex()["XXBT"].balance > Decimal("1")


def test_rejections_are_typed(client):
    with pytest.raises(OrderMinimumError):
        client.trading.add_order(limit_buy("min-1", volume="0.00001"))
    with pytest.raises(InsufficientFundsError):
        client.trading.add_order(limit_buy("big-1", volume="100", price="50000"))


def test_amend_keeps_the_txid(client):
    ack = client.trading.add_order(limit_buy("am-1"))
    amend_id = client.trading.amend_order(cl_ord_id="am-1", limit_price=Decimal("30100"))
    assert amend_id
    order = client.account.query_orders(ack.txids)[ack.txids[0]]
    assert order.limit_price == Decimal("30100")


def test_amend_and_edit_refuse_float_amounts_and_send_nothing(client, sim):
    """format(0.00012345, "f") is "0.000123": a float would silently change the order."""
    ack = client.trading.add_order(limit_buy("am-2"))
    seen = len(sim.access_log)
    with pytest.raises(TypeError, match="float"):
        client.trading.amend_order(cl_ord_id="am-2", order_qty=0.00012345)
    with pytest.raises(TypeError, match="float"):
        client.trading.edit_order(ack.txids[0], "XBTEUR", price=30100.0)
    assert len(sim.access_log) == seen
