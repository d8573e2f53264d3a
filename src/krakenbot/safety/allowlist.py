"""Which Kraken endpoints each trading mode may call. Default deny.

Why hand-written: the endpoint names and their meaning (what moves money, what only
reads) are Kraken-specific; no library knows them. Funding endpoints (withdrawals,
deposits, transfers, earn) are refused in every mode, LIVE included: a trading bot never
needs them, and a leaked process must not be able to move funds off the exchange.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from krakenbot.safety.modes import TradingMode

PUBLIC = frozenset({"Time", "SystemStatus", "Assets", "AssetPairs", "Ticker", "OHLC", "Depth", "Trades", "Spread"})
PRIVATE_READS = frozenset({
    "Balance", "BalanceEx", "TradeBalance", "OpenOrders", "ClosedOrders", "QueryOrders",
    "TradesHistory", "QueryTrades", "Ledgers", "QueryLedgers", "TradeVolume", "OrderAmends",
})
ORDER_ENTRY = frozenset({"AddOrder"})
ORDER_CHANGES = frozenset({"AmendOrder"})
CANCELS = frozenset({"CancelOrder", "CancelAll", "CancelOrderBatch", "CancelAllOrdersAfter"})

# Anything that moves funds or changes the account outside trading: never, in any mode.
FUNDING_EXACT = frozenset({
    "Withdraw", "WithdrawCancel", "WithdrawMethods", "WithdrawAddresses", "WithdrawInfo", "WithdrawStatus",
    "DepositMethods", "DepositAddresses", "DepositStatus", "WalletTransfer", "AccountTransfer",
    "CreateSubaccount",
})
FUNDING_PREFIXES = ("withdraw", "deposit", "wallettransfer", "accounttransfer", "earn/", "earn", "funding")

MODE_ENDPOINTS: dict[TradingMode, frozenset[str]] = {
    TradingMode.READ_ONLY: PUBLIC | PRIVATE_READS,
    # Paper sends AddOrder only with validate=true (forced by the guard and the wrapper); it
    # never cancels: it has placed nothing real to cancel.
    TradingMode.PAPER: PUBLIC | PRIVATE_READS | ORDER_ENTRY,
    TradingMode.CANARY: PUBLIC | PRIVATE_READS | ORDER_ENTRY | CANCELS,
    TradingMode.LIVE: PUBLIC | PRIVATE_READS | ORDER_ENTRY | ORDER_CHANGES | CANCELS,
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
def check(mode: TradingMode, endpoint: str) -> Verdict:
    """May ``mode`` call ``endpoint``? Funding first (every mode), then the mode's list."""
    name = normalise(endpoint)
    if is_funding(endpoint):
        return Verdict(False, f"{name} is a funding endpoint: refused in every mode, live included")
    if name in MODE_ENDPOINTS[mode]:
        return Verdict(True)
    known = any(name in endpoints for endpoints in MODE_ENDPOINTS.values())
    if known:
        return Verdict(False, f"{name} is not allowed in {mode.value} mode")
    return Verdict(False, f"{name} is not on any allowlist (default deny)")

# Every endpoint the bot knows by name (for "attempt everything the mode refuses" and status).
KNOWN_ENDPOINTS = frozenset(PUBLIC | PRIVATE_READS | ORDER_ENTRY | ORDER_CHANGES | CANCELS | FUNDING_EXACT
                            | {"AddOrderBatch", "EditOrder", "Earn/Allocate", "Earn/Deallocate"})
