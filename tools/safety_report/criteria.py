"""The plan's seven success criteria, each judged from a run's recorded evidence.

Why one pure function per criterion: each reads ``RunEvidence`` only (no exchange, no bot),
so ``krakenbot report`` gives the same verdicts from saved files, and a test can break one
criterion's evidence on purpose and watch that verdict, and only that one, turn to FAIL.
A verdict lists the evidence it rests on and, for every failure, the scenario and the lines
that prove it.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Callable

from tools.spec_support import plan_allowlist
from tools.safety_report.evidence import RunEvidence, scenario_name
from tools.safety_report.mechanisms import MECHANISMS
from tools.safety_report.scenario_facts import (
    NOT_PLACED, audit_codes, dec, is_rate_limit, kraken_status, mode_at, notional, open_intervals, order_facts, provoked,
    requests, safety,
)

PASS, FAIL, NOT_EXERCISED = "PASS", "FAIL", "NOT EXERCISED"
# Kraken's per-pair trading counter maximum by verification tier (shared/kraken/limits-and-trading-rules.md).
TRADING_COUNTER_MAX = {"starter": 60, "intermediate": 125, "pro": 180}
# Settings that put capital at risk: a scenario may lower them, never raise them above the run's allocation.
ALLOCATION_SETTINGS = {"TOTAL_BTC": "total_btc", "MAX_ORDER_EUR": "max_order_eur",
                       "MAX_POSITION_PCT": "max_position_pct", "MAX_DAILY_LOSS_EUR": "max_daily_loss_eur"}


@dataclass(frozen=True)
class Failure:
    scenario: str
    lines: tuple[str, ...]


@dataclass(frozen=True)
class Verdict:
    criterion: str
    status: str  # PASS | FAIL | NOT EXERCISED
    evidence: tuple[str, ...] = ()
    figures: dict[str, str] = field(default_factory=dict)
    failures: tuple[Failure, ...] = ()
    note: str = ""  # why a verdict is NOT EXERCISED, when the run says why


class _Findings:
    """Failures collected per scenario, in run order."""

    def __init__(self) -> None:
        self._by: dict[str, list[str]] = defaultdict(list)

    def add(self, scenario: str, line: str) -> None:
        self._by[scenario].append(line)

    def __bool__(self) -> bool:
        return bool(self._by)

    def count(self) -> int:
        return sum(len(v) for v in self._by.values())

    def freeze(self) -> tuple[Failure, ...]:
        return tuple(Failure(s, tuple(lines)) for s, lines in self._by.items())


def _verdict(criterion: str, findings: _Findings, evidence: list[str], figures: dict, *,
             exercised: bool = True, absence_fails: bool = True) -> Verdict:
    if findings:
        status = FAIL
    elif exercised:
        status = PASS
    elif absence_fails:  # "not demonstrated" is a failure where every mechanism can be provoked
        status = FAIL
        findings.add("run", "not demonstrated: this run recorded no evidence for this criterion")
    else:
        status = NOT_EXERCISED
    return Verdict(criterion, status, tuple(evidence), {k: str(v) for k, v in figures.items()}, findings.freeze())


def _judged(run: RunEvidence) -> list[dict]:
    """Scenarios that ran (skipped ones recorded nothing worth judging)."""
    return [row for row in run.scenarios if row.get("status") != "skipped"]


# -- 1 ---------------------------------------------------------------------------------------------
def all_scenarios_pass(run: RunEvidence) -> Verdict:
    name = "All scenarios pass"
    findings = _Findings()
    statuses = defaultdict(int)
    for row in run.scenarios:
        statuses[row.get("status", "unknown")] += 1
        if row.get("status") not in ("passed", "skipped"):
            findings.add(scenario_name(row), f"scenario status {row.get('status')!r} in the evidence")
    ran = sum(n for s, n in statuses.items() if s != "skipped")
    # On live, a step may skip its scenario on purpose (it needs the simulator); it started, so it counts.
    accounted = ran + (0 if run.on_simulator else statuses.get("skipped", 0))
    expected = run.meta.get("expected_to_run")
    selected = len(run.meta.get("selected") or ())
    if expected is None:
        findings.add("run", "run.json is missing: how many scenarios the selected features hold is unknown")
    elif run.meta.get("status") != "finished":  # stopped, aborted, killed: say how it ended
        findings.add("run", str(run.incomplete))
    elif accounted < int(expected):
        findings.add("run", f"only {accounted} scenario(s) ran of the {expected} the features hold for "
                            f"tags {run.meta.get('tag_expression') or '(none)'}")
    if ran == 0:
        findings.add("run", "no scenario ran")
    junit = run.junit
    if junit is None:
        findings.add("run", "no JUnit results found: behave's own verdict is missing")
    else:
        for failed in junit.failed_names:
            findings.add("JUnit", f"failed: {failed}")
        if junit.ran != ran:
            findings.add("run", f"JUnit counts {junit.ran} scenario(s) run, the evidence {ran}: they must agree")
    for problem in run.problems:
        findings.add("evidence", problem)
    figures = {"selected": selected, "expected to run": expected if expected is not None else "unknown",
               "ran": ran, "passed": statuses.get("passed", 0), "failed": ran - statuses.get("passed", 0),
               "skipped": statuses.get("skipped", 0)}
    if junit is not None:
        figures["JUnit"] = f"{junit.passed} passed, {junit.failed} failed, {junit.skipped} skipped"
    evidence = [f"evidence: {len(run.scenarios)} scenario record(s); JUnit: "
                + (figures.get("JUnit") or "missing"), f"selected by the tags: {selected}; expected to run: "
                + str(figures["expected to run"])]
    return _verdict(name, findings, evidence, figures)


# -- 2 ---------------------------------------------------------------------------------------------
def no_unauthorized_calls(run: RunEvidence) -> Verdict:
    name = "No unauthorized API calls"
    findings = _Findings()
    judged = scenarios = 0
    modes: dict[str, int] = defaultdict(int)
    refused_locally = funding_refused = 0
    for row in _judged(run):
        scenario = scenario_name(row)
        for record in requests(row):
            endpoint = str(record.get("endpoint"))
            mode = mode_at(row, record.get("seq", 0))
            if plan_allowlist.is_funding(endpoint):
                findings.add(scenario, f"#{record.get('seq')} {endpoint} reached the exchange (funding call)")
                continue
            if mode is None:
                continue  # before the bot existed: the steps' own set-up calls
            judged += 1
            modes[mode] += 1
            why = plan_allowlist.refusal(mode, endpoint, record.get("params"))
            if why:
                findings.add(scenario, f"#{record.get('seq')} {endpoint} reached the exchange in {mode} mode: {why}")
        for a in row.get("audit") or ():
            endpoint = str(a.get("endpoint") or "")
            if a.get("allowed") is False:
                refused_locally += 1
                funding_refused += plan_allowlist.is_funding(endpoint)
            elif a.get("allowed") and endpoint and plan_allowlist.is_funding(endpoint):
                findings.add(scenario, f"audit #{a.get('id')}: the wrapper let {endpoint} out ({a.get('action')})")
            elif a.get("action") == "endpoint" and a.get("allowed") and not run.on_simulator:
                # live: the audit log stands in for the exchange's record of calls. Its rows carry no
                # parameters, so paper's validate=true is judged from the store (no placed order) below.
                why = plan_allowlist.refusal(a.get("mode"), endpoint, {"validate": "true"})
                if why:
                    findings.add(scenario, f"audit #{a.get('id')}: {endpoint} sent in {a.get('mode')} mode: {why}")
        if not run.on_simulator:
            for order in (safety(row).get("store") or {}).get("orders") or ():
                if order.get("txid") and order.get("status") not in NOT_PLACED:
                    findings.add(scenario, f"store: order {order.get('cl_ord_id')} was placed ({order.get('txid')})"
                                           " on the live target, where only paper / read-only are allowed")
        scenarios += 1
    source = "simulator access log" if run.on_simulator else "audit log and the bot's store (live target)"
    figures = {"requests judged": judged, **{f"in {m}": n for m, n in sorted(modes.items())},
               "refused locally": refused_locally, "funding attempts refused locally": funding_refused}
    evidence = [f"source: {source}; {scenarios} scenario(s), {judged} request(s) judged against the plan's allowlist",
                f"{refused_locally} attempt(s) refused by the wrapper before sending ({funding_refused} funding)"]
    return _verdict(name, findings, evidence, figures, exercised=judged > 0 or not run.on_simulator,
                    absence_fails=run.absence_fails)


# -- 3 ---------------------------------------------------------------------------------------------
def fail_safes_activate(run: RunEvidence) -> Verdict:
    name = "All fail-safe mechanisms activate correctly"
    findings = _Findings()
    evidence, figures, missing = [], {}, []
    for mechanism, detect in MECHANISMS.items():
        proven = [(scenario_name(row), lines) for row in _judged(run) if (lines := detect(row))]
        figures[mechanism] = f"{len(proven)} scenario(s)" if proven else "not demonstrated"
        if proven:
            scenario, lines = proven[0]
            evidence.append(f"{mechanism}: {scenario}: {lines[0]}")
        else:
            missing.append(mechanism)
            evidence.append(f"{mechanism}: NOT DEMONSTRATED in this run")
            if run.absence_fails:
                findings.add("run", f"{mechanism}: no scenario produced evidence that it fired")
    return _verdict(name, findings, evidence, figures, exercised=not missing, absence_fails=run.absence_fails)


# -- 4 ---------------------------------------------------------------------------------------------
def zero_data_loss(run: RunEvidence) -> Verdict:
    name = "Zero data corruption or loss"
    findings = _Findings()
    orders = fills = scenarios = settled = planted = dry_runs = 0
    checks: dict[str, int] = defaultdict(int)
    for row in _judged(run):
        scenario = scenario_name(row)
        facts_row = safety(row)
        if facts_row.get("error"):
            findings.add(scenario, facts_row["error"])
            continue
        store = facts_row.get("store") or {}
        if store.get("available"):
            checks[str(store.get("integrity_check"))] += 1
            if store.get("integrity_check") != "ok":
                findings.add(scenario, f"PRAGMA integrity_check: {store.get('integrity_check')}")
        facts = order_facts(row)
        if facts is None:
            continue
        if row.get("mode") == "dry-run":  # no trace on the exchange; its books are judged against its venue
            dry_runs += 1
            for line in _dry_run_traces(row, facts):
                findings.add(scenario, line)
            facts = order_facts(row, "venue")
            if facts is None:
                findings.add(scenario, "the dry run's venue was not recorded: its books cannot be judged")
                continue
        scenarios += 1
        settled += bool((facts_row.get("settle") or {}).get("refreshed"))
        orders += len(facts.exchange_orders)
        fills += len(facts.exchange_trades)
        removed = set(facts_row.get("planted_losses") or ())  # records a scenario deletes or plants to prove they are noticed
        for line in _compare_orders(facts, removed):
            findings.add(scenario, line)
        planted += len(removed)
        for line in _compare_fills(facts, removed):
            findings.add(scenario, line)
        view = "venue" if row.get("mode") == "dry-run" else "exchange"
        for line in ([] if removed else _compare_balances(row, facts, view)):  # a deleted fill cannot add up
            findings.add(scenario, line)
    figures = {"scenarios compared": scenarios, "orders compared": orders, "fills compared": fills,
               "integrity_check": ", ".join(f"{k} x{v}" for k, v in sorted(checks.items())) or "not recorded",
               "settled by a final refresh": settled,
               "records removed on purpose by a scenario (not judged)": planted,
               "dry runs (local books; the exchange must show none of their orders or money)": dry_runs}
    evidence = [f"{orders} order(s) and {fills} fill(s) compared field by field (status, volume, cost, fee, price) "
                f"between the bot's store and the exchange (a dry run's local venue in {dry_runs} of them) in "
                f"{scenarios} scenario(s)",
                f"SQLite PRAGMA integrity_check: {figures['integrity_check']}"]
    exercised = scenarios > 0 and sum(checks.values()) > 0
    return _verdict(name, findings, evidence, figures, exercised=exercised, absence_fails=run.absence_fails)


def _compare_orders(facts, removed: set[str] = frozenset()) -> list[str]:
    lines = []
    by_txid = {o["txid"]: o for o in facts.store_orders if o.get("txid")}
    by_cl = {o["cl_ord_id"]: o for o in facts.store_orders if o.get("cl_ord_id")}
    on_exchange = {o.get("txid") for o in facts.exchange_orders}
    for order in facts.exchange_orders:
        mine = by_txid.get(order.get("txid")) or by_cl.get(order.get("cl_ord_id"))
        txid = order.get("txid")
        if mine is None:
            if txid in removed:
                continue  # its record was deleted on purpose (a lost store): not judged
            lines.append(f"exchange order {txid} ({order.get('cl_ord_id')}) is missing from the bot's store")
            continue
        if mine.get("txid") != txid:
            lines.append(f"order {mine.get('cl_ord_id')}: store txid {mine.get('txid')} != exchange {txid}")
        if kraken_status(str(mine.get("status"))) != order.get("status"):
            lines.append(f"order {txid}: store status {mine.get('status')} != exchange {order.get('status')}")
        for ours, theirs in (("volume", "vol"), ("volume_executed", "vol_exec"), ("cost", "cost"), ("fee", "fee")):
            if dec(mine.get(ours)) != dec(order.get(theirs)):
                lines.append(f"order {txid}: store {ours} {mine.get(ours)} != exchange {theirs} {order.get(theirs)}")
        limit = (order.get("descr") or {}).get("price")
        if mine.get("ordertype") == "limit" and dec(mine.get("price")) != dec(limit):
            lines.append(f"order {txid}: store limit price {mine.get('price')} != exchange {limit}")
    for order in facts.store_orders:
        if order.get("txid") and order["txid"] not in on_exchange and order.get("status") not in NOT_PLACED:
            lines.append(f"store order {order.get('cl_ord_id')} claims txid {order['txid']}, unknown to the exchange")
    return lines


def _compare_fills(facts, removed: set[str] = frozenset()) -> list[str]:
    """``removed``: trade ids the scenario deleted from (or planted in) the bot's store on purpose; that is the
    scenario's own subject (it checks the bot reports it), but every other field of the run is still judged."""
    lines = []
    fills_by_id: dict[str, list[dict]] = defaultdict(list)
    for fill in facts.store_fills:
        fills_by_id[str(fill.get("trade_id"))].append(fill)
    trade_ids = set()
    for trade in facts.exchange_trades:
        trade_id = str(trade.get("txid"))
        trade_ids.add(trade_id)
        found = fills_by_id.get(trade_id, [])
        if not found:
            if trade_id not in removed:
                lines.append(f"exchange trade {trade_id} (order {trade.get('ordertxid')}) is missing from the bot's store")
            continue
        if len(found) > 1:
            lines.append(f"trade {trade_id} is recorded {len(found)} times in the bot's store")
        fill = found[0]
        for ours, theirs in (("price", "price"), ("volume", "vol"), ("fee", "fee"), ("cost", "cost")):
            if dec(fill.get(ours)) != dec(trade.get(theirs)):
                lines.append(f"trade {trade_id}: store {ours} {fill.get(ours)} != exchange {theirs} {trade.get(theirs)}")
        if fill.get("txid") != trade.get("ordertxid"):
            lines.append(f"trade {trade_id}: store order {fill.get('txid')} != exchange order {trade.get('ordertxid')}")
    for trade_id in sorted(set(fills_by_id) - trade_ids - removed):
        lines.append(f"store fill {trade_id} matches no trade of the bot's orders on the exchange")
    return lines


