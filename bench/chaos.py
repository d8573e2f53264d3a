"""Chaos soak: the real bot against a misbehaving exchange, then the money invariants.

    python -m bench.chaos --ops 2000 --fault-rate 0.15 --seed 1

Why a soak and not only unit tests: the dangerous bugs (a doubled order after a dropped
reply, a fill recorded twice after a restart, an order that leaks out while the breaker
is open) only appear when faults, restarts and market moves interleave. The driver
builds the production wiring (``Bot.build`` in LIVE mode with the safety wrapper,
executor, risk, breaker, reconciler and a file store) against an embedded
``KrakenSimulator`` on one shared ``ManualClock``, runs N operations drawn from a
seeded RNG while the simulator injects faults at rate R, then clears the faults,
recovers, and checks:

- duplicate orders: each order intent (``cl_ord_id``) is at most one exchange order,
  and every exchange order belongs to an intent in the store;
- fills lost or double-counted: the store's fills equal the exchange's trades, field by
  field (exact Decimals);
- risk-limit breaches: no exchange order above MAX_ORDER_EUR (but a sell of what the bot held),
  no position above TOTAL_BTC; and the daily cap as ``risk.checks.check_daily_trades`` counts it:
  every order placed that UTC day counts (reducing sells too), and an order that is not a
  reducing sell (a sell no larger than the position the bot held when it asked) is never placed
  once the day already has MAX_DAILY_TRADES orders. The cap is small (``--daily-cap``, 30) so
  that it binds: the soak sees refusals by it (``cap refusals``), and an "overnight" operation
  moves the clock 6 hours so days turn and the cap binds again;
- requests that reached the exchange while the breaker was OPEN (breaker listener
  intervals against the simulator's access log);
- the ledger: starting balances + the bot's fills == the exchange balances, fees equal,
  and the bot's own ledger view (baseline + fills) agrees; nothing left UNKNOWN.

Every count must be zero; otherwise it exits 1 and prints the seed that reproduces it.
"""
from __future__ import annotations

import argparse
import logging
import random
import sys
import tempfile
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, Callable

from krakenbot.bot import Bot
from krakenbot.config import Settings
from krakenbot.errors import KrakenError
from krakensim import KrakenSimulator
from krakensim.clock import ManualClock
from tools.safety_report.criteria import LESS_EXPOSURE

PAIR = "XBTEUR"
PAIR_ID = "XXBTZEUR"
BASE, QUOTE = "XXBT", "ZEUR"

LIMITS = {
    "MAX_ORDER_EUR": "250",
    "TOTAL_BTC": "0.02",
    "MAX_POSITION_PCT": "100",
    "MAX_DAILY_TRADES": "30",  # binds: the soak places more than that per day (see --daily-cap)
    "MAX_DAILY_LOSS_EUR": "100000",
    "MAX_OPEN_ORDERS": "8",
    "PRICE_COLLAR_PCT": "3",
    "STALE_DATA_SECONDS": "30",
}

# Faults on every endpoint; each draws independently, so each gets a share of the rate.
_ANY_ENDPOINT_FAULTS: list[dict[str, Any]] = [
    {"kind": "http_status", "status": 502},
    {"kind": "http_status", "status": 503},
    {"kind": "http_status", "status": 520},
    {"kind": "error", "error": "EService:Unavailable"},
    {"kind": "error", "error": "EService:Busy"},
    {"kind": "error", "error": "EAPI:Rate limit exceeded"},
    {"kind": "error", "error": "EAPI:Invalid nonce"},
    {"kind": "reset"},
    {"kind": "truncated_json"},
    {"kind": "latency", "seconds": 3.0},
]
# Ambiguous writes: the order (or cancel) takes effect, the reply never arrives.
_WRITE_FAULTS: list[dict[str, Any]] = [
    {"endpoint": "AddOrder", "kind": "accept_then_drop"},
    {"endpoint": "CancelOrder", "kind": "accept_then_drop"},
]


