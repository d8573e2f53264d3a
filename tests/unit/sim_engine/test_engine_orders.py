"""AddOrder, CancelOrder and the order queries: Kraken's shapes and validation strings."""
from __future__ import annotations

import json

import re
from decimal import Decimal

import pytest

from krakensim.errors import KrakenAPIError
from krakensim.wire import rfc3339

TXID = re.compile(r"^O[A-Z0-9]{5}-[A-Z0-9]{5}-[A-Z0-9]{6}$")


def limit(price="50000", volume="0.01", side="buy", pair="XBTEUR", **extra):
    return {"pair": pair, "type": side, "ordertype": "limit", "price": price, "volume": volume, **extra}


def code_of(ex, params, method="AddOrder", account="demo"):
    with pytest.raises(KrakenAPIError) as err:
        ex.handle_private(account, method, params)
    return err.value.code


def test_limit_order_rests_and_is_listed(ex):
    result = ex.handle_private("demo", "AddOrder", limit(userref="7"))
    assert result["descr"] == {"order": "buy 0.01000000 XBTEUR @ limit 50000.0"}
    (txid,) = result["txid"]
    assert TXID.match(txid)
    order = ex.handle_private("demo", "OpenOrders", {})["open"][txid]
    assert order["status"] == "open" and order["userref"] == 7 and order["oflags"] == "fciq"
    assert order["descr"]["pair"] == "XBTEUR" and order["descr"]["price"] == "50000.0"
    assert order["vol"] == "0.01000000" and order["vol_exec"] == "0.00000000"
    assert isinstance(order["opentm"], float)


def test_validate_places_nothing(ex):
    result = ex.handle_private("demo", "AddOrder", limit(validate="true"))
    assert result == {"descr": {"order": "buy 0.01000000 XBTEUR @ limit 50000.0"}}
    assert ex.handle_private("demo", "OpenOrders", {}) == {"open": {}}
    assert ex.orders() == [] and ex.holds() == {}


def test_cancel_by_txid_then_unknown(ex):
    txid = ex.handle_private("demo", "AddOrder", limit())["txid"][0]
    assert ex.handle_private("demo", "CancelOrder", {"txid": txid}) == {"count": 1}  # live: no ``pending``
    closed = ex.handle_private("demo", "ClosedOrders", {})
    assert closed["count"] == 1
    assert closed["closed"][txid]["status"] == "canceled"
    assert closed["closed"][txid]["reason"] == "User requested"
    assert code_of(ex, {"txid": txid}, "CancelOrder") == "EOrder:Unknown order"


def test_cancel_by_userref_and_cl_ord_id(ex):
    ex.handle_private("demo", "AddOrder", limit(userref="5"))
    ex.handle_private("demo", "AddOrder", limit(price="49000", userref="5"))
    ex.handle_private("demo", "AddOrder", limit(price="48000", cl_ord_id="bot-1"))
    assert ex.handle_private("demo", "CancelOrder", {"txid": "5"})["count"] == 2
    assert ex.handle_private("demo", "CancelOrder", {"cl_ord_id": "bot-1"})["count"] == 1
    assert ex.handle_private("demo", "OpenOrders", {}) == {"open": {}}


def test_cancel_all(ex):
    for price in ("40000", "41000", "42000"):
        ex.handle_private("demo", "AddOrder", limit(price=price))
    assert ex.handle_private("demo", "CancelAll", {}) == {"count": 3}
    assert ex.holds() == {}


def test_open_orders_filters(ex):
    ex.handle_private("demo", "AddOrder", limit(userref="1"))
    ex.handle_private("demo", "AddOrder", limit(price="49000", cl_ord_id="abc"))
    assert len(ex.handle_private("demo", "OpenOrders", {"userref": "1"})["open"]) == 1
    only = ex.handle_private("demo", "OpenOrders", {"cl_ord_id": "abc"})["open"]
    assert [o["cl_ord_id"] for o in only.values()] == ["abc"]


