"""Wall time of the specification (whole and ``@safety``) and the chaos soak's rate.

Both run as subprocesses. The specification runs as behave with the project's
``behave.ini`` and the same tag filter as ``make spec`` / ``make safety``, but without the
Allure/JUnit writers or the HTML report (rendering is not the specification's run time, and
the bench must not overwrite a report someone is producing in this tree). Absent code is a
recorded skip, not a failure.
"""
from __future__ import annotations

import re
import subprocess
import tempfile
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
_COUNT = re.compile(r"\((\d+) operations")
_OPS = re.compile(r"([\d][\d,]*(?:\.\d+)?)\s*(?:ops|operations)\s*/\s*s", re.IGNORECASE)


def _tail(text: str, lines: int = 3) -> str:
    return " / ".join(line.strip() for line in text.strip().splitlines()[-lines:])[:300]


def _run_spec(extra: list[str], timeout: float) -> dict:
    """behave itself, as ``make spec`` runs it but with no Allure/JUnit output: the bench must
    not overwrite the ``allure-results/`` or ``reports/`` of someone's spec run in this tree."""
    with tempfile.TemporaryDirectory(prefix="bench-spec-") as scratch:  # evidence too: never reports/run/
        return _run_behave(extra, timeout, scratch)


def _run_behave(extra: list[str], timeout: float, scratch: str) -> dict:
    command = [sys.executable, "-m", "behave", "--tags=not @wip", *extra, "-f", "progress", "--no-color",
               "--no-junit", "-D", f"evidence={scratch}/evidence.jsonl"]
    started = time.perf_counter()
    try:
        done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"command": "python " + " ".join(command[1:]), "seconds": time.perf_counter() - started,
                "returncode": "timeout", "summary": f"killed after {timeout:.0f} s"}
    seconds = time.perf_counter() - started
    scenarios = next((line.strip() for line in done.stdout.splitlines() if " scenario" in line and "passed" in line), "")
    return {
        "command": "python " + " ".join(command[1:]),
        "seconds": seconds,
        "returncode": done.returncode,
        "summary": scenarios or _tail(done.stdout + done.stderr),
    }


def spec_times(timeout: float = 150.0) -> dict:
    if not any((ROOT / "features").glob("*.feature")) or not (ROOT / "environment.py").exists():
        return {"skipped": "the specification (features/, environment.py) is not there yet"}
    return {"all": _run_spec([], timeout), "safety": _run_spec(["--tags=@safety"], timeout)}


def chaos_soak(seconds: float = 10.0, timeout: float = 120.0) -> dict:
    if not (ROOT / "bench" / "chaos.py").exists():
        return {"skipped": "bench/chaos.py does not exist yet"}
    command = [sys.executable, "-m", "bench.chaos", "--seconds", str(seconds)]
    started = time.perf_counter()
    try:
        done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"skipped": f"bench.chaos did not finish within {timeout:.0f} s"}
    return parse_chaos(done.stdout + done.stderr, done.returncode, time.perf_counter() - started, seconds)


def parse_chaos(output: str, returncode: int, wall: float, seconds: float) -> dict:
    """The soak's summary line (``N operations/s (M operations, ...)``, printed last) as figures."""
    matches = list(_OPS.finditer(output))
    if not matches:
        return {"skipped": f"bench.chaos printed no operations/s (exit {returncode}): {_tail(output)}"}
    last = matches[-1]
    ops = _COUNT.search(output[last.end():])
    return {"ops_per_s": float(last.group(1).replace(",", "")), "seconds": wall,
            "operations": int(ops.group(1)) if ops else None, "returncode": returncode,
            "detail": ("money invariants held" if returncode == 0 else "INVARIANT VIOLATIONS (exit 1)")
                      + f"; `python -m bench.chaos --seconds {seconds:g}`"}