def _assets(pair: str) -> tuple[str, str] | None:
    """Base and quote asset ids of a Kraken pair id such as ``XXBTZEUR`` (8 characters, X/Z prefixed)."""
    if len(pair) == 8 and pair[0] in "XZ" and pair[4] in "XZ":
        return pair[:4], pair[4:]
    return None


def _compare_balances(row: dict, facts, view: str = "exchange") -> list[str]:
    """The exchange's balance change equals what the bot's fills (price, volume, fee) account for.

    Judged only where every trade on the account is the bot's: a step acting as "another program"
    moves balances the bot never saw, which is the reconciliation feature's business, not loss."""
    exchange = safety(row).get(view) or {}
    start, end = exchange.get("start_balances") or {}, exchange.get("balances") or {}
    if not start or len(exchange.get("trades") or ()) != len(facts.exchange_trades):
        return []
    fee_in_base = {o.get("txid") for o in facts.exchange_orders if "fcib" in str(o.get("oflags", ""))}
    expected: dict[str, Decimal] = defaultdict(Decimal)
    for fill in facts.store_fills:
        assets = _assets(str(fill.get("pair")))
        if assets is None:
            return []
        base, quote = assets
        volume, cost, fee = dec(fill.get("volume")) or 0, dec(fill.get("cost")) or 0, dec(fill.get("fee")) or 0
        sign = 1 if fill.get("side") == "buy" else -1
        expected[base] += sign * volume
        expected[quote] -= sign * cost
        expected[base if fill.get("txid") in fee_in_base else quote] -= fee
    lines = []
    for asset in sorted(set(expected) | {a for a in end if dec(end.get(a)) != dec(start.get(a))}):
        change = (dec(end.get(asset)) or Decimal(0)) - (dec(start.get(asset)) or Decimal(0))
        if change != expected.get(asset, Decimal(0)):
            lines.append(f"balance {asset}: the exchange moved {change}, the bot's fills account for "
                         f"{expected.get(asset, Decimal(0))}")
    return lines


