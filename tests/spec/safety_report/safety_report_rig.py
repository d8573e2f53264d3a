"""Helpers for the safety report tests: a real spec run, and evidence to break on purpose.

Why a real run and not a hand-written fixture: an all-PASS fixture written by hand could
pass whatever the criteria do. ``clean_run`` runs the specification (behave, as a subprocess,
against the embedded simulator) on one scenario per fail-safe mechanism plus an order that
fills: about 20 scenarios, 3-4 s once per session. Each test copies it and breaks one thing.
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tools import safety_report as reporting  # noqa: E402

# One scenario (or outline) per mechanism the report must see fire, and one order that fills.
SCENARIOS = (
    "closes again after 2 successful trial requests",  # breaker open, half-open, close
    "While the circuit breaker is open",  # calls refused locally while open
    "A rate-limit refusal is answered",  # rate-limit backoff (injected refusals)
    "After the kill switch no new order",
    "cancelled by the exchange when the bot goes silent",  # dead man's switch
    "The trade after the daily allowance is refused",  # daily trade limit, three filled orders
    "position too large are refused -- @2.1",
    "too far from the market is refused -- @1.1",  # price collar
    "does not trade on a stale price",
    "not fully open",  # maintenance, cancel_only, post_only
    "confirmation was lost",  # lost-response reconciliation
    "past the stop-loss sells",  # the bot's own stop-loss
    "past the take-profit sells",  # the bot's own take-profit
    "A market buy is filled",
    "reach the exchange",  # every mode's allowlist, funding refused
    "A dry run never sends an order to the exchange",  # dry-run: orders filled locally, none sent
)


def run_spec_subset(folder: Path, *extra: str, scenarios=SCENARIOS) -> subprocess.CompletedProcess:
    """behave on ``scenarios`` with evidence in ``folder/run`` and JUnit in ``folder/junit``."""
    names = [arg for name in scenarios for arg in ("-n", name)]
    return subprocess.run(
        [sys.executable, "-m", "behave", "--tags=not @wip", "-f", "null", "--no-color",
         "-D", f"evidence={folder / 'run' / 'evidence.jsonl'}", "--junit", "--junit-directory", str(folder / "junit"),
         *names, *extra],
        cwd=ROOT, capture_output=True, text=True, timeout=90)


class Evidence:
    """A copy of the clean run's files; tests edit scenarios and run.json, then judge."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.run_dir = folder / "run"
        self.rows = [json.loads(line) for line in (self.run_dir / "evidence.jsonl").read_text().splitlines() if line]
        self.meta = json.loads((self.run_dir / "run.json").read_text())

    def row(self, name_part: str) -> dict:
        found = [r for r in self.rows if name_part in r["name"]]
        assert found, f"no scenario named like {name_part!r} in the clean run"
        return found[0]

    def rows_where(self, predicate) -> list[dict]:
        return [r for r in self.rows if predicate(r)]

    def save(self) -> "Evidence":
        (self.run_dir / "evidence.jsonl").write_text("".join(json.dumps(r) + "\n" for r in self.rows))
        (self.run_dir / "run.json").write_text(json.dumps(self.meta))
        return self

    def verdicts(self) -> dict[str, reporting.Verdict]:
        self.save()
        return {v.criterion: v for v in reporting.judge(reporting.load(self.run_dir))}


def scenario_title(row: dict) -> str:
    return f"{row['feature']} / {row['name']}"


def assert_only_this_fails(verdicts: dict[str, reporting.Verdict], criterion: str) -> reporting.Verdict:
    """``criterion`` is FAIL and every other criterion is still PASS."""
    broken = verdicts[criterion]
    assert broken.status == reporting.FAIL, (broken.status, broken.evidence)
    others = {name: v.status for name, v in verdicts.items() if name != criterion}
    assert set(others.values()) == {reporting.PASS}, others
    return broken


def failure_lines(verdict: reporting.Verdict) -> list[str]:
    return [f"{f.scenario}: {line}" for f in verdict.failures for line in f.lines]
