"""Temporary stand-in for the exchange core until ``krakensim.exchange`` lands; to be deleted.

Answers Time, SystemStatus and Balance so the HTTP face can be used end to end.
"""
from __future__ import annotations

import time as _time
from decimal import Decimal
from typing import Any

from krakensim import errors

_DEFAULT = {"ZEUR": Decimal("10000"), "ZUSD": Decimal("10000"), "XXBT": Decimal("1"), "XETH": Decimal("10")}


class Exchange:
    def __init__(self, seed: int = 42, clock: Any = None, tier: str = "starter", balances: Any = None,
                 volatility: Any = None) -> None:
        self.clock = clock
        self._initial = {k: Decimal(str(v)) for k, v in (balances or _DEFAULT).items()}
        self.reset()

    def reset(self) -> None:
        self.status = "online"
        self._balances: dict[str, dict[str, Decimal]] = {}

    def _account(self, account: str) -> dict[str, Decimal]:
        return self._balances.setdefault(account, dict(self._initial))

    def handle_public(self, method: str, params: dict[str, str]) -> dict:
        now = self.clock.time()
        if method == "Time":
            return {"unixtime": int(now), "rfc1123": _time.strftime("%a, %d %b %y %H:%M:%S +0000", _time.gmtime(now))}
        if method == "SystemStatus":
            return {"status": self.status, "timestamp": _time.strftime("%Y-%m-%dT%H:%M:%SZ", _time.gmtime(now))}
        raise errors.KrakenAPIError(errors.UNKNOWN_METHOD)

    def handle_private(self, account: str, method: str, params: dict[str, Any]) -> dict:
        if method == "Balance":
            return {k: f"{v:.4f}" for k, v in self._account(account).items()}
        raise errors.KrakenAPIError(errors.UNKNOWN_METHOD)

    def set_system_status(self, status: str) -> None:
        self.status = status

    def balances(self, account: str = "demo") -> dict[str, Decimal]:
        return dict(self._account(account))

    def orders(self, account: str = "demo") -> list[dict]:
        return []

    def trades(self, account: str = "demo") -> list[dict]:
        return []

    def holds(self, account: str = "demo") -> dict[str, Decimal]:
        return {}
