"""What a person sees last: ``make test`` ends with the totals, the safety verdicts and where the
reports are; ``make safety`` writes its files beside the full run's, never over them."""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from tools import test_summary

ROOT = Path(__file__).resolve().parents[2]


def _make_dry_run(target: str) -> list[str]:
    # --no-print-directory: run under another make (as .ci/run does) make adds "Entering directory" lines
    result = subprocess.run(["make", "-n", "--no-print-directory", target,
                             f"PY={sys.executable}"], cwd=ROOT, capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    return [line for line in result.stdout.splitlines() if line.strip()]


def test_make_test_runs_the_summary_last():
    commands = _make_dry_run("test")
    assert commands[-1].endswith("-m tools.test_summary"), commands
    assert any("tools.run_spec" in c for c in commands[:-1])


def test_make_safety_writes_beside_the_full_run():
    assert any(c.endswith("-m tools.run_spec --tags=@safety --out=reports/safety-only") for c in _make_dry_run("safety"))


def test_a_run_with_its_own_folder_leaves_the_other_runs_files_alone(tmp_path):
    def run(folder: Path) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "tools.run_spec", "--no-report", "--quiet", "--out", str(folder),
                               "-n", "A market buy is filled"], cwd=ROOT, capture_output=True, text=True, timeout=120)

    run(tmp_path / "full")
    before = {p: p.read_bytes() for p in (tmp_path / "full").rglob("*") if p.is_file()}
    assert tmp_path / "full" / "safety-report.html" in before

    second = run(tmp_path / "full" / "safety-only")

    assert f"this run's files are in {tmp_path / 'full' / 'safety-only'}/" in second.stdout
    assert f"safety report: {tmp_path / 'full' / 'safety-only' / 'safety-report.html'}" in second.stdout
    assert {p: p.read_bytes() for p in before} == before
    assert (tmp_path / "full" / "safety-only" / "allure-results").is_dir()


def test_the_summary_ends_with_totals_verdicts_and_places_counted_once_by_ci(tmp_path, capsys):
    from tools import safety_report as reporting

    reports = tmp_path / "reports"
    (reports / "junit").mkdir(parents=True)
    (reports / "pytest.xml").write_text('<testsuites><testsuite tests="12" failures="1" errors="1" skipped="3">'
                                        "</testsuite></testsuites>")
    (reports / "junit" / "TESTS-a.xml").write_text('<testsuite><testcase name="a"/><testcase name="b"/></testsuite>')
    run = subprocess.run([sys.executable, "-m", "behave", "--tags=not @wip", "-f", "null", "-n", "A market buy is filled",
                          "--no-junit", "-D", f"evidence={reports / 'run' / 'evidence.jsonl'}"],
                         cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr
    reporting.generate(reports / "run", reports, junit_dir=reports / "junit")
    (reports / "safety-report.html").touch()

    assert test_summary.main(tmp_path) == 0
    lines = capsys.readouterr().out.splitlines()

    assert "pytest (unit, integration): 7 passed, 2 failed, 3 skipped" in lines
    assert "specification (behave):     2 passed, 0 failed, 0 skipped" in lines
    table = lines.index(next(line for line in lines if line.startswith("safety criterion")))
    assert lines[table + 2].startswith("All scenarios pass")
    assert any(line.startswith("overall") for line in lines[table:])
    assert lines[-5] == "reports:"
    assert lines[-3].split()[0] == "reports/safety-report.html" and "(missing)" not in lines[-3]
    assert lines[-4].split()[:2] == ["allure-report/index.html", "(missing)"]
    # .ci/run adds up the lines holding "N passed" that hold " in " or start with "behave:": none here
    assert not [line for line in lines if re.search(r"\d+ passed", line)
                and (" in " in line or line.strip().strip("=").strip().startswith("behave:"))]
