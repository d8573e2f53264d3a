"""The lookup faults over real HTTP: under ``filter_ignored`` an order lookup by client order id answers
with every order of the account, as an exchange that ignores a filter parameter would; under
``filter_missed`` it answers with none, though one carries that id. Then the exchange behaves."""
from __future__ import annotations

import pytest
from sim_ws_client import rest_private

from krakensim import KrakenSimulator
from krakensim.clock import ManualClock


@pytest.fixture
def sim():
    with KrakenSimulator(seed=3, clock=ManualClock(), rate_limits=False, trading_limits=False) as s:
        yield s


def _ok(sim, method: str, **params) -> dict:
    answer = rest_private(sim, method, **params)
    assert answer["error"] == [], answer
    return answer["result"]


def _refs(orders: dict) -> set[str]:
    return {o["cl_ord_id"] for o in orders.values()}


@pytest.mark.parametrize("endpoint, key, closed", [("OpenOrders", "open", False), ("ClosedOrders", "closed", True)])
def test_a_lookup_by_client_order_id_under_filter_ignored_answers_every_order(sim, endpoint, key, closed):
    price = str(int(sim.exchange.mid("XBTUSD")) - 1000)
    for ref in ("lookup-a", "lookup-b"):
        txid = _ok(sim, "AddOrder", pair="XBTUSD", type="buy", ordertype="limit", volume="0.001", price=price,
                   cl_ord_id=ref)["txid"][0]
        if closed:
            _ok(sim, "CancelOrder", txid=txid)
    fault = sim.faults.inject(endpoint=endpoint, kind="filter_ignored")
    assert _refs(_ok(sim, endpoint, cl_ord_id="lookup-a")[key]) == {"lookup-a", "lookup-b"}
    assert (fault.fired, sim.access_log[-1].fault) == (1, "filter_ignored")
    assert _refs(_ok(sim, endpoint, cl_ord_id="lookup-a")[key]) == {"lookup-a"}  # the fault has passed


@pytest.mark.parametrize("endpoint, key, closed", [("OpenOrders", "open", False), ("ClosedOrders", "closed", True)])
def test_a_lookup_by_client_order_id_under_filter_missed_answers_no_order(sim, endpoint, key, closed):
    price = str(int(sim.exchange.mid("XBTUSD")) - 1000)
    txid = _ok(sim, "AddOrder", pair="XBTUSD", type="buy", ordertype="limit", volume="0.001", price=price,
               cl_ord_id="lookup-a")["txid"][0]
    if closed:
        _ok(sim, "CancelOrder", txid=txid)
    fault = sim.faults.inject(endpoint=endpoint, kind="filter_missed", times=2)
    assert _ok(sim, endpoint, cl_ord_id="lookup-a")[key] == {}
    assert _refs(_ok(sim, endpoint)[key]) == {"lookup-a"}  # a lookup without a client order id answers in full
    assert (fault.fired, sim.access_log[-1].fault) == (2, "filter_missed")
    assert _refs(_ok(sim, endpoint, cl_ord_id="lookup-a")[key]) == {"lookup-a"}  # the fault has passed
