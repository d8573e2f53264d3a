"""One pair's order book kept from Kraken's WebSocket v2 ``book`` channel, its checksum
verified on every message.

Why integers inside: a level is held as (price, qty) scaled by the pair's precision
(``29430.2`` at 1 decimal is ``294302``). That is exact (the text is decoded as Decimal,
never float), it sorts and compares fast, and its decimal text *is* the checksum's text:
Kraken's checksum writes price and qty at the pair's full precision without the point and
the leading zeros, which is exactly the scaled integer. A level's checksum text is built
once, when the level changes, so verifying a message costs one join and one CRC32.

Fail closed: a checksum mismatch, an update before any snapshot or a malformed message
marks the book untrusted at once (``problem`` says why); it stays so, ignoring updates,
until the next snapshot verifies. Memory is bounded: each side is cut to the subscribed
depth after every message, as Kraken does (it sends no deletes for levels pushed out).
"""
from __future__ import annotations

import zlib
from bisect import bisect_left, insort
from decimal import Decimal
from typing import Any, Iterable, Mapping

from krakenbot.models import BookLevel, OrderBook

DEPTHS = (10, 25, 100, 500, 1000)  # what Kraken accepts for ``depth``
CHECKSUM_LEVELS = 10
_LIMIT = Decimal(10) ** 30  # no real price or qty scaled to its precision comes near; refused before int()


class BookError(ValueError):
    """A book message that cannot be applied (a missing field, a number the pair cannot hold)."""


def checksum_text(asks: Iterable[tuple[Decimal, Decimal]], bids: Iterable[tuple[Decimal, Decimal]],
                  price_decimals: int, qty_decimals: int) -> str:
    """Kraken's checksum input, written as websocket-v2.md §4 says: best 10 asks low to high,
    then best 10 bids high to low, each price then qty at full precision, no point, no leading
    zeros. The plain reading of the rule, kept as the reference the fast book is tested against."""
    def text(value: Decimal, places: int) -> str:
        return f"{value:.{places}f}".replace(".", "").lstrip("0")

    best_asks = sorted(asks)[:CHECKSUM_LEVELS]
    best_bids = sorted(bids, reverse=True)[:CHECKSUM_LEVELS]
    return "".join(text(p, price_decimals) + text(q, qty_decimals) for p, q in [*best_asks, *best_bids])


def checksum(asks: Iterable[tuple[Decimal, Decimal]], bids: Iterable[tuple[Decimal, Decimal]],
             price_decimals: int, qty_decimals: int) -> int:
    return zlib.crc32(checksum_text(asks, bids, price_decimals, qty_decimals).encode("ascii")) & 0xFFFFFFFF


def _scaled_slow(value: Any, places: int, name: str) -> int:
    """``value`` x 10^places as an exact int, for what ``json.loads`` did not make a Decimal
    (an integer written without a point); anything else is refused."""
    if type(value) is not int:
        raise BookError(f"{name} {value!r} is not a decimal number")
    return value * 10 ** places


