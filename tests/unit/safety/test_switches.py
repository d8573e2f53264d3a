"""Kill switch (command + file flag), dead man's switch keeper, audit summaries."""
from __future__ import annotations

from decimal import Decimal

import pytest

from krakenbot.clock import ManualClock
from krakenbot.safety.audit import AuditLog, summarize_params
from krakenbot.safety.dead_mans_switch import DeadMansSwitch
from krakenbot.safety.kill_switch import KillSwitch, KillSwitchEngaged
from krakenbot.safety.modes import TradingMode


class ListSink:
    """The audit sink contract (the store implements it); a list is enough for pure logic."""

    def __init__(self):
        self.rows = []

    def append_audit(self, event):
        self.rows.append(dict(event))

    def audit_rows(self):
        return list(self.rows)


def test_audit_rows_round_trip_through_the_store():
    from krakenbot.store import Store

    with Store(":memory:") as store:
        audit = AuditLog(store, ManualClock(), lambda: TradingMode.READ_ONLY)
        audit.record("endpoint", endpoint="AddOrder", allowed=False, outcome="refused",
                     reason="AddOrder is not allowed in read-only mode", params={"pair": "XBTEUR"})
        [row] = audit.rows()
    assert row["action"] == "endpoint" and row["endpoint"] == "AddOrder" and row["allowed"] is False
    assert row["mode"] == "read-only" and row["outcome"] == "refused"
    assert row["reason"].startswith("AddOrder is not allowed") and row["params"] == {"pair": "XBTEUR"}


def test_kill_command_engages_and_resume_releases(tmp_path):
    switch = KillSwitch(tmp_path / "KILL", ManualClock())
    assert not switch.engaged
    switch.engage("operator said stop")
    assert switch.engaged and switch.reason == "operator said stop"
    switch.release()
    assert not switch.engaged and switch.reason is None


def test_kill_file_engages_and_blocks_resume(tmp_path):
    flag = tmp_path / "KILL"
    switch = KillSwitch(flag, ManualClock())
    flag.write_text("maintenance window\n")
    assert switch.engaged
    assert "maintenance window" in switch.reason and str(flag) in switch.reason
    with pytest.raises(KillSwitchEngaged, match="remove it first"):
        switch.release()
    flag.unlink()
    switch.release()
    assert not switch.engaged


def test_write_file_is_seen_by_another_switch(tmp_path):
    writer = KillSwitch(tmp_path / "sub" / "KILL", ManualClock())
    reader = KillSwitch(tmp_path / "sub" / "KILL", ManualClock())
    writer.write_file("from the CLI")
    assert reader.engaged and "from the CLI" in reader.reason


def test_dead_mans_switch_rearms_at_a_third_of_the_timeout_and_disarms():
    clock = ManualClock()
    calls = []
    dms = DeadMansSwitch(lambda timeout: calls.append((clock.time(), timeout)), clock)
    dms.arm(60)
    assert calls == [(clock.time(), 60)] and dms.armed
    clock.advance(19)
    assert dms.keep_alive() is False
    clock.advance(1)
    assert dms.keep_alive() is True
    assert [t for _, t in calls] == [60, 60]
    dms.disarm()
    assert calls[-1][1] == 0 and not dms.armed
    clock.advance(100)
    assert dms.keep_alive() is False and len(calls) == 3


@pytest.mark.parametrize("timeout", [0, -1, 86_400])
def test_dead_mans_switch_refuses_bad_timeouts(timeout):
    dms = DeadMansSwitch(lambda t: None, ManualClock())
    with pytest.raises(ValueError):
        dms.arm(timeout)


def test_audit_rows_carry_time_mode_endpoint_and_outcome():
    clock = ManualClock()
    sink = ListSink()
    audit = AuditLog(sink, clock, lambda: TradingMode.PAPER)
    audit.record("endpoint", endpoint="AddOrder", allowed=True, outcome="sent",
                 params={"pair": "XBTEUR", "volume": Decimal("0.001"), "nonce": "123", "otp": "999"})
    audit.record("endpoint", endpoint="Withdraw", allowed=False, outcome="refused", reason="funding")
    rows = audit.rows()
    assert [(r["endpoint"], r["allowed"], r["outcome"]) for r in rows] == [("AddOrder", True, "sent"),
                                                                            ("Withdraw", False, "refused")]
    assert rows[0]["time"] == clock.time() and rows[0]["mode"] == "paper"
    assert rows[0]["params"] == {"pair": "XBTEUR", "volume": "0.001", "_omitted": "1"}


def test_summarize_params_drops_secrets_and_unknowns():
    summary = summarize_params({"pair": "XBTEUR", "api_secret": "s3cr3t", "API-Sign": "sig", "key": "K",
                                "address": "bc1q...", "nonce": "1"})
    assert summary == {"pair": "XBTEUR", "_omitted": "4"}


def test_audit_scrubs_secret_from_reasons():
    sink = ListSink()
    audit = AuditLog(sink, ManualClock(), lambda: TradingMode.LIVE, scrub=lambda s: s.replace("TOPSECRET", "***"))
    audit.record("order", outcome="error", reason="exchange said TOPSECRET")
    assert "TOPSECRET" not in str(sink.rows)
