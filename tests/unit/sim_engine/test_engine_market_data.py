"""Public market data: Kraken's shapes, valid synthetic history, pair spellings."""
from __future__ import annotations

from decimal import Decimal

import pytest

from krakensim.errors import KrakenAPIError


def test_time_and_status_follow_the_clock(ex, clock):
    clock.advance(42)
    assert ex.handle_public("Time", {})["unixtime"] == int(clock.time())
    status = ex.handle_public("SystemStatus", {})
    assert status == {"status": "online", "timestamp": "2026-01-01T00:00:42Z"}


def test_assets_are_enabled_and_keyed_by_id(ex):
    assets = ex.handle_public("Assets", {})
    assert set(assets) == {"XXBT", "XETH", "ZEUR", "ZUSD"}
    assert assets["XXBT"]["altname"] == "XBT" and assets["XXBT"]["status"] == "enabled"
    assert list(ex.handle_public("Assets", {"asset": "XBT,EUR"})) == ["XXBT", "ZEUR"]


def test_asset_pairs_carry_the_trading_rules(ex):
    pair = ex.handle_public("AssetPairs", {"pair": "XBTEUR"})["XXBTZEUR"]
    assert pair["ordermin"] == "0.00005" and pair["costmin"] == "0.5" and pair["tick_size"] == "0.1"
    assert (pair["pair_decimals"], pair["lot_decimals"], pair["cost_decimals"]) == (1, 8, 5)
    assert pair["fees"][0] == [0, 0.4] and pair["fees_maker"][0] == [0, 0.25]
    assert pair["status"] == "online" and pair["wsname"] == "XBT/EUR" and pair["base"] == "XXBT"
    fees = ex.handle_public("AssetPairs", {"pair": "XBTEUR", "info": "fees"})["XXBTZEUR"]
    assert set(fees) == {"fees", "fees_maker", "fee_volume_currency"}


@pytest.mark.parametrize("name", ["XXBTZEUR", "XBTEUR", "XBT/EUR", "BTC/EUR", "xbteur"])
def test_every_spelling_of_a_pair_answers_under_its_id(ex, name):
    assert list(ex.handle_public("Ticker", {"pair": name})) == ["XXBTZEUR"]


def test_unknown_pair_is_refused(ex):
    with pytest.raises(KrakenAPIError) as err:
        ex.handle_public("Ticker", {"pair": "DOGEFOO"})
    assert err.value.code == "EQuery:Unknown asset pair"


def test_ticker_layout(ex):
    t = ex.handle_public("Ticker", {"pair": "XBTEUR"})["XXBTZEUR"]
    assert Decimal(t["a"][0]) > Decimal(t["b"][0])
    assert all(isinstance(n, int) for n in t["t"])
    assert len(t["c"]) == 2 and isinstance(t["o"], str)
    assert Decimal(t["l"][1]) <= Decimal(t["c"][0]) <= Decimal(t["h"][1])


def test_ohlc_rows_are_valid_and_capped(ex, clock):
    clock.advance(3600 * 5)
    result = ex.handle_public("OHLC", {"pair": "XBTEUR", "interval": "1"})
    rows = result["XXBTZEUR"]
    assert len(rows) == 720
    times = [r[0] for r in rows]
    assert times == sorted(times) and len(set(times)) == 720
    assert all(b - a == 60 for a, b in zip(times, times[1:]))
    for r in rows:
        o, h, low, c = (Decimal(x) for x in r[1:5])
        assert h >= max(o, c) and low <= min(o, c)
        assert isinstance(r[7], int)
    assert result["last"] == rows[-2][0]  # the last committed candle; the last row is forming
    assert rows[-1][0] <= clock.time() < rows[-1][0] + 60


@pytest.mark.parametrize("interval", [5, 60, 1440, 21600])
def test_ohlc_every_interval(ex, interval):
    rows = ex.handle_public("OHLC", {"pair": "ETHEUR", "interval": str(interval)})["XETHZEUR"]
    assert rows and all(b[0] - a[0] == interval * 60 for a, b in zip(rows, rows[1:]))


def test_ohlc_since_in_seconds_and_nanoseconds(ex, clock):
    clock.advance(600)
    since = int(clock.time()) - 300
    rows = ex.handle_public("OHLC", {"pair": "XBTEUR", "since": str(since)})["XXBTZEUR"]
    assert rows[0][0] > since and len(rows) == 5
    rows_ns = ex.handle_public("OHLC", {"pair": "XBTEUR", "since": f"{since}000000000"})["XXBTZEUR"]
    assert rows_ns == rows


def test_ohlc_reflects_a_price_move(ex, clock):
    ex.set_price("XBTEUR", Decimal("61000"))
    last_row = ex.handle_public("OHLC", {"pair": "XBTEUR"})["XXBTZEUR"][-1]
    assert last_row[4] == "61000.0" and Decimal(last_row[2]) >= Decimal("61000")