def _dry_run_traces(row: dict, facts) -> list[str]:
    """A dry run's orders and fills are its local venue's: on the exchange, none of its orders and no
    balance moved (unless a step traded there as another program)."""
    lines = [f"exchange order {o.get('txid')} ({o.get('cl_ord_id')}) is the dry run's: a dry run places nothing"
             for o in facts.exchange_orders]
    exchange = safety(row).get("exchange") or {}
    start, end = exchange.get("start_balances") or {}, exchange.get("balances") or {}
    if start and not exchange.get("trades"):
        for asset in sorted(set(start) | set(end)):
            if dec(end.get(asset)) != dec(start.get(asset)):
                lines.append(f"balance {asset}: the exchange moved from {start.get(asset)} to {end.get(asset)} "
                             f"during a dry run")
    return lines


# -- 5 ---------------------------------------------------------------------------------------------
def rate_limits_respected(run: RunEvidence) -> Verdict:
    name = "API rate limits respected"
    findings = _Findings()
    provoked_count = unprovoked = 0
    api_peak, api_max = 0.0, None
    trading_peak: dict[str, float] = {}
    tier = None
    for row in _judged(run):
        scenario = scenario_name(row)
        for record in requests(row):
            if not is_rate_limit(record):
                continue
            if provoked(row, record):
                provoked_count += 1
            else:
                unprovoked += 1
                findings.add(scenario, f"#{record.get('seq')} {record.get('endpoint')}: {record.get('error')} "
                                       "(not injected by the scenario)")
        for a in row.get("audit") or () if not run.on_simulator else ():
            if "Rate limit exceeded" in str(a.get("reason", "")):
                unprovoked += 1
                findings.add(scenario, f"audit #{a.get('id')}: {a.get('reason')}")
        counters = row.get("counters") or {}
        if isinstance(counters.get("api_peak"), (int, float)):
            api_peak = max(api_peak, float(counters["api_peak"]))
            api_max = counters.get("api_max", api_max)
            if api_max is not None and counters["api_peak"] > api_max:
                findings.add(scenario, f"API counter peaked at {counters['api_peak']:g} > tier maximum {api_max}")
        tier = (safety(row).get("exchange") or {}).get("tier") or tier
        for pair, peak in (counters.get("trading_peak") or {}).items():
            trading_peak[pair] = max(trading_peak.get(pair, 0.0), float(peak))
    trading_max = TRADING_COUNTER_MAX.get(tier or "starter")
    for pair, peak in trading_peak.items():
        if peak > trading_max:
            findings.add("run", f"trading counter for {pair} peaked at {peak:g} > tier maximum {trading_max}")
    figures = {"unprovoked rate-limit errors": unprovoked, "provoked (injected) rate-limit errors": provoked_count,
               "API counter peak / max": f"{api_peak:g} / {api_max if api_max is not None else 'unknown'}",
               **{f"trading counter {p} peak / max": f"{v:g} / {trading_max}" for p, v in sorted(trading_peak.items())}}
    evidence = [f"{unprovoked} unprovoked and {provoked_count} injected rate-limit refusal(s) in the exchange's "
                "record (injected = the simulator's fault record)",
                f"API counter peak {api_peak:g} of {api_max if api_max is not None else 'unknown'} (tier {tier or 'unknown'})"]
    exercised = run.on_simulator and any(row.get("counters") for row in _judged(run)) or not run.on_simulator
    return _verdict(name, findings, evidence, figures, exercised=exercised, absence_fails=run.absence_fails)


