"""Private account reads: balances, orders, trades, ledgers. All are retried on transient errors."""
from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any, Iterable

from krakenbot.client import parsing
from krakenbot.models import AssetBalance, LedgerEntry, OrderInfo, TradeInfo, TradeVolume

if TYPE_CHECKING:
    from krakenbot.client._client import KrakenClient


def _filters(**params: Any) -> dict[str, Any]:
    return {k: v for k, v in params.items() if v is not None}


class AccountApi:
    def __init__(self, client: KrakenClient) -> None:
        self._client = client

    def balance(self) -> dict[str, Decimal]:
        """Total per asset id (includes amounts held by open orders)."""
        return parsing.parse_balance(self._client.private("Balance"))

    def balance_ex(self) -> dict[str, AssetBalance]:
        return parsing.parse_balance_ex(self._client.private("BalanceEx"))

    def trade_balance(self, asset: str | None = None) -> dict[str, Decimal]:
        return parsing.parse_trade_balance(self._client.private("TradeBalance", **_filters(asset=asset)))

    def open_orders(self, userref: int | None = None, cl_ord_id: str | None = None,
                    trades: bool = False) -> dict[str, OrderInfo]:
        result = self._client.private("OpenOrders", **_filters(userref=userref, cl_ord_id=cl_ord_id, trades=trades or None))
        return parsing.parse_orders(parsing.field(result, "open", "result", "OpenOrders"), "OpenOrders")

    def closed_orders(self, start: int | str | None = None, end: int | str | None = None, ofs: int | None = None,
                      userref: int | None = None, cl_ord_id: str | None = None,
                      trades: bool = False) -> dict[str, OrderInfo]:
        """One page (50, newest first); page with ``ofs``."""
        result = self._client.private(
            "ClosedOrders",
            **_filters(start=start, end=end, ofs=ofs, userref=userref, cl_ord_id=cl_ord_id, trades=trades or None),
        )
        return parsing.parse_orders(parsing.field(result, "closed", "result", "ClosedOrders"), "ClosedOrders")

    def query_orders(self, txids: Iterable[str], trades: bool = False) -> dict[str, OrderInfo]:
        ids = list(txids)
        if not 1 <= len(ids) <= 50:
            raise ValueError("query_orders takes 1..50 txids")
        result = self._client.private("QueryOrders", txid=",".join(ids), **_filters(trades=trades or None))
        return parsing.parse_orders(result, "QueryOrders")

    def trades_history(self, start: int | str | None = None, end: int | str | None = None,
                       ofs: int | None = None) -> dict[str, TradeInfo]:
        result = self._client.private("TradesHistory", **_filters(start=start, end=end, ofs=ofs))
        return parsing.parse_trades_map(parsing.field(result, "trades", "result", "TradesHistory"), "TradesHistory")

    def query_trades(self, txids: Iterable[str]) -> dict[str, TradeInfo]:
        ids = list(txids)
        if not 1 <= len(ids) <= 20:
            raise ValueError("query_trades takes 1..20 trade ids")
        return parsing.parse_trades_map(self._client.private("QueryTrades", txid=",".join(ids)), "QueryTrades")

    def ledgers(self, asset: str | None = None, start: int | str | None = None, end: int | str | None = None,
                ofs: int | None = None) -> dict[str, LedgerEntry]:
        result = self._client.private("Ledgers", **_filters(asset=asset, start=start, end=end, ofs=ofs))
        return parsing.parse_ledger(parsing.field(result, "ledger", "result", "Ledgers"), "Ledgers")

    def websockets_token(self) -> str:
        """A token for the private WebSocket (the executions stream): use it within 15 minutes; it
        then lives as long as the connection. A credential: never log it."""
        result = self._client.private("GetWebSocketsToken")
        return parsing.text(parsing.field(result, "token", "result", "GetWebSocketsToken"), "result.token",
                            "GetWebSocketsToken")

    def trade_volume(self, pair: str | None = None) -> TradeVolume:
        return parsing.parse_trade_volume(self._client.private("TradeVolume", **_filters(pair=pair)))
