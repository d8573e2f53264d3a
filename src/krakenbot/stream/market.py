"""The public market stream: one connection for all the bot's pairs, ticker and book for each.

A book is handed out only while it is trusted: its last checksum verified and the connection
alive. It stops being trusted at once on a checksum mismatch, on an update the book cannot
place (no snapshot since the subscription: a gap), when the connection goes silent past
``silence_s`` or drops. Kraken's public channels carry no sequence numbers, so a skipped or
altered update shows up as a checksum mismatch on that very message. An untrusted book is
rebuilt from a fresh snapshot: unsubscribe and subscribe that symbol again (updates in
between are ignored), or, after a drop or silence, reconnect and subscribe everything again.
A symbol whose snapshots keep failing is left untrusted (REST serves it) until the next
connection, instead of resubscribing in a loop.

Ages are on the bot's clock: ``book_age`` is the time since the connection last proved
alive (a heartbeat or any message) while the book was trusted; the staleness halt compares
it with the same limit as a REST price.
"""
from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Iterable

from krakenbot.models import OrderBook, PairInfo
from krakenbot.stream.book import LocalBook
from krakenbot.stream.connection import StreamConnection

log = logging.getLogger("krakenbot.stream")

PUBLIC_URL = "wss://ws.kraken.com/v2"
# v2 names assets as people do; AssetPairs' ``wsname`` still uses Kraken's legacy codes
_V2_ASSETS = {"XBT": "BTC", "XDG": "DOGE"}
MAX_FAILED_SNAPSHOTS = 5  # in a row, per symbol and connection, before giving up on it until a reconnect


def v2_symbol(wsname: str) -> str:
    """``XBT/EUR`` (AssetPairs ``wsname``) -> ``BTC/EUR`` (WebSocket v2)."""
    base, _, quote = wsname.partition("/")
    return f"{_V2_ASSETS.get(base, base)}/{_V2_ASSETS.get(quote, quote)}"


@dataclass(frozen=True)
class StreamPair:
    """A pair as the stream subscribes it (``symbol``) and as the bot names it (``pair``)."""

    symbol: str  # BTC/EUR
    pair: str  # XBTEUR: what ``OrderBook.pair`` says, and another name to look the pair up by
    price_decimals: int
    qty_decimals: int

    @classmethod
    def from_info(cls, info: PairInfo) -> StreamPair:
        return cls(v2_symbol(info.wsname), info.altname, info.pair_decimals, info.lot_decimals)


@dataclass(frozen=True)
class LiveTicker:
    symbol: str
    bid: Decimal
    ask: Decimal
    last: Decimal
    received_at: float  # clock.monotonic()

    @property
    def mid(self) -> Decimal:
        return (self.bid + self.ask) / 2


