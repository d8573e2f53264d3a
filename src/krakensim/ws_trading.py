"""WebSocket v2 trading methods as the REST calls they are on the same engine.

Each v2 method is translated to its REST twin (``add_order`` -> ``AddOrder`` ...) and run through
``Exchange.handle_private``: the same validation, matching, holds, trading counter and Kraken error
strings as REST; the answer is turned back into v2's ``result``. Unknown fields are refused as
Kraken does, never ignored.
"""
from __future__ import annotations

from decimal import Decimal
from typing import Any

from krakensim.ws_feeds import V2_SYMBOLS

REST_METHOD = {
    "add_order": "AddOrder", "amend_order": "AmendOrder", "cancel_order": "CancelOrder", "cancel_all": "CancelAll",
    "cancel_all_orders_after": "CancelAllOrdersAfter", "batch_add": "AddOrderBatch",
    "batch_cancel": "CancelOrderBatch",
}
_ORDER_FIELDS = frozenset({
    "order_type", "side", "order_qty", "symbol", "limit_price", "limit_price_type", "triggers", "time_in_force",
    "post_only", "reduce_only", "margin", "stp_type", "cash_order_qty", "fee_preference", "no_mpp",
    "effective_time", "expire_time", "deadline", "cl_ord_id", "order_userref", "validate", "display_qty",
    "conditional", "token",
})


class WsRequestError(Exception):
    """A v2 request refused with Kraken's one-string ``error``."""


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return f"{value:f}"
    return str(value)


def symbol_pair(symbol: Any) -> Any:
    pair = V2_SYMBOLS.get(symbol) if isinstance(symbol, str) else None
    if pair is None:
        raise WsRequestError(f"Currency pair not supported {symbol}")
    return pair


def order_params(order: dict[str, Any], symbol: Any) -> dict[str, str]:
    """One v2 order (``add_order`` params or a ``batch_add`` row) as AddOrder's form fields."""
    unknown = sorted(set(order) - _ORDER_FIELDS)
    if unknown:
        raise WsRequestError(f"Unsupported field: '{unknown[0]}' for the given msg type: add order")
    out: dict[str, str] = {"pair": symbol_pair(symbol).id}
    for v2, rest in (("order_type", "ordertype"), ("side", "type"), ("order_qty", "volume"),
                     ("cl_ord_id", "cl_ord_id"), ("order_userref", "userref"), ("deadline", "deadline"),
                     ("expire_time", "expiretm"), ("effective_time", "starttm"), ("reduce_only", "reduce_only"),
                     ("stp_type", "stptype"), ("validate", "validate")):
        if v2 in order:
            out[rest] = _text(order[v2])
    if "time_in_force" in order:
        out["timeinforce"] = _text(order["time_in_force"]).upper()
    if "stp_type" in order:
        out["stptype"] = out["stptype"].replace("_", "-")
    if "cash_order_qty" in order:
        out["volume"] = _text(order["cash_order_qty"])
        out["oflags"] = "viqc"
    flags = [out.pop("oflags")] if "oflags" in out else []
    if order.get("post_only"):
        flags.append("post")
    if order.get("fee_preference") in ("base", "quote"):
        flags.append("fcib" if order["fee_preference"] == "base" else "fciq")
    if order.get("no_mpp"):
        flags.append("nompp")
    if flags:
        out["oflags"] = ",".join(flags)
    if "display_qty" in order:
        out["displayvol"] = _text(order["display_qty"])
    triggers = order.get("triggers")
    if isinstance(triggers, dict) and "price" in triggers:
        out["price"] = _text(triggers["price"])
        if "limit_price" in order:
            out["price2"] = _text(order["limit_price"])
        if triggers.get("reference") == "index":
            out["trigger"] = "index"
    elif "limit_price" in order:
        out["price"] = _text(order["limit_price"])
    return out


def _ids(params: dict[str, Any], name: str) -> list[Any]:
    value = params.get(name)
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def call(exchange: Any, account: str, method: str, params: dict[str, Any]) -> list[Any]:
    """Run one v2 trading method; the ``result`` of each reply it gives (``cancel_order``: one per id).

    An engine refusal raises ``KrakenAPIError`` (its code is v2's ``error`` string too)."""
    p = {k: v for k, v in params.items() if k != "token"}
    rest = REST_METHOD[method]
    if method == "add_order":
        symbol = p.pop("symbol", None)
        result = exchange.handle_private(account, rest, order_params(p, symbol))
        out = {"order_id": result["txid"][0] if result.get("txid") else ""}
        for name in ("cl_ord_id", "order_userref"):
            if name in p:
                out[name] = p[name]
        return [out]
    if method == "amend_order":
        form = {k: _text(v) for k, v in p.items() if k in ("order_qty", "limit_price", "post_only", "deadline",
                                                           "trigger_price", "display_qty", "cl_ord_id")}
        if "order_id" in p:
            form["txid"] = _text(p["order_id"])
        result = exchange.handle_private(account, rest, form)
        return [{"amend_id": result.get("amend_id"), **({"order_id": p["order_id"]} if "order_id" in p
                                                         else {"cl_ord_id": p.get("cl_ord_id")})}]
    if method == "cancel_order":
        refs = [("order_id", "txid", v) for v in _ids(p, "order_id")] + \
               [("cl_ord_id", "cl_ord_id", v) for v in _ids(p, "cl_ord_id")] + \
               [("order_userref", "txid", v) for v in _ids(p, "order_userref")]
        if not refs:
            raise WsRequestError("EGeneral:Invalid arguments")
        out = []
        for name, field, value in refs:
            exchange.handle_private(account, rest, {field: _text(value)})
            out.append({name: value})
        return out
    if method == "cancel_all":
        return [{"count": exchange.handle_private(account, rest, {})["count"]}]
    if method == "cancel_all_orders_after":
        result = exchange.handle_private(account, rest, {"timeout": _text(p.get("timeout", ""))})
        return [{"currentTime": result["currentTime"], "triggerTime": result["triggerTime"]}]
    if method == "batch_add":
        symbol = p.get("symbol")
        rows = p.get("orders")
        if not isinstance(rows, list):
            raise WsRequestError("EGeneral:Invalid arguments")
        forms = [order_params(r if isinstance(r, dict) else {}, symbol) for r in rows]
        form: dict[str, Any] = {"pair": forms[0]["pair"] if forms else symbol_pair(symbol).id,
                                "orders": [{k: v for k, v in f.items() if k != "pair"} for f in forms]}
        for name in ("deadline", "validate"):
            if name in p:
                form[name] = _text(p[name])
        result = exchange.handle_private(account, rest, form)
        out = []
        for row, sent in zip(result.get("orders", []), rows):
            entry = {"order_id": row.get("txid", "")}
            if isinstance(sent, dict):
                for name in ("cl_ord_id", "order_userref"):
                    if name in sent:
                        entry[name] = sent[name]
            if row.get("error"):
                entry["error"] = row["error"]
            out.append(entry)
        return [out]
    # batch_cancel
    ids = [_text(v) for v in _ids(p, "orders")]
    cl_ids = [_text(v) for v in _ids(p, "cl_ord_id")]
    form: dict[str, Any] = {}
    if ids:
        form["orders"] = ids
    if cl_ids:
        form["cl_ord_ids"] = cl_ids
    return [{"count": exchange.handle_private(account, rest, form)["count"]}]
