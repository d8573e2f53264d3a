"""Behave hooks: one embedded exchange per run, a fresh bot per scenario, evidence per scenario.

Userdata (``-D name=value``) and environment:
  target=simulator|live (or KRAKEN_TARGET)  simulator by default. ``live`` runs only @live-safe
      scenarios against the real exchange in paper / read-only mode, with KRAKEN_API_KEY and
      KRAKEN_API_SECRET from the environment or ``.env``; others are skipped with a reason.
  seed=42                                    the simulator's seed.
  break=daily-limit|position-limit|allowlist break a safety mechanism on purpose, here and
      nowhere else (tests/spec/test_spec_can_fail.py proves the specification then fails).
  evidence=reports/run/evidence.jsonl        where the per-scenario evidence goes.
  allure_results=allure-results              where report metadata goes (tools/run_spec.py sets it).

The run fails (non-zero exit) if any request outside the allowlist of the mode in force
reached the exchange during the run, whatever the scenarios themselves asserted.
"""
from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parent
SCENARIO_MAP = bool(os.environ.get("KRAKENBOT_SCENARIO_MAP"))  # the mutation runner's coverage map run (tools/mutants)
SPEC_START = 1_577_836_800.0  # 2020-01-01T00:00:00Z: the simulated time of the first scenario

# Deliberate breakage (``-D break=<name>``): settings forced over every scenario's own.
BREAK_SETTINGS: dict[str, dict[str, str]] = {
    "daily-limit": {"MAX_DAILY_TRADES": "1000000"},
    "position-limit": {"TOTAL_BTC": "1000", "MAX_POSITION_PCT": "100", "MAX_ORDER_EUR": "100000000"},
    "allowlist": {},
}
for _path in (ROOT, ROOT / "src"):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

import allure  # noqa: E402

from tools.spec_support import evidence, safety_evidence, tag_scheme  # noqa: E402
from tools.spec_support.world import World, live_credentials  # noqa: E402



# -- run ------------------------------------------------------------------------------------------
def before_all(context):
    if SCENARIO_MAP:
        from tools.mutants import scenario_map

        scenario_map.start()
    userdata = context.config.userdata
    # First of all: this run's evidence replaces the last run's, even if the run stops right here.
    context.evidence = evidence.EvidenceWriter(ROOT / userdata.get("evidence", "reports/run/evidence.jsonl"))
    context.violations_file = context.evidence.path.parent / "safety-violations.txt"
    context.violations_file.unlink(missing_ok=True)
    context.violations = []
    context.sim = None
    context.target = (userdata.get("target") or os.environ.get("KRAKEN_TARGET") or "simulator").lower()
    context.seed = userdata.get("seed", "42")
    context.breakage = userdata.get("break") or None
    safety_evidence.start_run(context)
    features = context._runner.features  # parsed already; behave has no public accessor
    problems = [f"{line} (the tag scheme: tools/spec_support/tag_scheme.py)" for line in tag_scheme.one_line_each(
        tag_scheme.check_features(features) + tag_scheme.check_tag_expression(context.config.tag_expression, features))]
    if context.target not in ("simulator", "live"):
        problems.append(f"target must be 'simulator' or 'live', got {context.target!r}")
    if not context.seed.isdigit():
        problems.append(f"seed must be a whole number, got {context.seed!r}")
    if context.breakage is not None and context.breakage not in BREAK_SETTINGS:
        problems.append(f"unknown breakage {context.breakage!r}; known: {sorted(BREAK_SETTINGS)}")
    if not problems:
        problems = _empty_selection(context)
    if not problems and context.target == "live":
        creds = live_credentials()
        missing = [n for n in ("KRAKEN_API_KEY", "KRAKEN_API_SECRET") if not creds.get(n)]
        if missing:
            problems.append(f"live target needs {' and '.join(missing)} in the environment or .env; nothing was run")
        context.live_env = creds
    if problems:
        _stop(context, problems)
    context.seed = int(context.seed)
    if context.breakage == "allowlist":
        _break_allowlist()
    if context.target == "live":
        from krakenbot.clock import SystemClock

        context.clock = SystemClock()
    else:
        from krakenbot.clock import ManualClock  # the bot's: a stop request (Wakeup) ends its waits
        from krakensim import KrakenSimulator

        # Each scenario starts on a day of its own (world.begin). A bot run in a process of its own reads the
        # machine's clock: its scenario trades on an exchange of its own on that clock, not on this one.
        context.clock = ManualClock(SPEC_START)
        context.sim = KrakenSimulator(seed=context.seed, clock=context.clock)
    _write_report_metadata(context)


