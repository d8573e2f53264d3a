"""The closing lines of ``make test``: the totals, the safety verdicts and where the reports are.

Why a step of its own: ``make test`` runs pytest, the specification and the report check one after
another, so the totals and the verdict table scroll out of sight behind the last step's output.
Reads only files the steps wrote (``reports/pytest.xml``, ``reports/junit``,
``reports/safety-report.json``); says plainly when one is missing.

Its lines never combine ``passed`` with `` in `` nor start with ``behave:``: ``.ci/run`` adds up
exactly those closing lines of each runner, and these totals must not be counted twice.
"""
from __future__ import annotations

import json
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PLACES = (
    ("allure-report/index.html", "the specification, scenario by scenario (one file, opens offline)"),
    ("reports/safety-report.html", "the safety validation report (also .md and .json)"),
    ("reports/report-screenshot.png", "the report's landing page as headless Chromium showed it"),
    ("reports/run/evidence.jsonl", "the evidence each scenario recorded"),
)


def pytest_totals(path: Path) -> str:
    """``N passed, M failed, K skipped`` from pytest's JUnit XML."""
    if not path.is_file():
        return f"no results ({path.name} missing)"
    root = ET.parse(path).getroot()
    suites = [root] if root.tag == "testsuite" else list(root.iter("testsuite"))
    total = sum(int(s.get("tests", 0)) for s in suites)
    failed = sum(int(s.get("failures", 0)) + int(s.get("errors", 0)) for s in suites)
    skipped = sum(int(s.get("skipped", 0)) for s in suites)
    return f"{total - failed - skipped} passed, {failed} failed, {skipped} skipped"


def verdict_table(path: Path) -> str:
    from tools import safety_report as reporting

    if not path.is_file():
        return f"no safety validation report ({path.name} missing)"
    data = json.loads(path.read_text(encoding="utf-8"))
    verdicts = [reporting.Verdict(**{**v, "evidence": tuple(v["evidence"]),
                                     "failures": tuple(reporting.Failure(f["scenario"], tuple(f["lines"]))
                                                       for f in v["failures"])}) for v in data["verdicts"]]
    return reporting.summary_table(reporting.Report(data["run"], verdicts, data["generated_at"]))


def main(root: Path = ROOT) -> int:
    from tools.spec_support.junit import count

    reports = root / "reports"
    behave = count(reports / "junit")
    print()
    print("=" * 30, "make test: summary", "=" * 30)
    print(f"pytest (unit, integration): {pytest_totals(reports / 'pytest.xml')}")
    print(f"specification (behave):     {behave.passed} passed, {behave.failed} failed, {behave.skipped} skipped")
    print()
    print(verdict_table(reports / "safety-report.json"))
    print()
    print("reports:")
    shown = [(place if (root / place).exists() else f"{place} (missing)", what) for place, what in PLACES]
    width = max(len(place) for place, _ in shown)
    for place, what in shown:
        print(f"  {place:<{width}}  {what}")
    return 0


if __name__ == "__main__":
    sys.path[:0] = [str(ROOT), str(ROOT / "src")]
    sys.exit(main())
