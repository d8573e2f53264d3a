"""Fees, holds, balances and the ledger, to the exact Decimal."""
from __future__ import annotations

from decimal import Decimal

import pytest

from krakensim.errors import KrakenAPIError

D = Decimal


def add(ex, account="demo", **params):
    return ex.handle_private(account, "AddOrder", params)["txid"][0]


def test_maker_fill_fee_and_balances(ex):
    price = ex.mid("XBTEUR") - 100
    add(ex, pair="XBTEUR", type="buy", ordertype="limit", price=str(price), volume="0.01")
    ex.set_price("XBTEUR", price - 1)
    (t,) = ex.trades()
    cost = (price * D("0.01")).quantize(D("0.0001"))
    fee = (cost * D("0.0025")).quantize(D("0.0001"))
    assert (D(t["cost"]), D(t["fee"]), t["maker"]) == (cost, fee, True)
    bal = ex.balances()
    assert bal["ZEUR"] == D("10000") - cost - fee
    assert bal["XXBT"] == D("1.01")


def test_taker_fill_fee(ex):
    ask = ex.mid("XBTEUR") + D("0.1")
    add(ex, pair="XBTEUR", type="buy", ordertype="market", volume="0.01")
    (t,) = ex.trades()
    cost = (ask * D("0.01")).quantize(D("0.0001"))
    assert D(t["price"]) == ask and t["maker"] is False
    assert D(t["fee"]) == (cost * D("0.004")).quantize(D("0.0001"))


def test_sell_fee_in_quote_by_default_and_in_base_with_fcib(ex):
    bid = ex.mid("XBTEUR") - D("0.1")
    add(ex, pair="XBTEUR", type="sell", ordertype="market", volume="0.1")
    t = ex.trades()[0]
    cost = (bid * D("0.1")).quantize(D("0.0001"))
    fee = (cost * D("0.004")).quantize(D("0.0001"))
    assert ex.balances()["ZEUR"] == D("10000") + cost - fee
    assert ex.balances()["XXBT"] == D("0.9")
    add(ex, pair="XBTEUR", type="sell", ordertype="market", volume="0.1", oflags="fcib")
    t = ex.trades()[-1]
    assert D(t["fee"]) == D("0.0004")  # 0.4 % of 0.1 XBT, charged in XBT
    assert ex.balances()["XXBT"] == D("0.8") - D("0.0004")
    order = ex.handle_private("demo", "QueryOrders", {"txid": t["ordertxid"]})[t["ordertxid"]]
    assert order["oflags"] == "fcib"


def test_ledger_has_two_entries_per_fill_with_the_fee_on_the_fee_currency(ex):
    add(ex, pair="XBTEUR", type="buy", ordertype="market", volume="0.01")
    (t,) = ex.trades()
    ledger = ex.handle_private("demo", "Ledgers", {})
    assert ledger["count"] == 2
    entries = {e["asset"]: e for e in ledger["ledger"].values()}
    assert entries["ZEUR"]["refid"] == entries["XXBT"]["refid"] == t["txid"]
    assert D(entries["ZEUR"]["amount"]) == -D(t["cost"]) and D(entries["ZEUR"]["fee"]) == D(t["fee"])
    assert D(entries["XXBT"]["amount"]) == D("0.01") and D(entries["XXBT"]["fee"]) == 0
    assert D(entries["ZEUR"]["balance"]) == ex.balances()["ZEUR"]
    assert D(entries["XXBT"]["balance"]) == ex.balances()["XXBT"]
    only_eur = ex.handle_private("demo", "Ledgers", {"asset": "EUR"})
    assert only_eur["count"] == 1
    ids = ",".join(ledger["ledger"])
    assert set(ex.handle_private("demo", "QueryLedgers", {"id": ids})) == set(ledger["ledger"])


def test_buy_holds_price_times_volume_plus_fee(ex):
    add(ex, pair="XBTEUR", type="buy", ordertype="limit", price="50000", volume="0.01")
    assert ex.holds() == {"ZEUR": D("502.0000")}
    bal = ex.handle_private("demo", "BalanceEx", {})
    assert bal["ZEUR"] == {"balance": "10000.0000", "hold_trade": "502.0000"}


