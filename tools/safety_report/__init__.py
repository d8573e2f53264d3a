"""The safety validation report: the plan's success criteria judged from a run's evidence.

Public API::

    from tools import safety_report as reporting
    report = reporting.generate("reports/run", "reports")   # writes safety-report.{md,html,json}
    report.verdicts  -> [Verdict(criterion, status, evidence, figures, failures)]
    reporting.main(["--evidence", "reports/run", "--out", "reports"])   # `krakenbot report`
"""
from __future__ import annotations

from tools.safety_report.criteria import CRITERIA, FAIL, NOT_EXERCISED, PASS, Failure, Verdict, judge
from tools.safety_report.evidence import JUnitResults, RunEvidence, load
from tools.safety_report.report import Report, build, generate, main, summary_table, write

__all__ = [
    "CRITERIA", "FAIL", "NOT_EXERCISED", "PASS", "Failure", "Verdict", "judge",
    "JUnitResults", "RunEvidence", "load",
    "Report", "build", "generate", "main", "summary_table", "write",
]