def _share(rate: float, n: int) -> float:
    """Per-fault probability so that n independent draws fire at ``rate`` overall."""
    return 1.0 - (1.0 - rate) ** (1.0 / n) if rate > 0 else 0.0


def inject_faults(sim: KrakenSimulator, rate: float) -> None:
    if rate <= 0:
        return
    p_any = _share(rate * 0.75, len(_ANY_ENDPOINT_FAULTS))
    for spec in _ANY_ENDPOINT_FAULTS:
        spec = dict(spec)
        sim.faults.inject(endpoint="*", probability=p_any, **spec)
    for spec in _WRITE_FAULTS:
        spec = dict(spec)
        sim.faults.inject(probability=rate * 0.25, **spec)


@dataclass
class Invariant:
    name: str
    count: int = 0
    details: list[str] = field(default_factory=list)

    def add(self, detail: str) -> None:
        self.count += 1
        if len(self.details) < 10:
            self.details.append(detail)


@dataclass
class ChaosReport:
    seed: int
    ops: int
    fault_rate: float
    wall_s: float = 0.0
    invariants: dict[str, Invariant] = field(default_factory=dict)
    op_counts: Counter = field(default_factory=Counter)
    outcomes: Counter = field(default_factory=Counter)
    faults_fired: int = 0
    requests: int = 0
    exchange_orders: int = 0
    exchange_trades: int = 0
    restarts: int = 0
    breaker_opened: int = 0
    daily_cap: int = 0
    cap_refusals: int = 0  # orders the daily cap refused: the invariant below had something to check

    @property
    def ok(self) -> bool:
        return all(inv.count == 0 for inv in self.invariants.values())

    @property
    def ops_per_s(self) -> float:
        return self.ops / self.wall_s if self.wall_s else 0.0

    def table(self) -> str:
        lines = [f"chaos soak: seed={self.seed} ops={self.ops} fault_rate={self.fault_rate:g}",
                 f"{'invariant':<50} {'count':>7}  result"]
        for inv in self.invariants.values():
            lines.append(f"{inv.name:<50} {inv.count:>7}  {'ok' if inv.count == 0 else 'FAIL'}")
            for d in inv.details:
                lines.append(f"    - {d}")
        lines.append(f"requests {self.requests}, faults fired {self.faults_fired}, exchange orders "
                     f"{self.exchange_orders}, trades {self.exchange_trades}, restarts {self.restarts}, "
                     f"breaker opened {self.breaker_opened}, daily cap {self.daily_cap}, "
                     f"cap refusals {self.cap_refusals}")
        lines.append("operations: " + ", ".join(f"{k} {v}" for k, v in sorted(self.op_counts.items())))
        lines.append("outcomes: " + ", ".join(f"{k} {v}" for k, v in sorted(self.outcomes.items())))
        lines.append(f"{self.ops_per_s:,.0f} operations/s ({self.ops} operations in {self.wall_s:.1f} s wall)")
        if not self.ok:
            lines.append(f"FAILED: reproduce with: python -m bench.chaos --ops {self.ops} "
                         f"--fault-rate {self.fault_rate:g} --seed {self.seed} --daily-cap {self.daily_cap}")
        return "\n".join(lines)


class BreakerWatch:
    """Breaker listener: remembers the access-log positions while the breaker was OPEN."""

    def __init__(self, sim: KrakenSimulator) -> None:
        self.sim = sim
        self.intervals: list[tuple[int, int | None]] = []
        self.opened = 0

    def state_change(self, old: Any, new: Any, reason: str) -> None:
        new_v, old_v = getattr(new, "value", new), getattr(old, "value", old)
        if new_v == "open":
            self.opened += 1
            # The failing request is already logged (the simulator logs before replying).
            self.intervals.append((len(self.sim.access_log), None))
        elif old_v == "open" and self.intervals and self.intervals[-1][1] is None:
            self.intervals[-1] = (self.intervals[-1][0], len(self.sim.access_log))

    def close_all(self) -> None:
        if self.intervals and self.intervals[-1][1] is None:
            self.intervals[-1] = (self.intervals[-1][0], len(self.sim.access_log))