# -- 6 ---------------------------------------------------------------------------------------------
# Requests that only remove exposure: the breaker lets them through (the kill switch's CancelAll, a
# cancel, the dead man's switch's keep-alive), so they are counted apart, never as a breach: unless the
# keep-alives hammer the failing exchange (two within KEEP_ALIVE_SPACING_S while it is open).
LESS_EXPOSURE = frozenset({"CancelOrder", "CancelOrderBatch", "CancelAll", "CancelAllOrdersAfter"})
KEEP_ALIVE_SPACING_S = 2.0


def breaker_prevents_cascades(run: RunEvidence) -> Verdict:
    name = "Circuit breaker prevents cascading failures"
    findings = _Findings()
    opened = sent_while_open = cancels_while_open = 0
    refused_locally = refused_orders = 0
    for row in _judged(run):
        scenario = scenario_name(row)
        intervals = open_intervals(row)
        opened += len(intervals)
        for interval in intervals:
            last_keep_alive: float | None = None
            for record in requests(row):
                if not interval.holds(record):
                    continue
                if record.get("endpoint") == "CancelAllOrdersAfter":
                    at = float(record.get("time") or 0.0)
                    if last_keep_alive is not None and at - last_keep_alive < KEEP_ALIVE_SPACING_S:
                        findings.add(scenario, f"#{record.get('seq')} CancelAllOrdersAfter {at - last_keep_alive:g} s "
                                               f"after the last one while {interval.describe()}: keep-alives "
                                               f"hammer a failing exchange")
                    last_keep_alive = at
                if record.get("endpoint") in LESS_EXPOSURE:
                    cancels_while_open += 1
                else:
                    sent_while_open += 1
                    findings.add(scenario, f"#{record.get('seq')} {record.get('endpoint')} left the bot while "
                                           f"{interval.describe()}")
        for instance in (safety(row).get("breaker") or {}).get("instances") or ():
            refused_locally += int(instance.get("rejected_calls") or 0)
        refused_orders += sum("CIRCUIT_OPEN" in audit_codes(a) for a in row.get("audit") or ())
    figures = {"breaker openings": opened, "requests sent while open": sent_while_open,
               "cancels sent while open (less exposure: let through)": cancels_while_open,
               "calls refused locally by the breaker": refused_locally,
               "orders refused as CIRCUIT_OPEN": refused_orders}
    evidence = [f"{opened} breaker opening(s); {sent_while_open} request(s) reached the exchange while open "
                "(ordered by access-log index from the breaker's transitions)",
                f"{cancels_while_open} cancel(s) went out while open, as they must (they only remove exposure)",
                f"{refused_locally} call(s) refused locally by the breaker, {refused_orders} order(s) "
                "refused by the wrapper as CIRCUIT_OPEN before reaching it"]
    return _verdict(name, findings, evidence, figures, exercised=opened > 0, absence_fails=run.absence_fails)


