"""The evidence collector reads the bot's real SQLite store and the simulator's own records:
a fill altered in the store file, or a request sent while the breaker was open, shows up in
the verdict. A real KrakenSimulator and a real Bot over HTTP; time moves on a ManualClock."""
from __future__ import annotations

import sqlite3
from decimal import Decimal

import pytest

from tools import safety_report as reporting
from tools.safety_report.criteria import breaker_prevents_cascades, zero_data_loss
from tools.safety_report.evidence import RunEvidence
from krakensim import KrakenSimulator
from krakensim.clock import ManualClock
from tools.spec_support import safety_evidence
from tools.spec_support.world import World


@pytest.fixture
def world():
    clock = ManualClock()
    sim = KrakenSimulator(seed=42, clock=clock)
    world = World(target="simulator", clock=clock, sim=sim)
    try:
        world.begin()
        world.build_bot("live")
        safety_evidence.observe(world)
        yield world
    finally:
        world.finish()
        sim.close()


def _evidence_row(world) -> dict:
    """What environment.after_scenario writes for one scenario (the parts the criteria read)."""
    return {"feature": "collector", "name": "a market buy", "status": "passed", "target": "simulator", "tags": [],
            "modes": [{"start": s.start, "mode": s.mode} for s in world.segments],
            "access_log": [r.to_json() for r in world.sim.access_log], "audit": world.safety.audit_log(),
            "counters": world.sim.counters(world.api_key), **safety_evidence.collect(world)}


def _buy(world) -> None:
    outcome = world.safety.submit_order("XBTEUR", "buy", "market", Decimal("0.01"))
    assert outcome.placed, outcome.reason
    world.safety.refresh_orders()


def test_the_store_and_the_exchange_agree_after_a_real_market_buy(world):
    _buy(world)

    verdict = zero_data_loss(RunEvidence({}, [_evidence_row(world)]))

    assert verdict.status == reporting.PASS, verdict.failures
    assert verdict.figures["fills compared"] != "0"
    assert verdict.figures["integrity_check"] == "ok x1"


def test_a_fill_altered_in_the_store_file_is_caught(world):
    _buy(world)
    with sqlite3.connect(world.env["STORE_PATH"]) as db:
        trade_id = db.execute("SELECT trade_id FROM fills").fetchone()[0]
        db.execute("UPDATE fills SET fee = '0.1' WHERE trade_id = ?", (trade_id,))

    verdict = zero_data_loss(RunEvidence({}, [_evidence_row(world)]))

    assert verdict.status == reporting.FAIL
    lines = [line for f in verdict.failures for line in f.lines]
    assert any(line.startswith(f"trade {trade_id}: store fee 0.1 != exchange fee") for line in lines), lines


def test_a_request_that_bypassed_the_open_breaker_is_caught(world):
    """The breaker is tripped; a raw HTTP call (as if the breaker were disabled) still reaches the exchange."""
    world.safety.ticker("XBTEUR")
    world.bot.safety.breaker.trip("test: exchange failing")
    import requests

    requests.get(f"{world.sim.url}/0/public/Ticker", params={"pair": "XBTEUR"}, timeout=5)
    row = _evidence_row(world)

    verdict = breaker_prevents_cascades(RunEvidence({}, [row]))

    assert verdict.status == reporting.FAIL
    lines = [line for f in verdict.failures for line in f.lines]
    assert any("Ticker left the bot while breaker 0 open" in line and "test: exchange failing" in line
               for line in lines), lines
