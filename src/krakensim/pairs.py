"""The assets and pairs the simulator lists, with Kraken's ids, names and trading rules.

Kraken-specific by nature (legacy X/Z asset ids, altnames, wsnames, tick sizes, fee
tiers), so hand-written here rather than taken from a library. Values follow
../shared/kraken/endpoints.md; XETHZUSD deliberately has a tick size (0.05) coarser
than its price decimals (2) so "EOrder:Tick size check failed" is reachable in tests.
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from krakensim.errors import UNKNOWN_ASSET, UNKNOWN_ASSET_PAIR, KrakenAPIError

# Kraken's spot schedule: [30-day USD volume, percent]. Taker first, maker second.
TAKER_TIERS: tuple[tuple[int, Decimal], ...] = (
    (0, Decimal("0.40")), (10_000, Decimal("0.35")), (50_000, Decimal("0.24")),
    (100_000, Decimal("0.22")), (250_000, Decimal("0.20")), (500_000, Decimal("0.18")),
    (1_000_000, Decimal("0.16")), (2_500_000, Decimal("0.14")), (5_000_000, Decimal("0.12")),
    (10_000_000, Decimal("0.10")),
)
MAKER_TIERS: tuple[tuple[int, Decimal], ...] = (
    (0, Decimal("0.25")), (10_000, Decimal("0.20")), (50_000, Decimal("0.14")),
    (100_000, Decimal("0.12")), (250_000, Decimal("0.10")), (500_000, Decimal("0.08")),
    (1_000_000, Decimal("0.06")), (2_500_000, Decimal("0.04")), (5_000_000, Decimal("0.02")),
    (10_000_000, Decimal("0.00")),
)


# Kraken prints the prices of Ticker, Depth, Trades, Spread and a trade's price with 5 decimals on
# fiat-quoted pairs ("30300.10000"), whatever pair_decimals says, and Depth volumes with 3 ("2.059"):
# every live capture in ../shared/kraken/recorded-responses.json. Orders and OHLC use pair_decimals.
# No capture shows a level smaller than 0.001: such a level (a thin book a scenario asks for) keeps
# its own decimals rather than showing as an empty "0.000".
WIRE_PRICE_DECIMALS = 5
DEPTH_VOLUME_DECIMALS = 3


@dataclass(frozen=True, slots=True)
class AssetSpec:
    id: str
    altname: str
    decimals: int
    display_decimals: int

    @property
    def quantum(self) -> Decimal:
        return Decimal(1).scaleb(-self.decimals)


@dataclass(frozen=True, slots=True)
class PairSpec:
    id: str
    altname: str
    wsname: str
    base: str
    quote: str
    pair_decimals: int
    lot_decimals: int
    cost_decimals: int
    tick_size: Decimal
    ordermin: Decimal
    costmin: Decimal
    start_price: Decimal
    level_volume: Decimal  # typical synthetic book level size, in base units

    @property
    def price_quantum(self) -> Decimal:
        return Decimal(1).scaleb(-self.pair_decimals)

    @property
    def lot_quantum(self) -> Decimal:
        return Decimal(1).scaleb(-self.lot_decimals)


ASSETS: dict[str, AssetSpec] = {
    a.id: a
    for a in (
        AssetSpec("XXBT", "XBT", 10, 5),
        AssetSpec("XETH", "ETH", 10, 5),
        AssetSpec("ZEUR", "EUR", 4, 2),
        AssetSpec("ZUSD", "USD", 4, 2),
    )
}

PAIRS: dict[str, PairSpec] = {
    p.id: p
    for p in (
        PairSpec("XXBTZEUR", "XBTEUR", "XBT/EUR", "XXBT", "ZEUR", 1, 8, 5, Decimal("0.1"),
                 Decimal("0.00005"), Decimal("0.5"), Decimal("60000"), Decimal("0.5")),
        PairSpec("XXBTZUSD", "XBTUSD", "XBT/USD", "XXBT", "ZUSD", 1, 8, 5, Decimal("0.1"),
                 Decimal("0.00005"), Decimal("0.5"), Decimal("65000"), Decimal("0.5")),
        PairSpec("XETHZEUR", "ETHEUR", "ETH/EUR", "XETH", "ZEUR", 2, 8, 5, Decimal("0.01"),
                 Decimal("0.002"), Decimal("0.5"), Decimal("3000"), Decimal("5")),
        PairSpec("XETHZUSD", "ETHUSD", "ETH/USD", "XETH", "ZUSD", 2, 8, 5, Decimal("0.05"),
                 Decimal("0.002"), Decimal("0.5"), Decimal("3250"), Decimal("5")),
    )
}


def _aliases() -> dict[str, str]:
    """Every accepted spelling of a pair, upper-cased: id, altname, wsname, BTC for XBT."""
    out: dict[str, str] = {}
    for p in PAIRS.values():
        base, quote = p.wsname.split("/")
        for name in (p.id, p.altname, p.wsname, base + quote):
            out[name.upper()] = p.id
            out[name.upper().replace("XBT", "BTC")] = p.id
        out[f"{base}/{quote}".replace("XBT", "BTC")] = p.id
    return out


_PAIR_ALIASES = _aliases()
_ASSET_ALIASES = {**{a.id: a.id for a in ASSETS.values()}, **{a.altname: a.id for a in ASSETS.values()},
                  "BTC": "XXBT"}


def resolve_pair(name: str) -> PairSpec:
    """A pair by id, altname or wsname (``XXBTZEUR``, ``XBTEUR``, ``XBT/EUR``, ``BTC/EUR``)."""
    pid = _PAIR_ALIASES.get(name.strip().upper()) if isinstance(name, str) else None
    if pid is None:
        raise KrakenAPIError(UNKNOWN_ASSET_PAIR)
    return PAIRS[pid]


def resolve_pairs(names: str | None) -> list[PairSpec]:
    """A comma list of pairs, or all pairs when omitted."""
    if names is None or names == "":
        return list(PAIRS.values())
    return [resolve_pair(n) for n in names.split(",")]


def resolve_asset(name: str) -> AssetSpec:
    aid = _ASSET_ALIASES.get(name.strip().upper()) if isinstance(name, str) else None
    if aid is None:
        raise KrakenAPIError(UNKNOWN_ASSET)
    return ASSETS[aid]


def fee_percent(tiers: tuple[tuple[int, Decimal], ...], volume: Decimal) -> Decimal:
    """The tier's percent for a 30-day volume (highest threshold not above it)."""
    pct = tiers[0][1]
    for threshold, p in tiers:
        if volume >= threshold:
            pct = p
    return pct


def next_tier(tiers: tuple[tuple[int, Decimal], ...], volume: Decimal) -> tuple[Decimal | None, int | None]:
    for threshold, p in tiers:
        if volume < threshold:
            return p, threshold
    return None, None
