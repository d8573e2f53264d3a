"""Mutation testing of the bot's safety-critical modules: how much of their code the @safety scenarios guard.

cosmic-ray (config: ``cosmic-ray.toml`` beside this file) lists the mutants and applies each one; the runner
(``python -m tools.mutants``) works on a scratch copy of the tree, so an interrupted run never leaves a mutant in
``src/``. This module holds the runner's pure logic (kept apart so that it is unit tested without running mutants):
which mutants are noise, which are declared equivalent, the seeded sample, the score and the floor check.
"""
from __future__ import annotations

import ast
import hashlib
import json
import os
import re
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path

HERE = Path(__file__).resolve().parent
CONFIG = HERE / "cosmic-ray.toml"
EQUIVALENTS = HERE / "equivalent.txt"
FLOOR = HERE / "floor.txt"

# Calls whose arguments only shape a log line: a mutant there changes what is logged, never what is traded.
LOG_NAMES = frozenset({"log", "logger", "_log", "LOG"})
LOG_METHODS = frozenset({"debug", "info", "warning", "warn", "error", "exception", "critical", "log"})


@dataclass(frozen=True)
class Mutant:
    """One mutation as cosmic-ray lists it; ``key`` names it in equivalent.txt and survivors.txt."""
    job_id: str
    module: str
    line: int
    col: int
    operator: str
    occurrence: int
    nth: int = 0  # 1, 2, ... when the operator makes several mutants at one place (NumberReplacer: +1 and -1)

    @property
    def key(self) -> str:
        return f"{self.module}:{self.line}:{self.col} {self.operator}" + (f"#{self.nth}" if self.nth else "")

    @property
    def order(self) -> tuple:
        """A stable order (job ids are random uuids, so never sort or sample by them)."""
        return (self.module, self.line, self.col, self.operator, self.occurrence)


def from_work_item(item) -> Mutant:
    (spec,) = item.mutations
    return Mutant(item.job_id, Path(spec.module_path).as_posix(), spec.start_pos[0], spec.start_pos[1],
                  spec.operator_name, spec.occurrence)


def number_duplicates(mutants: list[Mutant]) -> list[Mutant]:
    """Give mutants that share module, place and operator a ``#n`` (in cosmic-ray's order) so every key is unique."""
    groups: dict[tuple, list[Mutant]] = defaultdict(list)
    for m in mutants:
        groups[(m.module, m.line, m.col, m.operator)].append(m)
    out = []
    for m in mutants:
        group = sorted(groups[(m.module, m.line, m.col, m.operator)], key=lambda g: g.occurrence)
        out.append(replace(m, nth=group.index(m) + 1) if len(group) > 1 else m)
    return out


# ---- equivalent mutants ---------------------------------------------------------------------------------------

_EQUIV_LINE = re.compile(r"^(?P<module>\S+\.py):(?P<line>\d+):(?P<col>\d+)\s+(?P<op>[^\s#]+(?:#\d+)?)\s*->\s*(?P<reason>.*\S)\s*$")


class EquivalentsError(ValueError):
    """A line of equivalent.txt that cannot be read; the message names file and line."""


def load_equivalents(path: Path = EQUIVALENTS) -> dict[str, str]:
    """``module:line:col operator[#n] -> reason`` per line (``#`` comments, blanks ignored): key -> reason.

    A line without a reason is refused: an equivalent mutant is a claim that a reviewer must be able to check.
    """
    if not path.exists():
        return {}
    found: dict[str, str] = {}
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        text = raw.strip()
        if not text or text.startswith("#"):
            continue
        match = _EQUIV_LINE.match(text)
        if not match:
            raise EquivalentsError(f"{path}:{number}: expected 'module.py:line:col operator -> reason', got {text!r}")
        key = f"{match['module']}:{match['line']}:{match['col']} {match['op']}"
        if key in found:
            raise EquivalentsError(f"{path}:{number}: {key} is declared twice")
        found[key] = match["reason"]
    return found


def split_equivalents(mutants: list[Mutant], declared: dict[str, str], modules: Iterable[str] | None = None):
    """(the mutants to run, {mutant: reason} of the declared equivalents, keys that match no mutant: stale).

    ``modules``: the modules this run mutates (all of the keys' when None); a key of another module is not stale."""
    by_key = {m.key: m for m in mutants}
    equivalent = {by_key[k]: reason for k, reason in declared.items() if k in by_key}
    ran = None if modules is None else set(modules)
    stale = sorted(k for k in declared if k not in by_key and (ran is None or k.split(":", 1)[0] in ran))
    rest = [m for m in mutants if m not in equivalent]
    return rest, equivalent, stale


# ---- noise: logging calls and type annotations ----------------------------------------------------------------

def _char_col(lines: list[str], line: int, byte_col: int) -> int:
    """ast counts columns in UTF-8 bytes, cosmic-ray (parso) in characters."""
    return len(lines[line - 1].encode("utf-8")[:byte_col].decode("utf-8", errors="ignore"))


