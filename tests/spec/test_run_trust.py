"""Trust in the run itself: a run that cannot mean what it says stops, or says so.

- a misspelt tag (in a feature or in ``--tags``) stops the run before any scenario with one line
  naming it, with behave alone as with ``tools.run_spec``; so do tags that select nothing;
- the safety report never reuses an earlier run's evidence: a stopped, aborted, killed or
  partial run is judged on its own and vouches for nothing it did not run;
- a scenario's verdict does not depend on its position in the run: a bot in a process of its own
  places orders after any other scenario, as many times as the run holds it.
"""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tools import safety_report as reporting

ROOT = Path(__file__).resolve().parents[2]
BEHAVE = [sys.executable, "-m", "behave", "-f", "plain", "--no-color", "--no-junit"]
ONE = "A market buy is filled"  # one quick scenario


def _behave(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run([*BEHAVE, *args], cwd=cwd, capture_output=True, text=True, timeout=120)


def _run_spec(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tools.run_spec", "--no-report", "--quiet", "--out", str(tmp_path),
                           *args], cwd=ROOT, capture_output=True, text=True, timeout=120)


def _said(result: subprocess.CompletedProcess) -> list[str]:
    """What behave said beyond its banner."""
    lines = (result.stdout + result.stderr).splitlines()
    return [line for line in lines if line.strip() and not line.startswith("USING RUNNER")]


@pytest.fixture
def misspelt_features(tmp_path: Path) -> Path:
    """The real risk feature with @safety misspelt, beside the real steps and hooks."""
    (tmp_path / "features").mkdir()
    (tmp_path / "steps").symlink_to(ROOT / "steps")
    (tmp_path / "environment.py").symlink_to(ROOT / "environment.py")
    text = (ROOT / "features" / "risk.feature").read_text()
    assert "@safety @critical" in text
    (tmp_path / "features" / "risk.feature").write_text(text.replace("@safety @critical", "@saftey @critical"))
    return tmp_path / "features"


def test_a_misspelt_tag_in_a_feature_stops_behave_with_one_line_naming_it(misspelt_features, tmp_path):
    result = _behave("-D", f"evidence={tmp_path / 'run' / 'evidence.jsonl'}", str(misspelt_features))

    assert result.returncode == 2, result.stdout + result.stderr
    said = _said(result)
    assert len(said) == 1, said
    assert said[0].startswith("stopped before any scenario ran: unknown tag @saftey at ")
    assert "risk.feature:17" in said[0] and "tag_scheme.py" in said[0]


@pytest.mark.parametrize("tags", ["@saftey", "@safety and not @fault-injecton", "@allure.label.story:daily-limt"])
def test_a_misspelt_tag_in_the_tag_expression_stops_behave_with_one_line_naming_it(tags, tmp_path):
    result = _behave(f"--tags={tags}", "-D", f"evidence={tmp_path / 'run' / 'evidence.jsonl'}")

    assert result.returncode == 2, result.stdout + result.stderr
    wrong = tags.split()[-1]
    assert _said(result) == [f"stopped before any scenario ran: unknown tag {wrong} at --tags "
                             "(the tag scheme: tools/spec_support/tag_scheme.py)"]


def test_tags_that_select_no_scenario_stop_behave_alone(tmp_path):
    result = _behave("--tags=@safety and @performance", "-D", f"evidence={tmp_path / 'run' / 'evidence.jsonl'}")

    assert result.returncode == 2, result.stdout + result.stderr
    assert _said(result) == ["stopped before any scenario ran: --tags='@safety and @performance' select(s) "
                             "no scenario in features"]


def test_the_runner_stops_on_a_misspelt_tag_with_that_line_and_no_report(tmp_path):
    result = _run_spec(tmp_path, "--tags=@saftey")

    assert result.returncode == 2, result.stdout + result.stderr
    assert "stopped before any scenario ran: unknown tag @saftey at --tags" in result.stderr
    assert "HOOK-ERROR" not in result.stdout + result.stderr and "ABORTED" not in result.stdout + result.stderr
    assert "safety criterion" not in result.stdout  # nothing ran: no verdict table
    assert not (tmp_path / "safety-report.html").exists()


