"""The pure exchange: Kraken's public and private methods over an in-memory engine.

No HTTP here. ``handle_public`` / ``handle_private`` take the parsed parameters and
return Kraken's ``result`` object or raise ``KrakenAPIError`` with Kraken's exact
string; anything unexpected becomes ``EGeneral:Internal error`` so garbage input can
never escape as another exception. Time is the injected clock's: every call first
catches the engine up to ``clock.time()`` (dead man's switch, expiries, the seeded
random walk, fills of resting orders), so a clock shared with the bot moves both.
One lock guards everything: the HTTP server calling in is threaded.
"""
from __future__ import annotations

import math
import re
import threading
from decimal import Decimal, InvalidOperation
from typing import Any, Callable

from krakensim import errors as E
from krakensim.accounts import DEFAULT_BALANCES, Account
from krakensim.clock import SystemClock
from krakensim.errors import KrakenAPIError, invalid_arguments
from krakensim.ids import IdGenerator
from krakensim.market import INTERVALS, PairMarket
from krakensim.matching import Matcher, crosses, market_buy_cost
from krakensim.orders import (ORDER_TYPES, TRIGGERED_TYPES, Order, descr_text, ledger_view, order_view,
                              trade_view)
from krakensim.pairs import (ASSETS, MAKER_TIERS, PAIRS, TAKER_TIERS, PairSpec, fee_percent, next_tier,
                             resolve_asset, resolve_pair, resolve_pairs)
from krakensim.trading_counter import TIERS, TradingCounter, amend_cost, cancel_penalty
from krakensim.wire import (decimals_of, fmt, parse_bool, parse_decimal, parse_int, parse_rfc3339,
                            parse_time_spec, rfc1123, rfc3339, since_seconds, text)

SYSTEM_STATUSES = ("online", "maintenance", "cancel_only", "post_only")
FUNDING_METHODS = frozenset({
    "Withdraw", "WithdrawInfo", "WithdrawMethods", "WithdrawAddresses", "WithdrawStatus", "WithdrawCancel",
    "WalletTransfer", "DepositMethods", "DepositAddresses", "DepositStatus", "AccountTransfer",
    "CreateSubaccount",
})
_OFLAGS = frozenset({"post", "fcib", "fciq", "nompp", "viqc"})
_CL_ORD_ID = re.compile(
    r"^(?:[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
    r"|[0-9a-fA-F]{32}|[\x20-\x7e]{1,18})$")
_TXID = re.compile(r"^O[A-Z0-9]{5}-[A-Z0-9]{5}-[A-Z0-9]{6}$")
_MAX_CATCH_UP_STEPS = 3600  # a long idle (serve mode) skips ahead instead of replaying every second
_DEADLINE_MAX_AHEAD = 60.0
_PAGE = 50
_EDIT_PENALTY = ((5, 6), (10, 5), (15, 4), (45, 2), (90, 1))
ZERO = Decimal(0)


def _balances(raw: dict[str, Any]) -> dict[str, Decimal]:
    return {resolve_asset(a).id: Decimal(str(v)) for a, v in raw.items()}


