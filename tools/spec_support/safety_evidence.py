"""Extra evidence for the safety validation report, recorded during a specification run.

Why beside ``evidence.py``: the report (``tools.safety_report``) judges the plan's success
criteria from what the run *recorded*, never from the scenarios' pass/fail alone, so each
scenario's evidence line also carries (key ``"safety"``):

- ``store``: the bot's orders and fills read back from its SQLite store, and the store's
  ``PRAGMA integrity_check``;
- ``exchange``: the simulator's own orders, trades and balances for the scenario's account
  (``demo``), its system status at the end, its tier and the faults injected (with ``fired``);
- ``breaker``: every circuit breaker transition with the access-log index at which it
  happened (a listener attached to each bot the scenario builds), so "a request left while the
  breaker was open" is decided by order of arrival, not by equal ``ManualClock`` timestamps;
  plus each breaker's locally refused calls;
- ``limits``: the risk settings of every bot the scenario built (TOTAL_BTC and the limits);
- ``foreign``: access-log seqs the steps sent themselves (not the bot's);
- ``settle``: whether a final ``refresh_orders()`` brought the store up to date before the
  snapshot (done only when the store and the exchange disagree and the breaker is closed).

``start_run(context)`` gives the run an id (carried by every evidence line) and writes ``run.json``
at once with status ``running``; ``write_run(context, status)`` rewrites it at the end (target,
seed, times, commit, versions, the tag expression and how many scenarios it selects, the run's
allocation, and how the run ended: finished, aborted or stopped before any scenario ran).
``publish(...)`` renders the report after the run, prints its verdict table, attaches it to
the Allure results and returns the failed criteria (``tools.run_spec`` fails the run on them).

Rate limits provoked on purpose are recognised from the simulator's fault record (an access-log
entry with ``outcome == "fault"``), not from a tag: the tag scheme has no such tag and the fault
record cannot be forgotten by a scenario author.
"""
from __future__ import annotations

import json
import subprocess
import sys
import time as _time
import uuid
from importlib import metadata
from pathlib import Path
from typing import Any

from tools.spec_support import evidence

RUN_STARTED = _time.time()  # environment.py imports this module when behave starts
_KEY = "_safety_evidence"
LIMIT_FIELDS = ("total_btc", "max_position_pct", "max_order_eur", "max_open_orders", "max_daily_trades",
                "max_daily_loss_eur", "price_collar_pct", "stale_data_seconds", "tier")
ACCOUNT = "demo"  # World.begin creates every scenario's key on the demo account (World.fund_account moves it)
PACKAGES = ("krakenbot", "behave", "allure-behave", "requests", "urllib3", "tenacity")


# -- during the scenario ------------------------------------------------------------------------
class _BreakerTap:
    """A breaker listener that notes each transition against the exchange's access log."""

    def __init__(self, world: Any, state: dict, instance: int) -> None:
        self.world, self.state, self.instance = world, state, instance

    def state_change(self, old: Any, new: Any, reason: str) -> None:
        self.state["events"].append({
            "instance": self.instance, "index": _log_size(self.world), "time": self.world.clock.time(),
            "old": _value(old), "new": _value(new), "reason": str(reason),
        })


def observe(world: Any) -> None:
    """Attach a tap to the breaker of the bot now in ``world`` (once per bot instance)."""
    if world is None or world.bot is None:
        return
    state = world.notes.setdefault(_KEY, {"events": [], "bots": [], "instances": []})
    if any(bot is world.bot for bot, _ in state["bots"]):
        return
    instance = len(state["bots"])
    breaker = _breaker(world.bot)
    tap = _BreakerTap(world, state, instance)
    if breaker is not None and hasattr(breaker, "add_listener"):
        breaker.add_listener(tap)
    state["bots"].append((world.bot, breaker))
    state["instances"].append({"instance": instance, "attached_at": _log_size(world),
                               "limits": _limits(world.bot.settings)})


# -- after the scenario -------------------------------------------------------------------------
def collect(world: Any) -> dict:
    """The ``"safety"`` part of one scenario's evidence; never raises (evidence must not hide a result)."""
    try:
        return {"safety": _collect(world)}
    except Exception as exc:  # noqa: BLE001 - a broken collector is itself evidence
        return {"safety": {"error": f"safety evidence not collected: {type(exc).__name__}: {exc}"}}


