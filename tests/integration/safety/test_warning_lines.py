"""Issue 22: the WARNING lines an operator follows for stale market data, reconciliation discrepancies and
exchange contradictions: each said once, with what it is about, over real HTTP against the simulator."""
from __future__ import annotations

import logging

from test_exchange_lies import XBT, _buy, world  # noqa: F401 - the fixture

WARNING = logging.WARNING


def _lines(caplog, level: int = WARNING) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno == level and r.name.startswith("krakenbot")]


def test_stale_market_data_is_warned_once_and_its_return_said(world, caplog):
    sim, bot, _ = world
    assert bot.safety.market_data_problem(XBT) is None
    sim.advance(60)  # past STALE_DATA_SECONDS (30) without a price
    with caplog.at_level(logging.INFO):
        assert bot.safety.market_data_problem(XBT, refresh=False)
        assert bot.safety.market_data_problem(XBT, refresh=False)  # still stale: not said again
        assert bot.safety.market_data_problem(XBT) is None  # a fresh price
    assert _lines(caplog) == [f"STALE_DATA: last price for {XBT} is 60 s old (limit 30 s): no new orders on {XBT} "
                              "until it is fresh"]
    assert f"market data for {XBT} is fresh again" in _lines(caplog, logging.INFO)


def test_a_reconciliation_discrepancy_is_a_warning_naming_its_kinds(world, caplog):
    sim, bot, _ = world
    sim.faults.inject("AddOrder", "phantom_txid")
    _buy(bot)
    with caplog.at_level(WARNING):
        bot.safety.reconcile()
    assert [line for line in _lines(caplog) if line.startswith("reconciliation found")] == \
        ["reconciliation found 3 discrepancies: order_not_on_exchange, order_unknown_to_bot"]


def test_an_exchange_contradiction_is_a_warning_naming_the_order_and_the_halted_pair(world, caplog):
    sim, bot, _ = world
    assert _buy(bot).placed
    sim.faults.inject("AddOrder", "replayed_answer")  # the next answer names the first order's txid
    with caplog.at_level(WARNING):
        second = _buy(bot, price="59100")
    [line] = [line for line in _lines(caplog) if "contradicts" in line]
    assert line.startswith(f"exchange answer contradicts order {second.cl_ord_id} (txid_of_another_order: ")
    assert line.endswith("pair XXBTZEUR halted")