def after_all(context):
    safety_evidence.write_run(context, "aborted" if context.aborted else "finished")  # run.json for the report
    if context.sim is not None:
        context.sim.close()
    if context.violations:
        context.violations_file.write_text("\n".join(context.violations) + "\n")
        raise AssertionError("SAFETY VIOLATION: requests outside the mode's allowlist reached the exchange:\n  "
                             + "\n  ".join(context.violations))


# -- scenario -------------------------------------------------------------------------------------
def before_scenario(context, scenario):
    if SCENARIO_MAP:
        from tools.mutants import scenario_map

        scenario_map.enter(str(scenario.location))
    tags = set(scenario.effective_tags)
    if context.target == "live":
        if "fault-injection" in tags:
            scenario.skip("needs the simulator's fault injection: not run against the real exchange")
            return
        if "live-safe" not in tags:
            scenario.skip("not @live-safe: the live target runs only scenarios that deploy no capital")
            return
    context.world = World(target=context.target, clock=context.clock, sim=context.sim,
                          live_env=getattr(context, "live_env", {}),
                          overrides=BREAK_SETTINGS.get(context.breakage or "", {}))
    context.world.begin()


def before_step(context, step):
    """Remember the exchange as it was when the scenario's action began (the first When)."""
    world = getattr(context, "world", None)
    safety_evidence.observe(world)  # breaker transitions against the access log
    if world is None or step.step_type != "when" or "when_mark" in world.notes:
        return
    if world.on_simulator:
        world.notes["when_mark"] = len(world.sim.access_log)
        world.notes["orders_at_when"] = {o.get("txid") for o in world.sim.orders()}
    elif world.bot is not None:
        world.notes["when_mark"] = 0
        world.notes["live_balances_before"] = world.safety.balances()
        world.notes["live_open_before"] = set(world.safety.call("OpenOrders").get("open", {}))


def after_step(context, step):
    world = getattr(context, "world", None)
    if world is not None and world.bot is not None:
        world.record_mode()
        safety_evidence.observe(world)
    if step.status == "failed" and world is not None and world.on_simulator:
        calls = _calls_text(world.exchange_calls()[-20:])
        _attach(world, calls, "last exchange calls before the failure", allure.attachment_type.TEXT)


def after_scenario(context, scenario):
    try:
        _after_scenario(context, scenario)
    finally:
        if SCENARIO_MAP:
            from tools.mutants import scenario_map

            scenario_map.leave()


def _after_scenario(context, scenario):
    world = getattr(context, "world", None)
    if world is None:
        return
    try:
        world.mend()
        records = world.scenario_log()
        audit = _audit_rows(world)
        found = evidence.violations(records, world.segments, world.foreign) if world.on_simulator else []
        for problem in found:
            context.violations.append(f"{scenario.feature.name} / {scenario.name}: {problem}")
        _attach(world, evidence.audit_table(audit), "audit trail", allure.attachment_type.TEXT)
        if world.on_simulator:
            _attach(world, _calls_text(records), "exchange calls", allure.attachment_type.TEXT)
        counters = None
        if world.on_simulator:
            try:
                counters = world.sim.counters(world.api_key)
            except Exception as exc:  # evidence must not hide the scenario's own result
                counters = {"error": str(exc)}
        context.evidence.write({
            "feature": scenario.feature.name, "name": scenario.name, "tags": sorted(scenario.effective_tags),
            "status": scenario.status.name, "target": world.target,
            "mode": world.segments[-1].mode if world.segments else None,
            "modes": [{"start": s.start, "mode": s.mode} for s in world.segments],
            "access_log": [r.to_json() for r in records], "audit": audit, "counters": counters,
            "violations": found, "run_id": context.run_id, **safety_evidence.collect(world),
        }, _secrets(world))
    finally:
        world.finish()
        context.world = None