# -- 7 ---------------------------------------------------------------------------------------------
def _in_xbt(pair: object) -> bool:
    """An XBT pair (``XBTEUR``, ``XXBTZEUR``): its volume is its value in XBT. Other assets count
    towards TOTAL_BTC at their XBT value, which the evidence does not price: not judged here."""
    return str(pair or "").upper().startswith(("XBT", "XXBT"))


def allocation_respected(run: RunEvidence) -> Verdict:
    name = "Test allocation respected"
    findings = _Findings()
    allocation = {k: dec(v) for k, v in (run.meta.get("allocation") or {}).items() if dec(v) is not None}
    if not allocation.get("TOTAL_BTC"):
        findings.add("run", "no TOTAL_BTC allocation recorded for this run")
    peak_position, largest_buy, largest_notional, orders_checked = Decimal(0), Decimal(0), Decimal(0), 0
    for row in _judged(run):
        scenario = scenario_name(row)
        limits = safety(row).get("limits") or []
        for setting, attr in ALLOCATION_SETTINGS.items():
            cap = allocation.get(setting)
            for configured in {str(lim.get(attr)) for lim in limits if lim.get(attr) is not None}:
                if cap is not None and dec(configured) is not None and dec(configured) > cap:
                    findings.add(scenario, f"configured {setting} {configured} is above the test allocation {cap}")
        cap_btc = _cap(limits, "total_btc", allocation.get("TOTAL_BTC"))
        cap_eur = _cap(limits, "max_order_eur", allocation.get("MAX_ORDER_EUR"))
        facts = order_facts(row)
        if facts is None:
            continue
        for order in facts.exchange_orders:
            orders_checked += 1
            side = (order.get("descr") or {}).get("type")
            volume = dec(order.get("vol")) or Decimal(0)
            value = notional(order)
            if side == "buy" and _in_xbt((order.get("descr") or {}).get("pair")):
                largest_buy = max(largest_buy, volume)
                if cap_btc is not None and volume > cap_btc:
                    findings.add(scenario, f"order {order.get('txid')}: buy {volume} XBT > TOTAL_BTC {cap_btc}")
            if value is not None:
                largest_notional = max(largest_notional, value)
                if cap_eur is not None and value > cap_eur:
                    findings.add(scenario, f"order {order.get('txid')}: value {value} > MAX_ORDER_EUR {cap_eur}")
        position, peak = Decimal(0), Decimal(0)
        for trade in sorted(facts.exchange_trades, key=lambda t: (t.get("time", 0), str(t.get("txid")))):
            if not _in_xbt(trade.get("pair")):
                continue
            volume = dec(trade.get("vol")) or Decimal(0)
            position += volume if trade.get("type") == "buy" else -volume
            if position > peak:
                peak = position
                if cap_btc is not None and peak > cap_btc:
                    findings.add(scenario, f"position reached {peak} XBT after trade {trade.get('txid')} "
                                           f"> TOTAL_BTC {cap_btc}")
        peak_position = max(peak_position, peak)
        for line in _open_orders_peak(facts, _cap(limits, "max_open_orders", None)):
            findings.add(scenario, line)
    figures = {"allocation TOTAL_BTC": allocation.get("TOTAL_BTC", "unknown"),
               "allocation MAX_ORDER_EUR": allocation.get("MAX_ORDER_EUR", "unknown"),
               "orders checked": orders_checked, "largest buy (XBT)": largest_buy,
               "largest order value": largest_notional, "peak position (XBT)": peak_position}
    evidence = [f"{orders_checked} order(s) on the exchange checked against TOTAL_BTC and MAX_ORDER_EUR "
                "(the scenario's configured value, capped at the run's allocation); TOTAL_BTC judged on the XBT "
                "pairs, whose volume is their value in XBT",
                f"peak position {peak_position} XBT; largest buy {largest_buy} XBT; largest order value "
                f"{largest_notional}"]
    return _verdict(name, findings, evidence, figures, exercised=bool(allocation), absence_fails=run.absence_fails)


