"""The engine state the ``Exchange`` mixins share, declared once.

``Exchange`` (exchange.py) owns and builds it; the method mixins (market data,
account, trading) only read and mutate it, so they inherit these declarations.
"""
from __future__ import annotations

from typing import Any

from krakensim.accounts import Account
from krakensim.market import PairMarket
from krakensim.matching import Matcher
from krakensim.trading_counter import TradingCounter


class EngineState:
    markets: dict[str, PairMarket]
    accounts: dict[str, Account]
    matcher: Matcher
    counter: TradingCounter
    system_status: str
    pair_status: dict[str, str]  # pair id -> its own status (AssetPairs); absent: the system's
    trading_limits: bool
    lookup_fault: str | None  # ``filter_ignored`` / ``filter_missed`` while such a fault is in force (order lookups)
    ids: Any
    _now: float
