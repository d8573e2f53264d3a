"""The risk gate: every new order passes here before the executor sees it.

Why a class around pure checks: the numbers that must survive a restart (trades
placed today, realised loss today, the trading state) live in the store, and the
day boundary comes from the injected clock (00:00 UTC), so a ``ManualClock`` can
walk through midnight in a test. The manager reads those into the snapshot, runs
every check in ``CHECKS`` order and returns *all* denials, so an operator sees every
reason at once. Cancels never come here: cancelling only ever reduces exposure.

Daily trades = orders placed on the exchange today (the executor counts them in the
store's ``trades`` counter). Daily realised loss = realised PnL of today's fills
(derived from the store, so it survives restarts).
"""
from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field, replace
from decimal import Decimal

from krakenbot.clock import Clock
from krakenbot.models import OrderRequest
from krakenbot.positions import PositionManager
from krakenbot.risk.checks import CHECKS, Denial, RiskSnapshot, TradingState
from krakenbot.risk.limits import RiskLimits
from krakenbot.store import Store, utc_day, utc_day_bounds

__all__ = ["RiskManager", "RiskDecision", "halt_pair", "halted_pairs"]

STATE_KEY = "risk.trading_state"
PAIR_HALTS_KEY = "risk.halted_pairs"  # {pair id: reason}: pairs that take no new order until the operator clears them
_pair_lock = threading.Lock()


def halted_pairs(store: Store) -> dict[str, str]:
    raw = store.get_meta(PAIR_HALTS_KEY)
    return dict(json.loads(raw)) if raw else {}


def halt_pair(store: Store, clock: Clock, pair: str, reason: str, actor: str = "bot", halt: bool = True) -> None:
    """Stop (or, ``halt=False``, restart) new orders on one pair; the other pairs trade on. A function on
    the store, not only a manager method: the executor halts the pair whose order an exchange answer
    contradicted, and needs no risk manager for it. Stored, so a restart keeps the halt; audited."""
    with _pair_lock, store.batch():
        halts = halted_pairs(store)
        if halt:
            halts[pair] = reason
        else:
            halts.pop(pair, None)
        store.set_meta(PAIR_HALTS_KEY, json.dumps(halts, sort_keys=True))
        store.append_audit({
            "time": clock.time(), "actor": actor, "action": "pair_halt", "allowed": True,
            "outcome": "halted" if halt else "active", "detail": {"pair": pair, "reason": reason},
        })
_STATES = {state.value: state for state in TradingState}  # a dict lookup instead of an Enum call


@dataclass(frozen=True)
class RiskDecision:
    approved: bool
    denials: list[Denial] = field(default_factory=list)


class RiskManager:
    def __init__(self, limits: RiskLimits, store: Store, clock: Clock,
                 positions: PositionManager | None = None) -> None:
        self.limits = limits
        self.store = store
        self.clock = clock
        self.positions = positions or PositionManager(store)
        self._lock = threading.Lock()

    # -- trading state -----------------------------------------------------------------------
    @property
    def trading_state(self) -> TradingState:
        """Read before every order (the wrapper, the guard, the risk check); a stored value that is no
        state raises ValueError, as ``TradingState(value)`` does."""
        stored = self.store.get_meta(STATE_KEY)
        if stored is None:
            return TradingState.ACTIVE
        return _STATES.get(stored) or TradingState(stored)

    def set_trading_state(self, state: TradingState, reason: str, actor: str = "bot") -> None:
        """The one way the state changes; every change (even a repeated one) is audited,
        and the state is stored so a restart cannot quietly un-halt the bot. The state and its audit
        row are one transaction: a change the store records only halfway does not happen."""
        with self._lock, self.store.batch():
            old = self.trading_state
            self.store.set_meta(STATE_KEY, TradingState(state).value)
            self.store.append_audit({
                "time": self.clock.time(), "actor": actor, "action": "trading_state",
                "outcome": TradingState(state).value, "allowed": True,
                "detail": {"from": old.value, "to": TradingState(state).value, "reason": reason},
            })

    def halt(self, reason: str, actor: str = "bot") -> None:
        self.set_trading_state(TradingState.HALTED, reason, actor)

    def resume(self, reason: str, actor: str = "operator") -> None:
        self.set_trading_state(TradingState.ACTIVE, reason, actor)

    # -- one pair -------------------------------------------------------------------------------
    def halted_pairs(self) -> dict[str, str]:
        """Pairs halted on their own (pair id -> why); the trading state above halts them all."""
        return halted_pairs(self.store)

    def halt_pair(self, pair: str, reason: str, actor: str = "bot") -> None:
        halt_pair(self.store, self.clock, pair, reason, actor)

    def resume_pair(self, pair: str, reason: str, actor: str = "operator") -> None:
        halt_pair(self.store, self.clock, pair, reason, actor, halt=False)

    # -- daily counters ------------------------------------------------------------------------
    def today(self) -> str:
        return utc_day(self.clock.time())

    def daily_trades(self) -> int:
        return self.store.daily_trade_count(self.today())

    def rebuild_daily_trades(self, placed_today: int, source: str) -> int:
        """Raise today's trade count to ``placed_today`` (the bot's orders the exchange shows opened
        today) if the store counted fewer: a lost or stale store must not reopen the daily cap. The
        count is what ``check_daily_trades`` compares: every order placed, sells included."""
        with self._lock:
            counted = self.daily_trades()
            if placed_today <= counted:
                return counted
            self.store.add_daily(self.today(), "trades", placed_today - counted)
            self.store.append_audit({
                "time": self.clock.time(), "actor": "risk", "action": "daily_trades_rebuilt", "allowed": True,
                "outcome": str(placed_today), "detail": {"from": counted, "to": placed_today, "source": source},
            })
            return placed_today

    def halt_reason(self) -> str | None:
        """Why trading is halted (the last recorded change), or None while it is not."""
        if self.trading_state is not TradingState.HALTED:
            return None
        rows = self.store.audit_rows("trading_state")
        return (rows[-1].get("detail") or {}).get("reason") if rows else None

    def daily_realised_pnl(self) -> Decimal:
        start, end = utc_day_bounds(self.clock.time())
        return self.positions.realised_pnl(since=start, until=end)

    def daily_realised_loss(self) -> Decimal:
        return max(Decimal(0), -self.daily_realised_pnl())

    # -- the gate ------------------------------------------------------------------------------
    def check(self, intent: OrderRequest, snapshot: RiskSnapshot | None = None) -> RiskDecision:
        snap = replace(
            snapshot or RiskSnapshot(),
            daily_trades=self.daily_trades(),
            daily_realised_loss=self.daily_realised_loss(),
            trading_state=self.trading_state,
        )
        limits = self.limits
        denials = [denial for check in CHECKS if (denial := check(intent, snap, limits)) is not None]
        if denials:
            self.store.append_audit({
                "time": self.clock.time(), "actor": "risk", "action": "risk_check", "allowed": False,
                "outcome": "denied",
                "detail": {"pair": intent.pair, "side": str(getattr(intent.side, "value", intent.side)),
                           "volume": str(intent.volume), "codes": [d.code.value for d in denials],
                           "reasons": [d.detail for d in denials]},
            })
        return RiskDecision(not denials, denials)
