"""The endpoint guard the client calls: per-mode verdicts, paper's validate-only rule,
the kill switch blocking order entry, and an audit row for every attempt."""
from __future__ import annotations

import pytest

from krakenbot.clock import ManualClock
from krakenbot.errors import EndpointNotAllowed
from krakenbot.safety.audit import AuditLog
from krakenbot.safety.guard import EndpointGuard
from krakenbot.safety.modes import TradingMode
from krakenbot.store import Store


@pytest.fixture
def store():
    with Store(":memory:") as s:
        yield s


def make_guard(store, mode):
    guard = EndpointGuard(AuditLog(store, ManualClock(), lambda: guard.mode), mode)
    return guard


def test_allowed_call_passes_and_is_audited(store):
    guard = make_guard(store, TradingMode.READ_ONLY)
    guard("Balance")
    [row] = store.audit_rows()
    assert (row["action"], row["endpoint"], row["allowed"], row["outcome"], row["mode"]) == \
        ("endpoint", "Balance", True, "sent", "read-only")


def test_refused_call_raises_and_is_audited(store):
    guard = make_guard(store, TradingMode.READ_ONLY)
    with pytest.raises(EndpointNotAllowed, match="not allowed in read-only mode") as info:
        guard("AddOrder")
    assert info.value.endpoint == "AddOrder"
    [row] = store.audit_rows()
    assert row["allowed"] is False and row["outcome"] == "refused"
    assert "read-only" in row["detail"]["reason"]


@pytest.mark.parametrize("mode", list(TradingMode))
def test_withdraw_refused_in_every_mode(store, mode):
    guard = make_guard(store, mode)
    with pytest.raises(EndpointNotAllowed, match="funding"):
        guard("Withdraw")


def test_paper_admits_addorder_only_when_declared_validate_only(store):
    guard = make_guard(store, TradingMode.PAPER)
    with pytest.raises(EndpointNotAllowed, match="validate=true"):
        guard("AddOrder")
    with guard.validate_only():
        guard("AddOrder")
    with pytest.raises(EndpointNotAllowed):
        guard("AddOrder")  # the declaration does not outlive its block
    with pytest.raises(EndpointNotAllowed):
        guard("AddOrder", {"validate": "false"})
    guard("AddOrder", {"validate": "true"})


def test_order_blocker_stops_order_entry_but_not_reads_or_cancels(store):
    guard = make_guard(store, TradingMode.LIVE)
    guard.order_blocker = lambda: "kill switch engaged: test"
    with pytest.raises(EndpointNotAllowed, match="kill switch"):
        guard("AddOrder")
    guard("CancelAll")
    guard("Ticker")


def test_mode_switch_takes_effect_at_once(store):
    guard = make_guard(store, TradingMode.READ_ONLY)
    with pytest.raises(EndpointNotAllowed):
        guard("CancelAll")
    guard.mode = TradingMode.CANARY
    guard("CancelAll")
    assert [r["allowed"] for r in store.audit_rows()] == [False, True]
