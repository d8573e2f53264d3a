"""The mutation runner's own logic: the seeded sample, the declared equivalents, the noise filter, the floor."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tools import mutants as mt

ROOT = Path(__file__).resolve().parents[2]


def _mutants(counts: dict[str, int]) -> list[mt.Mutant]:
    return [mt.Mutant(f"id-{mod}-{i}", mod, 10 + i, 4, "core/AddNot", 0) for mod, n in counts.items() for i in range(n)]


POPULATION = _mutants({"src/a.py": 60, "src/b.py": 30, "src/c.py": 9, "src/d.py": 1})


def test_the_same_seed_draws_the_same_sample_whatever_the_order_and_job_ids():
    shuffled = [mt.Mutant("other-" + m.job_id, m.module, m.line, m.col, m.operator, m.occurrence)
                for m in reversed(POPULATION)]
    first = [m.key for m in mt.sample(POPULATION, 20, seed=17)]
    assert first == [m.key for m in mt.sample(shuffled, 20, seed=17)]
    assert first != [m.key for m in mt.sample(POPULATION, 20, seed=18)]


def test_the_sample_spreads_over_the_modules_in_proportion_with_at_least_one_each():
    chosen = mt.sample(POPULATION, 20, seed=1)
    per_module = {mod: sum(m.module == mod for m in chosen) for mod in ("src/a.py", "src/b.py", "src/c.py", "src/d.py")}
    assert len(chosen) == 20 and len(set(chosen)) == 20
    assert per_module == {"src/a.py": 12, "src/b.py": 6, "src/c.py": 1, "src/d.py": 1}


def test_a_sample_as_large_as_the_population_is_all_of_it():
    assert len(mt.sample(POPULATION, 0, seed=1)) == len(POPULATION)
    assert len(mt.sample(POPULATION, 500, seed=1)) == len(POPULATION)


def test_declared_equivalents_are_taken_out_and_stale_entries_reported(tmp_path):
    path = tmp_path / "equivalent.txt"
    target = POPULATION[3]
    path.write_text("# comment\n\n"
                    f"{target.key} -> the clock is never read before start\n"
                    "src/a.py:999:4 core/AddNot -> a line that no longer has this mutant\n")
    declared = mt.load_equivalents(path)
    rest, equivalent, stale = mt.split_equivalents(POPULATION, declared)
    assert equivalent == {target: "the clock is never read before start"}
    assert target not in rest and len(rest) == len(POPULATION) - 1
    assert stale == ["src/a.py:999:4 core/AddNot"]
    assert mt.split_equivalents(POPULATION, declared, modules=["src/b.py"])[2] == []  # a run of other modules


@pytest.mark.parametrize("line", ["src/a.py:10:4 core/AddNot", "src/a.py:10:4 core/AddNot ->   ", "src/a.py core/AddNot -> x"])
def test_an_equivalent_without_a_reason_or_position_is_refused_with_its_line(tmp_path, line):
    path = tmp_path / "equivalent.txt"
    path.write_text(line + "\n")
    with pytest.raises(mt.EquivalentsError, match=r"equivalent.txt:1: expected"):
        mt.load_equivalents(path)


def test_an_equivalent_declared_twice_is_refused(tmp_path):
    path = tmp_path / "equivalent.txt"
    path.write_text("src/a.py:10:4 core/AddNot -> one\nsrc/a.py:10:4 core/AddNot -> two\n")
    with pytest.raises(mt.EquivalentsError, match="declared twice"):
        mt.load_equivalents(path)


def test_the_checked_in_equivalents_file_reads():
    mt.load_equivalents()


def test_the_floor_fails_only_a_score_below_it(tmp_path):
    path = tmp_path / "floor.txt"
    path.write_text("# the minimum killed fraction\n0.55  # raised on 2024-01-01\n")
    floor = mt.read_floor(path)
    assert floor == 0.55
    assert mt.check_floor(mt.score(11, 9), floor)[0]          # 55 %: at the floor passes
    ok, message = mt.check_floor(mt.score(10, 10), floor)     # 50 %: a regression
    assert not ok and "fell below the floor 55.0%" in message
    assert mt.score(0, 0) == 1.0


@pytest.mark.parametrize("text", ["1.5\n", "# only a comment\n"])
def test_a_floor_out_of_range_or_missing_is_refused(tmp_path, text):
    path = tmp_path / "floor.txt"
    path.write_text(text)
    with pytest.raises(ValueError):
        mt.read_floor(path)


def test_the_checked_in_floor_reads():
    assert 0.0 <= mt.read_floor() <= 1.0


SOURCE = '''from __future__ import annotations
import logging
log = logging.getLogger(__name__)

def f(x: int | None, é: str = "é") -> int | None:
    log.warning("x is %s", x + 1)
    return x | 1 if x is not None else None
'''


def test_mutants_in_logging_calls_and_annotations_are_noise_and_real_code_is_not():
    from cosmic_ray.operators.binary_operator_replacement import ReplaceBinaryOperator_BitOr_Add

    spans = mt.noise_spans(SOURCE)
    positions = [start for node in _walk_parso(SOURCE)
                 for start, _end in ReplaceBinaryOperator_BitOr_Add().mutation_positions(node)]
    reasons = [mt.noise_reason(mt.Mutant("j", "m.py", line, col, "op", 0), spans) for line, col in positions]
    # int | None (arg), int | None (return) are annotations; x | 1 in the body is code
    assert reasons == ["type annotation", "type annotation", None]
    add = mt.Mutant("j", "m.py", 6, SOURCE.splitlines()[5].index("+"), "op", 0)
    assert mt.noise_reason(add, spans) == "logging call"


def test_a_level_chosen_inside_log_log_is_noise_like_any_logging_call():
    source = 'import logging\nlog = logging.getLogger()\nlog.log(logging.WARNING if s == "U" else logging.INFO, "%s", s)\n'
    spans = mt.noise_spans(source)
    assert mt.noise_reason(mt.Mutant("j", "m.py", 3, source.splitlines()[2].index("=="), "op", 0), spans) \
        == "logging call"


def _walk_parso(source):
    from cosmic_ray.ast import ast_nodes, get_ast

    return list(ast_nodes(get_ast(source)))


def test_the_survivor_line_shows_the_changed_code():
    diff = "--- mutation diff ---\n--- a/x.py\n+++ b/x.py\n@@ -1 +1 @@\n-    if a < b:\n+    if a <= b:\n"
    m = mt.Mutant("j", "src/x.py", 1, 9, "core/ReplaceComparisonOperator_Lt_LtE", 0)
    assert mt.survivor_line(m, diff) == "src/x.py:1:9 core/ReplaceComparisonOperator_Lt_LtE  | if a < b:  =>  if a <= b:"


def _module_hashes():
    import hashlib

    return {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted((ROOT / "src" / "krakenbot").rglob("*.py"))}


@pytest.mark.timeout(400)  # beyond its own deadline for the first verdict, which a loaded machine may need
def test_an_interrupted_run_leaves_the_sources_and_no_scratch_copy(tmp_path):
    """Ctrl-C while a mutant's scenarios run: exit 130, src/ as it was, the scratch copy gone, the verdicts so far
    in the journal."""
    before = _module_hashes()
    scratch = tmp_path / "tmp"  # its own temporary directory: another run's scratch copies are not this one's
    scratch.mkdir()
    proc = subprocess.Popen([sys.executable, "-m", "tools.mutants", "--only", "safety/modes.py", "--sample", "20",
                             "--no-coverage-map", "--out", str(tmp_path)], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, env={**os.environ, "PYTHONUNBUFFERED": "1", "TMPDIR": str(scratch)},
                            # a pytest worker may run with SIGINT ignored, which a child inherits: Ctrl-C as a terminal
                            # gives it, whatever the parent's disposition
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.monotonic() + 300  # listing and the unmutated run, on a loaded machine
    seen = ""
    # The first mutant judged: the second one runs now, and 18 more (some of them a whole @safety run) are to come.
    while "[1/20]" not in seen and time.monotonic() < deadline:
        seen += proc.stdout.readline()
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 130, seen + out
    assert "interrupted" in out
    assert _module_hashes() == before
    assert list(scratch.glob("krakenbot-mutants-*")) == []
    from tools.mutants.__main__ import COPIED
    kept, _ = mt.Journal(tmp_path / "sample-journal.jsonl", mt.tree_stamp(ROOT, COPIED)).kept()
    assert len(kept) >= 1  # the verdicts before the interrupt: `--resume` keeps them


def test_a_change_in_one_module_leaves_the_other_modules_picks_alone():
    fewer = [m for m in POPULATION if m.key != "src/a.py:10:4 core/AddNot"]
    before, after = mt.sample(POPULATION, 20, seed=5), mt.sample(fewer, 20, seed=5)
    assert [m for m in before if m.module != "src/a.py"] == [m for m in after if m.module != "src/a.py"]


def test_mutants_at_one_place_by_one_operator_get_distinct_keys_that_equivalents_can_name(tmp_path):
    plus, minus, other = (mt.Mutant("j1", "src/a.py", 5, 9, "core/NumberReplacer", 3),
                          mt.Mutant("j2", "src/a.py", 5, 9, "core/NumberReplacer", 4),
                          mt.Mutant("j3", "src/a.py", 6, 9, "core/NumberReplacer", 5))
    numbered = mt.number_duplicates([minus, plus, other])
    assert [m.key for m in numbered] == ["src/a.py:5:9 core/NumberReplacer#2", "src/a.py:5:9 core/NumberReplacer#1",
                                         "src/a.py:6:9 core/NumberReplacer"]
    path = tmp_path / "equivalent.txt"
    path.write_text("src/a.py:5:9 core/NumberReplacer#2 -> the -1 variant cannot matter here\n")
    _rest, equivalent, stale = mt.split_equivalents(numbered, mt.load_equivalents(path))
    assert [m.job_id for m in equivalent] == ["j2"] and stale == []


def test_the_tally_tells_timeouts_from_kills_and_lists_survivors_and_incompetent_ones():
    from cosmic_ray.work_item import TestOutcome, WorkerOutcome, WorkResult

    m = mt.Mutant("j", "src/x.py", 1, 9, "core/ReplaceComparisonOperator_Lt_LtE", 0)
    diff = "--- a/x.py\n+++ b/x.py\n@@ -1 +1 @@\n-if a < b:\n+if a <= b:\n"
    tally = mt.Tally()
    verdicts = [tally.add(m, WorkResult(WorkerOutcome.NORMAL, output=out, test_outcome=outcome, diff=diff))
                for out, outcome in (("1 failed", TestOutcome.KILLED), ("timeout", TestOutcome.KILLED),
                                     ("ok", TestOutcome.SURVIVED), ("Traceback\nOSError: boom", TestOutcome.INCOMPETENT))]
    assert verdicts == ["killed", "timeout", "survived", "incompetent"]
    assert tally.survivors == ["src/x.py:1:9 core/ReplaceComparisonOperator_Lt_LtE  | if a < b:  =>  if a <= b:"]
    assert tally.incompetent == ["src/x.py:1:9 core/ReplaceComparisonOperator_Lt_LtE  | OSError: boom"]
    assert tally.score == 2 / 3 and tally.done == 4


def test_follow_moves_a_key_to_where_its_line_went_and_leaves_the_others(tmp_path):
    """After an edit above a declared line, ``python -m tools.mutants.follow REV`` puts the key back on it."""
    from tools.mutants.follow import follow

    def git(*args):
        subprocess.run(["git", *args], cwd=tmp_path, check=True, capture_output=True)

    module = tmp_path / "src" / "m.py"
    module.parent.mkdir()
    module.write_text("a = 1\nif a < 2:\n    b = 3\nc = 4\nc = 4\n")
    git("init", "-q")
    git("-c", "user.email=t@t", "-c", "user.name=t", "commit", "-q", "--allow-empty", "-m", "empty")
    git("add", ".")
    git("-c", "user.email=t@t", "-c", "user.name=t", "commit", "-q", "-m", "m")
    equivalents = tmp_path / "equivalent.txt"
    equivalents.write_text("# header\nsrc/m.py:2:5 core/X -> why\nsrc/m.py:1:0 core/Y -> kept\n"
                           "src/m.py:4:0 core/Z -> a line there twice\n")
    module.write_text("# a comment above\na = 1\nif a < 2:\n    b = 3\nc = 4\nc = 4\n")

    moved, unplaced = follow("HEAD", root=tmp_path, path=equivalents)

    assert equivalents.read_text() == ("# header\nsrc/m.py:3:5 core/X -> why\nsrc/m.py:2:0 core/Y -> kept\n"
                                       "src/m.py:4:0 core/Z -> a line there twice\n")
    assert moved == ["src/m.py:2 -> 3", "src/m.py:1 -> 2"] and unplaced == ["src/m.py:4:0 core/Z (its line is there 2 times)"]


def test_ctrl_c_while_the_workers_copies_are_made_drops_every_copy(tmp_path, monkeypatch):
    """An interrupt while the third scratch copy is being compiled: the second and the half-made third are
    dropped with the first (each copy is known to the clean-up from the moment its folder exists). The unmutated
    run is taken as passing so that the test reaches the copies at once."""
    import tempfile

    import cosmic_ray.testing
    from cosmic_ray.work_item import TestOutcome

    import tools.mutants.__main__ as runner

    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    monkeypatch.setattr(cosmic_ray.testing, "run_tests", lambda command, timeout: (TestOutcome.SURVIVED, ""))
    real_copy, real_run = runner._scratch_copy, subprocess.run
    made: list[int] = []

    def counted_copy(into):
        made.append(1)
        return real_copy(into)

    def compileall_or_ctrl_c(*args, **kwargs):
        if len(made) == 3:  # the third copy's files are in place: Ctrl-C during its compileall
            raise KeyboardInterrupt
        return real_run(*args, **kwargs)

    monkeypatch.setattr(runner, "_scratch_copy", counted_copy)
    monkeypatch.setattr(subprocess, "run", compileall_or_ctrl_c)
    status = runner.main(["--only", "safety/modes.py", "--sample", "6", "--workers", "4", "--out", str(tmp_path)])

    assert status == 130 and len(made) == 3
    assert sorted(p.name for p in scratch.glob("krakenbot-mutants-*")) == [], "scratch copies left behind"


def test_no_test_run_starts_once_the_run_is_stopping_and_every_started_one_is_ended():
    """The stop check, the start and the registration are one step: a run either started before the stop (and
    is ended by it) or never starts."""
    import tools.mutants.__main__ as runner

    runner._TrackedPopen.stopping.clear()
    proc = runner._TrackedPopen([sys.executable, "-c", "import time; time.sleep(60)"], start_new_session=True)
    try:
        runner._TrackedPopen.stopping.set()
        with pytest.raises(KeyboardInterrupt):
            runner._TrackedPopen([sys.executable, "-c", "pass"])
        runner._end_test_runs()
        assert proc.poll() is not None and runner._TrackedPopen.live == []
    finally:
        runner._TrackedPopen.stopping.clear()
        if proc.poll() is None:
            proc.kill()


def test_a_mutant_no_scenario_reaches_counts_as_a_survivor_and_is_named_apart():
    from cosmic_ray.work_item import TestOutcome, WorkerOutcome, WorkResult

    m = mt.Mutant("j", "src/x.py", 1, 9, "core/ReplaceComparisonOperator_Lt_LtE", 0)
    diff = "--- a/x.py\n+++ b/x.py\n@@ -1 +1 @@\n-if a < b:\n+if a <= b:\n"
    tally = mt.Tally()
    assert tally.add(m, WorkResult(WorkerOutcome.NORMAL, output=mt.UNREACHED, test_outcome=TestOutcome.SURVIVED,
                                   diff=diff)) == "survived"
    assert tally.add(m, WorkResult(WorkerOutcome.NORMAL, output="ok", test_outcome=TestOutcome.SURVIVED,
                                   diff=diff)) == "survived"
    assert tally.counts["survived"] == 2 and tally.unreached == 1 and tally.score == 0.0
    assert tally.survivors[0].endswith("=>  if a <= b:  (not reached by any @safety scenario)")
    assert not tally.survivors[1].endswith(")")


def _result(outcome: str, output: str = "", diff: str | None = None):
    from cosmic_ray.work_item import TestOutcome, WorkerOutcome, WorkResult

    return WorkResult(WorkerOutcome.NORMAL, output=output, test_outcome=TestOutcome(outcome), diff=diff)


def test_the_journal_gives_back_each_verdict_for_the_same_tree_and_none_for_another(tmp_path):
    path = tmp_path / "journal.jsonl"
    a, b, c = POPULATION[:3]
    journal = mt.Journal(path, "tree-1")
    journal.start({})
    journal.add(a, _result("killed", "timeout"), 3.0, ", 4 scenarios")
    journal.add(b, _result("survived", mt.UNREACHED, "--- a\n+++ b\n@@\n-x = 1\n+x = 2\n"), 0.0, "")
    journal.add(c, _result("incompetent", "SyntaxError"), 0.1, "")
    with path.open("a", encoding="utf-8") as out:
        out.write('{"key": "src/a.py:13:4 core/Ad')  # the line being written when the run was killed

    kept, why = mt.Journal(path, "tree-1").kept()
    assert why == "" and list(kept) == [a.key, b.key, c.key] and kept[a.key]["scope"] == ", 4 scenarios"
    tally = mt.Tally()
    assert [tally.add(m, mt.result_from(kept[m.key])) for m in (a, b, c)] == ["timeout", "survived", "incompetent"]
    assert tally.unreached == 1 and tally.survivors == [f"{b.key}  | x = 1  =>  x = 2  ({mt.UNREACHED})"]

    assert mt.Journal(path, "tree-2").kept() == ({}, "the tree changed since the journal's run (its verdicts may not hold)")
    assert mt.Journal(tmp_path / "none.jsonl", "tree-1").kept()[0] == {}


def test_the_tree_stamp_changes_with_any_copied_file_and_not_with_bytecode(tmp_path):
    (tmp_path / "src" / "__pycache__").mkdir(parents=True)
    (tmp_path / "src" / "m.py").write_text("x = 1\n")
    (tmp_path / "steps.py").write_text("y = 1\n")
    first = mt.tree_stamp(tmp_path, ("src", "steps.py", "absent.py"))
    (tmp_path / "src" / "__pycache__" / "m.cpython-311.pyc").write_bytes(b"\0")
    assert mt.tree_stamp(tmp_path, ("src", "steps.py", "absent.py")) == first
    (tmp_path / "steps.py").write_text("y = 2\n")
    assert mt.tree_stamp(tmp_path, ("src", "steps.py", "absent.py")) != first


def test_resume_keeps_an_earlier_run_of_the_same_tree_and_runs_nothing_it_holds(tmp_path):
    """The verdicts a run of this tree wrote are the report: no unmutated run, no scenario, the same counts; the
    journal keeps the verdicts of mutants this narrower run did not choose."""
    args = ["--only", "safety/modes.py", "--sample", "2", "--no-coverage-map", "--out", str(tmp_path)]
    listed = subprocess.run([sys.executable, "-m", "tools.mutants", *args, "--list"], cwd=ROOT, capture_output=True,
                            text=True, check=True).stdout.split("\n")
    keys = [line for line in listed if line.startswith("src/")]
    assert len(keys) == 2, listed
    from tools.mutants.__main__ import COPIED
    journal = mt.Journal(tmp_path / "sample-journal.jsonl", mt.tree_stamp(ROOT, COPIED))
    journal.start({})
    wider = mt.Mutant("j", "src/krakenbot/execution/executor.py", 700, 8, "core/NumberReplacer", 0)
    journal.add(wider, _result("killed"), 1.0, "")  # a verdict of an earlier, wider run (review14)
    for key, outcome in zip(keys, ("killed", "survived")):
        module, line, rest = key.split(":", 2)
        col, operator = rest.split(" ")
        journal.add(mt.Mutant("j", module, int(line), int(col), operator, 0), _result(outcome, diff="-a\n+b\n"), 1.0, "")

    done = subprocess.run([sys.executable, "-m", "tools.mutants", *args, "--resume"], cwd=ROOT, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"--resume: 2 verdicts kept from {journal.path}" in done.stdout
    assert "killed: 1  timeouts: 0  survived: 1" in done.stdout
    assert "[1/2]" not in done.stdout  # nothing ran
    assert (tmp_path / "sample-survivors.txt").read_text(encoding="utf-8").startswith(keys[1])
    kept = mt.Journal(journal.path, journal.tree).kept()[0]
    assert sorted(kept) == sorted([*keys, wider.key])  # what it kept, and the wider run's for a wider resume


def test_a_mutant_cosmic_ray_cannot_make_is_incompetent_not_a_crash_of_the_run(tmp_path):
    """An unreached mutant is made without a run: cosmic-ray's ExceptionReplacer fails on a dotted name in a tuple of an
    except clause, which its mutate_and_test reports as incompetent; so does the runner, and the run goes on."""
    from cosmic_ray.work_item import MutationSpec, TestOutcome

    from tools.mutants.__main__ import _unreached

    module = tmp_path / "m.py"
    module.write_text("import sqlite3\ntry:\n    pass\nexcept (sqlite3.Error, ValueError):\n    pass\n", encoding="utf-8")
    spec = MutationSpec(module_path=module, operator_name="core/ExceptionReplacer", occurrence=0,
                        start_pos=(4, 8), end_pos=(4, 21))
    result = _unreached(spec)
    assert result.test_outcome == TestOutcome.INCOMPETENT and "AttributeError" in result.output
    assert mt.Tally().add(mt.Mutant("j", "m.py", 4, 7, "core/ExceptionReplacer", 0), result) == "incompetent"
