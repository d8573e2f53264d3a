"""Which @safety scenarios run which line of the mutated modules, so that a mutant is judged by only those.

A mutant on a line no scenario executes cannot be noticed by any; one on a line that three scenarios execute can be
noticed by those three only (mutmut 3 does the same with pytest). The map comes from one unmutated run of the @safety
scenarios under coverage.py, with the running scenario's location (``features/x.feature:LINE``) as the coverage
context: ``environment.py`` switches it in its scenario hooks when the runner sets ``ENV``, and every process a
scenario starts (a real ``krakenbot``) is measured under the same label through coverage's start-up hook.

Whatever can act beyond the scenario that ran it is mapped to "run everything" (``EVERYTHING``): lines run outside
any scenario (imports, ``before_all``), and lines run when a module or class is defined (module-level statements,
class bodies, decorators, default arguments), whichever scenario first imported the module, and the whole body of
a function whose result a cache keeps (later scenarios use what the first caller's run computed).
"""
from __future__ import annotations

import ast
import importlib
import os
import subprocess
from collections.abc import Iterable, Mapping
from pathlib import Path

ENV = "KRAKENBOT_SCENARIO_MAP"    # set by the runner for the map run: the mutated modules (os.pathsep-separated)
CONTEXT_ENV = "KRAKENBOT_SCENARIO"  # the running scenario's location: the label of a child process's coverage
OUTSIDE = ""                        # coverage's context for lines run outside any scenario
EVERYTHING = None                   # a mutant to judge with every @safety scenario (the old way)
_PASSED_TO_CHILDREN = ("COVERAGE_PROCESS_START", CONTEXT_ENV)


# ---- the behave side (environment.py's hooks, only when the runner set ENV) ------------------------------------

def start() -> None:
    """Import the mutated modules now, outside any scenario (their import-time code is then "everything"), and
    measure every process the scenarios start, even one given an environment of its own."""
    import coverage

    if coverage.Coverage.current() is None:
        raise RuntimeError(f"{ENV} is set but coverage is not measuring this process (COVERAGE_PROCESS_START unset?)")
    for path in os.environ[ENV].split(os.pathsep):
        importlib.import_module(module_name(path))
    subprocess.Popen = _Measured


def enter(location: str) -> None:
    """Label what runs from now on (here and in processes started from now on) with the scenario's location."""
    import coverage

    os.environ[CONTEXT_ENV] = location
    coverage.Coverage.current().switch_context(location)


def leave() -> None:
    import coverage

    os.environ.pop(CONTEXT_ENV, None)
    coverage.Coverage.current().switch_context(OUTSIDE)


class _Measured(subprocess.Popen):
    """A process started with an environment of its own (the specification gives the bot nothing of its own
    environment but PATH) still gets coverage's start-up variable and the scenario's label."""

    def __init__(self, *args, env=None, **kwargs):
        if env is not None:
            env = {**env, **{k: os.environ[k] for k in _PASSED_TO_CHILDREN if k in os.environ}}
        super().__init__(*args, env=env, **kwargs)


def module_name(path: str) -> str:
    """``src/krakenbot/risk/checks.py`` -> ``krakenbot.risk.checks``."""
    parts = Path(path).with_suffix("").parts
    return ".".join(parts[1:] if parts[0] == "src" else parts)


# ---- the runner side: the coverage configuration and what it measured ------------------------------------------

def write_config(folder: Path, root: Path, modules: Iterable[str]) -> Path:
    """A coverage configuration measuring ``modules`` (paths under ``root``), one data file per process in
    ``folder``, a child process labelled with the scenario that started it (``CONTEXT_ENV``)."""
    folder.mkdir(parents=True, exist_ok=True)
    rc = folder / "coveragerc"
    include = "".join(f"\n    {root / m}" for m in modules)
    rc.write_text(f"[run]\ncore = ctrace\nparallel = true\ndata_file = {folder / '.coverage'}\n"
                  f"context = ${{{CONTEXT_ENV}}}\ninclude ={include}\n", encoding="utf-8")
    return rc


def read_runs(rc: Path, root: Path, modules: Iterable[str]) -> dict[str, dict[int, set[str]]]:
    """{module: {line: the scenarios (locations, or OUTSIDE) that executed it}} from the map run's data files."""
    import coverage

    cov = coverage.Coverage(config_file=str(rc))
    cov.combine(keep=True)
    data = cov.get_data()
    return {m: {line: set(labels) for line, labels in data.contexts_by_lineno(str(root / m)).items()}
            for m in modules}


