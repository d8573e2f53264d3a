"""Import time and resident memory of a module, each in a fresh interpreter.

A fresh subprocess per sample, so nothing is already in ``sys.modules``; the median of a
few samples because the first one may pay for a cold disk cache. Every module is imported from
bytecode, as an installed package is: pip wrote the peers' ``.pyc`` files at install time, and our
source (an editable install, imported from ``src/``) is compiled here first
(``compile_own_bytecode``): where ``PYTHONDONTWRITEBYTECODE`` is set, as on this machine and in CI,
Python would otherwise recompile it on every import while reading the peers' bytecode.
"""
from __future__ import annotations

import json
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

_PROBE = r"""
import importlib, json, sys, time
def rss():
    with open('/proc/self/status') as f:
        for line in f:
            if line.startswith('VmRSS:'):
                return int(line.split()[1])
before = rss()
t0 = time.perf_counter()
for name in sys.argv[1].split(","):
    importlib.import_module(name)
seconds = time.perf_counter() - t0
print(json.dumps({"seconds": seconds, "rss_before_kib": before, "rss_after_kib": rss()}))
"""

# What Bot.build imports (it imports lazily, so ``import krakenbot.bot`` alone says little).
WHOLE_BOT = ("krakenbot.bot,krakenbot.client,krakenbot.execution.executor,krakenbot.orchestrator,"
             "krakenbot.positions,krakenbot.risk,krakenbot.safety.wrapper,krakenbot.store,krakenbot.market_data")
MODULES = ("krakenbot", "krakenbot.client", WHOLE_BOT, "ccxt", "requests", "http.client")


def probe(module: str) -> dict:
    """One fresh-interpreter import of ``module`` (or a comma-separated list): seconds, RSS (KiB)."""
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, module], capture_output=True, text=True, cwd=ROOT, timeout=60
    )
    if done.returncode != 0:
        return {"error": (done.stderr.strip().splitlines() or ["failed"])[-1][:200]}
    return json.loads(done.stdout)


def _importtime_rows(code: str) -> list[dict]:
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60
    )
    rows = []
    for line in done.stderr.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        fields = [f.strip() for f in line[len("import time:"):].split("|")]
        if len(fields) == 3 and fields[0].isdigit():
            rows.append({"module": fields[2].strip(), "self_us": int(fields[0]), "cumulative_us": int(fields[1])})
    return rows


def slowest_imports(module: str, top: int = 5) -> list[dict]:
    """The heaviest imports ``module`` brings in (by self time), from ``python -X importtime``."""
    startup = {r["module"] for r in _importtime_rows("pass")}
    rows = [r for r in _importtime_rows(f"import {module}") if r["module"] not in startup]
    rows.sort(key=lambda r: r["self_us"], reverse=True)
    return rows[:top]


def compile_own_bytecode() -> bool:
    """Write ``src/krakenbot``'s ``__pycache__`` (git-ignored); True when every file compiled.
    ``compileall`` writes it even under ``PYTHONDONTWRITEBYTECODE``, which only stops the import
    system from writing it."""
    import compileall

    return bool(compileall.compile_dir(str(ROOT / "src" / "krakenbot"), quiet=1))


def measure(modules: tuple[str, ...] = MODULES, samples: int = 3) -> dict:
    """Median import seconds and RSS growth (MiB) per module, plus the raw samples."""
    if not compile_own_bytecode():
        raise RuntimeError("compiling src/krakenbot failed: its import time would include compiling")
    out: dict = {}
    for module in modules:
        runs = [probe(module) for _ in range(samples)]
        good = [r for r in runs if "error" not in r]
        if not good:
            out[module] = {"error": runs[0]["error"]}
            continue
        out[module] = {
            "seconds": statistics.median(r["seconds"] for r in good),
            "rss_after_mib": statistics.median(r["rss_after_kib"] for r in good) / 1024,
            "rss_growth_mib": statistics.median(r["rss_after_kib"] - r["rss_before_kib"] for r in good) / 1024,
            "samples": len(good),
        }
    for module in ("krakenbot", "krakenbot.client", WHOLE_BOT):
        if "error" not in out.get(module, {"error": 1}):
            out[module]["slowest"] = slowest_imports(module)
    return out
