"""Kraken's private account-data methods: balances, order and trade history, ledger, fees.

A mixin of ``Exchange``; paging follows Kraken (50 per page, newest first, ``ofs``,
exclusive ``start`` and inclusive ``end`` as seconds or ids).
"""
from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any, Callable

from krakensim import errors as E
from krakensim.accounts import Account
from krakensim.engine_state import EngineState
from krakensim.errors import KrakenAPIError, invalid_arguments
from krakensim.orders import Order, ledger_view, order_view, trade_view
from krakensim.pairs import (ASSETS, MAKER_TIERS, PAIRS, TAKER_TIERS, fee_percent, next_tier, resolve_asset,
                             resolve_pairs)
from krakensim.wire import fmt, parse_bool, parse_int, text

ZERO = Decimal(0)
_PAGE = 50


class AccountMethods(EngineState):
    def _balance(self, acct: Account, params: dict) -> dict:
        return {a: fmt(v, ASSETS[a].decimals) for a, v in acct.balances.items()}

    def _balance_ex(self, acct: Account, params: dict) -> dict:
        holds = acct.holds()
        return {a: {"balance": fmt(v, ASSETS[a].decimals), "hold_trade": fmt(holds.get(a, ZERO), ASSETS[a].decimals)}
                for a, v in acct.balances.items()}

    def _rate(self, src: str, dst: str) -> Decimal:
        """Mid-price conversion between assets, via XBT when no direct pair exists."""
        if src == dst:
            return Decimal(1)
        for p in PAIRS.values():
            if p.base == src and p.quote == dst:
                return self.markets[p.id].mid
            if p.base == dst and p.quote == src:
                return 1 / self.markets[p.id].mid
        return self._rate(src, "XXBT") * self._rate("XXBT", dst)

    def _trade_balance(self, acct: Account, params: dict) -> dict:
        target = resolve_asset(text(params, "asset") or "ZUSD").id
        eb = sum((v * self._rate(a, target) for a, v in acct.balances.items()), ZERO)
        places = 4
        zero = fmt(ZERO, places)
        total = fmt(eb, places)
        return {"eb": total, "tb": total, "m": zero, "uv": zero, "n": zero, "c": zero, "v": zero,
                "e": total, "mf": total}

    def _order_filter(self, params: dict) -> Callable[[Order], bool]:
        userref = parse_int(params, "userref", None, lo=-2**31, hi=2**31 - 1)
        cl = None if self.lookup_fault == "filter_ignored" else text(params, "cl_ord_id")
        if cl and self.lookup_fault == "filter_missed":
            return lambda o: False
        return lambda o: (userref is None or o.userref == userref) and (not cl or o.cl_ord_id == cl)

    def _open_orders(self, acct: Account, params: dict) -> dict:
        with_trades = parse_bool(params, "trades")
        keep = self._order_filter(params)
        return {"open": {o.txid: order_view(o, with_trades) for o in acct.open.values() if keep(o)}}

    def _bound(self, raw: str | None, field: str, lookup: Callable[[str], float | None]) -> float | None:
        if raw is None or raw == "":
            return None
        found = lookup(raw)
        if found is not None:
            return found
        try:
            return float(Decimal(raw))
        except (InvalidOperation, ValueError):
            raise invalid_arguments(field) from None

    def _closed_orders(self, acct: Account, params: dict) -> dict:
        with_trades = parse_bool(params, "trades")
        keep = self._order_filter(params)
        closetime = text(params, "closetime") or "both"
        if closetime not in ("open", "close", "both"):
            raise invalid_arguments("closetime")

        def order_time(txid: str) -> float | None:
            o = acct.orders.get(txid)
            return None if o is None else (o.opentm if closetime == "open" else (o.closetm or o.opentm))

        start = self._bound(text(params, "start"), "start", order_time)
        end = self._bound(text(params, "end"), "end", order_time)
        ofs = parse_int(params, "ofs", 0, lo=0) or 0

        def in_range(o: Order) -> bool:
            times = {"open": (o.opentm,), "close": (o.closetm,), "both": (o.opentm, o.closetm)}[closetime]
            return any((start is None or t > start) and (end is None or t <= end) for t in times if t is not None)

        matched = [o for o in reversed(acct.closed) if keep(o) and in_range(o)]
        page = matched[ofs:ofs + _PAGE]
        return {"closed": {o.txid: order_view(o, with_trades) for o in page}, "count": len(matched)}

    def _id_list(self, params: dict, name: str, limit: int) -> list[str]:
        raw = text(params, name)
        if not raw:
            raise invalid_arguments(name)
        ids = [s.strip() for s in raw.split(",") if s.strip()]
        if not ids or len(ids) > limit:
            raise invalid_arguments(name)
        return ids

    def _query_orders(self, acct: Account, params: dict) -> dict:
        with_trades = parse_bool(params, "trades")
        keep = self._order_filter(params)
        out = {}
        for txid in self._id_list(params, "txid", 50):
            o = acct.orders.get(txid)
            if o is None:
                raise KrakenAPIError(E.INVALID_ORDER)
            if keep(o):
                out[txid] = order_view(o, with_trades)
        return out

    def _trades_history(self, acct: Account, params: dict) -> dict:
        with_ledgers = parse_bool(params, "ledgers")
        page, count = self._time_page(params, acct.trades)
        return {"trades": {t.txid: trade_view(t, with_ledgers) for t in page}, "count": count}

    def _time_page(self, params: dict, table: dict, keep: Callable[[Any], bool] = lambda item: True,
                   ) -> tuple[list, int]:
        """Newest first, after an exclusive ``start`` and up to an inclusive ``end`` (seconds or
        ids), 50 from ``ofs``; also the count of all that matched."""
        def time_of(ident: str) -> float | None:
            item = table.get(ident)
            return None if item is None else item.time

        start = self._bound(text(params, "start"), "start", time_of)
        end = self._bound(text(params, "end"), "end", time_of)
        ofs = parse_int(params, "ofs", 0, lo=0) or 0
        matched = [x for x in reversed(list(table.values()))
                   if keep(x) and (start is None or x.time > start) and (end is None or x.time <= end)]
        return matched[ofs:ofs + _PAGE], len(matched)

    def _query_trades(self, acct: Account, params: dict) -> dict:
        return self._look_up(params, "txid", acct.trades, trade_view)

    def _look_up(self, params: dict, field: str, table: dict, view: Callable[[Any], dict]) -> dict:
        """Up to 20 ids from ``field``, each viewed; one unknown id refuses the whole query."""
        out = {}
        for ident in self._id_list(params, field, 20):
            item = table.get(ident)
            if item is None:
                raise invalid_arguments(field)
            out[ident] = view(item)
        return out

    def _ledgers(self, acct: Account, params: dict) -> dict:
        raw_assets = text(params, "asset")
        assets = None if not raw_assets or raw_assets == "all" else {resolve_asset(a).id for a in raw_assets.split(",")}
        kind = text(params, "type") or "all"
        page, count = self._time_page(
            params, acct.ledger, lambda e: (assets is None or e.asset in assets) and (kind == "all" or e.type == kind))
        return {"ledger": {e.id: ledger_view(e) for e in page}, "count": count}

    def _query_ledgers(self, acct: Account, params: dict) -> dict:
        return self._look_up(params, "id", acct.ledger, ledger_view)

    def _trade_volume(self, acct: Account, params: dict) -> dict:
        raw = text(params, "pair")
        pairs = resolve_pairs(raw) if raw else []
        vol = acct.volume

        def tier_info(tiers: tuple) -> dict:
            fee = fee_percent(tiers, vol)
            nxt, nxt_vol = next_tier(tiers, vol)
            tier_vol = max((t for t, _ in tiers if t <= vol), default=0)
            return {"fee": fmt(fee, 4), "minfee": fmt(tiers[-1][1], 4), "maxfee": fmt(tiers[0][1], 4),
                    "nextfee": fmt(nxt, 4) if nxt is not None else None,
                    "tiervolume": fmt(Decimal(tier_vol), 4),
                    "nextvolume": fmt(Decimal(nxt_vol), 4) if nxt_vol is not None else None}

        if not pairs:  # without a pair Kraken answers null, not an empty map
            return {"currency": "ZUSD", "volume": fmt(vol, 4), "fees": None, "fees_maker": None}
        return {"currency": "ZUSD", "volume": fmt(vol, 4),
                "fees": {p.id: tier_info(TAKER_TIERS) for p in pairs},
                "fees_maker": {p.id: tier_info(MAKER_TIERS) for p in pairs}}

    def _open_positions(self, acct: Account, params: dict) -> Any:
        """A spot account holds no margin positions: Kraken's empty answer in the shape asked for,
        a list when ``consolidation`` is given (ccxt's fetch_positions), else a map by position id."""
        return [] if text(params, "consolidation") else {}
