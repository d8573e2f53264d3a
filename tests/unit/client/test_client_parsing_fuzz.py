"""Whatever JSON an exchange sends, parsers either return typed values or raise MalformedResponse."""
from __future__ import annotations

from hypothesis import HealthCheck, given, settings, strategies as st

from krakenbot.client import parsing
from krakenbot.errors import MalformedResponse

scalars = st.one_of(st.none(), st.booleans(), st.integers(-10**20, 10**20), st.floats(allow_nan=True),
                    st.sampled_from(["", "NaN", "-1", "0", "1.5", "1e400", "abc", "b", "s", "m", "l", "open", "buy",
                                     "1718010901", "1718010901987612345"]))
json_values = st.recursive(scalars, lambda children: st.one_of(
    st.lists(children, max_size=9), st.dictionaries(st.sampled_from(list("abcdeflhoptv") + ["last", "XXBTZEUR"]),
                                                    children, max_size=6)), max_leaves=8)
results = st.dictionaries(st.sampled_from(["XXBTZEUR", "last", "descr", "txid", "count", "unixtime", "status",
                                           "timestamp", "open", "closed", "trades", "currency", "volume"]),
                          json_values, max_size=5)

PARSERS = {
    "ticker": lambda r: parsing.parse_ticker(r, "XBTEUR"),
    "ohlc": lambda r: parsing.parse_ohlc(r, "XBTEUR", 1),
    "depth": lambda r: parsing.parse_depth(r, "XBTEUR"),
    "trades": lambda r: parsing.parse_trades(r, "XBTEUR"),
    "spread": lambda r: parsing.parse_spread(r, "XBTEUR"),
    "pairs": parsing.parse_asset_pairs,
    "assets": parsing.parse_assets,
    "time": parsing.parse_server_time,
    "status": parsing.parse_system_status,
    "balance": parsing.parse_balance,
    "balance_ex": parsing.parse_balance_ex,
    "trade_balance": parsing.parse_trade_balance,
    "orders": lambda r: parsing.parse_orders(r, "QueryOrders"),
    "trades_map": lambda r: parsing.parse_trades_map(r, "QueryTrades"),
    "ledger": lambda r: parsing.parse_ledger(r, "Ledgers"),
    "trade_volume": parsing.parse_trade_volume,
    "add_order": lambda r: parsing.parse_add_order(r, False),
    "count": lambda r: parsing.parse_count(r, "CancelAll"),
}


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(name=st.sampled_from(sorted(PARSERS)), result=results)
def test_parsers_never_crash(name, result):
    try:
        PARSERS[name](result)
    except MalformedResponse:
        return  # the one allowed failure: any other exception fails the test