def test_sell_holds_base(ex):
    add(ex, pair="XBTEUR", type="sell", ordertype="limit", price="90000", volume="0.5")
    assert ex.holds() == {"XXBT": D("0.5")}


def test_holds_count_against_new_orders(ex):
    add(ex, pair="XBTEUR", type="buy", ordertype="limit", price="50000", volume="0.19")  # holds 9538
    with pytest.raises(KrakenAPIError) as err:
        add(ex, pair="XBTEUR", type="buy", ordertype="limit", price="50000", volume="0.01")  # needs 502
    assert err.value.code == "EOrder:Insufficient funds"
    add(ex, pair="XBTEUR", type="buy", ordertype="limit", price="40000", volume="0.01")  # needs 401.6


def test_insufficient_funds_for_a_sell_and_for_a_market_buy(ex):
    add(ex, pair="XBTEUR", type="sell", ordertype="limit", price="90000", volume="0.6")
    with pytest.raises(KrakenAPIError) as err:
        add(ex, pair="XBTEUR", type="sell", ordertype="limit", price="90000", volume="0.5")
    assert err.value.code == "EOrder:Insufficient funds"
    with pytest.raises(KrakenAPIError) as err:
        add(ex, pair="XBTEUR", type="buy", ordertype="market", volume="0.2")
    assert err.value.code == "EOrder:Insufficient funds"


def test_fee_headroom_is_required(ex):
    ex.create_account("tight", {"ZEUR": "500"})
    with pytest.raises(KrakenAPIError) as err:
        add(ex, "tight", pair="XBTEUR", type="buy", ordertype="limit", price="50000", volume="0.01")
    assert err.value.code == "EOrder:Insufficient funds"
    ex.create_account("enough", {"ZEUR": "502"})
    add(ex, "enough", pair="XBTEUR", type="buy", ordertype="limit", price="50000", volume="0.01")


def test_cancel_releases_the_hold(ex):
    txid = add(ex, pair="XBTEUR", type="buy", ordertype="limit", price="50000", volume="0.01")
    ex.handle_private("demo", "CancelOrder", {"txid": txid})
    assert ex.holds() == {}


def test_balance_and_trade_balance(ex):
    assert ex.handle_private("demo", "Balance", {}) == {
        "XXBT": "1.0000000000", "XETH": "10.0000000000", "ZEUR": "10000.0000", "ZUSD": "10000.0000"}
    tb = ex.handle_private("demo", "TradeBalance", {"asset": "ZEUR"})
    expected = D("10000") + ex.mid("XBTEUR") + 10 * ex.mid("ETHEUR") + D("10000") * ex.mid("XBTEUR") / ex.mid("XBTUSD")
    assert D(tb["eb"]) == expected.quantize(D("0.0001"))


def test_trade_volume_and_fee_tier(ex):
    tv = ex.handle_private("demo", "TradeVolume", {"pair": "XBTEUR"})
    assert tv["fees"]["XXBTZEUR"]["fee"] == "0.4000" and tv["fees_maker"]["XXBTZEUR"]["fee"] == "0.2500"
    assert tv["volume"] == "0.0000" and tv["currency"] == "ZUSD"
    ex.create_account("whale", {"ZEUR": "1000000", "XXBT": "10"})
    add(ex, "whale", pair="XBTEUR", type="sell", ordertype="market", volume="0.2")  # about 12,000 of volume
    tv = ex.handle_private("whale", "TradeVolume", {"pair": "XBTEUR"})
    assert tv["fees"]["XXBTZEUR"]["fee"] == "0.3500"


def test_demo_account_and_custom_balances(clock):
    from krakensim.exchange import Exchange
    ex = Exchange(seed=1, clock=clock, balances={"ZEUR": "5", "XBT": "2"})
    assert ex.balances()["ZEUR"] == D("5") and ex.balances()["XXBT"] == D("2")
    assert ex.balances()["ZUSD"] == 0
