"""Kraken's trading methods: AddOrder(Batch), AmendOrder, EditOrder, the cancels, the dead man's switch.

A mixin of ``Exchange``. Validation order: system status, pair, trading counter (charged on
receipt, as Kraken does), parameters and precision, deadline, then the engine checks
(market mode, duplicate cl_ord_id, open-order cap, funds).
"""
from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from krakensim import errors as E
from krakensim.accounts import Account
from krakensim.engine_state import EngineState
from krakensim.errors import KrakenAPIError, invalid_arguments
from krakensim.matching import STP_TYPES, trail
from krakensim.orders import (CLOSE_TYPES, ORDER_TYPES, TRAILING_TYPES, TRIGGERED_TYPES, CloseSpec, Offset, Order,
                              close_text, descr_prices, descr_text)
from krakensim.pairs import ASSETS, PairSpec
from krakensim.trading_counter import amend_cost, cancel_penalty
from krakensim.wire import (decimals_of, fmt, parse_bool, parse_decimal, parse_int, parse_rfc3339,
                            parse_time_spec, rfc3339, text)

ZERO = Decimal(0)
_OFLAGS = frozenset({"post", "fcib", "fciq", "nompp", "viqc"})
_CL_ORD_ID = re.compile(  # a UUID with or without hyphens, or up to 18 printable ASCII characters
    r"^(?:[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
    r"|[0-9a-fA-F]{32}|[\x20-\x7e]{1,18})$")
_DEADLINE_MAX_AHEAD = 60.0
_EDIT_PENALTY = ((5, 6), (10, 5), (15, 4), (45, 2), (90, 1))  # EditOrder's decaying part, by order age


def _descr(o: Order) -> dict:
    """AddOrder's ``descr``: the order text, and the conditional close's text when there is one."""
    close = close_text(o)
    return {"order": descr_text(o), "close": close} if close else {"order": descr_text(o)}