def _annotations(tree: ast.AST):
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.returns is not None:
            yield node.returns
        elif isinstance(node, ast.arg) and node.annotation is not None:
            yield node.annotation
        elif isinstance(node, ast.AnnAssign):
            yield node.annotation


def _log_calls(tree: ast.AST):
    for node in ast.walk(tree):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                and node.func.attr in LOG_METHODS
                and isinstance(node.func.value, ast.Name) and node.func.value.id in LOG_NAMES):
            yield node


def noise_spans(source: str) -> list[tuple[tuple[int, int], tuple[int, int], str]]:
    """(start, end, why) positions (line, character column) in ``source`` where a mutant is noise.

    A ``log.<level>(...)`` call only shapes a log line, and a type annotation is not evaluated at run time
    (the modules use ``from __future__ import annotations``; ``str | None`` turned into ``str + None`` is the
    same program). Mutants there say nothing about the specification.
    """
    lines = source.splitlines()
    tree = ast.parse(source)
    spans = []
    for why, nodes in (("logging call", _log_calls(tree)), ("type annotation", _annotations(tree))):
        for node in nodes:
            spans.append(((node.lineno, _char_col(lines, node.lineno, node.col_offset)),
                          (node.end_lineno, _char_col(lines, node.end_lineno, node.end_col_offset)), why))
    return spans


def noise_reason(mutant: Mutant, spans) -> str | None:
    """Why ``mutant`` is noise (``spans`` from ``noise_spans`` of its module), or None."""
    for start, end, why in spans:
        if start <= (mutant.line, mutant.col) < end:
            return why
    return None


# ---- the seeded sample -------------------------------------------------------------------------------------------

def _rank(seed: int, mutant: Mutant) -> str:
    return hashlib.sha256(f"{seed}:{mutant.key}".encode()).hexdigest()


def sample(mutants: list[Mutant], size: int, seed: int) -> list[Mutant]:
    """A reproducible sample, spread over the modules in proportion to their mutants (at least one each).

    Within a module the mutants with the lowest hash of (seed, key) are taken: the same mutants and seed give the
    same sample on any machine, whatever their order or cosmic-ray's random job ids, and a change in one module
    (a mutant more or fewer) leaves the other modules' picks alone. The runner samples before it drops the
    declared equivalents, so declaring one never draws other mutants into the sample.
    """
    ordered = sorted(mutants, key=lambda m: m.order)
    if size <= 0 or size >= len(ordered):
        return ordered
    by_module: dict[str, list[Mutant]] = defaultdict(list)
    for m in ordered:
        by_module[m.module].append(m)
    modules = sorted(by_module)
    total = len(ordered)
    quota = {mod: size * len(by_module[mod]) / total for mod in modules}
    take = {mod: min(len(by_module[mod]), max(1, int(quota[mod]))) for mod in modules}
    # largest remainders get the seats left over (ties by module name: deterministic)
    for mod in sorted(modules, key=lambda mod: (-(quota[mod] - int(quota[mod])), mod)):
        if sum(take.values()) >= size:
            break
        if take[mod] < len(by_module[mod]):
            take[mod] += 1
    chosen = []
    for mod in modules:
        chosen.extend(sorted(by_module[mod], key=lambda m: _rank(seed, m))[:take[mod]])
    return sorted(chosen, key=lambda m: m.order)


# ---- the score and its floor -------------------------------------------------------------------------------------

def score(killed: int, survived: int) -> float:
    """Killed fraction of the mutants that ran to a verdict (timeouts count as killed; incompetent ones do not count)."""
    ran = killed + survived
    return killed / ran if ran else 1.0


def read_floor(path: Path = FLOOR) -> float:
    """The recorded minimum killed fraction: the first non-comment line of floor.txt, a number in [0, 1]."""
    for raw in path.read_text(encoding="utf-8").splitlines():
        text = raw.split("#", 1)[0].strip()
        if text:
            value = float(text)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{path}: the floor must be a fraction in [0, 1], got {text}")
            return value
    raise ValueError(f"{path}: no floor value (a fraction such as 0.55)")


def check_floor(value: float, floor: float) -> tuple[bool, str]:
    """(passes, one line): a score below the recorded floor is a regression of the specification."""
    if value + 1e-9 >= floor:
        return True, f"mutation score {value:.1%} >= floor {floor:.1%}"
    return False, f"mutation score {value:.1%} fell below the floor {floor:.1%}: a scenario stopped killing mutants"


# ---- verdicts and survivors ---------------------------------------------------------------------------------------

# The output of a mutant judged without a run: no @safety scenario executes its line (the coverage map says so).
UNREACHED = "not reached by any @safety scenario"


