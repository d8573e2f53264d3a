"""Counts from behave's JUnit files: the closing line CI reads.

behave's own summary is not parsed by CI as a test count, and a tag filter that
selects nothing exits 0; these counts let the runner fail such a run.
"""
from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Counts:
    passed: int
    failed: int
    skipped: int

    @property
    def total(self) -> int:
        return self.passed + self.failed + self.skipped

    def line(self) -> str:
        return f"behave: {self.passed} passed, {self.failed} failed, {self.skipped} skipped"


def count(junit_dir: Path) -> Counts:
    """Scenarios by outcome over every ``TESTS-*.xml`` (errors count as failures)."""
    passed = failed = skipped = 0
    for path in sorted(Path(junit_dir).glob("*.xml")):
        for case in ET.parse(path).getroot().iter("testcase"):
            if case.find("failure") is not None or case.find("error") is not None:
                failed += 1
            elif case.find("skipped") is not None or case.get("status") in ("skipped", "untested"):
                skipped += 1
            else:
                passed += 1
    return Counts(passed, failed, skipped)