def _collect(world: Any) -> dict:
    observe(world)
    state = world.notes.get(_KEY, {"events": [], "bots": [], "instances": []})
    out: dict[str, Any] = {
        "account": getattr(world, "account", ACCOUNT),
        "foreign": sorted(world.foreign),
        "planted_losses": sorted(world.notes.get("planted_losses", ())),
        "breaker": {"events": list(state["events"]), "instances": _breaker_instances(state)},
        "limits": [i["limits"] for i in state["instances"]],
        "settle": {"refreshed": False},
    }
    store = _store_snapshot(world)
    venue = getattr(getattr(world.bot, "client", None), "venue", None)  # a dry run's books are its venue's
    exchange = _exchange_snapshot(world) if world.on_simulator else None
    books = _venue_snapshot(world, venue) if venue is not None and exchange is not None else exchange
    if books is not None and store.get("available") and _differs(store, books) and world.bot is not None:
        out["settle"] = _settle(world)
        if out["settle"]["refreshed"]:
            store, exchange = _store_snapshot(world), _exchange_snapshot(world)
            books = _venue_snapshot(world, venue) if venue is not None else exchange
    out["store"] = store
    out["exchange"] = exchange
    if venue is not None and books is not None:
        out["venue"] = books
    return out


def _breaker_instances(state: dict) -> list[dict]:
    rows = []
    for (bot, breaker), info in zip(state["bots"], state["instances"]):
        stats = getattr(breaker, "stats", None) if breaker is not None else None
        rows.append({"instance": info["instance"], "attached_at": info["attached_at"],
                     "state": _value(getattr(stats, "state", None)),
                     "rejected_calls": getattr(stats, "rejected_calls", None),
                     "opened_count": getattr(stats, "opened_count", None)})
    return rows


def _store_snapshot(world: Any) -> dict:
    store, own = _open_store(world)
    if store is None:
        return {"available": False}
    try:
        return {
            "available": True,
            "integrity_check": store.integrity_check(),
            "orders": [evidence.to_jsonable(o) for o in store.orders()],
            "fills": [evidence.to_jsonable(f) for f in store.fills()],
        }
    finally:
        if own:
            store.close()


def _open_store(world: Any) -> tuple[Any, bool]:
    if world.bot is not None and getattr(world.bot, "store", None) is not None:
        return world.bot.store, False
    path = Path(world.env.get("STORE_PATH", ""))
    if not path.is_file():
        return None, False
    from krakenbot.store import Store

    return Store(str(path)), True


def _exchange_snapshot(world: Any) -> dict:
    sim, account = world.sim, getattr(world, "account", ACCOUNT)
    return {
        "orders": evidence.to_jsonable(sim.orders(account)),
        "trades": evidence.to_jsonable(sim.trades(account)),
        "balances": evidence.to_jsonable(sim.balances(account)),
        "start_balances": evidence.to_jsonable(world.start_balances),
        "system_status": sim.exchange.system_status,
        "tier": sim.tier,
        "faults": [evidence.to_jsonable(f.to_json()) for f in sim.faults.all()],
    }


def _venue_snapshot(world: Any, venue: Any) -> dict:
    """A dry run's books are kept by its local venue: the store is judged against the venue's orders, fills and
    wallet, shaped as the exchange's own views (the exchange's own view must show none of them). Read without a
    call: a call would move the venue."""
    wanted = world.bot.settings.dry_run_wallet
    start = dict(wanted) if isinstance(wanted, dict) else world.start_balances  # a snapshot: the real balances
    return {
        "orders": evidence.to_jsonable([{**o.view(True), "txid": o.txid} for o in venue.orders.values()]),
        "trades": evidence.to_jsonable([{**f.view(), "txid": f.trade_id} for f in venue.fills.values()]),
        "balances": evidence.to_jsonable(dict(venue.wallet.balances)),
        "start_balances": evidence.to_jsonable(start),
    }


def _differs(store: dict, exchange: dict) -> bool:
    """A cheap look: does the store lack a trade or disagree on an order's executed volume?"""
    known = {f["trade_id"] for f in store["fills"]}
    by_txid = {o["txid"]: o for o in store["orders"] if o.get("txid")}
    by_cl = {o["cl_ord_id"]: o for o in store["orders"] if o.get("cl_ord_id")}
    if any(o.get("cl_ord_id") in by_cl and by_cl[o["cl_ord_id"]].get("txid") != o["txid"] for o in exchange["orders"]):
        return True  # an order the bot holds without its txid (of unknown outcome): a refresh resolves it
    if any(t["txid"] not in known for t in exchange["trades"] if t.get("ordertxid") in by_txid):
        return True
    for order in exchange["orders"]:
        mine = by_txid.get(order["txid"])
        if mine is not None and (mine["volume_executed"] != order.get("vol_exec") or
                                 _kraken_status(mine["status"]) != order.get("status")):
            return True
    return False


def _kraken_status(status: str) -> str:
    return {"OPEN": "open", "PARTIALLY_FILLED": "open", "FILLED": "closed", "CANCELED": "canceled",
            "EXPIRED": "expired"}.get(status, status.lower())


