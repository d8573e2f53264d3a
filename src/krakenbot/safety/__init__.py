"""The safety wrapper: the only door from the bot to the exchange.

Public: ``SafetyWrapper``, ``TradingMode``, ``OrderOutcome``, ``ConnectionReport``,
``KillSwitch``, ``DeadMansSwitch``, ``LiveTradingRefused``. The wrapper is imported
lazily so that ``krakenbot.config`` (which needs ``TradingMode``) stays light.
"""
from __future__ import annotations

from typing import Any

from krakenbot.safety.modes import LiveTradingRefused, TradingMode

__all__ = [
    "SafetyWrapper", "TradingMode", "OrderOutcome", "ConnectionReport", "KillSwitch", "DeadMansSwitch",
    "LiveTradingRefused", "AuditLog", "KillReport", "SafetyCode", "CanaryRules",
]

_LAZY = {
    "SafetyWrapper": "krakenbot.safety.wrapper",
    "OrderOutcome": "krakenbot.safety.outcomes",
    "ConnectionReport": "krakenbot.safety.outcomes",
    "KillReport": "krakenbot.safety.outcomes",
    "SafetyCode": "krakenbot.safety.outcomes",
    "CanaryRules": "krakenbot.safety.canary",
    "KillSwitch": "krakenbot.safety.kill_switch",
    "DeadMansSwitch": "krakenbot.safety.dead_mans_switch",
    "AuditLog": "krakenbot.safety.audit",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'krakenbot.safety' has no attribute {name!r}")
