"""The plan's statement of what each trading mode may send to the exchange.

Why a table of its own, not ``krakenbot.safety.allowlist``: the report must catch a bug in
the bot's own table, so it judges the exchange's record of calls against an independent
copy of the plan. The specification's run-level check (``tools/spec_support/evidence.py``)
judges with this same table.
"""
from __future__ import annotations

from typing import Mapping

PUBLIC = frozenset({"Time", "SystemStatus", "Assets", "AssetPairs", "Ticker", "OHLC", "Depth", "Trades", "Spread"})
READS = frozenset({
    "Balance", "BalanceEx", "TradeBalance", "OpenOrders", "ClosedOrders", "QueryOrders", "TradesHistory",
    "QueryTrades", "Ledgers", "QueryLedgers", "TradeVolume", "OrderAmends",
})
# The streams (MARKET_STREAM=on): the private stream's token, and subscriptions on the WebSocket
# (each message there is an access-log record; an order method sent over it is judged like AddOrder)
STREAMS = frozenset({"GetWebSocketsToken", "subscribe", "unsubscribe", "ping"})
CANCELS = frozenset({"CancelOrder", "CancelAll", "CancelOrderBatch", "CancelAllOrdersAfter"})
FUNDING = frozenset({
    "Withdraw", "WithdrawCancel", "WithdrawMethods", "WithdrawAddresses", "WithdrawInfo", "WithdrawStatus",
    "DepositMethods", "DepositAddresses", "DepositStatus", "WalletTransfer", "AccountTransfer", "CreateSubaccount",
})
FUNDING_PREFIXES = ("withdraw", "deposit", "wallettransfer", "accounttransfer", "earn", "funding")

PLAN_ALLOWED: dict[str, frozenset[str]] = {
    "read-only": PUBLIC | READS | STREAMS,
    "paper": PUBLIC | READS | STREAMS | {"AddOrder"},  # AddOrder only with validate=true
    "dry-run": PUBLIC | READS | STREAMS,  # orders fill in the bot's local venue: no order entry or cancel is sent
    "canary": PUBLIC | READS | STREAMS | {"AddOrder"} | CANCELS,
    "live": PUBLIC | READS | STREAMS | {"AddOrder", "AmendOrder"} | CANCELS,
}


def is_funding(endpoint: str) -> bool:
    """Withdrawals, deposits, transfers, earn: never allowed in any mode."""
    return endpoint in FUNDING or endpoint.lower().startswith(FUNDING_PREFIXES)


def refusal(mode: str | None, endpoint: str, params: Mapping[str, str] | None = None) -> str | None:
    """Why the plan forbids this request in ``mode``; None when it is allowed."""
    if is_funding(endpoint):
        return f"{endpoint} is a funding call: forbidden in every mode"
    if mode not in PLAN_ALLOWED:
        return f"unknown mode {mode!r}: nothing is allowed"
    if endpoint not in PLAN_ALLOWED[mode]:
        return f"{endpoint} is not on the {mode} allowlist"
    if mode == "paper" and endpoint == "AddOrder" and str((params or {}).get("validate", "")).lower() != "true":
        return "AddOrder without validate=true in paper mode"
    return None