@dataclass
class Tally:
    """The verdicts so far: counts per verdict, one line per survivor and per incompetent mutant."""
    counts: Counter = field(default_factory=Counter)
    survivors: list[str] = field(default_factory=list)
    incompetent: list[str] = field(default_factory=list)
    unreached: int = 0  # survivors judged without a run: no @safety scenario executes their line

    def add(self, mutant: Mutant, result) -> str:
        """Count cosmic-ray's ``WorkResult`` for ``mutant``; the verdict (cosmic-ray reports a timeout as a kill
        whose output is "timeout")."""
        outcome = getattr(result.test_outcome, "value", result.test_outcome)
        if outcome == "killed":
            verdict = "timeout" if result.output == "timeout" else "killed"
        elif outcome == "survived":
            verdict = "survived"
            line = survivor_line(mutant, result.diff)
            if result.output == UNREACHED:
                self.unreached += 1
                line += f"  ({UNREACHED})"
            self.survivors.append(line)
        else:
            verdict = "incompetent"
            last = (result.output or "").strip().splitlines()[-1:]
            self.incompetent.append(f"{mutant.key}  | {' '.join(last)}")
        self.counts[verdict] += 1
        return verdict

    @property
    def done(self) -> int:
        return sum(self.counts.values())

    @property
    def score(self) -> float:
        return score(self.counts["killed"] + self.counts["timeout"], self.counts["survived"])


def describe_diff(diff: str | None) -> str:
    """``old => new`` from a unified diff of one mutation (the changed source lines, stripped)."""
    if not diff:
        return "?"
    old = [ln[1:].strip() for ln in diff.splitlines() if ln.startswith("-") and not ln.startswith("---")]
    new = [ln[1:].strip() for ln in diff.splitlines() if ln.startswith("+") and not ln.startswith("+++")]
    return f"{' / '.join(old)}  =>  {' / '.join(new)}"


def survivor_line(mutant: Mutant, diff: str | None) -> str:
    return f"{mutant.key}  | {describe_diff(diff)}"


# ---- the journal: an interrupted run goes on where it stopped ----------------------------------------------------

def tree_stamp(root: Path, names: Iterable[str]) -> str:
    """One hash of every file a run copies (``names`` under ``root``, bytecode left out): a verdict holds for the
    tree it was judged on, any change anywhere (a scenario, the simulator, another module) may change it."""
    digest = hashlib.sha256()
    for name in names:
        top = root / name
        files = sorted(top.rglob("*")) if top.is_dir() else [top]
        for path in files:
            if not path.is_file() or "__pycache__" in path.parts or path.suffix == ".pyc" \
                    or any(part.endswith(".egg-info") for part in path.parts):
                continue
            digest.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


class Journal:
    """The verdicts of a run, one JSON line each as it comes (flushed), under a first line naming the tree they
    were judged on. ``--resume`` keeps them when the tree is the same, so Ctrl-C, a crash or the end of a working
    day costs only the mutants that were running; on another tree it starts afresh and says why."""

    def __init__(self, path: Path, tree: str):
        self.path, self.tree = path, tree

    def kept(self) -> tuple[dict[str, dict], str]:
        """({key: record} of the verdicts this tree can reuse, why there are none when there are none)."""
        try:
            lines = self.path.read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            return {}, f"no journal at {self.path}"
        try:
            head = json.loads(lines[0]) if lines else {}
        except ValueError:
            head = {}
        if head.get("tree") != self.tree:
            return {}, "the tree changed since the journal's run (its verdicts may not hold)"
        records = {}
        for line in lines[1:]:
            try:
                record = json.loads(line)
            except ValueError:  # the line being written when the run was killed
                continue
            records[record["key"]] = record
        return records, ""

    def start(self, kept: dict[str, dict]) -> None:
        """A journal for this tree holding ``kept`` (every verdict of it a resume may reuse, those of mutants this
        run did not choose included: a narrower ``--only`` or sample loses nothing), written whole before it
        replaces the old one (an interrupt meanwhile leaves the old one)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fresh = self.path.with_name(self.path.name + ".new")
        with fresh.open("w", encoding="utf-8") as out:
            out.write(json.dumps({"tree": self.tree}) + "\n")
            for record in kept.values():
                out.write(json.dumps(record) + "\n")
        os.replace(fresh, self.path)

    def add(self, mutant: Mutant, result, took: float, scope: str) -> None:
        outcome = getattr(result.test_outcome, "value", result.test_outcome)
        output = result.output or ""
        record = {"key": mutant.key, "outcome": outcome, "output": output[-500:], "diff": result.diff,
                  "took": round(took, 2), "scope": scope}
        with self.path.open("a", encoding="utf-8") as out:
            out.write(json.dumps(record) + "\n")


def result_from(record: dict):
    """cosmic-ray's ``WorkResult`` back from a journal record (what the tally reads of it)."""
    from cosmic_ray.work_item import TestOutcome, WorkerOutcome, WorkResult

    return WorkResult(output=record["output"], diff=record["diff"], test_outcome=TestOutcome(record["outcome"]),
                      worker_outcome=WorkerOutcome.NORMAL)
