"""Public market data: typed wrappers over ``KrakenClient.public``."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from krakenbot.client import parsing
from krakenbot.models import OhlcPage, OrderBook, PairInfo, SpreadPage, SystemStatus, Ticker, TradesPage

if TYPE_CHECKING:
    from krakenbot.client._client import KrakenClient

OHLC_INTERVALS = frozenset({1, 5, 15, 30, 60, 240, 1440, 10080, 21600})


class MarketApi:
    def __init__(self, client: KrakenClient) -> None:
        self._client = client

    def server_time(self) -> int:
        """Kraken's Unix time in seconds."""
        return parsing.parse_server_time(self._client.public("Time"))

    def system_status(self) -> SystemStatus:
        return parsing.parse_system_status(self._client.public("SystemStatus"))

    def assets(self, assets: list[str] | None = None) -> dict[str, dict[str, Any]]:
        params = {"asset": ",".join(assets)} if assets else {}
        return parsing.parse_assets(self._client.public("Assets", **params))

    def asset_pairs(self, pairs: list[str] | None = None) -> dict[str, PairInfo]:
        """Pair rules keyed by pair id; use ``resolve_pair`` to look one up by altname or wsname."""
        params = {"pair": ",".join(pairs)} if pairs else {}
        return parsing.parse_asset_pairs(self._client.public("AssetPairs", **params))

    def pair_info(self, pair: str) -> PairInfo:
        found = parsing.resolve_pair(self.asset_pairs([pair]), pair)
        if found is None:
            raise parsing.bad("AssetPairs", f"{pair} missing from the answer")
        return found

    def ticker(self, pair: str) -> Ticker:
        result = self._client.public("Ticker", pair=pair)
        return parsing.parse_ticker(result, pair, fetched_at=self._client.clock.time())

    def ohlc(self, pair: str, interval: int = 1, since: int | None = None) -> OhlcPage:
        if interval not in OHLC_INTERVALS:
            raise ValueError(f"interval must be one of {sorted(OHLC_INTERVALS)}, got {interval!r}")
        params: dict[str, Any] = {"pair": pair, "interval": interval}
        if since is not None:
            params["since"] = int(since)
        return parsing.parse_ohlc(self._client.public("OHLC", **params), pair, interval)

    def depth(self, pair: str, count: int = 100) -> OrderBook:
        if not 1 <= count <= 500:
            raise ValueError("count must be within 1..500")
        return parsing.parse_depth(self._client.public("Depth", pair=pair, count=count), pair)

    def recent_trades(self, pair: str, since: str | int | None = None, count: int | None = None) -> TradesPage:
        """Trades after ``since`` (seconds, or the nanosecond ``last`` of a previous page), oldest first."""
        params: dict[str, Any] = {"pair": pair}
        if since is not None:
            params["since"] = since
        if count is not None:
            params["count"] = count
        return parsing.parse_trades(self._client.public("Trades", **params), pair)

    def spread(self, pair: str, since: int | None = None) -> SpreadPage:
        params: dict[str, Any] = {"pair": pair}
        if since is not None:
            params["since"] = since
        return parsing.parse_spread(self._client.public("Spread", **params), pair)
