"""The trading loop: one cycle reads the market, asks the strategy, and acts through the
safety wrapper; then it reconciles, watches protective exits and keeps the dead man's
switch alive.

Why the loop holds no client: every order the strategy wants goes through
``SafetyWrapper.submit_order`` like any manual order, so mode, kill switch, staleness
and risk limits apply to the loop exactly as to an operator. A failing step is
recorded and the cycle goes on to the next safe step; it never retries an order.
"""
from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from typing import Any

from krakenbot.clock import Interrupted
from krakenbot.strategy import HoldStrategy, MarketView, Strategy

log = logging.getLogger(__name__)


@dataclass
class CycleReport:
    """What one cycle did; also written to the audit trail as one ``cycle`` row."""

    started_at: float
    intents: int = 0
    placed: int = 0
    refused: int = 0
    skipped: dict[str, str] = field(default_factory=dict)  # pair -> why no decision was taken
    decisions: dict[str, str] = field(default_factory=dict)  # pair -> what was decided and became of it
    errors: list[str] = field(default_factory=list)
    protective_actions: int = 0
    kept_alive: bool = False

    @property
    def ok(self) -> bool:
        return not self.errors

    def counts(self, skipped: bool = True) -> str:
        parts = [f"intents {self.intents}", f"placed {self.placed}", f"refused {self.refused}"]
        if self.skipped and skipped:
            parts.append("skipped " + "; ".join(f"{p}: {why}" for p, why in self.skipped.items()))
        if self.errors:
            parts.append(f"errors {len(self.errors)}")
        return ", ".join(parts)

    def line(self, number: int) -> str:
        """The operator's one line for this cycle: each pair's decision (or why none), then the counts."""
        pairs = "; ".join(f"{p} {what}" for p, what in self.decisions.items())
        errors = f"; errors: {' | '.join(self.errors)}" if self.errors else ""
        return f"cycle {number}: {pairs or 'no pairs'} ({self.counts(skipped=False)}){errors}"


def _said(intent: Any, outcome: Any) -> str:
    """``buy 0.001 limit @ 50000: placed`` / ``...: refused STALE_MARKET_DATA``."""
    price = f" @ {format(intent.price.normalize(), 'f')}" if getattr(intent, "price", None) is not None else ""
    if outcome.accepted:
        result = "validated (paper)" if outcome.validated_only else "placed"
    else:
        result = "refused " + (",".join(outcome.codes) or "")
    return f"{getattr(intent.side, 'value', intent.side)} {format(intent.volume, 'f')} " \
           f"{getattr(intent.ordertype, 'value', intent.ordertype)}{price}: {result}"