def test_query_orders(ex):
    txid = ex.handle_private("demo", "AddOrder", limit())["txid"][0]
    assert list(ex.handle_private("demo", "QueryOrders", {"txid": txid})) == [txid]
    assert code_of(ex, {"txid": "OAAAAA-BBBBB-CCCCCC"}, "QueryOrders") == "EOrder:Invalid order"


@pytest.mark.parametrize("params, code", [
    ({"pair": "FOO"}, "EQuery:Unknown asset pair"),
    ({"volume": "abc"}, "EGeneral:Invalid arguments:volume"),
    ({"volume": "-1"}, "EGeneral:Invalid arguments:volume"),
    ({"volume": "0.000000001"}, "EGeneral:Invalid arguments:volume"),
    ({"price": None}, "EGeneral:Invalid arguments:price"),
    ({"price": "NaN"}, "EGeneral:Invalid arguments:price"),
    ({"ordertype": "iceberg"}, "EGeneral:Invalid arguments:ordertype"),
    ({"type": "hold"}, "EGeneral:Invalid arguments:type"),
    ({"volume": "0.00001"}, "EOrder:Order minimum not met"),
    ({"price": "1", "volume": "0.0001"}, "EOrder:Cost minimum not met"),
    ({"volume": "100"}, "EOrder:Insufficient funds"),
    ({"oflags": "post,bogus"}, "EGeneral:Invalid arguments:oflags"),
    ({"timeinforce": "FOK"}, "EGeneral:Invalid arguments:timeinforce"),
    ({"timeinforce": "GTD"}, "EGeneral:Invalid arguments:expiretm"),
    ({"userref": "x"}, "EGeneral:Invalid arguments:userref"),
    ({"cl_ord_id": "x" * 19}, "EGeneral:Invalid arguments:cl_ord_id"),
    ({"cl_ord_id": "a", "userref": "1"}, "EGeneral:Invalid arguments:cl_ord_id"),
    ({"leverage": "2"}, "EGeneral:Invalid arguments:leverage"),
    ({"close[ordertype]": "limit"}, "EGeneral:Invalid arguments:close[price]"),
    ({"close[ordertype]": "iceberg", "close[price]": "60000"}, "EGeneral:Invalid arguments:close[ordertype]"),
    ({"close[ordertype]": "limit", "close[price]": "60000", "cl_ord_id": "a"}, "EGeneral:Invalid arguments:cl_ord_id"),
    ({"displayvol": "0.001"}, "EGeneral:Invalid arguments:displayvol"),
    ({"reduce_only": "true"}, "EOrder:Reduce only:No position exists"),
    ({"price": "#500"}, "EGeneral:Invalid arguments:price"),
    ({"ordertype": "trailing-stop", "price": "1.5%"}, "EGeneral:Invalid arguments:price"),
    ({"ordertype": "trailing-stop", "price": "-1.5%"}, "EGeneral:Invalid arguments:price"),
    ({"ordertype": "trailing-stop", "price": "+100%"}, "EGeneral:Invalid arguments:price"),
    ({"ordertype": "trailing-stop-limit", "price": "+1%", "price2": "0.5%"}, "EGeneral:Invalid arguments:price2"),
    ({"volume": ["1"]}, "EGeneral:Invalid arguments:volume"),
])
def test_add_order_validation(ex, params, code):
    order = {**limit(), **params}
    order = {k: v for k, v in order.items() if v is not None}
    assert code_of(ex, order) == code
    assert ex.orders() == []


def test_too_many_price_decimals(ex):
    assert code_of(ex, limit(price="50000.05")).startswith("EOrder:Invalid price")


def test_tick_size(ex):
    assert code_of(ex, limit(pair="ETHUSD", price="3000.03", volume="0.1")) == "EOrder:Tick size check failed"
    assert ex.handle_private("demo", "AddOrder", limit(pair="ETHUSD", price="3000.05", volume="0.1"))["txid"]


