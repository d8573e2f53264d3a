"""The chaos soak in CI: the real bot under simulator faults keeps every money invariant.

2,000 operations at 15 % faults take ~35 s here, within the budget, so CI runs the same
figure as ``make chaos``; a second, shorter seed covers another fault sequence. The last
test proves the invariant checks can fail: a fill deleted from the store is reported.
"""
from __future__ import annotations

import logging

import pytest

from bench import chaos

pytestmark = pytest.mark.slow


@pytest.fixture(autouse=True)
def _quiet_bot_warnings(caplog):
    caplog.set_level(logging.ERROR)


def _assert_clean(report: chaos.ChaosReport) -> None:
    assert report.ok, report.table()
    # the soak really exercised the dangerous paths, or a clean table means nothing
    assert report.faults_fired > report.ops * 0.1, report.table()
    assert report.exchange_orders > report.ops * 0.05 and report.exchange_trades > 0, report.table()
    assert report.restarts > 0 and report.breaker_opened > 0, report.table()
    assert report.op_counts["status_window"] > 0


@pytest.mark.timeout(110)
def test_chaos_2000_operations_at_15_percent_faults_keep_every_invariant(tmp_path):
    report = chaos.run(ops=2000, fault_rate=0.15, seed=1, workdir=tmp_path)
    print(report.table())
    _assert_clean(report)


def test_chaos_second_seed(tmp_path):
    report = chaos.run(ops=300, fault_rate=0.15, seed=7, workdir=tmp_path)
    print(report.table())
    _assert_clean(report)


class _LosesAFill(chaos.ChaosRun):
    """Sabotage after settling: the store forgets one fill, as a buggy importer would."""

    def settle(self) -> None:
        super().settle()
        store = self.bot.store
        victim = store.fills()[0]
        with store._lock:
            store._db.execute("DELETE FROM fills WHERE trade_id = ?", (victim.trade_id,))


def test_the_invariant_checks_can_fail(tmp_path):
    report = _LosesAFill(150, 0.0, 3, tmp_path).run()
    assert not report.ok
    assert report.invariants["fills lost (exchange trade not in store)"].count == 1
    assert report.invariants["ledger: balances differ (start+fills vs exchange)"].count >= 1
    assert "--seed 3" in report.table()