class Orchestrator:
    def __init__(self, safety: Any, clock: Any, pairs: tuple[str, ...] | list[str],
                 strategy: Strategy | None = None, *, reconcile_every: int = 10,
                 cycle_seconds: float = 60.0) -> None:
        self.safety = safety
        self.clock = clock
        self.pairs = tuple(pairs)
        self.strategy: Strategy = strategy or HoldStrategy()
        self.reconcile_every = max(1, reconcile_every)
        self.cycle_seconds = cycle_seconds
        self.cycles = 0
        self.last_report: CycleReport | None = None
        # Called before every cycle and between the slices of the wait after it (the CLI: the
        # running-bot record's heartbeat and the kill file's acknowledgement). Never during a send;
        # the CLI also runs it from any clock wait on SIGUSR1, which includes resolve_unknown's
        # wait after an ambiguous AddOrder (a kill there cancels; the order stays UNKNOWN until read).
        self.safe_point: Any = None
        self.interrupted: Interrupted | None = None  # the stop request that ended run(), if any
        # Called with each cycle's report once it is recorded, on this thread (the metrics' gauges):
        # between cycles, never during a send.
        self.observers: list[Any] = []
        # With the market stream (Bot.start_streams): waits up to the given real seconds for a move of a
        # pair's book and returns the pairs that moved; the wait between cycles then reacts to each move
        # at once (``react``) instead of deciding on it only at the next cycle.
        self.moves: Any = None

    # -- one cycle -----------------------------------------------------------------------
    def run_once(self) -> CycleReport:
        report = CycleReport(started_at=self.clock.time())
        self.cycles += 1
        killed = self._step(report, "kill_file", self.safety.honour_kill_file)
        if killed is not None or self.safety.kill_switch.engaged:
            reason = self.safety.kill_switch.reason or "kill switch"
            report.skipped = {pair: f"HALTED: {reason}" for pair in self.pairs}
            report.decisions = {pair: f"skipped: {why}" for pair, why in report.skipped.items()}
        else:
            unarmed = self._dead_mans_switch_problem()
            for pair in self.pairs:
                self._trade_pair(pair, report, unarmed)
        self._step(report, "refresh_orders", self.safety.refresh_orders)
        if self.cycles % self.reconcile_every == 1 or self.reconcile_every == 1:
            self._step(report, "reconcile", self.safety.reconcile)
        actions = self._step(report, "protective_exits", self.safety.check_protective_exits)
        report.protective_actions = len(actions or [])
        kept = self._step(report, "keep_alive", self.safety.keep_alive)
        report.kept_alive = bool(kept)
        self.safety.record_cycle(report)
        self.last_report = report
        log.info("%s", report.line(self.cycles), extra={"fields": {
            "cycle": self.cycles, "decisions": dict(report.decisions), "intents": report.intents,
            "placed": report.placed, "refused": report.refused, "errors": list(report.errors)}})
        for observer in self.observers:
            try:
                observer(report)
            except Exception:  # noqa: BLE001 - observing the cycle never fails it
                log.exception("cycle observer %r failed", observer)
        return report

    def react(self, pairs: list[str]) -> CycleReport | None:
        """Decide on the pairs whose book just moved, between cycles: the same gates and the same
        ``submit_order`` as a cycle's trading step; the cycle's other steps (order refresh, reconciliation,
        protective exits, keep-alive) keep their interval. Recorded like a cycle when it decided anything."""
        pairs = [p for p in pairs if p in self.pairs]
        if not pairs or self.safety.kill_switch.engaged:
            return None
        report = CycleReport(started_at=self.clock.time())
        unarmed = self._dead_mans_switch_problem()
        for pair in pairs:
            self._trade_pair(pair, report, unarmed)
        if report.intents:
            self.safety.record_cycle(report)
            log.info("%s", report.line(self.cycles).replace("cycle", "move after cycle", 1))
        return report

    def _dead_mans_switch_problem(self) -> str | None:
        """Canary and live never trade without the dead man's switch: arm it when it is not (start-up
        could not, it was disarmed, or its countdown ran out while keep-alives failed: the exchange
        then cancelled everything and holds no switch), and say why this cycle places nothing when
        that fails."""
        safety = self.safety
        if getattr(safety.mode, "value", safety.mode) not in ("canary", "dry-run", "live") or safety.dead_mans_switch.armed:
            return None
        seconds = safety.settings.dead_mans_switch_seconds
        if not seconds:
            return None
        try:
            safety.dead_mans_switch.arm(seconds, retry=False)  # once a cycle
        except Exception as exc:  # noqa: BLE001 - any failure: no new order this cycle
            log.warning("dead man's switch could not be armed: %s", exc)
            return f"dead man's switch not armed ({exc}): no new orders until it is"
        if not safety.dead_mans_switch.armed:  # answered, but the exchange confirmed no running countdown
            return "dead man's switch not armed (the exchange confirmed no countdown): no new orders until it is"
        return None

    def _trade_pair(self, pair: str, report: CycleReport, unarmed: str | None = None) -> None:
        stale = self.safety.market_data_problem(pair, refresh=True)  # also the protective exits' prices
        if stale or unarmed:
            report.skipped[pair] = stale or unarmed
            report.decisions[pair] = f"skipped: {stale or unarmed}"
            return
        if getattr(self.safety.mode, "value", self.safety.mode) == "canary":
            # Canary mode proves the order path with one far, minimal, post-only order per
            # pair and cycle (cancelled at once); the strategy's orders wait for live mode.
            outcome = self.safety.canary_order(pair, "buy")
            report.intents += 1
            if outcome.accepted:
                report.placed += 1
            else:
                report.refused += 1
            report.decisions[pair] = "canary buy: " + ("placed and cancelled" if outcome.accepted else
                                                       "refused " + ",".join(outcome.codes))
            return
        ticker = self.safety.last_ticker(pair)
        position, entry = self.safety.position(pair)
        view = MarketView(pair=pair, time=self.clock.time(), bid=ticker.bid, ask=ticker.ask,
                          position_volume=position, average_entry=entry)
        try:
            intents = self.strategy.decide(view)
        except Exception as exc:  # a strategy bug must not stop protective steps
            report.errors.append(f"strategy {getattr(self.strategy, 'name', '?')} on {pair}: {exc}")
            report.decisions[pair] = "strategy failed"
            log.exception("strategy failed on %s", pair)
            return
        said = []
        for intent in intents:
            report.intents += 1
            outcome = self.safety.submit_order(intent.pair, intent.side, intent.ordertype, intent.volume,
                                               intent.price, post_only=intent.post_only, origin="strategy")
            if outcome.accepted:
                report.placed += 1
            else:
                report.refused += 1
            self.strategy.acknowledge(intent, bool(outcome.accepted), self.clock.time())
            said.append(_said(intent, outcome))
        report.decisions[pair] = ", ".join(said) or "hold"

    @staticmethod
    def _step(report: CycleReport, name: str, fn: Any) -> Any:
        try:
            return fn()
        except Exception as exc:
            report.errors.append(f"{name}: {exc}")
            log.warning("cycle step %s failed: %s", name, exc)
            return None

    # -- the loop ------------------------------------------------------------------------
    def run(self, stop_event: threading.Event, max_cycles: int | None = None) -> int:
        """Run cycles until ``stop_event`` is set (SIGINT/SIGTERM in the CLI) or ``max_cycles``.

        The current cycle always finishes; on the way out the dead man's switch is disarmed
        (a graceful stop must not cancel orders the operator keeps). Returns cycles run.
        """
        done = 0
        try:
            while not stop_event.is_set():
                if self.safe_point is not None:
                    self.safe_point()
                self.run_once()
                done += 1
                if max_cycles is not None and done >= max_cycles:
                    break
                self._wait(stop_event, self.cycle_seconds)
        except Interrupted as stop:  # a stop during a wait (back-off, pacing, interval): at once
            self.interrupted = stop
            log.warning("stop requested: leaving after %d complete cycle(s)", done)
        finally:
            try:
                self.safety.disarm_dead_mans_switch()
            except (Exception, Interrupted) as exc:  # a stop does not wait out a back-off to disarm
                log.warning("could not disarm the dead man's switch on shutdown: %s", exc)
        return done

    def _wait(self, stop_event: threading.Event, seconds: float) -> None:
        """Wait on the injected clock in short slices so a stop request is seen quickly."""
        end = self.clock.monotonic() + seconds
        while not stop_event.is_set():
            left = end - self.clock.monotonic()
            if left <= 0:
                return
            if self.moves is None:
                self.clock.sleep(min(1.0, left))
            else:  # a move wakes the wait at once; a stop within a quarter second
                self._step(CycleReport(self.clock.time()), "react", lambda: self.react(self.moves(min(0.25, left))))
            if self.safe_point is not None:
                self.safe_point()
            self._keep_alive_between_cycles()

    def _keep_alive_between_cycles(self) -> None:
        """A wait as long as the switch's timeout (60 s each) would let it lapse between two cycles'
        keep-alives: re-arm when due (a third of the timeout) during the wait too."""
        try:
            self.safety.keep_alive()
        except Exception as exc:  # noqa: BLE001 - the next cycle re-arms before any order
            log.warning("dead man's switch keep-alive failed: %s", exc)
