"""The specification can fail: with a safety limit disabled on purpose, its @safety scenarios fail.

A specification that passes whatever the bot does proves nothing. ``-D break=daily-limit``
(read only by environment.py) lifts the daily trade limit to a million; the scenarios that
guard that limit must then fail, and the same scenarios must pass with nothing broken.
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tools.spec_support.junit import count

ROOT = Path(__file__).resolve().parents[2]


def run_daily_limit_scenarios(tmp_path: Path, *extra: str):
    junit = tmp_path / "junit"
    command = [sys.executable, "-m", "behave", "--tags=@safety", "-n", "daily", "-f", "plain", "--no-color",
               "--junit", "--junit-directory", str(junit), "-D", f"evidence={tmp_path / 'evidence.jsonl'}",
               *extra, "features/risk.feature"]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=60)
    return result, count(junit)


def test_disabling_the_daily_trade_limit_makes_safety_scenarios_fail(tmp_path):
    result, counts = run_daily_limit_scenarios(tmp_path, "-D", "break=daily-limit")
    assert result.returncode != 0, result.stdout[-3000:]
    assert counts.failed >= 1, counts.line()
    assert "DAILY_TRADE_LIMIT" in result.stdout  # the failure names the rule that did not hold


def test_the_same_scenarios_pass_when_nothing_is_broken_and_leave_evidence(tmp_path):
    result, counts = run_daily_limit_scenarios(tmp_path)
    assert result.returncode == 0, result.stdout[-3000:]
    assert counts.failed == 0 and counts.passed >= 3, counts.line()
    rows = [json.loads(line) for line in (tmp_path / "evidence.jsonl").read_text().splitlines()]
    assert len(rows) == counts.total
    for row in rows:
        assert set(row) >= {"feature", "name", "tags", "status", "target", "mode", "modes", "access_log", "audit",
                            "counters", "violations"}
        assert row["status"] == "passed" and row["mode"] == "live" and row["violations"] == []
        assert any(r["endpoint"] == "AddOrder" for r in row["access_log"])
        assert any(a.get("action") == "order" for a in row["audit"])


def test_a_request_outside_the_allowlist_fails_the_whole_run(tmp_path):
    """``-D break=allowlist`` lets read-only mode send orders: the scenario fails, and so does
    the run-level check in after_all, which judges every request the exchange received."""
    command = [sys.executable, "-m", "behave", "--tags=@safety-wrapper", "-n", "outside the mode", "-f", "plain",
               "--no-color", "--no-junit", "-D", f"evidence={tmp_path / 'evidence.jsonl'}", "-D", "break=allowlist"]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert "SAFETY VIOLATION" in result.stdout
    assert "AddOrder reached the exchange in read-only mode" in result.stdout
