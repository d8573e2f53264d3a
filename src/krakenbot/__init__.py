"""krakenbot: a Kraken spot trading bot whose every exchange call passes one safety wrapper.

Public API (imported lazily so ``import krakenbot`` stays fast):
``Bot``, ``SafetyWrapper``, ``TradingMode``, ``Settings``, ``ConfigError``, ``KrakenClient``
and the error tree in ``krakenbot.errors`` (``KrakenError`` and its subclasses).
"""
from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_LAZY = {
    "Bot": "krakenbot.bot",
    "SafetyWrapper": "krakenbot.safety.wrapper",
    "OrderOutcome": "krakenbot.safety.outcomes",
    "TradingMode": "krakenbot.safety.modes",
    "Settings": "krakenbot.config",
    "ConfigError": "krakenbot.config",
    "KrakenClient": "krakenbot.client",
    "KrakenError": "krakenbot.errors",
    "EndpointNotAllowed": "krakenbot.errors",
    "CircuitOpenError": "krakenbot.errors",
    "errors": "krakenbot.errors",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'krakenbot' has no attribute {name!r}")
    loaded = importlib.import_module(module)
    value = loaded if name == "errors" else getattr(loaded, name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