def test_ohlc_bad_interval(ex):
    with pytest.raises(KrakenAPIError) as err:
        ex.handle_public("OHLC", {"pair": "XBTEUR", "interval": "7"})
    assert err.value.code == "EGeneral:Invalid arguments:interval"


def test_depth_is_sorted_and_not_crossed(ex):
    book = ex.handle_public("Depth", {"pair": "XBTEUR", "count": "25"})["XXBTZEUR"]
    asks = [Decimal(a[0]) for a in book["asks"]]
    bids = [Decimal(b[0]) for b in book["bids"]]
    assert len(asks) == len(bids) == 25
    assert asks == sorted(asks) and bids == sorted(bids, reverse=True)
    assert bids[0] < asks[0]
    assert all(isinstance(row[2], int) for row in book["asks"])


def test_depth_shows_a_resting_user_order(ex):
    ex.handle_private("demo", "AddOrder", {"pair": "XBTEUR", "type": "buy", "ordertype": "limit",
                                          "price": str(ex.mid("XBTEUR")), "volume": "0.01234"})
    bids = ex.handle_public("Depth", {"pair": "XBTEUR", "count": "3"})["XXBTZEUR"]["bids"]
    assert bids[0][1] == "0.01234"  # 3 decimals live ("2.059"), more only where a level needs them


def test_trades_since_and_last_cursor(ex):
    first = ex.handle_public("Trades", {"pair": "XBTEUR", "count": "5"})
    rows = first["XXBTZEUR"]
    assert len(rows) == 5 and all(len(r) == 7 for r in rows)
    assert [r[2] for r in rows] == sorted(r[2] for r in rows)
    assert isinstance(first["last"], str) and len(first["last"]) == 19
    ex.set_price("XBTEUR", Decimal("62000"))
    newer = ex.handle_public("Trades", {"pair": "XBTEUR", "since": first["last"]})["XXBTZEUR"]
    assert [r[0] for r in newer] == ["62000.00000"]
    by_seconds = ex.handle_public("Trades", {"pair": "XBTEUR", "since": str(int(rows[-1][2]))})["XXBTZEUR"]
    assert by_seconds[-1][0] == "62000.00000"


def test_spread_rows(ex):
    result = ex.handle_public("Spread", {"pair": "XBTEUR"})
    rows = result["XXBTZEUR"]
    assert rows and all(Decimal(r[1]) < Decimal(r[2]) for r in rows)
    assert result["last"] == rows[-1][0]


def test_unknown_public_method(ex):
    with pytest.raises(KrakenAPIError) as err:
        ex.handle_public("Nope", {})
    assert err.value.code == "EGeneral:Unknown method"


@pytest.mark.parametrize("method", ["OHLC", "Trades", "Spread"])
@pytest.mark.parametrize("since", ["1e999", "1e20", "-1", "soon"])
def test_an_impossible_since_is_invalid_arguments_not_an_internal_error(ex, method, since):
    with pytest.raises(KrakenAPIError) as refused:
        ex.handle_public(method, {"pair": "XBTEUR", "since": since})
    assert refused.value.code == "EGeneral:Invalid arguments:since"


def test_candle_history_does_not_depend_on_when_it_is_first_asked(monkeypatch):
    from krakensim import market
    from krakensim.clock import ManualClock
    from krakensim.exchange import Exchange

    monkeypatch.setattr(market, "_MAX_TAPE", 40)  # trim the public tape early, as a long run does
    asked_early = Exchange(seed=3, clock=ManualClock())
    early = asked_early.handle_public("OHLC", {"pair": "XBTEUR", "since": "0"})["XXBTZEUR"]
    asked_late = Exchange(seed=3, clock=ManualClock())
    for _ in range(30):  # every market order prints on the tape
        asked_late.handle_private("demo", "AddOrder", {"pair": "XBTEUR", "type": "buy", "ordertype": "market",
                                                        "volume": "0.001"})
    late = asked_late.handle_public("OHLC", {"pair": "XBTEUR", "since": "0"})["XXBTZEUR"]
    assert late[:600] == early[:600]


def test_ticker_statistics_follow_a_trade_printed_within_the_same_second(ex):
    """The 24 h figures are memoised per second and last trade: a new trade must show at once."""
    before = ex.handle_public("Ticker", {"pair": "XBTEUR"})["XXBTZEUR"]
    ex.handle_private("demo", "AddOrder", {"pair": "XBTEUR", "type": "buy", "ordertype": "market",
                                           "volume": "0.01"})
    after = ex.handle_public("Ticker", {"pair": "XBTEUR"})["XXBTZEUR"]
    assert after["t"][1] > before["t"][1]
    assert Decimal(after["v"][1]) > Decimal(before["v"][1])