# -- helpers -----------------------------------------------------------------------------------------
def _empty_selection(context) -> list[str]:
    """behave exits 0 when its filters select nothing; a run that checks nothing must not pass."""
    selected, expected = context.selection
    if not selected:
        tags = " ".join(f"--tags={t!r}" for t in context.config.tags or ()) or "no --tags"
        names = " ".join(f"--name={n!r}" for n in context.config.name or ())
        return [f"{tags} {names}".strip() + f" select(s) no scenario in {' '.join(context.config.paths) or 'features'}"]
    if not expected:
        return [f"none of the {len(selected)} selected scenario(s) runs on the live target (none is @live-safe)"]
    return []


def _stop(context, problems: list[str]) -> None:
    """One line per problem and exit 2 before any scenario runs. Not SystemExit: behave catches it
    in a hook, prints only "HOOK-ERROR in before_all: SystemExit", runs after_all regardless and
    ends with "ABORTED: By user."; its formatters have written nothing yet, so nothing is lost."""
    safety_evidence.write_run(context, "stopped", reason="; ".join(problems))
    sys.stdout.flush()
    for problem in problems:
        print(f"stopped before any scenario ran: {problem}", file=sys.stderr)
    sys.stderr.flush()
    os._exit(2)


def _break_allowlist() -> None:
    """Let read-only mode send orders: only for proving the run-level allowlist check fails the run."""
    from krakenbot.safety import allowlist
    from krakenbot.safety.modes import TradingMode

    allowlist.MODE_ENDPOINTS[TradingMode.READ_ONLY] = allowlist.MODE_ENDPOINTS[TradingMode.READ_ONLY] | {"AddOrder"}


def _secrets(world: World) -> list[str]:
    return [s for s in (world.api_key, world.api_secret) if s]


def _audit_rows(world: World) -> list[dict]:
    if world.bot is None:
        return []
    try:
        return list(world.bot.safety.audit_log())
    except Exception as exc:  # a broken audit trail is itself evidence
        return [{"error": f"audit trail unreadable: {exc}"}]


def _attach(world: World, text: str, name: str, kind) -> None:
    """Attach with secrets redacted, after proving none is left."""
    secrets = _secrets(world)
    text = evidence.redact(text, secrets)
    evidence.assert_no_secrets(text, secrets)
    allure.attach(text, name=name, attachment_type=kind)


def _calls_text(records) -> str:
    lines = [f"{'#':>4} {'time':>14} {'endpoint':<22} {'outcome':<8} error/fault"]
    for r in records:
        if r.kind not in ("public", "private"):
            continue
        detail = r.error or r.fault or ""
        lines.append(f"{r.seq:>4} {r.time:>14.3f} {r.endpoint:<22} {r.outcome:<8} {detail}")
    return "\n".join(lines)


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


def _git_commit() -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, timeout=5)
        return out.stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def _write_report_metadata(context) -> None:
    """environment.properties, executor.json and categories.json beside the results (Allure 2 reads
    them; Allure 3's awesome report reads categories from allurerc.json instead)."""
    if not any("allure" in str(f).lower() for f in (context.config.format or [])):
        return
    results = ROOT / context.config.userdata.get("allure_results", "allure-results")
    results.mkdir(exist_ok=True)
    props = {
        "target": context.target,
        "trading.modes": ",".join(m.value for m in __import__("krakenbot.safety.modes", fromlist=["TradingMode"]).TradingMode),
        "seed": context.seed,
        "python": platform.python_version(),
        "behave": _version("behave"),
        "allure-behave": _version("allure-behave"),
        "krakenbot": _version("krakenbot"),
        "git.commit": _git_commit(),
        "deliberately.broken": context.breakage or "nothing",
    }
    (results / "environment.properties").write_text("".join(f"{k}={v}\n" for k, v in props.items()))
    (results / "executor.json").write_text(json.dumps({
        "name": os.environ.get("CI_NAME", "local"), "type": "behave",
        "buildName": f"specification {props['git.commit']}",
    }))
    categories = json.loads((ROOT / "allurerc.json").read_text())["categories"]  # one source for both reports
    (results / "categories.json").write_text(json.dumps(categories, indent=1))