def test_a_stopped_run_leaves_no_earlier_evidence_or_report_behind(tmp_path):
    first = _run_spec(tmp_path, "-n", ONE)
    assert first.returncode in (0, 1), first.stdout + first.stderr  # one scenario: some criteria not demonstrated
    assert (tmp_path / "safety-report.json").exists() and (tmp_path / "run" / "evidence.jsonl").read_text()

    second = _run_spec(tmp_path, "--tags=@saftey")

    assert second.returncode == 2
    assert not (tmp_path / "safety-report.json").exists()
    assert (tmp_path / "run" / "evidence.jsonl").read_text() == ""
    meta = json.loads((tmp_path / "run" / "run.json").read_text())
    assert meta["status"] == "stopped" and "unknown tag @saftey" in meta["reason"]
    verdicts = reporting.judge(reporting.load(tmp_path / "run", tmp_path / "junit"))
    assert [v.status for v in verdicts if v.status == reporting.PASS] == []
    assert "stopped before any scenario ran: unknown tag @saftey" in verdicts[0].failures[0].lines[0]


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory) -> Path:
    """A real run of two scenarios that finished."""
    folder = tmp_path_factory.mktemp("finished")
    result = subprocess.run([sys.executable, "-m", "behave", "--tags=not @wip", "-f", "null", "-n", ONE,
                             "-n", "The trade after the daily allowance is refused", "--junit", "--junit-directory",
                             str(folder / "junit"), "-D", f"evidence={folder / 'run' / 'evidence.jsonl'}"],
                            cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    return folder


def _copy(run: Path, tmp_path: Path) -> tuple[Path, dict, list[dict]]:
    shutil.copytree(run, tmp_path / "copy")
    folder = tmp_path / "copy" / "run"
    rows = [json.loads(line) for line in (folder / "evidence.jsonl").read_text().splitlines()]
    return folder, json.loads((folder / "run.json").read_text()), rows


def _judge(folder: Path, meta: dict, rows: list[dict]) -> dict[str, reporting.Verdict]:
    (folder / "run.json").write_text(json.dumps(meta))
    (folder / "evidence.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return {v.criterion: v for v in reporting.judge(reporting.load(folder, folder.parent / "junit"))}


def test_the_finished_run_itself_is_judged_on_its_evidence(finished_run, tmp_path):
    folder, meta, rows = _copy(finished_run, tmp_path)
    verdicts = _judge(folder, meta, rows)
    assert meta["status"] == "finished" and len(rows) == 2 and {r["run_id"] for r in rows} == {meta["run_id"]}
    assert verdicts["All scenarios pass"].status == reporting.PASS
    assert verdicts["Test allocation respected"].status == reporting.PASS


@pytest.mark.parametrize("status, why", [
    ("running", "the run never finished (killed or crashed before its end was recorded)"),
    ("aborted", "the run was aborted (interrupted, or a hook failed) before it finished"),
])
def test_a_killed_or_aborted_run_passes_nothing_and_says_why(finished_run, tmp_path, status, why):
    folder, meta, rows = _copy(finished_run, tmp_path)
    meta["status"] = status

    verdicts = _judge(folder, meta, rows)

    assert verdicts["All scenarios pass"].status == reporting.FAIL
    assert why in verdicts["All scenarios pass"].failures[0].lines
    for verdict in verdicts.values():
        assert verdict.status != reporting.PASS, verdict
    assert verdicts["Test allocation respected"].status == reporting.NOT_EXERCISED
    assert verdicts["Test allocation respected"].note == f"not judged: {why}"
    assert f"not judged: {why}" in reporting.render.summary_table(list(verdicts.values()))


def test_evidence_an_earlier_run_left_is_never_judged_as_this_runs(finished_run, tmp_path):
    """A run killed right after it started: its run.json, the earlier run's lines."""
    folder, meta, rows = _copy(finished_run, tmp_path)
    meta.update(run_id="a-later-run", status="running")

    verdicts = _judge(folder, meta, rows)

    run = reporting.load(folder, folder.parent / "junit")
    assert run.scenarios == []
    assert all(v.status != reporting.PASS for v in verdicts.values())
    assert any("2 evidence line(s) not from the run in run.json ignored" in p for p in run.problems)


def test_a_partial_run_fails_the_first_criterion_and_passes_nothing_else(finished_run, tmp_path):
    folder, meta, rows = _copy(finished_run, tmp_path)

    verdicts = _judge(folder, meta, rows[:1])

    assert verdicts["All scenarios pass"].status == reporting.FAIL
    assert all(v.status != reporting.PASS for v in verdicts.values())
    assert verdicts["Test allocation respected"].note == "not judged: partial run: 1 of the 2 selected scenario(s) " \
                                                         "recorded evidence"


# The scenarios whose bot runs in a process of its own and must place orders before the kill.
ORDERING_RUNNING_BOTS = {"The kill switch reaches a running bot started from another directory"}


def test_every_running_bot_places_orders_whatever_ran_before_it_in_the_run(tmp_path):
    """The operator feature twice in one run (behave reads a file once: two copies), its kill-switch
    scenarios only: bots in processes of their own, on the machine's clock, run after one another and
    after in-process scenarios, each of which starts a fresh simulated day. Each places its orders (a
    refusal for clock skew times its wait out; ``--stop`` ends the run at the first failure)."""
    features = tmp_path / "features"
    features.mkdir()
    (tmp_path / "steps").symlink_to(ROOT / "steps")
    (tmp_path / "environment.py").symlink_to(ROOT / "environment.py")
    text = (ROOT / "features" / "operator_controls.feature").read_text()
    for copy in ("first", "second"):
        (features / f"{copy}.feature").write_text(text)
    evidence = tmp_path / "run" / "evidence.jsonl"

    result = _behave("--stop", "--tags=@allure.label.story:kill-switch", "-D", f"evidence={evidence}", str(features),
                     cwd=tmp_path)

    assert result.returncode == 0, "\n".join(line[:400] for line in _said(result) if "fail" in line.lower())
    rows = [json.loads(line) for line in evidence.read_text().splitlines()]
    running = [r for r in rows if r["name"] in ORDERING_RUNNING_BOTS]
    assert len(running) == 2 and len(rows) > 4, [r["name"] for r in rows]
    for row in running:
        assert any(c["endpoint"] == "AddOrder" and c["outcome"] == "ok" for c in row["access_log"]), row["name"]