def test_missing_pair(ex):
    assert code_of(ex, {"type": "buy", "ordertype": "market", "volume": "1"}) == "EGeneral:Invalid arguments:pair"


def test_cl_ord_id_unique_among_open_orders_only(ex):
    txid = ex.handle_private("demo", "AddOrder", limit(cl_ord_id="dup-1"))["txid"][0]
    assert code_of(ex, limit(price="49000", cl_ord_id="dup-1")) == "EOrder:Duplicate order"
    ex.handle_private("demo", "CancelOrder", {"txid": txid})
    assert ex.handle_private("demo", "AddOrder", limit(price="49000", cl_ord_id="dup-1"))["txid"]


def test_cl_ord_id_uuid_forms(ex):
    for cl in ("6d1b345e-2821-40e2-ad83-4ecb18a06876", "6d1b345e282140e2ad834ecb18a06876"):
        assert ex.handle_private("demo", "AddOrder", limit(cl_ord_id=cl))["txid"]


def test_deadline(ex, clock):
    now = clock.time()
    ok = ex.handle_private("demo", "AddOrder", limit(deadline=rfc3339(now + 15)))
    assert ok["txid"]
    assert code_of(ex, limit(price="49000", deadline=rfc3339(now - 1))) == "EService:Deadline elapsed"
    assert code_of(ex, limit(price="49000", deadline=rfc3339(now + 600))) == "EGeneral:Invalid arguments:deadline"
    assert code_of(ex, limit(price="49000", deadline="tomorrow")) == "EGeneral:Invalid arguments:deadline"
    assert len(ex.orders()) == 1


def test_deadline_elapses_when_the_shared_clock_moves(ex, clock):
    deadline = rfc3339(clock.time() + 5)
    clock.advance(6)
    assert code_of(ex, limit(deadline=deadline)) == "EService:Deadline elapsed"


@pytest.mark.parametrize("status, params, code", [
    ("maintenance", limit(), "EService:Unavailable"),
    ("cancel_only", limit(), "EService:Market in cancel_only mode"),
    ("post_only", limit(), "EService:Market in post_only mode"),
    ("post_only", {"pair": "XBTEUR", "type": "buy", "ordertype": "market", "volume": "0.01"},
     "EService:Market in post_only mode"),
])
def test_system_status_refuses_orders(ex, status, params, code):
    ex.set_system_status(status)
    assert code_of(ex, params) == code


def test_post_only_mode_accepts_post_only_limits(ex):
    ex.set_system_status("post_only")
    assert ex.handle_private("demo", "AddOrder", limit(oflags="post"))["txid"]


MARKET_BUY = {"pair": "XBTEUR", "type": "buy", "ordertype": "market", "volume": "0.01"}


@pytest.mark.parametrize("status, params, code", [
    ("cancel_only", limit(), "EService:Market in cancel_only mode"),
    ("post_only", limit(), "EService:Market in post_only mode"),
    ("limit_only", MARKET_BUY, "EService:Market in limit_only mode"),
])
def test_a_pairs_own_status_refuses_orders_there_alone(ex, status, params, code):
    ex.set_pair_status("XBTEUR", status)
    assert code_of(ex, params) == code
    pairs = ex.handle_public("AssetPairs", {"pair": "XBTEUR,ETHEUR"})
    assert {p: info["status"] for p, info in pairs.items()} == {"XXBTZEUR": status, "XETHZEUR": "online"}
    assert ex.handle_private("demo", "AddOrder", limit(pair="ETHEUR", price="3000"))["txid"]


@pytest.mark.parametrize("status, params", [("post_only", limit(oflags="post")), ("limit_only", limit())])
def test_a_restricted_pair_takes_what_its_status_allows(ex, status, params):
    ex.set_pair_status("XBTEUR", status)
    assert ex.handle_private("demo", "AddOrder", params)["txid"]


