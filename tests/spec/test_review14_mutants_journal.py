"""Review 14: the mutation runner's journal (``--resume``). Failed against e37dc86 when written."""
from __future__ import annotations

import subprocess
import sys

from tools import mutants as mt
from tests.spec.test_mutants import ROOT, _result


def test_a_narrower_resume_keeps_the_journal_s_other_verdicts(tmp_path):
    """An interrupted whole run left verdicts for many modules; a `--resume --only <one module>` in the same --out
    rewrites the journal with that module's verdicts alone: the next whole `--resume` (same tree) has lost the
    others and runs them again (verdicts lost, hours of CPU on the whole set)."""
    args = ["--only", "safety/modes.py", "--sample", "2", "--no-coverage-map", "--out", str(tmp_path)]
    listed = subprocess.run([sys.executable, "-m", "tools.mutants", *args, "--list"], cwd=ROOT, capture_output=True,
                            text=True, check=True).stdout.split("\n")
    keys = [line for line in listed if line.startswith("src/")]
    assert len(keys) == 2, listed
    from tools.mutants.__main__ import COPIED
    journal = mt.Journal(tmp_path / "sample-journal.jsonl", mt.tree_stamp(ROOT, COPIED))
    journal.start({})
    other = mt.Mutant("j", "src/krakenbot/execution/executor.py", 700, 8, "core/NumberReplacer", 0)
    journal.add(other, _result("killed"), 1.0, "")  # a verdict of the earlier, wider run
    for key in keys:
        module, line, rest = key.split(":", 2)
        col, operator = rest.split(" ")
        journal.add(mt.Mutant("j", module, int(line), int(col), operator, 0), _result("killed"), 1.0, "")

    done = subprocess.run([sys.executable, "-m", "tools.mutants", *args, "--resume"], cwd=ROOT, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    kept, _ = mt.Journal(journal.path, journal.tree).kept()
    assert other.key in kept, sorted(kept)
