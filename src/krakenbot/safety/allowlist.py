"""Which Kraken endpoints each trading mode may call. Default deny.

The per-mode lists are the ``modes`` column of the one endpoint table
(``krakenbot.client.endpoints``), where each endpoint's meaning (what moves money, what only
reads) is written once. Funding endpoints (withdrawals,
deposits, transfers, earn) are refused in every mode, LIVE included: a trading bot never
needs them, and a leaked process must not be able to move funds off the exchange.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from krakenbot.client import endpoints
from krakenbot.safety.modes import TradingMode

PUBLIC = endpoints.names(private=False)
FUNDING_EXACT = endpoints.names(funding=True)
# Unknown names that still look like the funding API get the funding refusal, not "unknown".
FUNDING_PREFIXES = ("withdraw", "deposit", "wallettransfer", "accounttransfer", "earn/", "earn", "funding")

# What each mode may call: the ``modes`` column of the endpoint table, one set per mode.
# read-only and dry-run: public and account reads; paper: + AddOrder (validate=true only); canary:
# + cancels; live: + AmendOrder. Mutable only so the specification can plant a fault (environment.py).
MODE_ENDPOINTS: dict[TradingMode, frozenset[str]] = {
    mode: frozenset(row.name for row in endpoints.ROWS if mode in row.modes) for mode in TradingMode
}


# What the local venue of a mode answers instead of the exchange (``krakenbot.dry_run``): a
# dry run's order entry, cancels, dead man's switch and the reads of its own orders, fills and
# wallet. None of these is in the mode's exchange list above, so a request for one that is not
# served locally (no venue installed) is refused: it can never reach the exchange.
VENUE_ENDPOINTS: dict[TradingMode, frozenset[str]] = {
    TradingMode.DRY_RUN: frozenset({"AddOrder", "CancelOrder", "CancelAll", "CancelAllOrdersAfter", "OpenOrders",
                                    "ClosedOrders", "QueryOrders", "QueryTrades", "TradesHistory", "Balance",
                                    "BalanceEx"}),
}


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    reason: str = ""


def normalise(endpoint: str) -> str:
    """Accept ``AddOrder``, ``/0/private/AddOrder`` or ``private/AddOrder``."""
    name = endpoint.strip()
    for prefix in ("/0/private/", "/0/public/", "0/private/", "0/public/", "private/", "public/"):
        if name.startswith(prefix):
            return name[len(prefix):]
    return name


def is_funding(endpoint: str) -> bool:
    name = normalise(endpoint)
    if name in FUNDING_EXACT:
        return True
    lowered = name.lower()
    return any(lowered.startswith(p) for p in FUNDING_PREFIXES) or "funding" in lowered or "/funding" in endpoint.lower()


@lru_cache(maxsize=1024)  # asked before every request; the answer depends on nothing else
def check(mode: TradingMode, endpoint: str, local: bool = False) -> Verdict:
    """May ``mode`` call ``endpoint``? Funding first (every mode), then the mode's list: the
    exchange's, or with ``local`` the list of what the mode's local venue answers."""
    name = normalise(endpoint)
    if is_funding(endpoint):
        return Verdict(False, f"{name} is a funding endpoint: refused in every mode, live included")
    if local:
        if name in VENUE_ENDPOINTS.get(mode, ()):
            return Verdict(True)
        return Verdict(False, f"{name} is not answered by a local venue in {mode.value} mode")
    if name in MODE_ENDPOINTS[mode]:
        return Verdict(True)
    if any(name in allowed for allowed in MODE_ENDPOINTS.values()):
        return Verdict(False, f"{name} is not allowed in {mode.value} mode")
    row = endpoints.lookup(name)
    if row is not None and row.why:
        return Verdict(False, f"{name} is refused in every mode ({row.why})")
    return Verdict(False, f"{name} is not on any allowlist (default deny)")

# Every endpoint the bot knows by name (for "attempt everything the mode refuses" and status).
KNOWN_ENDPOINTS = frozenset(endpoints.ENDPOINTS)