class Exchange:
    """Kraken's spot REST semantics for a set of accounts, deterministic from ``seed``.

    ``volatility`` is the per-second relative standard deviation of each pair's seeded
    random walk (``Decimal("0.0005")`` is lively); 0 means prices move only when told.
    ``trading_limits=False`` switches the per-pair trading counter off (not the open-order cap).
    """

    def __init__(self, seed: int = 42, clock: Any = None, tier: str = "starter",
                 balances: dict[str, Any] | None = None, volatility: Decimal | int | str = 0,
                 trading_limits: bool = True) -> None:
        if tier not in TIERS:
            raise ValueError(f"unknown tier {tier!r}")
        self.seed = seed
        self.clock = clock if clock is not None else SystemClock()
        self.tier = tier
        self.volatility = Decimal(str(volatility))
        self.trading_limits = trading_limits
        self._lock = threading.RLock()
        self._account_seeds: dict[str, dict[str, Decimal]] = {
            "demo": _balances(balances) if balances is not None else dict(DEFAULT_BALANCES)}
        self._public: dict[str, Callable[[dict], dict]] = {
            "Time": self._time, "SystemStatus": self._system_status, "Assets": self._assets,
            "AssetPairs": self._asset_pairs, "Ticker": self._ticker, "OHLC": self._ohlc,
            "Depth": self._depth, "Trades": self._trades, "Spread": self._spread,
        }
        self._private: dict[str, Callable[[Account, dict], dict]] = {
            "Balance": self._balance, "BalanceEx": self._balance_ex, "TradeBalance": self._trade_balance,
            "OpenOrders": self._open_orders, "ClosedOrders": self._closed_orders,
            "QueryOrders": self._query_orders, "TradesHistory": self._trades_history,
            "QueryTrades": self._query_trades, "Ledgers": self._ledgers, "QueryLedgers": self._query_ledgers,
            "TradeVolume": self._trade_volume, "AddOrder": self._add_order, "AddOrderBatch": self._add_order_batch,
            "AmendOrder": self._amend_order, "EditOrder": self._edit_order, "CancelOrder": self._cancel_order,
            "CancelAll": self._cancel_all, "CancelAllOrdersAfter": self._cancel_all_after,
            "CancelOrderBatch": self._cancel_order_batch, "OpenPositions": lambda a, p: {},
        }
        self._init_state()

    def _init_state(self) -> None:
        now = self.clock.time()
        self._now = now
        self._step_time = math.floor(now)
        self.system_status = "online"
        self.ids = IdGenerator(self.seed)
        self.markets: dict[str, PairMarket] = {pid: PairMarket(spec, self.seed, now) for pid, spec in PAIRS.items()}
        self.accounts: dict[str, Account] = {n: Account(n, b) for n, b in self._account_seeds.items()}
        self.counter = TradingCounter(self.tier)
        self.matcher = Matcher(self.markets, self.accounts, self.ids)

    # ================================================================ entry points
    def handle_public(self, method: str, params: dict[str, Any] | None = None) -> dict:
        handler = self._public.get(method)
        if handler is None:
            raise KrakenAPIError(E.UNKNOWN_METHOD)
        return self._run(handler, params or {})

    def handle_private(self, account: str, method: str, params: dict[str, Any] | None = None) -> dict:
        if method in FUNDING_METHODS:
            raise KrakenAPIError(E.PERMISSION_DENIED)
        handler = self._private.get(method)
        if handler is None:
            raise KrakenAPIError(E.UNKNOWN_METHOD)
        with self._lock:
            acct = self.accounts.get(account)
            if acct is None:
                raise KrakenAPIError(E.INVALID_KEY)
            return self._run(lambda p: handler(acct, p), params or {})

    def _run(self, fn: Callable[[dict], dict], params: dict[str, Any]) -> dict:
        with self._lock:
            try:
                if not isinstance(params, dict):
                    raise invalid_arguments()
                self._catch_up()
                return fn(params)
            except KrakenAPIError:
                raise
            except Exception as exc:  # garbage in must come out as a Kraken error, never a traceback
                raise KrakenAPIError(E.INTERNAL_ERROR) from exc

    # ================================================================ time
    def _catch_up(self) -> None:
        now = self.clock.time()
        if now <= self._now:
            return
        target = math.floor(now)
        steps = 0
        while self._step_time < target:
            if self.volatility == 0 and not (self.system_status == "online" and self.matcher.has_crossing()):
                for market in self.markets.values():  # nothing moves: only the taken liquidity comes back
                    market.new_step()
                self._fire_events(now)
                self._step_time = target
                break
            t = self._step_time + 1
            self._fire_events(t)
            self._step_time = t
            self._step_all(float(t))
            steps += 1
            if steps >= _MAX_CATCH_UP_STEPS:
                self._step_time = target
                break
        self._fire_events(now)
        self._now = now

    def _step_all(self, t: float) -> None:
        online = self.system_status == "online"
        for market in self.markets.values():
            market.new_step()
            if self.volatility > 0:
                market.random_walk(self.volatility, t)
            if online:
                self.matcher.step(market, t)

    def _fire_events(self, until: float) -> None:
        """Dead man's switches, GTD expiries and scheduled starts due by ``until``."""
        for acct in self.accounts.values():
            if acct.dms_trigger is not None and acct.dms_trigger <= until:
                when = acct.dms_trigger
                acct.dms_trigger = None
                for o in list(acct.open.values()):
                    self._cancel(acct, o, when, "Dead man's switch", penalty=False)
            for o in list(acct.open.values()):
                if o.expiretm and o.expiretm <= until:
                    o.close("expired", o.expiretm, "Order expired")
                    acct.mark_closed(o)
                elif o.status == "pending" and o.starttm <= until and self.system_status == "online":
                    o.status = "open"
                    acct.changed()
                    self.matcher.arrive(o, max(o.starttm, self._now))

    # ================================================================ controls
    def catch_up(self) -> None:
        with self._lock:
            self._catch_up()

    def advance(self, seconds: float) -> None:
        advance = getattr(self.clock, "advance", None)
        if advance is None:
            raise TypeError("advance() needs a clock with advance(), e.g. ManualClock")
        advance(seconds)
        self.catch_up()

    def set_price(self, pair: str, price: Decimal | str) -> None:
        with self._lock:
            self._catch_up()
            market = self.markets[resolve_pair(pair).id]
            value = Decimal(str(price))
            if not value.is_finite() or value <= 0:
                raise ValueError("price must be positive")
            market.set_mid(value, self._now)
            if self.system_status == "online":
                self.matcher.step(market, self._now)

    def shock(self, pair: str, pct: Decimal | str) -> None:
        with self._lock:
            market = self.markets[resolve_pair(pair).id]
            self.set_price(pair, market.mid * (1 + Decimal(str(pct)) / 100))

    def set_system_status(self, status: str) -> None:
        if status not in SYSTEM_STATUSES:
            raise ValueError(f"unknown system status {status!r}")
        with self._lock:
            self._catch_up()
            self.system_status = status

    def set_liquidity(self, pair: str, volume: Decimal | str | None) -> None:
        with self._lock:
            self._catch_up()
            value = None if volume is None else Decimal(str(volume))
            if value is not None and value <= 0:
                raise ValueError("liquidity must be positive")
            self.markets[resolve_pair(pair).id].liquidity = value

    def reset(self) -> None:
        """Back to the seeded initial state (same prices, books and ids), at the clock's now."""
        with self._lock:
            self._init_state()

    def create_account(self, name: str, balances: dict[str, Any] | None = None) -> None:
        with self._lock:
            seeds = _balances(balances or {})
            self._account_seeds[name] = seeds
            self.accounts[name] = Account(name, seeds)

    # ---------------------------------------------------------------- views
    def orders(self, account: str = "demo") -> list[dict]:
        with self._lock:
            self._catch_up()
            return [{**order_view(o, with_trades=True), "txid": o.txid} for o in self.accounts[account].orders.values()]

    def trades(self, account: str = "demo") -> list[dict]:
        with self._lock:
            self._catch_up()
            return [{**trade_view(t, with_ledgers=True), "txid": t.txid} for t in self.accounts[account].trades.values()]

    def balances(self, account: str = "demo") -> dict[str, Decimal]:
        with self._lock:
            self._catch_up()
            return dict(self.accounts[account].balances)

    def holds(self, account: str = "demo") -> dict[str, Decimal]:
        with self._lock:
            self._catch_up()
            return {a: v for a, v in self.accounts[account].holds().items() if v}

    def counters(self, account: str = "demo") -> dict[str, dict[str, float]]:
        with self._lock:
            self._catch_up()
            return self.counter.snapshot(account, self._now)

    def dead_mans_switch(self, account: str = "demo") -> dict:
        with self._lock:
            self._catch_up()
            trigger = self.accounts[account].dms_trigger
            return {"armed": trigger is not None, "trigger_time": trigger}

    def mid(self, pair: str) -> Decimal:
        with self._lock:
            self._catch_up()
            return self.markets[resolve_pair(pair).id].mid

    # ================================================================ public
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
                    "status": status if status != "maintenance" else "online",
                }
        return out

    def _ticker(self, params: dict) -> dict:
        out = {}
        for p in resolve_pairs(text(params, "pair")):
            m = self.markets[p.id]
            pd, ld = p.pair_decimals, p.lot_decimals
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
        asks, bids = self.matcher.user_book(p.id)
        return {p.id: self.markets[p.id].depth(count, asks, bids)}

    def _trades(self, params: dict) -> dict:
        p = self._pair_param(params)
        count = parse_int(params, "count", 1000, lo=1, hi=1000)
        rows, last = self.markets[p.id].trades(since_seconds(text(params, "since")), count)
        return {p.id: rows, "last": last}

    def _spread(self, params: dict) -> dict:
        p = self._pair_param(params)
        rows, last = self.markets[p.id].spreads(since_seconds(text(params, "since")))
        return {p.id: rows, "last": last}

    # ================================================================ account data
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
        cl = text(params, "cl_ord_id")
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

        def trade_time(tid: str) -> float | None:
            t = acct.trades.get(tid)
            return None if t is None else t.time

        start = self._bound(text(params, "start"), "start", trade_time)
        end = self._bound(text(params, "end"), "end", trade_time)
        ofs = parse_int(params, "ofs", 0, lo=0) or 0
        matched = [t for t in reversed(list(acct.trades.values()))
                   if (start is None or t.time > start) and (end is None or t.time <= end)]
        page = matched[ofs:ofs + _PAGE]
        return {"trades": {t.txid: trade_view(t, with_ledgers) for t in page}, "count": len(matched)}

    def _query_trades(self, acct: Account, params: dict) -> dict:
        out = {}
        for tid in self._id_list(params, "txid", 20):
            t = acct.trades.get(tid)
            if t is None:
                raise invalid_arguments("txid")
            out[tid] = trade_view(t)
        return out

    def _ledgers(self, acct: Account, params: dict) -> dict:
        raw_assets = text(params, "asset")
        assets = None if not raw_assets or raw_assets == "all" else {resolve_asset(a).id for a in raw_assets.split(",")}
        kind = text(params, "type") or "all"

        def entry_time(lid: str) -> float | None:
            e = acct.ledger.get(lid)
            return None if e is None else e.time

        start = self._bound(text(params, "start"), "start", entry_time)
        end = self._bound(text(params, "end"), "end", entry_time)
        ofs = parse_int(params, "ofs", 0, lo=0) or 0
        matched = [e for e in reversed(list(acct.ledger.values()))
                   if (assets is None or e.asset in assets) and (kind == "all" or e.type == kind)
                   and (start is None or e.time > start) and (end is None or e.time <= end)]
        page = matched[ofs:ofs + _PAGE]
        return {"ledger": {e.id: ledger_view(e) for e in page}, "count": len(matched)}

    def _query_ledgers(self, acct: Account, params: dict) -> dict:
        out = {}
        for lid in self._id_list(params, "id", 20):
            e = acct.ledger.get(lid)
            if e is None:
                raise invalid_arguments("id")
            out[lid] = ledger_view(e)
        return out

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

        return {"currency": "ZUSD", "volume": fmt(vol, 4),
                "fees": {p.id: tier_info(TAKER_TIERS) for p in pairs},
                "fees_maker": {p.id: tier_info(MAKER_TIERS) for p in pairs}}

    # ================================================================ trading
    def _require_can_add(self) -> None:
        if self.system_status == "maintenance":
            raise KrakenAPIError(E.SERVICE_UNAVAILABLE)
        if self.system_status == "cancel_only":
            raise KrakenAPIError(E.CANCEL_ONLY)

    def _require_can_cancel(self) -> None:
        if self.system_status == "maintenance":
            raise KrakenAPIError(E.SERVICE_UNAVAILABLE)

    def _charge(self, acct: Account, pair: PairSpec, cost: float) -> None:
        """The trading counter's charge for an add; refuses when it would pass the threshold."""
        if not self.trading_limits:
            return
        if self.counter.would_exceed(acct.name, pair.id, cost, self._now):
            raise KrakenAPIError(E.ORDER_RATE_LIMIT)
        self.counter.charge(acct.name, pair.id, cost, self._now)

    def _penalise(self, acct: Account, o: Order, cost: float) -> None:
        if self.trading_limits and cost:
            self.counter.charge(acct.name, o.pair.id, cost, self._now)

    def _check_deadline(self, params: dict) -> None:
        raw = text(params, "deadline")
        if not raw:
            return
        deadline = parse_rfc3339(raw, "deadline")
        if deadline > self._now + _DEADLINE_MAX_AHEAD:
            raise invalid_arguments("deadline")
        if deadline <= self._now:
            raise KrakenAPIError(E.DEADLINE_ELAPSED)

    def _price(self, raw: str | None, field: str, pair: PairSpec, side: str) -> Decimal:
        """A price as sent: absolute, or relative to the last trade (``+x``, ``-x``, ``x%``)."""
        if raw is None or raw == "":
            raise invalid_arguments(field)
        if raw[0] in "+-":
            sign = -1 if raw[0] == "-" else 1
            body = raw[1:]
            pct = body.endswith("%")
            amount = parse_decimal(body[:-1] if pct else body, field)
            if amount < 0:
                raise invalid_arguments(field)
            last = self.markets[pair.id].last
            offset = last * amount / 100 if pct else amount
            value = last + sign * offset
            if value <= 0:
                raise invalid_arguments(field)
            return self.markets[pair.id].round_price(value)
        value = parse_decimal(raw, field)
        if value <= 0:
            raise invalid_arguments(field)
        if decimals_of(value) > pair.pair_decimals:
            raise KrakenAPIError(f"{E.INVALID_PRICE}:{pair.altname} price can only be specified up to "
                                 f"{pair.pair_decimals} decimals.")
        if value % pair.tick_size != 0:
            raise KrakenAPIError(E.TICK_SIZE)
        return value

    def _build_order(self, acct: Account, pair: PairSpec, params: dict) -> Order:
        """Parse and statically validate one order (no funds, no book)."""
        ordertype = text(params, "ordertype")
        if ordertype not in ORDER_TYPES:
            raise invalid_arguments("ordertype")
        side = text(params, "type")
        if side not in ("buy", "sell"):
            raise invalid_arguments("type")
        raw_flags = text(params, "oflags") or ""
        flags = tuple(f.strip() for f in raw_flags.split(",") if f.strip())
        if any(f not in _OFLAGS for f in flags) or ("fcib" in flags and "fciq" in flags):
            raise invalid_arguments("oflags")
        if "post" in flags and ordertype != "limit" and not ordertype.endswith("-limit"):
            raise invalid_arguments("oflags")
        viqc = "viqc" in flags
        if viqc and not (ordertype == "market" and side == "buy"):
            raise invalid_arguments("viqc")
        volume = parse_decimal(text(params, "volume"), "volume")
        if volume <= 0:
            raise invalid_arguments("volume")
        if decimals_of(volume) > (ASSETS[pair.quote].decimals if viqc else pair.lot_decimals):
            raise invalid_arguments("volume")
        price = price2 = None
        if ordertype != "market":
            price = self._price(text(params, "price"), "price", pair, side)
        if ordertype.endswith("-limit"):
            price2 = self._price(text(params, "price2"), "price2", pair, side)
        tif = (text(params, "timeinforce") or "GTC").upper()
        if tif not in ("GTC", "IOC", "GTD"):
            raise invalid_arguments("timeinforce")
        now = self._now
        starttm = parse_time_spec(text(params, "starttm"), now, "starttm")
        expiretm = parse_time_spec(text(params, "expiretm"), now, "expiretm")
        if tif == "GTD" and not expiretm:
            raise invalid_arguments("expiretm")
        if expiretm and expiretm <= max(now, starttm):
            raise invalid_arguments("expiretm")
        userref = parse_int(params, "userref", None, lo=-2**31, hi=2**31 - 1)
        cl_ord_id = text(params, "cl_ord_id") or None
        if cl_ord_id is not None and (not _CL_ORD_ID.match(cl_ord_id) or userref is not None):
            raise invalid_arguments("cl_ord_id")
        leverage = text(params, "leverage")
        if leverage not in (None, "", "none"):
            raise invalid_arguments("leverage")
        if parse_bool(params, "reduce_only"):
            raise invalid_arguments("reduce_only")
        if any(k == "close" or k.startswith("close[") for k in params):
            raise invalid_arguments("close")  # conditional close is not simulated: refuse, never ignore
        stptype = text(params, "stptype")
        if stptype not in (None, "", "cancel-newest", "cancel-oldest", "cancel-both"):
            raise invalid_arguments("stptype")
        trigger = text(params, "trigger")
        if trigger not in (None, "", "last", "index"):
            raise invalid_arguments("trigger")
        order = Order(txid="", account=acct.name, pair=pair, side=side, ordertype=ordertype,
                      volume=ZERO if viqc else volume, price=price, price2=price2, oflags=flags,
                      timeinforce=tif, opentm=now, starttm=starttm if starttm > now else 0.0, expiretm=expiretm,
                      userref=userref, cl_ord_id=cl_ord_id, aged_from=now,
                      quote_volume=volume if viqc else None)
        # Minimums: volume in base; cost at the order's price (market: at the touch).
        market = self.markets[pair.id]
        ref_price = price2 if price2 is not None else price
        if ref_price is None:
            ref_price = market.best_ask if side == "buy" else market.best_bid
        if viqc:
            if volume < pair.costmin:
                raise KrakenAPIError(E.COST_MINIMUM)
        else:
            if volume < pair.ordermin:
                raise KrakenAPIError(E.ORDER_MINIMUM)
            if volume * ref_price < pair.costmin:
                raise KrakenAPIError(E.COST_MINIMUM)
        return order

    def _check_placeable(self, acct: Account, o: Order) -> None:
        """Engine checks: market mode, duplicate cl_ord_id, open-order cap, funds."""
        if self.system_status == "post_only" and not (o.ordertype == "limit" and o.post_only):
            raise KrakenAPIError(E.POST_ONLY)
        same_pair = 0
        for x in acct.open.values():
            if o.cl_ord_id is not None and x.cl_ord_id == o.cl_ord_id:
                raise KrakenAPIError(E.DUPLICATE_ORDER)
            if x.pair is o.pair:
                same_pair += 1
        if same_pair >= self.counter.max_open:
            raise KrakenAPIError(E.ORDERS_LIMIT)
        p = o.pair
        if o.ordertype == "market":
            if o.side == "sell":
                need_asset, need = p.base, o.volume
            else:
                rate = ZERO if o.fee_in_base else self.matcher.fee_rate(acct, maker=False) / 100
                if o.quote_volume is not None:
                    need = o.quote_volume * (1 + rate)
                else:
                    _, cost = market_buy_cost(self.markets[p.id], o.volume)
                    need = cost * (1 + rate)
                need_asset = p.quote
        else:
            need_asset, need = acct.hold_of(o)
        if acct.available(need_asset) < need:
            raise KrakenAPIError(E.INSUFFICIENT_FUNDS)

    def _place(self, acct: Account, o: Order) -> None:
        o.txid = self.ids.next("O")
        o.status = "pending" if o.starttm else "open"
        acct.add_open(o)
        if o.status == "open":
            self.matcher.arrive(o, self._now, post_only_mode=self.system_status != "online")

    def _add_order(self, acct: Account, params: dict) -> dict:
        self._require_can_add()
        pair = self._pair_param(params)
        validate = parse_bool(params, "validate")
        if not validate:
            self._charge(acct, pair, 1)  # charged on receipt, even if validation then fails
        order = self._build_order(acct, pair, params)
        self._check_deadline(params)
        self._check_placeable(acct, order)
        if validate:
            return {"descr": {"order": descr_text(order)}}
        self._place(acct, order)
        return {"descr": {"order": descr_text(order)}, "txid": [order.txid]}

    def _batch_orders(self, params: dict) -> list[dict]:
        raw = params.get("orders")
        if raw is None:  # older ccxt: orders[0][ordertype]=limit&... form-encoded
            nested: dict[int, dict[str, Any]] = {}
            for key, value in params.items():
                m = re.fullmatch(r"orders\[(\d+)\]\[(\w+)\]", key)
                if m:
                    nested.setdefault(int(m.group(1)), {})[m.group(2)] = value
            raw = [nested[i] for i in sorted(nested)]
        if not isinstance(raw, list) or not all(isinstance(o, dict) for o in raw) or not 2 <= len(raw) <= 15:
            raise invalid_arguments("orders")
        return raw

    def _add_order_batch(self, acct: Account, params: dict) -> dict:
        self._require_can_add()
        pair = self._pair_param(params)
        validate = parse_bool(params, "validate")
        raw_orders = self._batch_orders(params)
        if not validate:
            self._charge(acct, pair, len(raw_orders) / 2)
        orders = [self._build_order(acct, pair, {k: v for k, v in o.items() if k != "pair"}) for o in raw_orders]
        self._check_deadline(params)
        results = []
        for o in orders:
            try:
                self._check_placeable(acct, o)
            except KrakenAPIError as err:
                if validate:
                    raise
                results.append({"error": err.code})
                continue
            if validate:
                results.append({"descr": {"order": descr_text(o)}})
            else:
                self._place(acct, o)
                results.append({"descr": {"order": descr_text(o)}, "txid": o.txid})
        return {"orders": results}

    def _find_open(self, acct: Account, params: dict) -> Order:
        txid = text(params, "txid")
        cl = text(params, "cl_ord_id")
        o = None
        if txid:
            o = acct.open.get(txid)
        elif cl:
            o = next((x for x in acct.open.values() if x.cl_ord_id == cl), None)
        else:
            raise invalid_arguments("txid")
        if o is None:
            raise KrakenAPIError(E.UNKNOWN_ORDER)
        return o

    def _amend_order(self, acct: Account, params: dict) -> dict:
        self._require_can_add()
        o = self._find_open(acct, params)
        qty = parse_decimal(text(params, "order_qty"), "order_qty", required=False)
        limit_raw = text(params, "limit_price")
        trigger_raw = text(params, "trigger_price")
        post_only = parse_bool(params, "post_only")
        if qty is None and not limit_raw and not trigger_raw:
            raise invalid_arguments()
        self._charge(acct, o.pair, amend_cost(self._now - o.aged_from))
        self._check_deadline(params)
        new_volume, new_price, new_price2 = o.volume, o.price, o.price2
        if qty is not None:
            if qty <= 0 or decimals_of(qty) > o.pair.lot_decimals or qty <= o.vol_exec:
                raise invalid_arguments("order_qty")
            if qty < o.pair.ordermin:
                raise KrakenAPIError(E.ORDER_MINIMUM)
            new_volume = qty
        if limit_raw:
            if o.ordertype == "limit":
                new_price = self._price(limit_raw, "limit_price", o.pair, o.side)
            elif o.ordertype.endswith("-limit"):
                new_price2 = self._price(limit_raw, "limit_price", o.pair, o.side)
            else:
                raise invalid_arguments("limit_price")
        if trigger_raw:
            if o.ordertype not in TRIGGERED_TYPES or o.triggered:
                raise invalid_arguments("trigger_price")
            new_price = self._price(trigger_raw, "trigger_price", o.pair, o.side)
        old = (o.volume, o.price, o.price2)
        _, old_hold = acct.hold_of(o)
        o.volume, o.price, o.price2 = new_volume, new_price, new_price2
        acct.changed()
        asset, new_hold = acct.hold_of(o)
        market = self.markets[o.pair.id]
        refused = None
        if acct.available(asset) + old_hold < new_hold:
            refused = E.INSUFFICIENT_FUNDS
        elif (post_only or o.post_only) and crosses(o, market):
            refused = E.POST_ONLY_ORDER
        if refused:
            o.volume, o.price, o.price2 = old
            acct.changed()
            raise KrakenAPIError(refused)
        o.aged_from = self._now  # the trading counter measures age from the last amend
        if "amended" not in o.misc:
            o.misc.append("amended")
        return {"amend_id": self.ids.next("T")}

    def _edit_order(self, acct: Account, params: dict) -> dict:
        """Legacy cancel-and-replace: a new txid; fills stay on the original."""
        self._require_can_add()
        pair = self._pair_param(params)
        ref = text(params, "txid")
        if not ref:
            raise invalid_arguments("txid")
        old = acct.open.get(ref)
        if old is None and ref.lstrip("-").isdigit():
            old = next((x for x in acct.open.values() if x.userref == int(ref)), None)
        if old is None or old.pair is not pair:
            raise KrakenAPIError(E.UNKNOWN_ORDER)
        if old.triggered or old.cl_ord_id is not None:
            raise KrakenAPIError(E.INVALID_ORDER)
        validate = parse_bool(params, "validate")
        age = self._now - old.aged_from
        if not validate:
            self._charge(acct, pair, 1 + next((c for lim, c in _EDIT_PENALTY if age < lim), 0))
        pd = pair.pair_decimals
        merged = {
            "ordertype": old.ordertype, "type": old.side,
            "volume": text(params, "volume") or fmt(old.volume, pair.lot_decimals),
            "oflags": text(params, "oflags") if text(params, "oflags") is not None else ",".join(old.oflags),
            "timeinforce": old.timeinforce,
            "userref": text(params, "userref") or (str(old.userref) if old.userref is not None else None),
        }
        if old.price is not None:
            merged["price"] = text(params, "price") or fmt(old.price, pd)
        if old.price2 is not None:
            merged["price2"] = text(params, "price2") or fmt(old.price2, pd)
        new = self._build_order(acct, pair, {k: v for k, v in merged.items() if v is not None})
        if new.volume <= old.vol_exec:
            raise invalid_arguments("volume")
        new.volume -= old.vol_exec
        self._check_deadline(params)
        acct.open.pop(old.txid)
        acct.changed()
        try:
            self._check_placeable(acct, new)
        finally:
            acct.open[old.txid] = old
            acct.changed()
        result = {"status": "ok", "descr": {"order": descr_text(new)},
                  "volume": fmt(new.volume, pair.lot_decimals),
                  "price": fmt(new.price, pd) if new.price is not None else "0",
                  "price2": fmt(new.price2, pd) if new.price2 is not None else "0",
                  "orders_cancelled": 0 if validate else 1,
                  "newuserref": new.userref or 0, "olduserref": old.userref or 0}
        if validate:
            return result
        self._cancel(acct, old, self._now, "Order replaced", penalty=False)
        self._place(acct, new)
        result.update({"txid": new.txid, "originaltxid": old.txid})
        return result

    def _cancel(self, acct: Account, o: Order, now: float, reason: str, penalty: bool = True) -> None:
        if penalty:
            self._penalise(acct, o, cancel_penalty(now - o.aged_from))
        o.close("canceled", now, reason)
        acct.mark_closed(o)

    def _cancel_targets(self, acct: Account, ref: str) -> list[Order]:
        if ref in acct.open:
            return [acct.open[ref]]
        if re.fullmatch(r"-?\d+", ref):
            return [o for o in acct.open.values() if o.userref == int(ref)]
        return []

    def _cancel_order(self, acct: Account, params: dict) -> dict:
        self._require_can_cancel()
        txid = text(params, "txid")
        cl = text(params, "cl_ord_id")
        if txid:
            targets = self._cancel_targets(acct, txid)
        elif cl:
            targets = [o for o in acct.open.values() if o.cl_ord_id == cl]
        else:
            raise invalid_arguments("txid")
        if not targets:
            raise KrakenAPIError(E.UNKNOWN_ORDER)
        for o in targets:
            self._cancel(acct, o, self._now, "User requested")
        return {"count": len(targets), "pending": False}

    def _cancel_all(self, acct: Account, params: dict) -> dict:
        self._require_can_cancel()
        targets = list(acct.open.values())
        for o in targets:
            self._cancel(acct, o, self._now, "User requested")
        return {"count": len(targets)}

    def _cancel_order_batch(self, acct: Account, params: dict) -> dict:
        self._require_can_cancel()
        refs: list[str] = []
        for name in ("orders", "cl_ord_ids"):
            raw = params.get(name)
            if raw is None:
                raw = [v for k, v in sorted(params.items()) if re.fullmatch(rf"{name}\[\d+\]", k)] or None
            if raw is None:
                continue
            if not isinstance(raw, list):
                raise invalid_arguments(name)
            for item in raw:
                if isinstance(item, dict):
                    item = item.get("txid")
                if not isinstance(item, (str, int)):
                    raise invalid_arguments(name)
                refs.append(("cl:" if name == "cl_ord_ids" else "") + str(item))
        if not refs or len(refs) > 50:
            raise invalid_arguments("orders")
        count = 0
        for ref in refs:
            if ref.startswith("cl:"):
                targets = [o for o in acct.open.values() if o.cl_ord_id == ref[3:]]
            else:
                targets = self._cancel_targets(acct, ref)
            for o in targets:
                self._cancel(acct, o, self._now, "User requested")
                count += 1
        return {"count": count}

    def _cancel_all_after(self, acct: Account, params: dict) -> dict:
        self._require_can_cancel()
        timeout = parse_int(params, "timeout", None, lo=0, hi=86_400)
        if timeout is None:
            raise invalid_arguments("timeout")
        if timeout == 0:
            acct.dms_trigger = None
            return {"currentTime": rfc3339(self._now), "triggerTime": "0"}
        acct.dms_trigger = self._now + timeout
        return {"currentTime": rfc3339(self._now), "triggerTime": rfc3339(acct.dms_trigger)}
