"""The one table of Kraken endpoints the bot knows: a row each, read by every rule that asks.

Why one table: retry (may a failed call be sent again?), pacing (what does it cost on the
per-key call counter?), the guard (does it place an order?) and the allowlist (which modes
may call it?) each ask about the same endpoints; separate lists drift apart (a read retried
as idempotent that the allowlist refuses). Each question is a column of the same row, so a
new endpoint is classified once, everywhere.

Columns (sources: shared/kraken/endpoints.md, limits-and-trading-rules.md §1):

- ``private``: signed POST under ``/0/private/`` (else public, paced per IP, not on the key's counter);
- ``effect``: READ is idempotent (retried on transient errors); every other effect is a write,
  never retried blind (an ambiguous write is reconciled by ``cl_ord_id`` instead);
  TRANSFER is the one that moves funds;
- ``funding``: part of the funding API (deposits, withdrawals, transfers, earn): refused in every mode;
- ``cost``: what the call adds to the per-key call counter (order entry and single cancels are
  charged on the per-pair trading counter instead; the heavy history reads cost 2, ``ClosedOrders``
  and the ``Query*`` twins budgeted at 2 as a safe over-estimate);
- ``modes``: the trading modes that may call it (the allowlist; default deny for anything else).

Unknown endpoints: not retried, cost 1, refused in every mode.
"""
from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from krakenbot.safety.modes import TradingMode


class Effect(str, Enum):
    READ = "read"  # idempotent: the same answer whether sent once or twice
    PLACE = "place"  # adds or changes an order: new exposure
    CANCEL = "cancel"  # removes orders: less exposure
    TRANSFER = "transfer"  # moves funds (off the exchange or between accounts/wallets)
    ACCOUNT = "account"  # changes the account otherwise (a new deposit address, a sub-account)


@dataclass(frozen=True)
class Endpoint:
    name: str
    private: bool
    effect: Effect
    cost: int
    modes: frozenset[TradingMode]
    funding: bool = False
    why: str = ""  # the reason behind a row that is not obvious

    @property
    def idempotent(self) -> bool:
        return self.effect is Effect.READ

    @property
    def moves_funds(self) -> bool:
        return self.effect is Effect.TRANSFER

    @property
    def places_orders(self) -> bool:
        return self.effect is Effect.PLACE


ALL = frozenset(TradingMode)
# Paper sends AddOrder only with validate=true (the guard and the wrapper force it).
ORDERING = frozenset({TradingMode.PAPER, TradingMode.CANARY, TradingMode.LIVE})
# Paper never cancels: it has placed nothing real to cancel.
CANCELLING = frozenset({TradingMode.CANARY, TradingMode.LIVE})
LIVE_ONLY = frozenset({TradingMode.LIVE})
NONE: frozenset[TradingMode] = frozenset()

_R, _P, _C, _T, _A = Effect.READ, Effect.PLACE, Effect.CANCEL, Effect.TRANSFER, Effect.ACCOUNT


def _public(name: str) -> Endpoint:
    return Endpoint(name, False, _R, 0, ALL)


def _funding(name: str, effect: Effect, why: str = "") -> Endpoint:
    return Endpoint(name, True, effect, 1, NONE, funding=True, why=why)


ROWS: tuple[Endpoint, ...] = (
    *(_public(n) for n in ("Time", "SystemStatus", "Assets", "AssetPairs", "Ticker", "OHLC", "Depth", "Trades",
                           "Spread")),
    # account reads, every mode
    Endpoint("Balance", True, _R, 1, ALL),
    Endpoint("BalanceEx", True, _R, 1, ALL),
    Endpoint("TradeBalance", True, _R, 1, ALL),
    Endpoint("OpenOrders", True, _R, 1, ALL),
    Endpoint("ClosedOrders", True, _R, 2, ALL),
    Endpoint("QueryOrders", True, _R, 1, ALL),
    Endpoint("TradesHistory", True, _R, 2, ALL),
    Endpoint("QueryTrades", True, _R, 2, ALL),
    Endpoint("Ledgers", True, _R, 2, ALL),
    Endpoint("QueryLedgers", True, _R, 2, ALL),
    Endpoint("TradeVolume", True, _R, 1, ALL),
    Endpoint("OrderAmends", True, _R, 1, ALL),
    # reads the bot has no use for: refused, so a compromised process learns nothing more
    Endpoint("OpenPositions", True, _R, 1, NONE, why="margin positions: a spot bot holds none"),
    Endpoint("GetWebSocketsToken", True, _R, 1, ALL,
             why="the executions stream's token; that client can send nothing but subscriptions, so no order "
                 "leaves past this guard"),
    Endpoint("ExportStatus", True, _R, 1, NONE, why="report exports: not the bot's business"),
    # orders
    Endpoint("AddOrder", True, _P, 0, ORDERING),
    Endpoint("AmendOrder", True, _P, 0, LIVE_ONLY, why="changes a resting order in place; canary only cancels"),
    Endpoint("AddOrderBatch", True, _P, 0, NONE, why="each order passes the risk check alone"),
    Endpoint("EditOrder", True, _P, 0, NONE, why="cancel-and-replace under a new txid; AmendOrder keeps the order"),
    Endpoint("CancelOrder", True, _C, 0, CANCELLING),
    Endpoint("CancelOrderBatch", True, _C, 0, CANCELLING),
    Endpoint("CancelAll", True, _C, 1, CANCELLING),
    Endpoint("CancelAllOrdersAfter", True, _C, 1, CANCELLING, why="the dead man's switch"),
    # the funding API: never, in any mode, live included (a leaked process must not move funds)
    _funding("Withdraw", _T),
    _funding("WithdrawCancel", _T),
    _funding("WalletTransfer", _T),
    _funding("AccountTransfer", _T),
    _funding("Earn/Allocate", _T),
    _funding("Earn/Deallocate", _T),
    _funding("WithdrawMethods", _R),
    _funding("WithdrawAddresses", _R),
    _funding("WithdrawInfo", _R),
    _funding("WithdrawStatus", _R),
    _funding("DepositMethods", _R),
    _funding("DepositStatus", _R),
    _funding("DepositAddresses", _A, why="with new=true it creates an address: not idempotent"),
    _funding("CreateSubaccount", _A),
)

ENDPOINTS: dict[str, Endpoint] = {row.name: row for row in ROWS}


def _check_table() -> None:
    """Rules a row may not break; checked on import so a bad edit fails every test at once."""
    if len(ENDPOINTS) != len(ROWS):
        raise ValueError("an endpoint appears twice in the table")
    for row in ROWS:
        if row.funding and row.modes:
            raise ValueError(f"{row.name}: a funding endpoint is refused in every mode")
        if row.moves_funds and not row.funding:
            raise ValueError(f"{row.name}: moves funds, so it belongs to the funding API")
        if not row.private and (row.effect is not Effect.READ or row.cost):
            raise ValueError(f"{row.name}: a public endpoint is a read off the key's counter")
        if row.cost not in (0, 1, 2):
            raise ValueError(f"{row.name}: cost must be 0, 1 or 2")


_check_table()


def lookup(name: str) -> Endpoint | None:
    return ENDPOINTS.get(name)


def names(**columns: object) -> frozenset[str]:
    """The endpoints whose columns (or properties) have these values: ``names(private=False)``."""
    return frozenset(r.name for r in ROWS if all(getattr(r, k) == v for k, v in columns.items()))
