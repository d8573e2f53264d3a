"""Run the mutants: ``python -m tools.mutants [--sample N --seed S --floor FILE]`` (see ``make mutants``).

The steps: copy the tree to a scratch folder, check the @safety scenarios pass there unmutated, list the mutants
with cosmic-ray, drop the excluded ones (operators in the config, ``# pragma: no mutate`` lines, logging calls,
the declared equivalents), run each chosen mutant with cosmic-ray's ``mutate_and_test`` in a scratch copy
(``--workers`` copies, each holding one mutation at a time), then print the counts, write
reports/mutants/{survivors.txt,summary.txt} and, with ``--floor``, fail on a score below the recorded floor. The
worktree's sources are never written: on Ctrl-C, a kill or a crash the copies are dropped and ``git diff src/``
stays clean (checked by hashing the modules before and after).
"""
from __future__ import annotations

import argparse
import hashlib
import os
import queue
import resource
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import types
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from pathlib import Path

from tools import mutants as mt
from tools.mutants import scenario_map

ROOT = mt.HERE.parents[1]
COPIED = ("src", "features", "steps", "tools", "environment.py", "behave.ini", "pyproject.toml")
OUT = ROOT / "reports" / "mutants"
BASELINE_TIMEOUT = 600.0  # the unmutated run only proves the scenarios pass; mutants get a bound from its time
MAP_FROM = 12  # runs of this many mutants or more build the scenario map first (docs/MUTATION.md, "How long")


def _hashes(root: Path, modules) -> dict[str, str]:
    return {m: hashlib.sha256((root / m).read_bytes()).hexdigest() for m in modules}