def _cap(limits: list[dict], attr: str, allocation: Decimal | None) -> Decimal | None:
    """The loosest value the scenario configured, but never looser than the allocation."""
    values = [dec(lim.get(attr)) for lim in limits if dec(lim.get(attr)) is not None]
    configured = max(values) if values else None
    if configured is None:
        return allocation
    return configured if allocation is None else min(configured, allocation)


def _open_orders_peak(facts, cap: Decimal | None) -> list[str]:
    if cap is None:
        return []
    events = []
    for order in facts.exchange_orders:
        opened = order.get("opentm")
        if opened is None:
            continue
        events.append((float(opened), 1, order.get("txid")))
        if order.get("closetm") is not None:
            events.append((float(order["closetm"]), -1, order.get("txid")))
    count, lines = 0, []
    for when, delta, txid in sorted(events, key=lambda e: (e[0], e[1])):  # closes first at equal times
        count += delta
        if delta > 0 and count > cap:
            lines.append(f"{count} orders open at once after {txid} > MAX_OPEN_ORDERS {cap}")
    return lines


CRITERIA: tuple[Callable[[RunEvidence], Verdict], ...] = (
    all_scenarios_pass, no_unauthorized_calls, fail_safes_activate, zero_data_loss, rate_limits_respected,
    breaker_prevents_cascades, allocation_respected,
)


def judge(run: RunEvidence) -> list[Verdict]:
    """Every criterion's verdict, in the plan's order. An incomplete run (stopped, aborted, killed,
    partial) vouches for nothing it did not run: what it found stays FAIL, the rest is NOT EXERCISED."""
    verdicts = [criterion(run) for criterion in CRITERIA]
    why = run.incomplete
    if why is None:
        return verdicts
    return [v if v.status == FAIL else replace(v, status=NOT_EXERCISED, note=f"not judged: {why}") for v in verdicts]
