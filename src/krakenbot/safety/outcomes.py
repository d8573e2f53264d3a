"""What the safety wrapper answers: order outcomes, connection and kill reports, its own denial codes.

Why a separate module: steps, CLI and reports read these values without needing the
wrapper (or a client) imported; they are plain frozen data.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from enum import Enum

from krakenbot.risk import Denial


class SafetyCode(str, Enum):
    """Denials decided by the wrapper itself (the risk package has its own ``DenialCode``)."""

    MODE = "MODE"
    HALTED = "HALTED"
    MARKET_STATUS = "MARKET_STATUS"
    CIRCUIT_OPEN = "CIRCUIT_OPEN"
    CANARY_RULES = "CANARY_RULES"
    EXCHANGE_ERROR = "EXCHANGE_ERROR"
    INVALID_ORDER = "INVALID_ORDER"
    CLOCK_SKEW = "CLOCK_SKEW"  # exchange time unknown or too far from ours: deadlines would be wrong
    STORE_FAILURE = "STORE_FAILURE"  # the order could not be recorded (on disk) before sending: not sent
    PAIR_HALTED = "PAIR_HALTED"  # this pair alone is halted (an exchange answer contradicted its order)


@dataclass(frozen=True)
class OrderOutcome:
    """What became of one order request. ``accepted``: passed every gate and the exchange
    took it (or, in paper mode, validated it); ``placed``: a real order exists on the exchange."""

    accepted: bool
    placed: bool
    cl_ord_id: str | None = None
    txid: str | None = None
    status: str | None = None
    denials: list[Denial] = field(default_factory=list)
    reason: str = ""
    validated_only: bool = False

    @property
    def codes(self) -> list[str]:
        return [getattr(d.code, "value", str(d.code)) for d in self.denials]

    @property
    def refused(self) -> bool:
        return not self.accepted


@dataclass(frozen=True)
class ConnectionReport:
    online: bool
    system_status: str | None
    authenticated: bool
    balances: dict[str, Decimal]
    error: str | None = None


@dataclass(frozen=True)
class KillReport:
    halted: bool
    cancelled: int  # every order the kill cancelled, both CancelAlls together
    reason: str
    problems: tuple[str, ...] = ()
    # The second CancelAll's count, sent once an order call the first one overtook had ended (see
    # ``client/_client.py``); None when no second one was needed (or it failed: then a problem).
    cancelled_again: int | None = None
