"""Build the safety validation report from a run's evidence and write it out.

Why apart from the criteria: judging is pure, writing files is not; ``generate`` is what
``tools/run_spec.py`` calls after every run and ``main`` is ``krakenbot report``.
"""
from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from tools.safety_report import render
from tools.safety_report.criteria import FAIL, Verdict, judge
from tools.safety_report.evidence import RunEvidence, load

FILES = ("safety-report.md", "safety-report.html", "safety-report.json")


@dataclass
class Report:
    meta: dict[str, Any]
    verdicts: list[Verdict]
    generated_at: float

    @property
    def failed(self) -> list[Verdict]:
        return [v for v in self.verdicts if v.status == FAIL]


def build(run: RunEvidence, generated_at: float | None = None) -> Report:
    meta = dict(run.meta)
    modes = sorted({str(s["mode"]) for row in run.scenarios for s in row.get("modes") or () if s.get("mode")})
    meta["modes"] = modes
    meta.setdefault("target", run.target)
    meta["evidence_dir"] = run.source
    return Report(meta, judge(run), time.time() if generated_at is None else generated_at)


def write(report: Report, out_dir: str | Path) -> list[Path]:
    folder = Path(out_dir)
    folder.mkdir(parents=True, exist_ok=True)
    args = (report.meta, report.verdicts, report.generated_at)
    paths = []
    for name, text in zip(FILES, (render.to_markdown(*args), render.to_html(*args), render.to_json(*args))):
        path = folder / name
        path.write_text(text, encoding="utf-8")
        paths.append(path)
    return paths


def generate(evidence_dir: str | Path, out_dir: str | Path, junit_dir: str | Path | None = None) -> Report:
    """Load, judge, write the three files; returns the report."""
    report = build(load(evidence_dir, junit_dir))
    write(report, out_dir)
    return report


def summary_table(report: Report) -> str:
    return render.summary_table(report.verdicts)


def main(argv: Sequence[str] | None = None) -> int:
    """``krakenbot report``: regenerate the report from the last run's evidence (nothing is re-run)."""
    parser = argparse.ArgumentParser(prog="krakenbot report", description=main.__doc__)
    parser.add_argument("--evidence", default="reports/run", help="folder with evidence.jsonl and run.json")
    parser.add_argument("--out", default="reports", help="where safety-report.{md,html,json} go")
    parser.add_argument("--junit", default=None, help="behave's JUnit folder (default: <evidence>/../junit)")
    args = parser.parse_args(list(argv) if argv is not None else None)
    evidence = Path(args.evidence)
    if not (evidence / "evidence.jsonl").is_file():
        print(f"krakenbot: report: no evidence in {evidence} (run `make spec` first)", file=sys.stderr)
        return 2
    report = generate(evidence, args.out, args.junit)
    print(summary_table(report))
    print(f"safety report: {Path(args.out) / FILES[1]} (also {FILES[0]} and {FILES[2]})")
    return 1 if report.failed else 0
