"""Kraken's public market-data methods (Time ... Spread) over the engine's markets.

A mixin of ``Exchange``: the lock and the catch-up happen in ``Exchange._run``.
"""
from __future__ import annotations

from decimal import Decimal

from krakensim.engine_state import EngineState
from krakensim.errors import invalid_arguments
from krakensim.market import INTERVALS
from krakensim.pairs import (ASSETS, MAKER_TIERS, TAKER_TIERS, WIRE_PRICE_DECIMALS, PairSpec, resolve_asset,
                             resolve_pair, resolve_pairs)
from krakensim.wire import fmt, parse_int, rfc1123, rfc3339, since_nanos, since_seconds, text

ZERO = Decimal(0)


class MarketDataMethods(EngineState):
    def _pair_param(self, params: dict) -> PairSpec:
        raw = text(params, "pair")
        if not raw:
            raise invalid_arguments("pair")
        return resolve_pair(raw)

    def _time(self, params: dict) -> dict:
        return {"unixtime": int(self._now), "rfc1123": rfc1123(self._now)}

    def _system_status(self, params: dict) -> dict:
        return {"status": self.system_status, "timestamp": rfc3339(self._now)}

    def _assets(self, params: dict) -> dict:
        raw = text(params, "asset")
        assets = [resolve_asset(a) for a in raw.split(",")] if raw else list(ASSETS.values())
        return {a.id: {"aclass": "currency", "altname": a.altname, "decimals": a.decimals,
                       "display_decimals": a.display_decimals, "status": "enabled"} for a in assets}

    def _asset_pairs(self, params: dict) -> dict:
        info = text(params, "info") or "info"
        if info not in ("info", "fees", "leverage", "margin"):
            raise invalid_arguments("info")
        out = {}
        # Fee tiers and leverage are JSON numbers on Kraken's wire; converted only here, at the edge.
        fees = [[t, float(p)] for t, p in TAKER_TIERS]
        fees_maker = [[t, float(p)] for t, p in MAKER_TIERS]
        status = "online" if self.system_status == "online" else self.system_status
        for p in resolve_pairs(text(params, "pair")):
            if info == "leverage":
                out[p.id] = {"leverage_buy": [], "leverage_sell": []}
            elif info == "fees":
                out[p.id] = {"fees": fees, "fees_maker": fees_maker, "fee_volume_currency": "ZUSD"}
            elif info == "margin":
                out[p.id] = {"margin_call": 80, "margin_stop": 40, "margin_level": None}
            else:
                out[p.id] = {
                    "altname": p.altname, "wsname": p.wsname, "aclass_base": "currency", "base": p.base,
                    "aclass_quote": "currency", "quote": p.quote, "lot": "unit",
                    "cost_decimals": p.cost_decimals, "pair_decimals": p.pair_decimals,
                    "lot_decimals": p.lot_decimals, "lot_multiplier": 1, "leverage_buy": [], "leverage_sell": [],
                    "fees": fees, "fees_maker": fees_maker, "fee_volume_currency": "ZUSD",
                    "margin_call": 80, "margin_stop": 40, "ordermin": str(p.ordermin), "costmin": str(p.costmin),
                    "tick_size": str(p.tick_size),
                    "status": self.pair_status.get(p.id, status if status != "maintenance" else "online"),
                }
        return out

    def _ticker(self, params: dict) -> dict:
        out = {}
        for p in resolve_pairs(text(params, "pair")):
            m = self.markets[p.id]
            pd, ld = WIRE_PRICE_DECIMALS, p.lot_decimals
            stats = m.stats(self._now)
            d, h = stats["today"], stats["24h"]
            ask_vol, bid_vol = m.level_volume("asks", 0), m.level_volume("bids", 0)
            last_trade = m._tape[-1]
            out[p.id] = {
                "a": [fmt(m.best_ask, pd), str(max(1, int(ask_vol))), fmt(ask_vol, 3)],
                "b": [fmt(m.best_bid, pd), str(max(1, int(bid_vol))), fmt(bid_vol, 3)],
                "c": [fmt(last_trade.price, pd), fmt(last_trade.volume, ld)],
                "v": [fmt(d["volume"], ld), fmt(h["volume"], ld)],
                "p": [fmt(d["vwap"], pd), fmt(h["vwap"], pd)],
                "t": [d["count"], h["count"]],
                "l": [fmt(d["low"], pd), fmt(h["low"], pd)],
                "h": [fmt(d["high"], pd), fmt(h["high"], pd)],
                "o": fmt(d["open"], pd),
            }
        return out

    def _ohlc(self, params: dict) -> dict:
        p = self._pair_param(params)
        interval = parse_int(params, "interval", 1)
        if interval not in INTERVALS:
            raise invalid_arguments("interval")
        rows, last = self.markets[p.id].ohlc(interval, since_seconds(text(params, "since")), self._now)
        return {p.id: rows, "last": last}

    def _depth(self, params: dict) -> dict:
        p = self._pair_param(params)
        count = parse_int(params, "count", 100, lo=0, hi=500) or 100
        asks, bids = self.matcher.resting_book(p.id)
        return {p.id: self.markets[p.id].depth(count, asks, bids)}

    def _trades(self, params: dict) -> dict:
        p = self._pair_param(params)
        count = parse_int(params, "count", 1000, lo=1, hi=1000)
        rows, last = self.markets[p.id].trades(since_nanos(text(params, "since")), count)
        return {p.id: rows, "last": last}

    def _spread(self, params: dict) -> dict:
        p = self._pair_param(params)
        rows, last = self.markets[p.id].spreads(since_seconds(text(params, "since")))
        return {p.id: rows, "last": last}