def _scratch_copy(made: list[Path]) -> Path:
    """A copy of the tree to mutate, added to ``made`` as soon as it exists: an interrupt while it is being
    filled still leaves the caller the folder to drop."""
    copy = Path(tempfile.mkdtemp(prefix="krakenbot-mutants-"))
    made.append(copy)
    for name in COPIED:
        src = ROOT / name
        if src.is_dir():
            shutil.copytree(src, copy / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info"))
        elif src.exists():
            shutil.copy2(src, copy / name)
    # cosmic-ray runs the tests with PYTHONDONTWRITEBYTECODE: without bytecode made here every run would compile
    # the whole tree again, slowing every run. Checked-hash .pyc files are used only while the source is unchanged,
    # so the mutated module is always compiled from its mutated text, however fast the edits follow each other.
    subprocess.run([sys.executable, "-m", "compileall", "-q", "--invalidation-mode", "checked-hash",
                    *(str(copy / name) for name in COPIED if name.endswith(".py") or (copy / name).is_dir())],
                   check=True, stdout=subprocess.DEVNULL)
    return copy


def _test_command(cfg) -> str:
    """The configured command with ``python`` meaning this interpreter (the venv's, not whatever is on PATH)."""
    words = shlex.split(cfg["test-command"])
    if words and words[0] == "python":
        words[0] = sys.executable
    return shlex.join(words)


def _scope(plan: dict, m) -> str:
    """What judged the mutant, as its verdict line says it (nothing when the run had no map)."""
    if not plan:
        return ""
    scenarios = plan[m]
    if scenarios is scenario_map.EVERYTHING:
        return ", every scenario"
    return f", {len(scenarios)} scenarios" if scenarios else f", {mt.UNREACHED}"


def _duration(seconds: float) -> str:
    return f"{seconds / 3600:.1f} h" if seconds >= 3600 else f"{seconds / 60:.0f} min"


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _raise_interrupt(signum, _frame):
    raise KeyboardInterrupt(f"signal {signum}")


class _TrackedPopen(subprocess.Popen):
    """cosmic-ray starts each test run in its own session, out of reach of Ctrl-C: remember it to end it. A worker
    thread's run starts in that worker's own scratch copy (``_worker.copy``), whatever the process's cwd is."""
    live: list[subprocess.Popen] = []
    stopping = threading.Event()
    lock = threading.Lock()  # the stop check, the start and the registration are one step for _end_test_runs

    def __init__(self, *args, **kwargs):
        copy = getattr(_worker, "copy", None)
        if copy is not None:
            kwargs["cwd"] = copy
            kwargs["env"] = {**kwargs.get("env", os.environ), "PYTHONPATH": _pythonpath(copy)}
        with _TrackedPopen.lock:
            if _TrackedPopen.stopping.is_set():
                raise KeyboardInterrupt("the run is being stopped")
            super().__init__(*args, **kwargs)
            _TrackedPopen.live.append(self)


_worker = threading.local()


class _NothingToRun(Exception):
    """Every chosen mutant's verdict was kept from the journal: straight to the report."""


def _pythonpath(copy: Path) -> str:
    return os.pathsep.join([str(copy / "src"), str(copy)])


def _track_test_runs() -> None:
    import cosmic_ray.testing
    proxy = types.ModuleType("subprocess")
    proxy.__dict__.update(subprocess.__dict__)
    proxy.Popen = _TrackedPopen
    cosmic_ray.testing.subprocess = proxy


def _end_test_runs() -> None:
    """Kill every test run started so far; with ``stopping`` set, none can start after this."""
    with _TrackedPopen.lock:
        started, _TrackedPopen.live[:] = list(_TrackedPopen.live), []
    for proc in started:
        if proc.poll() is None:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except OSError:
                proc.kill()
            proc.wait()
            _wait_group_gone(proc.pid)


def _wait_group_gone(pgid: int, bound: float = 5.0) -> None:
    """Wait (bounded) until no process of the run's group is left: a killed grandchild (the real bot a scenario
    started) can still finish the file it was creating, and a copy removed before that would be left behind."""
    until = time.monotonic() + bound
    while time.monotonic() < until:
        try:
            os.killpg(pgid, 0)
        except OSError:
            return
        time.sleep(0.05)


def _map_scenarios(copy: Path, command: str, modules: list[str], timeout: float) -> dict | None:
    """{module: ModuleMap} from one unmutated run of the test command under coverage in ``copy`` (see
    scenario_map); None, with the reason printed, if that run fails (the mutants are then judged the old way)."""
    folder = copy / ".scenario-map"
    rc = scenario_map.write_config(folder, copy, modules)
    env = {**os.environ, "PYTHONPATH": _pythonpath(copy), "COVERAGE_PROCESS_START": str(rc),
           scenario_map.ENV: os.pathsep.join(modules)}
    proc = _TrackedPopen(shlex.split(command), cwd=copy, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         start_new_session=True)
    try:
        output, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        _end_test_runs()
        output = b"timeout"
    if proc.returncode != 0:
        print(f"mutants: the coverage map run failed, every mutant runs every scenario:\n"
              f"{output.decode(errors='replace')[-2000:]}", file=sys.stderr)
        return None
    try:
        runs = scenario_map.read_runs(rc, copy, modules)
    except Exception as exc:  # noqa: BLE001 - no map is the old way, never a wrong verdict
        print(f"mutants: the coverage map could not be read ({exc}), every mutant runs every scenario", file=sys.stderr)
        return None
    return {m: scenario_map.ModuleMap((copy / m).read_text(encoding="utf-8"), runs[m]) for m in modules}


def _unreached(spec):
    """The result of a mutant (its ``MutationSpec``) that no scenario can notice: survived, with its diff, no run."""
    import cosmic_ray.plugins
    from cosmic_ray.mutating import _make_diff, mutate_code
    from cosmic_ray.work_item import TestOutcome, WorkerOutcome, WorkResult

    operator = cosmic_ray.plugins.get_operator(spec.operator_name)(**(spec.operator_args or {}))
    source = spec.module_path.read_text(encoding="utf-8")
    try:
        mutated = mutate_code(source, operator, spec.occurrence)
    except Exception:  # noqa: BLE001 - cosmic-ray cannot make it (e.g. a dotted name in an except clause): incompetent,
        # as its mutate_and_test reports it, never a crash of the whole run
        import traceback
        return WorkResult(output=traceback.format_exc(), test_outcome=TestOutcome.INCOMPETENT,
                          worker_outcome=WorkerOutcome.EXCEPTION)
    diff = "\n".join(_make_diff(source, mutated, spec.module_path)) if mutated is not None else None
    return WorkResult(output=mt.UNREACHED, diff=diff, test_outcome=TestOutcome.SURVIVED,
                      worker_outcome=WorkerOutcome.NORMAL)


def _enumerate(cfg, db):
    """All mutants into ``db`` (fresh), the excluded ones marked SKIPPED with the reason in their output; the rest."""
    from cosmic_ray.commands.init import init
    from cosmic_ray.tools.filters.operators_filter import OperatorsFilter
    from cosmic_ray.tools.filters.pragma_no_mutate import PragmaNoMutateFilter
    from cosmic_ray.work_item import WorkerOutcome, WorkResult

    init([Path(p) for p in cfg["module-path"]], db, {})
    OperatorsFilter()._skip_filtered(db, cfg.sub("filters", "operators-filter").get("exclude-operators", ()))
    PragmaNoMutateFilter().filter(db, None)
    pending = mt.number_duplicates([mt.from_work_item(item) for item in db.pending_work_items])
    spans = {mod: mt.noise_spans(Path(mod).read_text(encoding="utf-8")) for mod in {m.module for m in pending}}
    noise = {m: why for m in pending if (why := mt.noise_reason(m, spans[m.module]))}
    for m, why in noise.items():
        db.set_result(m.job_id, WorkResult(output=f"noise: inside a {why}", worker_outcome=WorkerOutcome.SKIPPED))
    pending = [m for m in pending if m not in noise]
    return pending, len(noise), db.num_work_items


def _drop_equivalents(db, pending, declared, modules):
    """The mutants to run, {mutant: reason} of the declared equivalents, stale keys; equivalents marked SKIPPED."""
    from cosmic_ray.work_item import WorkerOutcome, WorkResult

    runnable, equivalent, stale = mt.split_equivalents(pending, declared, modules)
    for m, reason in equivalent.items():
        db.set_result(m.job_id, WorkResult(output=f"equivalent: {reason}", worker_outcome=WorkerOutcome.SKIPPED))
    return runnable, equivalent, stale


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.mutants", description=__doc__.splitlines()[0])
    parser.add_argument("--sample", type=int, default=0, help="run a seeded sample of N mutants (0: all)")
    parser.add_argument("--seed", type=int, default=17, help="the sample's seed")
    parser.add_argument("--floor", type=Path, help="fail when the killed fraction is below the value in this file")
    parser.add_argument("--only", action="append", default=[], help="only modules whose path contains this text")
    parser.add_argument("--out", type=Path, default=OUT, help="where survivors.txt, summary.txt and the session go")
    parser.add_argument("--list", action="store_true", help="only list and count the mutants, run none")
    parser.add_argument("--workers", type=int, default=max(1, min(4, os.cpu_count() or 1)),
                        help="mutants judged at once, each in its own scratch copy (default: the cores, at most 4)")
    parser.add_argument("--coverage-map", action=argparse.BooleanOptionalAction, default=None,
                        help="judge each mutant with only the scenarios that run its line, from one coverage run"
                             f" (default: for runs of {MAP_FROM} mutants or more); --no-coverage-map: every scenario")
    parser.add_argument("--resume", action="store_true",
                        help="keep the verdicts an interrupted run of the same tree wrote to its journal in --out")
    args = parser.parse_args(argv)

    from attrs import evolve
    from cosmic_ray.config import load_config
    from cosmic_ray.mutating import mutate_and_test
    from cosmic_ray.work_db import WorkDB, use_db
    from cosmic_ray.work_item import TestOutcome

    started = time.monotonic()
    cfg = load_config(str(mt.CONFIG))
    if args.only:
        cfg["module-path"] = [p for p in cfg["module-path"] if any(o in p for o in args.only)]
        if not cfg["module-path"]:
            print(f"mutants: no configured module matches {args.only}", file=sys.stderr)
            return 2
    modules = list(cfg["module-path"])
    try:
        declared = mt.load_equivalents()
        floor = mt.read_floor(args.floor) if args.floor else None
    except (OSError, ValueError) as exc:
        print(f"mutants: {exc}", file=sys.stderr)
        return 2
    before = _hashes(ROOT, modules)
    tree = mt.tree_stamp(ROOT, COPIED)
    args.out.mkdir(parents=True, exist_ok=True)
    session = (args.out / ("sample.sqlite" if args.sample else "session.sqlite")).resolve()
    session.unlink(missing_ok=True)
    command = _test_command(cfg)
    copies: list[Path] = []
    pool = None
    results: dict = {}
    scopes: dict = {}  # mutant -> what judged it, as its verdict line says it
    kept: dict = {}
    journal = mt.Journal((args.out / ("sample-journal.jsonl" if args.sample else "journal.jsonl")).resolve(), tree)
    old_cwd, old_handler = os.getcwd(), signal.signal(signal.SIGTERM, _raise_interrupt)
    tally = mt.Tally()
    seconds = 0.0
    chosen: list = []
    runnable: list = []
    equivalent: dict = {}
    drawn_equivalent = 0
    plan: dict = {}
    map_seconds = None
    status = 0
    run_started = time.monotonic()
    cpu_started = 0.0
    _track_test_runs()
    try:
        copy = _scratch_copy(copies)
        # the journal's verdicts hold for ``tree``: every copy must be it (hashed before anything runs in it,
        # acted on once the worker copies exist, before any mutant is judged)
        first_copy_differs = mt.tree_stamp(copy, COPIED) != tree
        os.chdir(copy)
        os.environ["PYTHONPATH"] = _pythonpath(copy)
        with use_db(str(session), WorkDB.Mode.create) as db:
            pending, noise, total = _enumerate(cfg, db)
            runnable, equivalent, stale = _drop_equivalents(db, pending, declared, modules)
            drawn = mt.sample(pending, args.sample, args.seed) if args.sample else pending
            chosen = sorted((m for m in drawn if m not in equivalent), key=lambda m: m.order)
            drawn_equivalent = len(drawn) - len(chosen)
            print(f"mutants: {total} listed in {len(modules)} modules; {total - len(runnable) - len(equivalent) - noise}"
                  f" excluded by operator or pragma, {noise} in logging calls or annotations, {len(equivalent)} declared equivalent;"
                  f" {len(runnable)} to judge, {len(chosen)} chosen" + (f" (seed {args.seed})" if args.sample else ""))
            for key in stale:
                print(f"mutants: {'error' if floor is not None else 'warning'}: equivalent.txt names no current"
                      f" mutant: {key} (line moved? update it)")
            if stale and floor is not None:  # a stale entry lets an equivalent mutant run and survive: the score drifts
                print(f"mutants: {len(stale)} stale entries in equivalent.txt: the score would not be comparable."
                      " `python -m tools.mutants.follow REV` (REV: the last commit they were right at) moves them; then"
                      " check each reason still holds there",
                      file=sys.stderr)
                return 2
            if args.list:
                for m in chosen:
                    print(m.key)
                return 0
            records: dict = {}
            if args.resume:
                records, why = journal.kept()
                keys = {m.key: m for m in chosen}
                kept = {k: r for k, r in records.items() if k in keys}
                print(f"mutants: --resume: {len(kept)} verdicts kept from {journal.path}" if kept
                      else f"mutants: --resume: nothing kept: {why or 'the journal holds none of these mutants'}")
                for key, record in kept.items():
                    results[keys[key]] = mt.result_from(record)
                    scopes[keys[key]] = record["scope"]
            journal.start(records)  # the verdicts of mutants this run did not choose stay for a wider resume
            to_run = [m for m in chosen if m not in results]
            if not to_run:
                raise _NothingToRun
            from cosmic_ray.testing import run_tests
            baseline_started = time.monotonic()
            outcome, output = run_tests(command, BASELINE_TIMEOUT)
            # A mutant's run may take a few times the unmutated one (a loaded machine, a mutant that slows a wait):
            # only a run far beyond it is a hang. A fixed bound would count a slow machine's runs as kills.
            timeout = max(float(cfg["timeout"]), 3 * (time.monotonic() - baseline_started))
            if outcome != TestOutcome.SURVIVED:
                print(f"mutants: the unmutated @safety run fails, so no mutant can be judged:\n{output[-2000:]}",
                      file=sys.stderr)
                return 2
            pristine = {m: (copy / m).read_bytes() for m in modules}
            by_id = {item.job_id: item for item in db.pending_work_items}
            if args.coverage_map if args.coverage_map is not None else len(to_run) >= MAP_FROM:
                map_started = time.monotonic()
                maps = _map_scenarios(copy, command, modules, 3 * timeout)
                map_seconds = time.monotonic() - map_started
                if maps is not None:
                    plan = {m: maps[m.module].scenarios(m.line, by_id[m.job_id].mutations[0].end_pos[0])
                            for m in to_run}
                    runs = [len(p) for p in plan.values() if p is not None]
                    print(f"mutants: scenario map in {map_seconds:.0f}s: {sum(p is None for p in plan.values())}"
                          f" run every scenario, {runs.count(0)} none (not reached by any @safety scenario),"
                          f" {len(runs) - runs.count(0)} some ({sum(runs) / max(1, len(runs) - runs.count(0)):.0f}"
                          " scenarios on average)", flush=True)
            for _ in range(1, min(args.workers, len(to_run))):
                _scratch_copy(copies)
            if first_copy_differs or any(mt.tree_stamp(where, COPIED) != tree for where in copies[1:]):
                print("mutants: the tree changed while the run started (an edit under src/, features/, steps/ or"
                      " tools/): its verdicts would be stamped with another tree; run again", file=sys.stderr)
                return 2
            free = queue.SimpleQueue()
            for where in copies:
                free.put(where)

            def judge(m):
                """One mutant in whichever scratch copy is free (a copy holds one mutation at a time)."""
                where = _worker.copy = free.get()
                try:
                    t0 = time.monotonic()
                    mutations = [evolve(spec, module_path=where / spec.module_path)
                                 for spec in by_id[m.job_id].mutations]
                    scenarios = plan.get(m, scenario_map.EVERYTHING)
                    if scenarios == ():
                        return _unreached(mutations[0]), 0.0
                    if scenarios is scenario_map.EVERYTHING:
                        result = mutate_and_test(mutations, command, timeout)
                    else:
                        result = mutate_and_test(mutations, f"{command} {shlex.join(scenarios)}", timeout)
                    if (where / m.module).read_bytes() != pristine[m.module]:
                        raise RuntimeError(f"cosmic-ray left {m.module} mutated in the scratch copy")
                    return result, time.monotonic() - t0
                finally:
                    _worker.copy = None
                    free.put(where)

            run_started = time.monotonic()
            cpu_started = _children_cpu()
            pool = ThreadPoolExecutor(len(copies), thread_name_prefix="mutant")
            running = {pool.submit(judge, m): m for m in to_run}
            while running:
                finished, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in finished:
                    m = running.pop(future)
                    result, took = future.result()
                    db.set_result(m.job_id, result)
                    results[m], scopes[m] = result, _scope(plan, m)
                    journal.add(m, result, took, scopes[m])
                    verdict = mt.Tally().add(m, result)
                    print(f"[{len(results)}/{len(chosen)}] {verdict:<11} {m.key} ({took:.1f}s{scopes[m]})",
                          flush=True)
    except _NothingToRun:
        pass
    except KeyboardInterrupt:
        print(f"\nmutants: interrupted after {len(results)} mutants; the scratch copies are dropped,"
              " the worktree was never written; `--resume` goes on from here while the tree is unchanged",
              file=sys.stderr)
        status = 130
    finally:
        # the clean-up runs to its end: a second Ctrl-C or a SIGTERM now would leave copies and runs behind
        old_int = signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        seconds = time.monotonic() - run_started
        _TrackedPopen.stopping.set()  # no worker starts another run; the running ones are ended
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)
            _end_test_runs()
            pool.shutdown(wait=True)  # each worker puts its module back before its copy goes
        _end_test_runs()
        _TrackedPopen.stopping.clear()
        cpu = _children_cpu() - cpu_started
        os.chdir(old_cwd)
        for where in copies:
            for _ in range(3):  # a file a dying run wrote after the first pass leaves the folder: go again
                shutil.rmtree(where, ignore_errors=True)
                if not where.exists():
                    break
        if _hashes(ROOT, modules) != before:
            print("mutants: ERROR: a module in src/ changed during the run (see git diff src/)", file=sys.stderr)
            status = 3
        signal.signal(signal.SIGTERM, old_handler)
        signal.signal(signal.SIGINT, old_int)
    if args.list or status == 2:
        return status

    for m in chosen:  # in the sample's order, whichever worker finished first
        if m in results:
            tally.add(m, results[m])
    value, done, counts = tally.score, tally.done, tally.counts
    workers = len(copies)
    ran = done - len(kept)  # this run's own: the kept verdicts took an earlier run's time
    rate = seconds / ran if ran else 0.0  # wall time per mutant, all workers together
    cpu_rate = cpu / ran if ran else 0.0
    mapped = map_seconds or 0.0  # the map is built once, whatever the number of mutants
    lines = [
        f"mutants run: {done} of {len(runnable)} judgeable ({'seed %d sample' % args.seed if args.sample else 'all'})"
        + (f", {len(kept)} of them kept from the journal of an earlier run of this tree" if kept else ""),
        f"killed: {counts['killed']}  timeouts: {counts['timeout']}  survived: {counts['survived']}"
        + (f" ({tally.unreached} of them {mt.UNREACHED}, not run)" if plan else "") +
        f"  incompetent: {counts['incompetent']}  equivalent (declared, not run): {len(equivalent)}"
        + (f" ({drawn_equivalent} of them drawn)" if args.sample else ""),
        f"score (killed incl. timeouts / killed + survived): {value:.1%}",
        f"time: {time.monotonic() - started:.0f}s elapsed on {workers} worker{'s' * (workers > 1)},"
        + (f" {map_seconds:.0f}s of it the scenario map," if map_seconds is not None else " no scenario map,")
        + f" {rate:.1f}s per mutant ({cpu_rate:.1f}s of CPU each); all {len(runnable)} would take about"
        f" {_duration(mapped + len(runnable) * rate)} at this pace, {_duration(len(runnable) * cpu_rate)} of CPU",
    ]
    survivors_file = args.out / ("sample-survivors.txt" if args.sample else "survivors.txt")
    (args.out / ("sample-verdicts.txt" if args.sample else "verdicts.txt")).write_text(
        "".join(f"{m.key} {mt.Tally().add(m, results[m])}{scopes[m]}\n" for m in chosen if m in results),
        encoding="utf-8")
    survivors_file.write_text("".join(s + "\n" for s in tally.survivors), encoding="utf-8")
    (args.out / ("sample-summary.txt" if args.sample else "summary.txt")).write_text(
        "\n".join(lines + ["incompetent:"] + tally.incompetent) + "\n", encoding="utf-8")
    print("\n".join(lines))
    shown = survivors_file.relative_to(ROOT) if survivors_file.is_relative_to(ROOT) else survivors_file
    print(f"survivors ({len(tally.survivors)}): {shown}")
    if status:
        return status
    if floor is not None:
        ok, message = mt.check_floor(value, floor)
        print(message)
        return 0 if ok else 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