def test_a_pair_status_is_checked_and_cleared_by_reset(ex):
    with pytest.raises(ValueError):
        ex.set_pair_status("XBTEUR", "maintenance")
    ex.set_pair_status("XBTEUR", "cancel_only")
    ex.reset()
    assert ex.handle_public("AssetPairs", {"pair": "XBTEUR"})["XXBTZEUR"]["status"] == "online"


def test_cancels_in_each_mode(ex):
    txid = ex.handle_private("demo", "AddOrder", limit())["txid"][0]
    ex.set_system_status("maintenance")
    assert code_of(ex, {"txid": txid}, "CancelOrder") == "EService:Unavailable"
    ex.set_system_status("cancel_only")
    assert ex.handle_private("demo", "CancelOrder", {"txid": txid})["count"] == 1


def test_open_orders_cap(ex):
    ex.trading_limits = False
    ex.create_account("rich", {"ZEUR": "100000000"})
    for i in range(60):
        ex.handle_private("rich", "AddOrder", limit(price=str(40000 + i)))
    assert code_of(ex, limit(price="30000"), account="rich") == "EOrder:Orders limit exceeded"
    assert ex.handle_private("rich", "AddOrder", limit(pair="ETHEUR", price="2000", volume="0.01"))["txid"]


def test_funding_methods_are_refused(ex):
    for method in ("Withdraw", "WithdrawInfo", "WalletTransfer", "DepositAddresses"):
        assert code_of(ex, {"asset": "XBT", "amount": "1"}, method) == "EGeneral:Permission denied"
    assert code_of(ex, {}, "Nope") == "EGeneral:Unknown method"
    assert ex.balances()["XXBT"] == Decimal("1")


@pytest.mark.parametrize("garbage", [
    {"pair": ["x"]}, {"pair": {"a": 1}}, {"volume": 1e400}, {"price": "1e999999"}, {"userref": "9" * 50},
    {"deadline": "\x00"}, {"starttm": "+abc"}, {"expiretm": "x"}, {"validate": "maybe"}, {"oflags": 3},
])
def test_garbage_only_raises_kraken_errors(ex, garbage):
    with pytest.raises(KrakenAPIError):
        ex.handle_private("demo", "AddOrder", {**limit(), **garbage})


def test_garbage_on_every_method_only_raises_kraken_errors(ex):
    junk = {"txid": ["x"], "pair": "\u2603", "start": "x", "ofs": "-1", "count": "0", "since": "zz",
            "interval": "x", "timeout": "x", "asset": "FOO", "id": "", "orders": "x"}
    calls = [(m, lambda m=m: ex.handle_private("demo", m, junk)) for m in ex._private] + \
        [(m, lambda m=m: ex.handle_public(m, junk)) for m in ex._public]
    for method, call in calls:
        try:
            answer = call()
        except KrakenAPIError:
            continue  # a Kraken error string: the expected answer to junk
        json.dumps(answer)  # an answer that is not an error must still be valid JSON for the wire (else: fails)


def test_relative_prices_follow_the_last_trade(ex):
    last = Decimal(ex.handle_public("Ticker", {"pair": "XBTEUR"})["XXBTZEUR"]["c"][0])
    result = ex.handle_private("demo", "AddOrder", {"pair": "XBTEUR", "type": "sell", "ordertype": "stop-loss",
                                                   "price": "-1%", "volume": "0.01"})
    trigger = (last * Decimal("0.99") / Decimal("0.1")).to_integral_value() * Decimal("0.1")
    assert result["descr"]["order"] == f"sell 0.01000000 XBTEUR @ stop loss {trigger}"
    result = ex.handle_private("demo", "AddOrder", {**limit(), "price": "-250"})
    assert result["descr"]["order"].endswith(f"@ limit {(last - 250).quantize(Decimal('0.1'))}")
    for bad in ("5%", "#5", "+x", "-99999999"):
        assert code_of(ex, {**limit(), "price": bad}) == "EGeneral:Invalid arguments:price"