class MarketStream(StreamConnection):
    name = "market stream"

    def __init__(self, url: str, pairs: Iterable[StreamPair], *, depth: int = 10, silence_s: float = 5.0,
                 **options: Any) -> None:
        super().__init__(url, silence_s=silence_s, **options)
        self.pairs = {p.symbol: p for p in pairs}
        if not self.pairs:
            raise ValueError("a market stream needs at least one pair")
        self.depth = depth
        self._names = {**{p.pair.upper(): p.symbol for p in self.pairs.values()},
                       **{s.upper(): s for s in self.pairs}}
        self._books = {s: LocalBook(s, p.price_decimals, p.qty_decimals, depth) for s, p in self.pairs.items()}
        self._tickers: dict[str, LiveTicker] = {}
        self._pending: set[str] = set()  # book subscribed, not yet acknowledged: its leftover updates are ignored
        self._failed: dict[str, int] = {}  # symbol -> snapshots in a row that did not verify
        self._lock = threading.Lock()  # books and tickers: the stream's thread writes, the bot reads
        self.resubscribes = 0
        self.mismatches = 0

    # -- what the bot reads ---------------------------------------------------------------------------
    def _symbol(self, name: str) -> str:
        symbol = self._names.get(name.upper())
        if symbol is None:
            raise KeyError(f"the market stream does not follow {name!r}")
        return symbol

    def book(self, pair: str, count: int | None = None) -> OrderBook | None:
        """The pair's book while it is trusted (else None: use REST or do not trade)."""
        symbol = self._symbol(pair)
        with self._lock:
            book = self._books[symbol]
            if not (self.connected and book.trusted):
                return None
            return book.order_book(self.pairs[symbol].pair, count)

    def book_age(self, pair: str) -> float | None:
        """Seconds (bot's clock) since the trusted book was last known current; None: not trusted."""
        symbol = self._symbol(pair)
        with self._lock:
            if not (self.connected and self._books[symbol].trusted):
                return None
            return max(0.0, self.clock.monotonic() - self._last_seen)

    def book_problem(self, pair: str) -> str | None:
        """Why the pair's book is not trusted (None: it is)."""
        symbol = self._symbol(pair)
        with self._lock:
            book = self._books[symbol]
            if book.trusted and not self.connected:
                return f"not connected ({self.last_problem or 'connecting'})"
            return None if book.trusted else book.problem

    def checksum(self, symbol: str) -> int | None:
        """The trusted book's last verified checksum (its best 10 levels a side), else None."""
        with self._lock:
            book = self._books[symbol]
            return book.checksum if self.connected and book.trusted else None

    def ticker(self, pair: str) -> LiveTicker | None:
        symbol = self._symbol(pair)
        with self._lock:
            return self._tickers.get(symbol) if self.connected else None

    # -- the connection ---------------------------------------------------------------------------------
    def _on_open(self) -> None:
        symbols = list(self.pairs)
        with self._lock:
            self._pending = set(symbols)
            self._failed.clear()
        self._send("subscribe", {"channel": "ticker", "symbol": symbols})
        self._send("subscribe", {"channel": "book", "symbol": symbols, "depth": self.depth})

    def _on_down(self, problem: str) -> None:
        with self._lock:
            for book in self._books.values():
                if book.trusted:
                    book.invalidate(f"stream down: {problem}")
            self._tickers.clear()
            self._pending.clear()

    def _on_message(self, message: dict[str, Any]) -> None:
        channel = message.get("channel")
        if channel == "book":
            self._book_message(message)
        elif channel == "ticker":
            self._ticker_message(message)
        elif channel == "status":
            self._status(message)
        elif message.get("method") == "subscribe" and message.get("success") is True:
            self._acknowledged(message)
        elif message.get("method") == "subscribe" and message.get("success") is False \
                and message.get("error") != "Subscription Not Found":  # (sic: Kraken's answer to an unsubscribe)
            self._refused(message)

    def _book_message(self, message: dict[str, Any]) -> None:
        snapshot = message.get("type") == "snapshot"
        resubscribe = []
        with self._lock:
            for entry in message.get("data") or ():
                symbol = entry.get("symbol") if isinstance(entry, dict) else None
                book = self._books.get(symbol)  # type: ignore[arg-type]
                if book is None:
                    continue
                if snapshot:
                    self._pending.discard(symbol)
                elif not book.trusted:
                    # After the acknowledgement the snapshot comes first; an update instead is a gap.
                    # Before it, updates are the old subscription's last ones: ignored.
                    if symbol not in self._pending and self._failed.get(symbol, 0) < MAX_FAILED_SNAPSHOTS:
                        book.invalidate("an update with no snapshot before it (a gap)")
                        resubscribe.append(symbol)
                    continue
                if book.apply(entry, snapshot):
                    if book.messages > 1:
                        self._failed.pop(symbol, None)
                    if len(self._failed) == 0 and not self._pending:
                        self._worked()
                    continue
                self.mismatches += 1
                log.warning("%s: %s book untrusted: %s", self.name, symbol, book.problem)
                failed = self._failed[symbol] = self._failed.get(symbol, 0) + 1
                if failed >= MAX_FAILED_SNAPSHOTS:
                    log.error("%s: %s: %d fresh books in a row failed; left to REST until the next connection",
                              self.name, symbol, failed)
                    continue
                resubscribe.append(symbol)
            self._pending.update(resubscribe)
        for symbol in resubscribe:
            self._resubscribe(symbol)

    def _resubscribe(self, symbol: str) -> None:
        """A fresh snapshot for one symbol; its updates until then are ignored (the book is untrusted)."""
        self.resubscribes += 1
        params = {"channel": "book", "symbol": [symbol], "depth": self.depth}
        self._send("unsubscribe", params)
        self._send("subscribe", params)

    def _ticker_message(self, message: dict[str, Any]) -> None:
        now = self.clock.monotonic()
        with self._lock:
            for entry in message.get("data") or ():
                try:
                    symbol = entry["symbol"]
                    ticker = LiveTicker(symbol, _decimal(entry["bid"]), _decimal(entry["ask"]),
                                        _decimal(entry["last"]), now)
                except (KeyError, TypeError, ValueError) as exc:
                    log.warning("%s: ticker entry ignored: %s", self.name, exc)
                    continue
                if symbol in self.pairs:
                    self._tickers[symbol] = ticker

    def _acknowledged(self, message: dict[str, Any]) -> None:
        result = message.get("result")
        if isinstance(result, dict) and result.get("channel") == "book":
            with self._lock:
                self._pending.discard(result.get("symbol"))  # type: ignore[arg-type]

    def _refused(self, message: dict[str, Any]) -> None:
        error = str(message.get("error", "refused"))
        symbol = message.get("symbol") or (message.get("result") or {}).get("symbol")
        log.error("%s: %s refused%s: %s", self.name, message.get("method"), f" for {symbol}" if symbol else "", error)
        with self._lock:
            targets = [symbol] if symbol in self._books else list(self._books)
            for name in targets:
                if not self._books[name].trusted and name in self._pending:
                    self._books[name].invalidate(f"subscription refused: {error}")


def _decimal(value: Any) -> Decimal:
    if isinstance(value, Decimal):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return Decimal(value)
    raise ValueError(f"{value!r} is not a decimal number")