# ---- per mutant: which lines its statement covers, and so which scenarios -------------------------------------

_BODIES = ("body", "orelse", "finalbody", "handlers")


def _nested(node: ast.AST) -> list[ast.AST]:
    """The statements (and except clauses) nested in ``node``; a ``match``'s are its cases' bodies."""
    inner = [child for name in _BODIES for child in getattr(node, name, ()) or ()]
    return inner + [child for case in getattr(node, "cases", ()) or () for child in case.body]


def _start(node: ast.AST) -> int:
    return min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", ())])


def _header(node: ast.AST) -> range:
    """The lines of a statement without the statements nested in it: the whole of a simple one, the
    ``if``/``for``/``def`` part (decorators included) of a compound one."""
    inner = _nested(node)
    last = min(child.lineno for child in inner) - 1 if inner else node.end_lineno
    return range(_start(node), max(last, node.lineno) + 1)


def span(tree: ast.AST, first: int, last: int) -> range:
    """The lines of the innermost statement (its header, for a compound one) that holds lines ``first``..``last``:
    a line event may come from any line of a statement written over several lines."""
    holding = [node for node in ast.walk(tree) if isinstance(node, (ast.stmt, ast.excepthandler))
               and _start(node) <= first and last <= node.end_lineno]
    if not holding:
        return range(first, last + 1)
    header = _header(max(holding, key=lambda node: (_start(node), -node.end_lineno)))
    return range(min(header.start, first), max(header.stop, last + 1))


def definition_lines(tree: ast.AST) -> set[int]:
    """Lines run when the module is imported or a class defined: every statement at module or class level, and
    the header (decorators, arguments and their defaults) of every function defined there. A fault there acts on
    every scenario after the import, not only the one that first imported the module."""
    lines: set[int] = set()

    def visit(statements):
        for node in statements:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and _cached(node):
                lines.update(range(_start(node), node.end_lineno + 1))  # its result outlives the first caller
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                lines.update(_header(node))
            elif isinstance(node, ast.ClassDef):
                lines.update(_header(node))
                visit(node.body)
            else:  # a module-level if/try/for/with runs whole at import; a function defined in it does not
                lines.update(_header(node))
                visit(_nested(node))

    visit(tree.body)
    return lines


CACHING_DECORATORS = frozenset({"cache", "lru_cache", "cached_property"})


def _cached(node: ast.AST) -> bool:
    """Whether a function's result is kept across calls (``functools.cache``/``lru_cache``/``cached_property``):
    later scenarios then use a value its body computed in an earlier one, without running the body."""
    for decorator in node.decorator_list:
        target = decorator.func if isinstance(decorator, ast.Call) else decorator
        name = target.attr if isinstance(target, ast.Attribute) else getattr(target, "id", "")
        if name in CACHING_DECORATORS:
            return True
    return False


def executable_lines(source: str) -> set[int]:
    """The lines coverage.py counts as statements (their first lines), nothing excluded."""
    from coverage.parser import PythonParser

    parser = PythonParser(text=source, exclude=None)
    parser.parse_source()
    return set(parser.statements)


class ModuleMap:
    """One module's source facts and the scenarios that executed each of its lines."""

    def __init__(self, source: str, executed: Mapping[int, set[str]]):
        self.tree = ast.parse(source)
        self.definition = definition_lines(self.tree)
        self.statements = executable_lines(source)
        self.executed = executed

    def scenarios(self, first: int, last: int | None = None):
        """The locations that can notice a mutant on lines ``first``..``last`` (empty: none can), or EVERYTHING."""
        lines = set(span(self.tree, first, last or first))
        if lines & self.definition or not lines & self.statements:  # acts beyond one scenario, or unsure
            return EVERYTHING
        found = set().union(*(self.executed.get(line, ()) for line in lines))
        if OUTSIDE in found:
            return EVERYTHING
        return tuple(sorted(found, key=location_order))


def location_order(location: str) -> tuple[str, int]:
    """behave's own order: feature files by name, scenarios by line."""
    name, _, line = location.rpartition(":")
    return name, int(line)