class LocalBook:
    """The book of one symbol at one depth. Not thread-safe: the stream that feeds it locks."""

    __slots__ = ("symbol", "depth", "price_decimals", "qty_decimals", "trusted", "problem", "timestamp",
                 "checksum", "messages", "_ask_keys", "_asks", "_bid_keys", "_bids")

    def __init__(self, symbol: str, price_decimals: int, qty_decimals: int, depth: int = 10) -> None:
        if depth not in DEPTHS:
            raise ValueError(f"book depth {depth} is not one of Kraken's {DEPTHS}")
        if price_decimals < 0 or qty_decimals < 0:
            raise ValueError("precisions must be >= 0")
        self.symbol = symbol
        self.depth = depth
        self.price_decimals = price_decimals
        self.qty_decimals = qty_decimals
        self.trusted = False
        self.problem: str | None = "no snapshot yet"
        self.timestamp: str | None = None  # the exchange's time of the last message applied
        self.checksum: int | None = None  # the last verified checksum
        self.messages = 0  # messages applied and verified since the last snapshot (the snapshot counts)
        # per side: sort keys ascending (asks: price, bids: -price, so the best is first) and
        # key -> (qty, checksum text of the level)
        self._ask_keys: list[int] = []
        self._asks: dict[int, tuple[int, str]] = {}
        self._bid_keys: list[int] = []
        self._bids: dict[int, tuple[int, str]] = {}

    # -- messages -----------------------------------------------------------------------------
    def apply(self, entry: Mapping[str, Any], snapshot: bool) -> bool:
        """Apply one ``data`` entry of a book message; True when the book is trusted after it.
        An update to an untrusted book is ignored (it waits for a fresh snapshot)."""
        if snapshot:
            self._ask_keys.clear()
            self._asks.clear()
            self._bid_keys.clear()
            self._bids.clear()
            self.messages = 0
            self.trusted = True
            self.problem = None
        elif not self.trusted:
            return False
        try:
            self._side(self._ask_keys, self._asks, entry["asks"], 1)
            self._side(self._bid_keys, self._bids, entry["bids"], -1)
            expected = entry["checksum"]
        except BookError as exc:
            return self.invalidate(f"malformed book message: {exc}")
        except (KeyError, TypeError, AttributeError) as exc:
            return self.invalidate(f"malformed book message: {type(exc).__name__}: {exc}")
        depth = self.depth
        for keys, levels in ((self._ask_keys, self._asks), (self._bid_keys, self._bids)):
            if len(keys) > depth:
                for key in keys[depth:]:
                    del levels[key]
                del keys[depth:]
        asks, bids = self._asks, self._bids
        text = "".join([asks[k][1] for k in self._ask_keys[:CHECKSUM_LEVELS]]
                       + [bids[k][1] for k in self._bid_keys[:CHECKSUM_LEVELS]])
        mine = zlib.crc32(text.encode("ascii"))
        if mine != expected:
            return self.invalidate(f"checksum mismatch: computed {mine}, the exchange sent {expected}")
        self.checksum = mine
        self.timestamp = entry.get("timestamp", self.timestamp)
        self.messages += 1
        return True

    def _side(self, keys: list[int], levels: dict[int, tuple[int, str]], changes: Iterable[Mapping[str, Any]],
              sign: int) -> None:
        pp, qp = self.price_decimals, self.qty_decimals
        for change in changes:
            price, qty = change["price"], change["qty"]
            try:
                scaled = price.scaleb(pp)
            except AttributeError:
                scaled = _scaled_slow(price, pp, "price")
            try:
                scaled_qty = qty.scaleb(qp)
            except AttributeError:
                scaled_qty = _scaled_slow(qty, qp, "qty")
            if not (0 < scaled < _LIMIT and 0 <= scaled_qty < _LIMIT):
                raise BookError(f"level {price}/{qty}: price must be positive, qty not negative, both sane")
            p, q = int(scaled), int(scaled_qty)
            if p != scaled or q != scaled_qty:
                raise BookError(f"level {price}/{qty} has more decimals than the pair ({pp}/{qp})")
            key = p * sign
            if q:
                if key not in levels:
                    insort(keys, key)
                levels[key] = (q, f"{p}{q}")
            elif levels.pop(key, None) is not None:
                del keys[bisect_left(keys, key)]

    def invalidate(self, problem: str) -> bool:
        """Mark the book untrusted (it is not used again until a snapshot verifies); False."""
        self.trusted = False
        self.problem = problem
        return False

    # -- reading ----------------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self._ask_keys) + len(self._bid_keys)

    def asks(self, count: int | None = None) -> list[tuple[Decimal, Decimal]]:
        """(price, qty) from the best (lowest) ask up."""
        return self._levels(self._ask_keys[:count], self._asks, 1)

    def bids(self, count: int | None = None) -> list[tuple[Decimal, Decimal]]:
        """(price, qty) from the best (highest) bid down."""
        return self._levels(self._bid_keys[:count], self._bids, -1)

    def _levels(self, keys: list[int], levels: dict[int, tuple[int, str]], sign: int) -> list[tuple[Decimal, Decimal]]:
        pp, qp = -self.price_decimals, -self.qty_decimals
        return [(Decimal(key * sign).scaleb(pp), Decimal(levels[key][0]).scaleb(qp)) for key in keys]

    def order_book(self, pair: str, count: int | None = None) -> OrderBook:
        """The book as the risk checks read it (``OrderBook``, Decimal levels)."""
        return OrderBook(pair,
                         tuple(BookLevel(p, q, 0) for p, q in self.asks(count)),
                         tuple(BookLevel(p, q, 0) for p, q in self.bids(count)))
