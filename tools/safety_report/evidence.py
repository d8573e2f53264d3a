"""Loading what a specification run recorded: ``evidence.jsonl``, ``run.json`` and JUnit files.

Why a loader of its own: the report is regenerated from files alone (``krakenbot report``),
long after the run, so everything a criterion needs is read here once, into plain data the
criteria can judge without touching the exchange or the bot.
"""
from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

EVIDENCE_FILE = "evidence.jsonl"
RUN_FILE = "run.json"


@dataclass(frozen=True)
class JUnitResults:
    passed: int
    failed: int
    skipped: int
    failed_names: tuple[str, ...] = ()

    @property
    def ran(self) -> int:
        return self.passed + self.failed


@dataclass
class RunEvidence:
    """One run: metadata, one dict per scenario (run order) and behave's JUnit results."""

    meta: dict[str, Any]
    scenarios: list[dict[str, Any]]
    junit: JUnitResults | None = None
    problems: list[str] = field(default_factory=list)  # unreadable files, bad lines
    source: str = ""

    @property
    def target(self) -> str:
        return str(self.meta.get("target") or (self.scenarios[0].get("target") if self.scenarios else "simulator"))

    @property
    def on_simulator(self) -> bool:
        return self.target != "live"

    @property
    def incomplete(self) -> str | None:
        """Why this run cannot vouch for a criterion as a whole (None: it ran what it selected).

        A run that stopped, aborted or was killed, or that recorded fewer scenarios than its tags
        selected, is judged on what it recorded alone: nothing it did not run can PASS."""
        status = self.meta.get("status")
        if not self.meta:
            return "run.json is missing: the run did not start, or its record was removed"
        if status == "stopped":
            return f"the run stopped before any scenario ran: {self.meta.get('reason') or 'no reason recorded'}"
        if status == "aborted":
            return "the run was aborted (interrupted, or a hook failed) before it finished"
        if status == "running":
            return "the run never finished (killed or crashed before its end was recorded)"
        if status != "finished":
            return f"run.json records no known end of the run (status {status!r})"
        ran = sum(1 for row in self.scenarios if row.get("status") != "skipped" or not self.on_simulator)
        expected = int(self.meta.get("expected_to_run") or 0)
        if ran < expected:
            return f"partial run: {ran} of the {expected} selected scenario(s) recorded evidence"
        return None

    @property
    def absence_fails(self) -> bool:
        """Is evidence that never appeared a failure? On the simulator every mechanism can be
        provoked, so yes, for a complete run; on live, or in an incomplete run, it is NOT EXERCISED."""
        return self.on_simulator and self.incomplete is None


def scenario_name(row: dict[str, Any]) -> str:
    return f"{row.get('feature', '?')} / {row.get('name', '?')}"


def load(evidence_dir: str | Path, junit_dir: str | Path | None = None) -> RunEvidence:
    """Read a run's evidence; ``junit_dir`` defaults to ``<evidence_dir>/../junit``."""
    folder = Path(evidence_dir)
    problems: list[str] = []
    meta: dict[str, Any] = {}
    run_file = folder / RUN_FILE
    if run_file.is_file():
        try:
            meta = json.loads(run_file.read_text(encoding="utf-8"))
        except ValueError as exc:
            problems.append(f"{run_file}: unreadable ({exc})")
    else:
        problems.append(f"{run_file}: missing (the run did not finish, or it predates the report)")
    evidence_file = folder / meta.get("evidence", EVIDENCE_FILE)
    scenarios: list[dict[str, Any]] = []
    if evidence_file.is_file():
        for number, line in enumerate(evidence_file.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            try:
                scenarios.append(json.loads(line))
            except ValueError as exc:
                problems.append(f"{evidence_file}:{number}: unreadable evidence line ({exc})")
    else:
        problems.append(f"{evidence_file}: missing")
    run_id = meta.get("run_id")
    others = [row for row in scenarios if row.get("run_id") != run_id or run_id is None]
    if others:  # a line another run left behind is never evidence for this one
        problems.append(f"{evidence_file}: {len(others)} evidence line(s) not from the run in {RUN_FILE} ignored")
        scenarios = [row for row in scenarios if row not in others]
    junit_folder = Path(junit_dir) if junit_dir is not None else folder.parent / "junit"
    return RunEvidence(meta, scenarios, read_junit(junit_folder), problems, str(folder))


def read_junit(folder: Path) -> JUnitResults | None:
    """Scenario outcomes from behave's ``TESTS-*.xml`` (errors count as failures); None without files."""
    files = sorted(Path(folder).glob("*.xml")) if Path(folder).is_dir() else []
    if not files:
        return None
    passed = failed = skipped = 0
    failed_names: list[str] = []
    for path in files:
        for case in ET.parse(path).getroot().iter("testcase"):
            if case.find("failure") is not None or case.find("error") is not None:
                failed += 1
                failed_names.append(f"{case.get('classname', '')}: {case.get('name', '')}")
            elif case.find("skipped") is not None or case.get("status") in ("skipped", "untested"):
                skipped += 1
            else:
                passed += 1
    return JUnitResults(passed, failed, skipped, tuple(failed_names))