class ChaosRun:
    def __init__(self, ops: int, fault_rate: float, seed: int, workdir: Path,
                 log: Callable[[str], None] | None = None, daily_cap: int | None = None) -> None:
        self.ops, self.fault_rate, self.seed = ops, fault_rate, seed
        self.rng = random.Random(seed)
        self.workdir = workdir
        self.store_path = str(workdir / "chaos.sqlite")
        self.log = log or (lambda _m: None)
        self.clock = ManualClock()
        self.limits = dict(LIMITS)
        if daily_cap is not None:
            self.limits["MAX_DAILY_TRADES"] = str(daily_cap)
        # cl_ord_id -> (side, volume, the bot's position when it asked): what check_daily_trades exempts
        self.asked: dict[str, tuple[str, Decimal, Decimal]] = {}
        self.sim = KrakenSimulator(seed=seed, clock=self.clock)
        self.sim.set_price(PAIR, "60000")
        self.start_balances = self.sim.balances()
        self.env = {"KRAKEN_API_KEY": self.sim.api_key, "KRAKEN_API_SECRET": self.sim.api_secret,
                    "API_DOMAIN": self.sim.url, "TRADING_MODE": "live", "KRAKEN_LIVE_TRADING": "yes",
                    "STORE_PATH": self.store_path, "KILL_SWITCH_FILE": str(workdir / "KILL"),
                    "PAIRS": PAIR, **self.limits}
        self.settings = Settings.from_env(self.env)
        self.watches: list[BreakerWatch] = []
        self.bot: Bot | None = None
        self.status_window = 0
        self.report = ChaosReport(seed, ops, fault_rate, daily_cap=int(self.limits["MAX_DAILY_TRADES"]))
        self.unexpected: list[str] = []

    # -- bot lifecycle ------------------------------------------------------------------------
    def build_bot(self) -> Bot:
        bot = Bot.build(self.settings, clock=self.clock, store_path=self.store_path, live_flag=True,
                        client_options={"rng": random.Random(self.rng.random())})
        watch = BreakerWatch(self.sim)
        bot.safety.breaker.add_listener(watch)
        self.watches.append(watch)
        return bot

    def restart(self) -> None:
        if self.bot is not None:
            self.bot.close()  # may still call the exchange (disarming the dead man's switch)...
            self.watches[-1].close_all()  # ...so its breaker interval ends only after that
        self.bot = self.build_bot()
        self._guard(lambda: self.bot.safety.recover(), "recover")

    # -- operations ---------------------------------------------------------------------------
    def mid(self) -> Decimal:
        return self.sim.exchange.mid(PAIR)

    def _guard(self, fn: Callable[[], Any], name: str) -> Any:
        """Typed Kraken errors are expected under faults; anything else is a bug to report."""
        try:
            return fn()
        except KrakenError as exc:
            self.report.outcomes[f"{name}:{type(exc).__name__}"] += 1
        except Exception as exc:  # noqa: BLE001 - the soak reports it with the seed
            self.report.outcomes[f"{name}:UNEXPECTED"] += 1
            self.unexpected.append(f"{name}: {type(exc).__name__}: {exc}"[:300])
        return None

    def _submit(self, side: str, ordertype: str, volume: Decimal, price: Decimal | None = None) -> None:
        held = self.bot.safety.positions.position(PAIR_ID).volume  # what the risk snapshot reads
        outcome = self._guard(lambda: self.bot.safety.submit_order(PAIR, side, ordertype, volume, price), "submit")
        if outcome is not None:
            key = "placed" if outcome.placed else ("accepted" if outcome.accepted else
                                                   "+".join(outcome.codes) or "refused")
            self.report.outcomes[f"submit:{key}"] += 1
            if "DAILY_TRADE_LIMIT" in outcome.codes:
                self.report.cap_refusals += 1
            cid = outcome.cl_ord_id
        else:  # raised: the newest intent (ids rise, across restarts too) is this one's if it got that far
            cid = max((o.cl_ord_id for o in self.bot.store.orders()), default=None)
        if cid is not None and cid not in self.asked:
            self.asked[cid] = (side, volume, held)

    def op_market(self) -> None:
        volume = Decimal(self.rng.randint(5, 35)) / Decimal(10000)  # 0.0005 .. 0.0035 BTC
        if self.rng.random() < 0.05:
            volume = Decimal("0.01")  # ~600 EUR: above MAX_ORDER_EUR, must be denied
        self._submit(self.rng.choice(("buy", "sell")), "market", volume)

    def op_limit(self) -> None:
        side = self.rng.choice(("buy", "sell"))
        offset = Decimal(self.rng.randint(2, 80)) / Decimal(10000)  # 0.02 % .. 0.8 % passive
        mid = self.mid()
        price = mid * (1 - offset) if side == "buy" else mid * (1 + offset)
        volume = Decimal(self.rng.randint(5, 35)) / Decimal(10000)
        self._submit(side, "limit", volume, price.quantize(Decimal("0.1")))

    def op_cancel(self) -> None:
        orders = self._guard(lambda: self.bot.safety.open_orders(), "open_orders") or []
        if not orders:
            self.report.outcomes["cancel:none_open"] += 1
            return
        target = self.rng.choice(orders)
        outcome = self._guard(lambda: self.bot.safety.cancel_order(target.cl_ord_id), "cancel")
        if outcome is not None:
            self.report.outcomes[f"cancel:{'ok' if outcome.accepted else 'not'}"] += 1

    def op_refresh(self) -> None:
        self._guard(lambda: self.bot.safety.refresh_orders(), "refresh")

    def op_query(self) -> None:
        what = self.rng.choice(("balances", "ticker", "reconcile", "status"))
        if what == "balances":
            self._guard(lambda: self.bot.safety.balances(), "balances")
        elif what == "ticker":
            self._guard(lambda: self.bot.safety.ticker(PAIR), "ticker")
        elif what == "reconcile":
            self._guard(lambda: self.bot.safety.reconcile(), "reconcile")
        else:
            self._guard(lambda: self.bot.safety.status(), "status")

    def op_market_move(self) -> None:
        if self.rng.random() < 0.15:
            self.sim.shock(PAIR, Decimal(self.rng.choice((-4, -2, 2, 4))))
        else:
            step = Decimal(self.rng.randint(-40, 40)) / Decimal(10000)  # +/- 0.4 %
            self.sim.set_price(PAIR, (self.mid() * (1 + step)).quantize(Decimal("0.1")))
        # keep the walk in a sane band so limits stay meaningful
        mid = self.mid()
        if not Decimal(40000) < mid < Decimal(80000):
            self.sim.set_price(PAIR, "60000")

    def op_time(self) -> None:
        self.sim.advance(self.rng.choice((0.5, 1, 2, 5, 10, 20, 45)))

    def op_status_window(self) -> None:
        self.sim.set_system_status(self.rng.choice(("maintenance", "cancel_only", "post_only")))
        self.status_window = self.rng.randint(2, 10)

    def op_kill(self) -> None:
        """Kill switch (CancelAll under faults), then the operator resumes."""
        self._guard(lambda: self.bot.safety.kill("chaos drill"), "kill")
        self._guard(lambda: self.bot.safety.resume("chaos drill over"), "resume")

    def op_dead_mans_switch(self) -> None:
        """Arm (or keep alive) the exchange's dead man's switch: when time runs past it, the
        exchange cancels orders behind the bot's back and refresh must notice."""
        if self.rng.random() < 0.5:
            self._guard(lambda: self.bot.safety.arm_dead_mans_switch(60), "dms_arm")
        else:
            self._guard(lambda: self.bot.safety.keep_alive(), "dms_keep_alive")

    def op_overnight(self) -> None:
        """Six hours pass: a new UTC day comes (and with it a fresh daily cap) every few of these."""
        self.sim.advance(6 * 3600)

    def op_restart(self) -> None:
        self.report.restarts += 1
        self.restart()

    OPS: list[tuple[str, int]] = [
        ("market", 18), ("limit", 18), ("cancel", 10), ("refresh", 8), ("query", 10),
        ("market_move", 14), ("time", 14), ("status_window", 2), ("restart", 3), ("kill", 1),
        ("dead_mans_switch", 2), ("overnight", 1),
    ]

    # -- run ----------------------------------------------------------------------------------
    def run(self) -> ChaosReport:
        started = time.perf_counter()
        names = [n for n, _ in self.OPS]
        weights = [w for _, w in self.OPS]
        try:
            self.bot = self.build_bot()
            inject_faults(self.sim, self.fault_rate)
            for i in range(self.ops):
                name = self.rng.choices(names, weights)[0]
                self.report.op_counts[name] += 1
                getattr(self, f"op_{name}")()
                if self.status_window:
                    self.status_window -= 1
                    if self.status_window == 0:
                        self.sim.set_system_status("online")
                if self.ops >= 10 and (i + 1) % max(1, self.ops // 10) == 0:
                    self.log(f"  {i + 1}/{self.ops} operations, {time.perf_counter() - started:.1f} s")
            self.report.faults_fired = sum(f.fired for f in self.sim.faults.all())
            self.settle()
            self.report.wall_s = time.perf_counter() - started
            self.check()
        finally:
            if self.bot is not None:
                self.bot.close()
            self.sim.close()
        return self.report

    def settle(self) -> None:
        """Faults off, exchange online, deadlines and breaker timeouts past; recover until quiet."""
        self.sim.faults.clear()
        self.sim.set_system_status("online")
        self.sim.advance(120)
        self.restart()
        for _ in range(3):
            self.sim.advance(60)
            self._guard(lambda: self.bot.safety.refresh_orders(), "final_refresh")
            self._guard(lambda: self.bot.safety.recover(), "final_recover")

    # -- invariants ---------------------------------------------------------------------------
    def check(self) -> None:
        inv = self.report.invariants
        for name in ("duplicate orders (intent -> >1 exchange order)", "exchange orders without an intent",
                     "txid mismatch store vs exchange", "orders left UNKNOWN/PENDING_SUBMIT",
                     "fills lost (exchange trade not in store)", "fills double-counted or unknown to exchange",
                     "fill fields differ (price/vol/cost/fee)", "risk: order above MAX_ORDER_EUR",
                     "risk: position above TOTAL_BTC", "risk: daily placed orders above MAX_DAILY_TRADES",
                     "risk: resting orders above MAX_OPEN_ORDERS",
                     "requests sent while breaker OPEN", "ledger: balances differ (start+fills vs exchange)",
                     "ledger: fees differ", "ledger: bot view (baseline+fills) differs",
                     "unexpected exceptions (not KrakenError)"):
            inv[name] = Invariant(name)
        sim_orders = self.sim.orders()
        sim_trades = self.sim.trades()
        log = self.sim.access_log
        self.report.exchange_orders = len(sim_orders)
        self.report.exchange_trades = len(sim_trades)
        self.report.requests = sum(1 for r in log if r.kind in ("public", "private"))
        self.report.breaker_opened = sum(w.opened for w in self.watches)
        store = self.bot.store
        intents = {o.cl_ord_id: o for o in store.orders()}

        by_cid: dict[str, list[dict]] = defaultdict(list)
        for o in sim_orders:
            by_cid[o.get("cl_ord_id") or f"<none:{o['txid']}>"].append(o)
        for cid, group in by_cid.items():
            if len(group) > 1:
                inv["duplicate orders (intent -> >1 exchange order)"].add(
                    f"{cid}: {[o['txid'] for o in group]}")
            if cid not in intents:
                inv["exchange orders without an intent"].add(f"{cid} txid {group[0]['txid']}")
            elif intents[cid].txid != group[0]["txid"]:
                inv["txid mismatch store vs exchange"].add(
                    f"{cid}: store {intents[cid].txid} exchange {group[0]['txid']}")
        for cid, o in intents.items():
            if o.status in ("UNKNOWN", "PENDING_SUBMIT"):
                inv["orders left UNKNOWN/PENDING_SUBMIT"].add(f"{cid} {o.status} {o.reason}")
            elif o.txid and cid not in by_cid:
                inv["txid mismatch store vs exchange"].add(f"{cid}: store txid {o.txid} not on the exchange")

        fills = {f.trade_id: f for f in store.fills()}
        trades = {t["txid"]: t for t in sim_trades}
        for tid, t in trades.items():
            f = fills.get(tid)
            if f is None:
                inv["fills lost (exchange trade not in store)"].add(f"{tid} order {t['ordertxid']}")
                continue
            for name, ours, theirs in (("price", f.price, t["price"]), ("vol", f.volume, t["vol"]),
                                       ("cost", f.cost, t["cost"]), ("fee", f.fee, t["fee"])):
                if ours != Decimal(theirs):
                    inv["fill fields differ (price/vol/cost/fee)"].add(f"{tid}.{name}: store {ours} exchange {theirs}")
            if f.txid != t["ordertxid"]:
                inv["fill fields differ (price/vol/cost/fee)"].add(f"{tid}.order: {f.txid} vs {t['ordertxid']}")
        for tid in fills.keys() - trades.keys():
            inv["fills double-counted or unknown to exchange"].add(tid)
        for o in store.orders():
            if o.txid:
                recorded = sum((f.volume for f in fills.values() if f.txid == o.txid), Decimal(0))
                if recorded > o.volume:
                    inv["fills double-counted or unknown to exchange"].add(
                        f"{o.cl_ord_id}: fills {recorded} > volume {o.volume}")

        self._check_risk(sim_orders, sim_trades)

        for watch in self.watches:
            watch.close_all()
            for start, end in watch.intervals:
                for r in log[start:end]:  # cancels pass the breaker: they only remove exposure
                    if r.kind in ("public", "private") and r.endpoint not in LESS_EXPOSURE:
                        inv["requests sent while breaker OPEN"].add(f"seq {r.seq} {r.endpoint} at {r.time}")

        exchange_balances = self.sim.balances()
        expected = dict(self.start_balances)
        for f in fills.values():
            sign = 1 if f.side == "buy" else -1
            expected[BASE] = expected.get(BASE, Decimal(0)) + sign * f.volume
            expected[QUOTE] = expected.get(QUOTE, Decimal(0)) - sign * f.cost - f.fee
        for asset in sorted(set(expected) | set(exchange_balances)):
            a, b = expected.get(asset, Decimal(0)), exchange_balances.get(asset, Decimal(0))
            if a != b:
                inv["ledger: balances differ (start+fills vs exchange)"].add(f"{asset}: bot {a} exchange {b}")
        fee_store = sum((f.fee for f in fills.values()), Decimal(0))
        fee_sim = sum((Decimal(t["fee"]) for t in sim_trades), Decimal(0))
        if fee_store != fee_sim:
            inv["ledger: fees differ"].add(f"bot {fee_store} exchange {fee_sim}")
        view = self.bot.safety.positions.balances()
        if view is not None:
            for asset in (BASE, QUOTE):
                if view.get(asset, Decimal(0)) != exchange_balances.get(asset, Decimal(0)):
                    inv["ledger: bot view (baseline+fills) differs"].add(
                        f"{asset}: bot {view.get(asset)} exchange {exchange_balances.get(asset)}")
        for text in self.unexpected:
            inv["unexpected exceptions (not KrakenError)"].add(text)

    def _check_risk(self, sim_orders: list[dict], sim_trades: list[dict]) -> None:
        inv = self.report.invariants
        max_eur = Decimal(self.limits["MAX_ORDER_EUR"])
        slack = 1 + Decimal(self.limits["PRICE_COLLAR_PCT"]) / 100  # a market order fills around the mid it was sized at
        held_before = _held_before_each_market_order(sim_trades)
        for o in sim_orders:
            vol = Decimal(o["vol"])
            price = Decimal(o["descr"]["price"])
            if o["descr"]["type"] == "sell" and vol <= held_before.get(o["txid"], Decimal(-1)):
                continue  # a sell of what the bot held: exempt from MAX_ORDER_EUR (risk.checks.check_max_notional)
            if o["descr"]["ordertype"] == "market":
                exec_vol = Decimal(o["vol_exec"])
                notional = Decimal(o["cost"]) / exec_vol * vol if exec_vol else Decimal(0)
            else:
                notional = vol * price
            if notional > max_eur * slack:
                inv["risk: order above MAX_ORDER_EUR"].add(f"{o.get('cl_ord_id')}: {notional:.2f} EUR")
        position, cap = Decimal(0), Decimal(self.limits["TOTAL_BTC"])
        for t in sorted(sim_trades, key=lambda t: (t["time"], t["trade_id"])):
            position += Decimal(t["vol"]) if t["type"] == "buy" else -Decimal(t["vol"])
            if position > cap:
                inv["risk: position above TOTAL_BTC"].add(f"after trade {t['txid']}: {position} > {cap}")
        events = []  # resting orders over time (a close sorts before an open at the same instant)
        for o in sim_orders:
            if o["descr"]["ordertype"] != "market":
                events += [(float(o["opentm"]), 1, o.get("cl_ord_id"))]
                if "closetm" in o:
                    events += [(float(o["closetm"]), -1, o.get("cl_ord_id"))]
        resting, cap_open = 0, int(self.limits["MAX_OPEN_ORDERS"])
        for when, delta, cid in sorted(events, key=lambda e: (e[0], e[1])):
            resting += delta
            if resting > cap_open:
                inv["risk: resting orders above MAX_OPEN_ORDERS"].add(f"{resting} at {when} (opening {cid})")
        # check_daily_trades: the day's count is every order placed that UTC day (the executor counts
        # each placement, reducing sells too); an order that is not a reducing sell may go out only
        # while that count is below the cap. sim_orders are in the order the exchange took them.
        cap, per_day = int(self.limits["MAX_DAILY_TRADES"]), Counter()
        for o in sim_orders:
            day = time.strftime("%Y-%m-%d", time.gmtime(float(o["opentm"])))
            side, volume, held = self.asked.get(o.get("cl_ord_id"), (o["descr"]["type"], Decimal(o["vol"]), None))
            reducing = side == "sell" and held is not None and volume <= held
            if not reducing and per_day[day] >= cap:
                inv["risk: daily placed orders above MAX_DAILY_TRADES"].add(
                    f"{o.get('cl_ord_id')} ({side} {volume}) placed on {day} after {per_day[day]} orders, cap {cap}")
            per_day[day] += 1


def _held_before_each_market_order(sim_trades: list[dict]) -> dict[str, Decimal]:
    """txid -> the bot's position just before that order's first fill (trade ids rise with every
    fill, and a market order fills as it arrives). As in ``PositionManager``, a sell of more than the
    bot holds (the account's own coins) leaves the position at zero, not below."""
    first: dict[str, int] = {}
    for t in sim_trades:
        first[t["ordertxid"]] = min(first.get(t["ordertxid"], t["trade_id"]), t["trade_id"])
    position, held, trades = Decimal(0), {}, sorted(sim_trades, key=lambda t: t["trade_id"])
    for t in trades:
        if first[t["ordertxid"]] == t["trade_id"]:
            held[t["ordertxid"]] = position
        position = position + Decimal(t["vol"]) if t["type"] == "buy" else max(Decimal(0), position - Decimal(t["vol"]))
    return held


def run(ops: int = 2000, fault_rate: float = 0.15, seed: int = 1, workdir: str | Path | None = None,
        log: Callable[[str], None] | None = None, daily_cap: int | None = None) -> ChaosReport:
    """One soak; ``workdir`` holds the store file (a temporary directory when None)."""
    if workdir is not None:
        Path(workdir).mkdir(parents=True, exist_ok=True)
        return ChaosRun(ops, fault_rate, seed, Path(workdir), log, daily_cap).run()
    with tempfile.TemporaryDirectory(prefix="krakenbot-chaos-") as tmp:
        return ChaosRun(ops, fault_rate, seed, Path(tmp), log, daily_cap).run()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.chaos", description=__doc__.splitlines()[0])
    p.add_argument("--ops", type=int, default=2000, help="randomized operations (default 2000)")
    p.add_argument("--fault-rate", type=float, default=0.15, help="fault probability per request (default 0.15)")
    p.add_argument("--seed", type=int, default=None, help="default: a random seed (printed, to replay a failure)")
    p.add_argument("--daily-cap", type=int, default=int(LIMITS["MAX_DAILY_TRADES"]),
                   help="MAX_DAILY_TRADES for the soak (default %(default)s: small, so it binds)")
    p.add_argument("--seconds", type=float, default=None,
                   help="bench mode: run batches of --ops until this many seconds have passed")
    p.add_argument("--workdir", default=None, help="keep the store file here (default: a temp dir)")
    p.add_argument("--quiet", action="store_true", help="no progress lines")
    p.add_argument("--verbose", action="store_true", help="show the bot's warnings (retries, breaker)")
    args = p.parse_args(argv)
    if not 0 <= args.fault_rate <= 1 or args.ops < 1 or args.daily_cap < 1:
        p.error("--fault-rate must be in [0, 1], --ops >= 1 and --daily-cap >= 1")
    if args.seed is None:
        args.seed = random.SystemRandom().randrange(1, 2**31)
    print(f"chaos soak seed {args.seed} (replay: python -m bench.chaos --ops {args.ops} "
          f"--fault-rate {args.fault_rate:g} --seed {args.seed} --daily-cap {args.daily_cap})", flush=True)
    if not args.verbose:
        logging.basicConfig(level=logging.ERROR)  # the bot's retry warnings are expected here
    say = (lambda m: None) if args.quiet else (lambda m: print(m, file=sys.stderr, flush=True))
    if args.seconds is not None:
        return _timed(args, say)
    report = run(args.ops, args.fault_rate, args.seed, args.workdir, say, args.daily_cap)
    print(report.table(), flush=True)
    return 0 if report.ok else 1


def _timed(args: argparse.Namespace, say: Callable[[str], None]) -> int:
    """For ``python -m bench``: 200-op soaks with successive seeds until the time is up."""
    started, total_ops, failed, seed = time.perf_counter(), 0, [], args.seed
    while time.perf_counter() - started < args.seconds:
        report = run(min(args.ops, 200), args.fault_rate, seed, None, say, args.daily_cap)
        total_ops += report.ops
        if not report.ok:
            failed.append(seed)
            print(report.table())
        seed += 1
    wall = time.perf_counter() - started
    print(f"{total_ops / wall:,.0f} operations/s ({total_ops} operations, seeds {args.seed}..{seed - 1}, "
          f"{wall:.1f} s, failed seeds: {failed or 'none'})")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
