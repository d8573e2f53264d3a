"""What the safety wrapper needs from each part it is handed: one ``Protocol`` per collaborator.

Why: a wrapper that probes its parts (``getattr(x, "y", None)``, ``hasattr``) lets a part
missing a method go unnoticed while the probe quietly takes another path. ``Bot.build`` hands
it the real parts; these say what they must offer, and a type checker holds them to it.
"""
from __future__ import annotations

from decimal import Decimal
from typing import Any, Mapping, Protocol

from krakenbot.client import BreakerState
from krakenbot.client.nonce import NonceGenerator
from krakenbot.client.server_clock import ServerClock
from krakenbot.market_data import PairRules
from krakenbot.models import OrderBook, OrderRequest, PairInfo, Ticker
from krakenbot.risk import RiskDecision, RiskSnapshot, TradingState


class ExchangeClient(Protocol):
    server_clock: ServerClock
    market: Any  # MarketApi
    account: Any  # AccountApi
    trading: Any  # TradingApi
    nonces: NonceGenerator
    venue: Any  # the mode's local venue (dry_run.DryRunVenue), or None: the exchange answers

    def public(self, endpoint: str, **params: Any) -> dict[str, Any]: ...

    def private(self, endpoint: str, **params: Any) -> dict[str, Any]: ...


class Breaker(Protocol):
    @property
    def state(self) -> BreakerState: ...


class Risk(Protocol):
    @property
    def trading_state(self) -> TradingState: ...

    def check(self, intent: OrderRequest, snapshot: RiskSnapshot | None = None) -> RiskDecision: ...

    def halt(self, reason: str, actor: str = ...) -> Any: ...

    def resume(self, reason: str, actor: str = ...) -> Any: ...

    def halted_pairs(self) -> dict[str, str]: ...

    def resume_pair(self, pair: str, reason: str, actor: str = ...) -> Any: ...

    def today(self) -> Any: ...

    def daily_trades(self) -> int: ...

    def daily_realised_pnl(self) -> Decimal: ...


class OrderExecutor(Protocol):
    def place(self, request: OrderRequest, reason: str = ..., on_ack: Any = ...) -> Any: ...  # PlacementResult

    def cancel(self, cl_ord_id: str) -> Any: ...

    def open_orders(self) -> list[Any]: ...

    def refresh(self) -> Any: ...

    def import_owed_fills(self) -> int: ...

    def unrecorded_fills(self) -> list[tuple[Any, Decimal]]: ...  # (OrderRecord, executed volume not in its fills)


class Positions(Protocol):
    def position(self, pair: str) -> Any: ...  # Position

    def positions(self) -> dict[str, Any]: ...

    def has_baseline(self) -> bool: ...

    def set_baseline(self, balances: Mapping[str, Decimal], as_of: float = ...) -> None: ...


class OrderReconciler(Protocol):
    def set_baseline(self) -> Any: ...

    def reconcile(self) -> Any: ...

    def recover(self, adopt_prefix: str | None = None) -> Any: ...


class MarketData(PairRules, Protocol):
    def ticker(self, pair: str) -> Ticker: ...

    def order_book(self, pair: str, count: int = ...) -> OrderBook: ...

    def last_update(self, pair: str) -> float | None: ...

    def live_book(self, pair: str) -> OrderBook | None: ...  # the stream's, while trusted and fresh


class ProtectiveExits(Protocol):
    def check(self, position: Any, price: Decimal, pair: PairInfo | None = None) -> Any: ...

    def rearm(self, pair: str) -> None: ...