def _settle(world: Any) -> dict:
    """One final ``refresh_orders()``, as the bot would before shutting down; not when the breaker is open."""
    breaker = _breaker(world.bot)
    state = _value(getattr(breaker, "state", None))
    if state not in (None, "closed"):
        return {"refreshed": False, "why": f"breaker {state}"}
    try:
        world.bot.safety.refresh_orders()
    except Exception as exc:  # noqa: BLE001
        return {"refreshed": False, "why": f"{type(exc).__name__}: {exc}"}
    return {"refreshed": True}


# -- the run ------------------------------------------------------------------------------------
def start_run(context: Any) -> Path | None:
    """Give the run an id (every evidence line carries it) and write ``run.json`` at once, with
    status ``running``: evidence and metadata left by an earlier run can never pass for this one's,
    even if this run stops, aborts or is killed before ``after_all``."""
    context.run_id = uuid.uuid4().hex
    try:
        context.selection = selection(context)  # before any hook or step can mark a scenario skipped
    except Exception:  # noqa: BLE001 - the tag check in before_all names the problem
        context.selection = ([], 0)
    return write_run(context, "running")


def write_run(context: Any, status: str, reason: str | None = None) -> Path | None:
    """``run.json`` beside the evidence: what the report needs about the run as a whole.

    ``status``: running (written at the start), finished, aborted (behave aborted the run, e.g.
    Ctrl-C or a failing before_all) or stopped (before any scenario ran; ``reason`` says why)."""
    try:
        path = Path(context.evidence.path).parent / "run.json"
        selected, expected = getattr(context, "selection", ([], 0))
        from tools.spec_support.world import SPEC_DEFAULTS

        allocation = {k: v for k, v in SPEC_DEFAULTS.items() if k != "PAIRS"}
        if context.target == "live":  # the operator's .env, else the bot's own defaults
            from dataclasses import fields

            from krakenbot.config import Settings

            defaults = {f.name: f.default for f in fields(Settings)}
            live = getattr(context, "live_env", {})
            allocation = {k: live.get(k) or str(defaults.get(k.lower(), "")) for k in allocation}
            allocation = {k: v for k, v in allocation.items() if v}
        run = {
            "run_id": getattr(context, "run_id", None), "status": status, "reason": reason,
            "target": context.target, "seed": context.seed, "breakage": context.breakage,
            "started_at": RUN_STARTED, "ended_at": None if status == "running" else _time.time(),
            "git_commit": _git_commit(), "versions": _versions(),
            "tag_expression": str(getattr(context.config, "tag_expression", "") or ""),
            "selected": selected, "expected_to_run": expected, "allocation": allocation,
            "evidence": Path(context.evidence.path).name,
        }
        path.write_text(json.dumps(run, indent=1, sort_keys=True))
        return path
    except Exception as exc:  # noqa: BLE001 - the report says the run metadata is missing
        print(f"safety evidence: run.json not written: {exc}", file=sys.stderr)
        return None


def selection(context: Any) -> tuple[list[str], int]:
    """Scenarios the tags, ``--name`` and ``file:line`` select, and how many of them the target runs."""
    selected, expected = [], 0
    for feature in context._runner.features:  # behave has no public accessor for the parsed features
        for scenario in feature.walk_scenarios():
            if not scenario.should_run(context.config):
                continue
            selected.append(f"{feature.name} / {scenario.name}")
            tags = set(scenario.effective_tags)
            if context.target != "live" or ("live-safe" in tags and "fault-injection" not in tags):
                expected += 1
    return selected, expected


def publish(evidence_dir: Path, junit_dir: Path, results_dir: Path | None, out_dir: Path) -> list[str]:
    """Render the report, print its table, attach it to Allure; the failed criteria as problems."""
    from tools import safety_report as reporting

    try:
        report = reporting.generate(evidence_dir, out_dir, junit_dir=junit_dir)
    except Exception as exc:  # noqa: BLE001 - no report is a failed run
        return [f"the safety validation report could not be built: {type(exc).__name__}: {exc}"]
    print()
    print(reporting.summary_table(report))
    print(f"safety report: {out_dir / 'safety-report.html'} (also .md and .json)")
    if results_dir is not None:
        attach_to_allure(report, out_dir, results_dir)
    return [f"safety criterion failed: {v.criterion}" for v in report.verdicts if v.status == reporting.FAIL]


