"""Pure helpers of the specification: the run-level allowlist judge, redaction, JUnit counts."""
from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from tools.spec_support.evidence import allowed, assert_no_secrets, audit_table, redact, violations
from tools.spec_support.facade import parse_order, percentile
from tools.spec_support.junit import count
from tools.spec_support.world import ModeSegment


@dataclass
class Record:
    seq: int
    endpoint: str
    kind: str = "private"
    params: dict = field(default_factory=dict)


def test_withdrawals_are_never_allowed_and_paper_orders_only_validated():
    assert not allowed("live", "Withdraw")
    assert allowed("paper", "AddOrder", {"validate": "true"})
    assert not allowed("paper", "AddOrder", {})
    assert not allowed("read-only", "AddOrder", {"validate": "true"})
    assert allowed("canary", "CancelOrder")


def test_violations_judge_each_request_by_the_mode_in_force_when_it_arrived():
    records = [Record(0, "Balance"), Record(1, "AddOrder"), Record(2, "AddOrder"), Record(3, "Withdraw"),
               Record(4, "AddOrder", kind="control")]
    segments = [ModeSegment(0, "read-only"), ModeSegment(2, "live")]
    found = violations(records, segments)
    assert found == ["AddOrder reached the exchange in read-only mode (request #1)",
                     "Withdraw reached the exchange in live mode (request #3)"]
    assert violations(records, segments, foreign={1, 3}) == []


def test_redaction_leaves_four_characters_and_the_check_catches_leftovers():
    text = redact("key=ABCDEFGH secret=c2VjcmV0", ["ABCDEFGH", "c2VjcmV0"])
    assert text == "key=ABCD… secret=c2Vj…"
    assert_no_secrets(text, ["ABCDEFGH", "c2VjcmV0"])
    with pytest.raises(AssertionError):
        assert_no_secrets("leaked ABCDEFGH", ["ABCDEFGH"])


def test_order_phrases_read_as_the_features_write_them():
    order = parse_order("a post-only limit buy of 0.01 XBT at 59,000 EUR")
    assert (order.side, order.ordertype, str(order.volume), str(order.price), order.post_only) == \
        ("buy", "limit", "0.01", "59000", True)
    with pytest.raises(ValueError):
        parse_order("buy some bitcoin")


def test_percentiles_are_nearest_rank():
    samples = list(range(1, 101))
    assert (percentile(samples, 50), percentile(samples, 95), percentile(samples, 99)) == (50, 95, 99)


def test_junit_counts(tmp_path):
    (tmp_path / "TESTS-a.xml").write_text(
        '<testsuite><testcase name="a"/><testcase name="b"><failure/></testcase>'
        '<testcase name="c"><skipped/></testcase><testcase name="d"><error/></testcase></testsuite>')
    assert count(tmp_path).line() == "behave: 1 passed, 2 failed, 1 skipped"


def test_the_audit_trail_reads_as_a_table_with_utc_times():
    rows = [{"id": 1, "time": 1767348000.0, "actor": "bot", "mode": "read-only", "action": "endpoint",
             "endpoint": "Balance", "allowed": True, "outcome": "sent", "reason": "", "params": {}},
            {"id": 2, "time": 1767348002.851, "actor": "bot", "mode": "live", "action": "order", "endpoint": "AddOrder",
             "allowed": False, "outcome": "refused", "reason": "circuit breaker is open", "codes": ["CIRCUIT_OPEN"]}]

    lines = audit_table(rows).splitlines()

    assert lines[0].split() == ["#", "time", "(UTC)", "actor", "mode", "action", "endpoint", "allowed", "outcome",
                                "reason", "/", "details"]
    assert lines[1].split() == ["1", "2026-01-02", "10:00:00.000", "bot", "read-only", "endpoint", "Balance", "yes",
                                "sent"]
    assert lines[2].split()[:9] == ["2", "2026-01-02", "10:00:02.851", "bot", "live", "order", "AddOrder", "NO",
                                    "refused"]
    assert lines[2].endswith('circuit breaker is open; codes=["CIRCUIT_OPEN"]')
    assert lines[1].index("Balance") == lines[2].index("AddOrder")  # columns line up
    assert audit_table([]) == "(no audit entries: the scenario built no bot)"


def test_the_captured_debug_session_stays_in_memory_and_nothing_is_written_to_disk(monkeypatch):
    """What the secrets scenario captures may hold a leaked secret: it must never land in a shared file."""
    import builtins
    import logging

    from tools.spec_support import log_capture

    opened: list = []
    real_open = builtins.open

    def spy(file, mode="r", *args, **kwargs):
        if any(m in mode for m in "wax+"):
            opened.append(file)
        return real_open(file, mode, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", spy)
    with log_capture.everything_logged_and_printed() as captured:
        logging.getLogger("krakenbot.client").debug("a line")
    monkeypatch.undo()
    assert "a line" in captured.text() and opened == []
