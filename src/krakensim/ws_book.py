"""Kraken's WebSocket v2 book as a subscriber holds it, and its CRC32 checksum.

Levels are kept as the exact texts Kraken writes (the pair's full precision: ``0.10000000``),
so the JSON numbers on the wire and the checksum input are the same strings and no float
ever touches them (../shared/kraken/websocket-v2.md §4). The server keeps one ``Book`` per
subscription as its record of what that subscriber holds: an update is the difference
between it and the engine's book, and applying the update makes them equal again.
"""
from __future__ import annotations

import functools
import zlib
from decimal import Decimal
from typing import Iterable

CHECKSUM_LEVELS = 10
DEPTHS = (10, 25, 100, 500, 1000)


def level_text(value: Decimal, places: int) -> str:
    """A price or quantity at the pair's full precision, as Kraken writes it."""
    return f"{value:.{places}f}"


@functools.lru_cache(maxsize=4096)
def _digits(text: str) -> str:
    """A level text as the checksum reads it; kept, since a streamed book sends the same texts again and again."""
    return text.replace(".", "").lstrip("0")


def checksum(asks: Iterable[tuple[str, str]], bids: Iterable[tuple[str, str]]) -> int:
    """CRC32 of the best 10 asks (low to high) then the best 10 bids (high to low), each level
    its price then its quantity without the point and leading zeros; rows already sorted."""
    parts = [_digits(p) + _digits(q) for p, q in list(asks)[:CHECKSUM_LEVELS]]
    parts += [_digits(p) + _digits(q) for p, q in list(bids)[:CHECKSUM_LEVELS]]
    return zlib.crc32("".join(parts).encode()) & 0xFFFFFFFF


class Book:
    """One side pair of price text -> quantity text, truncated to ``depth`` after each message."""

    __slots__ = ("depth", "asks", "bids")

    def __init__(self, depth: int) -> None:
        self.depth = depth
        self.asks: dict[Decimal, tuple[str, str]] = {}
        self.bids: dict[Decimal, tuple[str, str]] = {}

    def apply(self, side: str, levels: Iterable[tuple[str, str]]) -> None:
        """Apply one message's levels of ``side`` in order; a quantity of zero removes the price."""
        book = self.asks if side == "asks" else self.bids
        for price, qty in levels:
            key = Decimal(price)
            if Decimal(qty) == 0:
                book.pop(key, None)
            else:
                book[key] = (price, qty)

    def truncate(self) -> None:
        """Levels pushed out past the depth go without a delete, as on Kraken."""
        for side, reverse in (("asks", False), ("bids", True)):
            book = self.asks if side == "asks" else self.bids
            if len(book) > self.depth:
                keep = sorted(book, reverse=reverse)[: self.depth]
                kept = {k: book[k] for k in keep}
                book.clear()
                book.update(kept)

    def rows(self, side: str) -> list[tuple[str, str]]:
        book = self.asks if side == "asks" else self.bids
        return [book[k] for k in sorted(book, reverse=side == "bids")]

    def checksum(self) -> int:
        return checksum(self.rows("asks"), self.rows("bids"))

    def diff(self, asks: list[tuple[Decimal, str, str]], bids: list[tuple[Decimal, str, str]]) \
            -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
        """The levels that turn this book into the given top of book (rows sorted best first,
        already cut to the depth), applied here too: deletes first, then inserts and changes."""
        out = []
        for side, rows in (("asks", asks), ("bids", bids)):
            book = self.asks if side == "asks" else self.bids
            wanted = {key: (p, q) for key, p, q in rows}
            gone = [key for key in book if key not in wanted]
            changes = [(book[key][0], _zero(book[key][1])) for key in gone]
            for key in gone:
                del book[key]
            for key, level in wanted.items():
                if book.get(key) != level:
                    changes.append(level)
                    book[key] = level
            out.append(changes)
        return out[0], out[1]


def _zero(qty: str) -> str:
    """A delete's quantity at the same precision as the level's (``0.00000000``)."""
    point = qty.find(".")
    return "0" if point < 0 else "0." + "0" * (len(qty) - point - 1)