def attach_to_allure(report: Any, out_dir: Path, results_dir: Path) -> Path:
    """The three files as Allure 3 *global* attachments (``<uuid>-globals.json``), shown on the
    report's Globals tab; failed criteria also become global errors there.

    Why globals rather than a synthetic test result: a result would add one to the report's
    totals, which must equal behave's JUnit counts (``tests/spec/test_report.py``)."""
    from tools import safety_report as reporting

    results_dir.mkdir(parents=True, exist_ok=True)
    stamp = int(_time.time() * 1000)
    attachments = []
    for name, suffix, mime in (("Safety validation report (html)", "html", "text/html"),
                               ("Safety validation report (markdown)", "md", "text/markdown"),
                               ("Safety validation report (json)", "json", "application/json")):
        target = f"{uuid.uuid4()}-attachment.{suffix}"
        (results_dir / target).write_bytes((out_dir / f"safety-report.{suffix}").read_bytes())
        attachments.append({"name": name, "source": target, "type": mime, "timestamp": stamp})
    errors = [{"message": f"Safety criterion FAILED: {v.criterion}",
               "trace": "\n".join(f"{f.scenario}: {line}" for f in v.failures for line in f.lines),
               "timestamp": stamp} for v in report.verdicts if v.status == reporting.FAIL]
    path = results_dir / f"{uuid.uuid4()}-globals.json"
    path.write_text(json.dumps({"attachments": attachments, "errors": errors}, indent=1))
    show_verdict(report, results_dir)
    return path


def show_verdict(report: Any, results_dir: Path) -> Path:
    """The verdict first in the run's metadata (``environment.properties``), which Allure 3's
    landing page shows under the totals: nobody has to open Global Attachments to learn it."""
    from tools import safety_report as reporting
    from tools.safety_report import render

    counts = {status: sum(v.status == status for v in report.verdicts)
              for status in (reporting.PASS, reporting.FAIL, reporting.NOT_EXERCISED)}
    overall = render.overall(report.verdicts)  # as the report itself says it
    summary = ", ".join(f"{n} {status}" for status, n in counts.items() if n)
    failed = "; ".join(v.criterion for v in report.verdicts if v.status == reporting.FAIL)
    lines = [_property("safety verdict", f"{overall} ({summary} of {len(report.verdicts)} criteria)")]
    if failed:
        lines.append(_property("safety criteria failed", failed))
    lines.append(_property("safety report", "Global Attachments tab"))
    path = results_dir / "environment.properties"
    earlier = path.read_text(encoding="utf-8").splitlines() if path.is_file() else []
    kept = [line for line in earlier if not line.startswith("safety\\ ")]
    path.write_text("".join(f"{line}\n" for line in lines + kept), encoding="utf-8")
    return path


def _property(key: str, value: str) -> str:
    """One ``key=value`` line of a Java properties file (spaces in the key escaped)."""
    escape = str.maketrans({" ": "\\ ", "=": "\\=", ":": "\\:"})
    return f"{key.translate(escape)}={value}"


# -- helpers ------------------------------------------------------------------------------------
def _breaker(bot: Any) -> Any:
    safety = getattr(bot, "safety", None)
    return getattr(safety, "breaker", None) or getattr(getattr(bot, "client", None), "breaker", None)


def _limits(settings: Any) -> dict:
    return {name: evidence.to_jsonable(getattr(settings, name, None)) for name in LIMIT_FIELDS}


def _log_size(world: Any) -> int | None:
    return len(world.sim.access_log) if world.on_simulator else None


def _value(value: Any) -> Any:
    return getattr(value, "value", value)


def _git_commit() -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, timeout=5,
                             cwd=Path(__file__).resolve().parents[2])
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], capture_output=True,
                               text=True, timeout=5, cwd=Path(__file__).resolve().parents[2])
        commit = out.stdout.strip() or "unknown"
        return commit + ("+dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def _versions() -> dict[str, str]:
    found = {"python": sys.version.split()[0]}
    for name in PACKAGES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = "not installed"
    return found




def evidence_location(root: Path, behave_args: list[str]) -> tuple[Path | None, Path | None]:
    """The evidence folder ``-D evidence=...`` names among behave's arguments (None, None without
    one), and where its safety report goes: ``reports/`` for the default folder, else beside it."""
    path = None
    for n, arg in enumerate(behave_args):
        value = behave_args[n + 1] if arg in ("-D", "--define") and n + 1 < len(behave_args) else arg
        if value.startswith("evidence="):
            path = Path(value.split("=", 1)[1])
        elif arg.startswith("--define=evidence="):
            path = Path(arg.split("=", 2)[2])
    if path is None:
        return None, None
    folder = (root / path).parent.resolve()
    default = (root / "reports" / "run").resolve()
    return folder, (root / "reports").resolve() if folder == default else folder


def run_status(evidence_dir: Path) -> str | None:
    """How the run in ``evidence_dir`` ended, from its ``run.json`` (None: no record of it)."""
    try:
        return json.loads((Path(evidence_dir) / "run.json").read_text()).get("status")
    except (OSError, ValueError):
        return None
