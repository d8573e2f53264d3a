"""Which placements are read back at once (QueryOrders after the ack): not a resting limit order,
whose txid proves placement; market and IOC orders, which fill or end at once, are."""
from __future__ import annotations

from decimal import Decimal

from krakenbot.execution import OrderStatus
from krakenbot.models import OrderRequest, OrderType, Side

D = Decimal


def endpoints(rig, start):
    return [r.endpoint for r in rig.sim.access_log_since(start)]


def test_a_resting_limit_order_is_not_read_back_and_a_crossing_one_fills_at_refresh(rig):
    start = len(rig.sim.access_log)
    resting = rig.executor.place(OrderRequest("XBTEUR", Side.BUY, OrderType.LIMIT, D("0.001"), price=D("59000")))
    assert resting.status is OrderStatus.OPEN and resting.txid
    assert endpoints(rig, start) == ["AddOrder"]
    crossing = rig.executor.place(OrderRequest("XBTEUR", Side.BUY, OrderType.LIMIT, D("0.001"), price=D("61000")))
    assert crossing.status is OrderStatus.OPEN  # the ack says nothing of fills
    rig.executor.refresh()
    assert rig.store.get_order(crossing.cl_ord_id).status == OrderStatus.FILLED.value
    assert sum(f.volume for f in rig.store.fills(txid=crossing.txid)) == D("0.001")


def test_market_and_ioc_orders_are_read_back_with_their_fills(rig):
    for request in (OrderRequest("XBTEUR", Side.BUY, OrderType.MARKET, D("0.001")),
                    OrderRequest("XBTEUR", Side.BUY, OrderType.LIMIT, D("0.001"), price=D("61000"),
                                 timeinforce="IOC")):
        start = len(rig.sim.access_log)
        placed = rig.executor.place(request)
        assert "QueryOrders" in endpoints(rig, start)
        assert placed.status is OrderStatus.FILLED, placed
        assert sum(f.volume for f in rig.store.fills(txid=placed.txid)) == D("0.001")