class TradingMethods(EngineState):
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

    def _offset(self, raw: str | None, field: str, pair: PairSpec, signs: str) -> Offset:
        """A trailing distance: ``+x`` / ``+x%`` (``-`` too where ``signs`` allows), never absolute."""
        if not raw or raw[0] not in signs:
            raise invalid_arguments(field)
        pct = raw.endswith("%")
        amount = parse_decimal(raw[1:-1] if pct else raw[1:], field)
        if amount < 0 or (pct and amount >= 100) or (not pct and decimals_of(amount) > pair.pair_decimals):
            raise invalid_arguments(field)
        if raw[0] == "+" and amount == 0 and field == "price":
            raise invalid_arguments(field)
        signed = -amount if raw[0] == "-" else amount
        shown = f"{raw[0]}{fmt(amount, 4)}%" if pct else f"{raw[0]}{fmt(amount, pair.pair_decimals)}"
        return Offset(signed, pct, shown)

    def _order_prices(self, ordertype: str, side: str, params: dict, pair: PairSpec,
                      ) -> tuple[Decimal | None, Decimal | None, Offset | None, Offset | None]:
        """(price, price2, trailing offset, limit offset) of an order or a conditional close."""
        if ordertype in TRAILING_TYPES:
            offset = self._offset(text(params, "price"), "price", pair, "+")
            limit = self._offset(text(params, "price2"), "price2", pair, "+-") \
                if ordertype == "trailing-stop-limit" else None
            return None, None, offset, limit
        price = price2 = None
        if ordertype != "market":
            price = self._price(text(params, "price"), "price", pair, side)
        if ordertype.endswith("-limit"):
            price2 = self._price(text(params, "price2"), "price2", pair, side)
        return price, price2, None, None

    def _close_spec(self, params: dict, pair: PairSpec, side: str) -> CloseSpec | None:
        """``close[ordertype]`` etc. (a nested ``close`` object in a JSON body) as a conditional close."""
        close = params.get("close")
        if close is None:
            close = {k[6:-1]: v for k, v in params.items() if k.startswith("close[") and k.endswith("]")} or None
        if close is None:
            return None
        if not isinstance(close, dict):
            raise invalid_arguments("close")
        ordertype = text(close, "ordertype")
        if ordertype not in CLOSE_TYPES:
            raise invalid_arguments("close[ordertype]")
        opposite = "sell" if side == "buy" else "buy"
        try:
            price, price2, offset, limit = self._order_prices(ordertype, opposite, close, pair)
        except KrakenAPIError as err:  # name the close's own field, as Kraken does
            raise KrakenAPIError(err.code.replace(":price", ":close[price]", 1)) from None
        return CloseSpec(ordertype, price, price2, offset, limit)

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
        price, price2, offset, limit_offset = self._order_prices(ordertype, side, params, pair)
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
        if parse_bool(params, "reduce_only"):  # a spot account never has a position to reduce
            raise KrakenAPIError(E.REDUCE_ONLY_NO_POSITION)
        if text(params, "displayvol"):  # iceberg is not simulated: refuse, never ignore
            raise invalid_arguments("displayvol")
        close_spec = self._close_spec(params, pair, side)
        if close_spec is not None and cl_ord_id is not None:
            raise invalid_arguments("cl_ord_id")
        stptype = text(params, "stptype")
        if stptype not in (None, "", *STP_TYPES):
            raise invalid_arguments("stptype")
        trigger = text(params, "trigger")
        if trigger not in (None, "", "last", "index"):
            raise invalid_arguments("trigger")
        order = Order(txid="", account=acct.name, pair=pair, side=side, ordertype=ordertype,
                      volume=ZERO if viqc else volume, price=price, price2=price2, oflags=flags,
                      timeinforce=tif, opentm=now, starttm=starttm if starttm > now else 0.0, expiretm=expiretm,
                      userref=userref, cl_ord_id=cl_ord_id, aged_from=now,
                      quote_volume=volume if viqc else None, trigger=trigger or "last", offset=offset,
                      limit_offset=limit_offset, close_spec=close_spec, stptype=stptype or "cancel-newest")
        market = self.markets[pair.id]
        trail(order, market.last, market)  # a trailing order's trigger (and hold) from the start
        # Minimums: volume in base; cost at the order's price (market: at the touch).
        ref_price = order.price2 if order.price2 is not None else order.price
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
        restricted = self.pair_status.get(o.pair.id, "online")
        if restricted == "cancel_only":
            raise KrakenAPIError(E.CANCEL_ONLY)
        if restricted == "post_only" and not (o.ordertype == "limit" and o.post_only):
            raise KrakenAPIError(E.POST_ONLY)
        if restricted == "limit_only" and o.ordertype != "limit":
            raise KrakenAPIError(E.LIMIT_ONLY)
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
                    cost = self.matcher.buy_cost(acct, p.id, o.volume)
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
        descr = _descr(order)
        if validate:
            return {"descr": descr}
        self._place(acct, order)
        return {"descr": descr, "txid": [order.txid]}

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
            entry: dict = {"descr": {"order": descr_text(o)}}
            if not validate:
                self._place(acct, o)
                entry["txid"] = o.txid
            if o.close_spec is not None:  # a batch entry carries the close's text beside descr
                entry["close"] = close_text(o)
            results.append(entry)
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
        if o.ordertype in TRAILING_TYPES and (limit_raw or trigger_raw):  # offsets cannot be amended here
            raise invalid_arguments("trigger_price" if trigger_raw else "limit_price")
        if not o.amends:
            o.amends.append(self._amend_entry(o, "original", o.opentm))
        old, old_limit = (o.volume, o.price, o.price2), o.working_limit
        _, old_hold = acct.hold_of(o)
        o.volume, o.price, o.price2 = new_volume, new_price, new_price2
        acct.changed()
        try:  # the order is changed in place: any refusal, even an unexpected one, puts it back
            asset, new_hold = acct.hold_of(o)
            if acct.available(asset) + old_hold < new_hold:
                raise KrakenAPIError(E.INSUFFICIENT_FUNDS)
            if (post_only or o.post_only) and self.matcher.would_take(o):
                raise KrakenAPIError(E.POST_ONLY_ORDER)
        except Exception:
            o.volume, o.price, o.price2 = old
            acct.changed()
            raise
        o.aged_from = self._now  # the trading counter measures age from the last amend
        if o.working_limit is not None and (o.working_limit != old_limit or o.volume > old[0]):
            # a new price or a larger size loses queue priority (a smaller size keeps it), and arrives
            # as a new order would: a limit that now reaches the other side trades before it rests
            self.matcher.arrive(o, self._now, post_only_mode=self.system_status != "online")
        if "amended" not in o.misc:
            o.misc.append("amended")
        entry = self._amend_entry(o, "user", self._now)
        o.amends.append(entry)
        return {"amend_id": entry["amend_id"]}

    def _amend_entry(self, o: Order, kind: str, when: float) -> dict:
        """One line of OrderAmends: the order's terms after an amend (or as placed, ``original``)."""
        p = o.pair
        entry: dict = {"amend_id": self.ids.next("T"), "amend_type": kind,
                       "order_qty": fmt(o.volume, p.lot_decimals), "remaining_qty": fmt(o.remaining, p.lot_decimals)}
        limit = o.price if o.ordertype == "limit" else o.price2 if o.ordertype.endswith("-limit") else None
        if limit is not None:
            entry["limit_price"] = fmt(limit, p.pair_decimals)
        if o.ordertype in TRIGGERED_TYPES and o.price is not None:
            entry["trigger_price"] = fmt(o.price, p.pair_decimals)
        entry["timestamp"] = int(Decimal(repr(when)) * 1_000_000_000)
        return entry

    def _order_amends(self, acct: Account, params: dict) -> dict:
        """The amend history of one order: its original terms, then each amend, oldest first."""
        txid = text(params, "order_id")
        if not txid:
            raise invalid_arguments("order_id")
        o = acct.orders.get(txid)
        if o is None:
            raise KrakenAPIError(E.UNKNOWN_ORDER)
        if not o.amends:  # never amended: its terms as placed are its whole history
            o.amends.append(self._amend_entry(o, "original", o.opentm))
        return {"amends": [dict(a) for a in o.amends], "count": len(o.amends)}

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
        old_price, old_price2 = descr_prices(old)
        merged = {
            "ordertype": old.ordertype, "type": old.side,
            "volume": text(params, "volume") or fmt(old.volume, pair.lot_decimals),
            "oflags": text(params, "oflags") if text(params, "oflags") is not None else ",".join(old.oflags),
            "timeinforce": old.timeinforce, "trigger": old.trigger,
            "userref": text(params, "userref") or (str(old.userref) if old.userref is not None else None),
        }
        if old.ordertype != "market":
            merged["price"] = text(params, "price") or old_price
        if old.ordertype.endswith("-limit"):
            merged["price2"] = text(params, "price2") or old_price2
        new = self._build_order(acct, pair, {k: v for k, v in merged.items() if v is not None})
        new.close_spec = old.close_spec
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
        new_price, new_price2 = descr_prices(new)
        result = {"status": "ok", "descr": {"order": descr_text(new)},
                  "volume": fmt(new.volume, pair.lot_decimals), "price": new_price, "price2": new_price2,
                  "orders_cancelled": 0 if validate else 1}
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
        return {"count": len(targets)}

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
