"""Book throughput with Kraken's checksum verified on every message: the bot's market stream
against ccxt pro's kraken order book handling, on the same recorded messages; and the book's
memory at depth 1000.

Both sides start from the frame's text, as it comes off the socket, and do what their client
does with it: ours ``decode`` (JSON with Decimal numbers) then ``MarketStream._on_message``
(dispatch, lock, apply, cut to depth, CRC32 compare: the stream's own per-message path, no
socket); ccxt ``orjson.loads`` (what its WebSocket client uses) then ``kraken.handle_message``
(ccxt pro speaks v2: the recorded messages go in unchanged) with a stub client whose
``resolve`` does nothing (ccxt's future bookkeeping is left out: that only favours ccxt).

ccxt's checksum: ``options.watchOrderBook.checksum = True`` raises ``AttributeError`` on the
first message (its ``format_number`` splits a float), and on floats its text would drop the
trailing zeros Kraken's checksum keeps anyway. So ccxt's "checksum on" is measured as its
handler plus its own check loop (20 levels, ``format_number``, ``crc32``) over the same book
formatted at the pair's precision, i.e. ccxt's check as it would run if it worked; it must
verify every recorded message too. ccxt with its check off (its default) is shown as well.
"""
from __future__ import annotations

import gc
import json
import random
import statistics
import time
import tracemalloc
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FEED = ROOT / "tests" / "integration" / "sim" / "kraken-ws-book-feed-v2.json"
SYMBOL = "BTC/USD"
PRICE_DECIMALS, QTY_DECIMALS = 1, 8


def feed_texts() -> list[str]:
    """The 510 recorded frames as text. Read as floats and written back by ``json.dumps``, each
    number's text is the recorded token (the replay tests check it through Decimal)."""
    recorded = json.loads(FEED.read_text())
    return [json.dumps(recorded["init"])] + [json.dumps(update) for update in recorded["updates"]]


class Ours:
    label = "krakenbot MarketStream (Decimal decode, checksum every message)"

    def __init__(self) -> None:
        from krakenbot.stream.connection import decode
        from krakenbot.stream.market import MarketStream, StreamPair

        self.stream = MarketStream("ws://127.0.0.1:9/v2", [StreamPair(SYMBOL, "XBTUSD", PRICE_DECIMALS,
                                                                       QTY_DECIMALS)])
        self.decode = decode

    def run(self, texts: list[str]) -> int:
        """Process the frames; the number whose checksum verified."""
        decode, handle, book = self.decode, self.stream._on_message, self.stream._books[SYMBOL]
        verified = 0
        for text in texts:
            handle(decode(text))
            verified += book.trusted
        return verified


class _StubClient:
    def __init__(self) -> None:
        self.subscriptions: dict = {}
        self.rejected = 0

    def resolve(self, result, message_hash) -> None:
        pass

    def reject(self, error, message_hash=None) -> None:
        self.rejected += 1


class Ccxt:
    def __init__(self, checksum: bool) -> None:
        import ccxt.pro
        import orjson

        self.exchange = ccxt.pro.kraken()
        self.client = _StubClient()
        self.loads = orjson.loads
        self.checksum = checksum
        self.label = ("ccxt pro kraken handle_message + its checksum loop (at the pair's precision)" if checksum
                      else "ccxt pro kraken handle_message, checksum off (its default)")

    def _check(self, expected: int) -> bool:
        """ccxt pro kraken's own checksum loop, fed the texts Kraken's rule needs."""
        ex = self.exchange
        book = ex.orderbooks[SYMBOL]
        asks, bids = book["asks"], book["bids"]
        payload = []
        for i in range(0, 10):
            ask = ex.safe_value(asks, i, {})
            payload.append(ex.format_number(f"{ask[0]:.{PRICE_DECIMALS}f}") + ex.format_number(f"{ask[1]:.{QTY_DECIMALS}f}"))
        for i in range(0, 10):
            bid = ex.safe_value(bids, i, {})
            payload.append(ex.format_number(f"{bid[0]:.{PRICE_DECIMALS}f}") + ex.format_number(f"{bid[1]:.{QTY_DECIMALS}f}"))
        return ex.crc32("".join(payload), False) == expected

    def run(self, texts: list[str]) -> int:
        loads, handle, client = self.loads, self.exchange.handle_message, self.client
        verified = 0
        for text in texts:
            message = loads(text)
            handle(client, message)
            if self.checksum:
                verified += self._check(message["data"][0]["checksum"])
            else:
                verified += 1
        return verified


def ccxt_checksum_as_shipped(texts: list[str]) -> str:
    """What ccxt pro does with its checksum switched on, on the first recorded message."""
    import ccxt.pro
    import orjson

    exchange = ccxt.pro.kraken({"options": {"watchOrderBook": {"checksum": True}}})
    try:
        exchange.handle_message(_StubClient(), orjson.loads(texts[0]))
    except Exception as exc:  # noqa: BLE001 - reported, whatever it is
        return f"{type(exc).__name__}: {exc}"
    return "ran"


def throughput(repeats: int = 20, rounds: int = 5) -> dict:
    """Updates/s per contender: the 510 frames ``repeats`` times per round (each pass starts with the
    snapshot), rounds interleaved; the median round counts."""
    texts = feed_texts()
    contenders = {"krakenbot": Ours()}
    unavailable = {}
    for name, checksum in (("ccxt_pro_checksum", True), ("ccxt_pro_no_checksum", False)):
        try:
            contenders[name] = Ccxt(checksum)
        except Exception as exc:  # ccxt missing: reported, ours still measured
            unavailable[name] = f"{type(exc).__name__}: {exc}"[:200]
    verified = {name: c.run(texts) for name, c in contenders.items()}  # warm-up, and the correctness check
    rates: dict[str, list[float]] = {name: [] for name in contenders}
    batch = texts * repeats
    for _ in range(rounds):
        for name, contender in contenders.items():
            gc.collect()
            started = time.perf_counter()
            contender.run(batch)
            rates[name].append(len(batch) / (time.perf_counter() - started))
    rows = {name: {"label": contenders[name].label, "updates_per_s": statistics.median(r), "best": max(r),
                   "verified": verified[name], "messages": len(texts)} for name, r in rates.items()}
    ours = rows["krakenbot"]["updates_per_s"]
    for name, row in rows.items():
        row["ratio_ours_to_it"] = ours / row["updates_per_s"]
    return {"rows": rows, "unavailable": unavailable, "ccxt_checksum_as_shipped": ccxt_checksum_as_shipped(texts),
            "frames_per_round": len(batch), "rounds": rounds,
            "how": "`python -m bench --only book`; frames from tests/integration/sim/kraken-ws-book-feed-v2.json"}


# -- memory at depth 1000 -----------------------------------------------------------------------------
def _deep_feed(depth: int, updates: int, seed: int = 11) -> list[str]:
    """A synthetic depth-``depth`` feed: a full snapshot, then updates that change, delete and
    insert levels (many beyond the depth, which a book must cut off), each with the checksum
    Kraken would send, computed by the plain rule over a model cut to the depth."""
    from krakenbot.stream.book import checksum

    rng = random.Random(seed)
    asks = {Decimal(50_000 + i).scaleb(-1) + Decimal("0.1"): Decimal(rng.randint(1, 10**8)).scaleb(-8)
            for i in range(depth)}
    bids = {Decimal(50_000 - i).scaleb(-1): Decimal(rng.randint(1, 10**8)).scaleb(-8) for i in range(depth)}

    def crc() -> int:
        return checksum(sorted(asks.items())[:10], sorted(bids.items(), reverse=True)[:10], 1, 8)

    def levels(side: dict) -> list:
        return [{"price": float(p), "qty": float(q)} for p, q in side.items()]

    texts = [json.dumps({"channel": "book", "type": "snapshot", "data": [
        {"symbol": SYMBOL, "bids": levels(bids), "asks": levels(asks), "checksum": crc()}]})]
    for n in range(updates):
        is_ask = n % 2 == 0
        side = asks if is_ask else bids
        offset = rng.randint(0, depth * 3)  # two thirds of the inserts land beyond the depth
        price = (Decimal(50_000 + offset).scaleb(-1) + Decimal("0.1")) if is_ask else Decimal(50_000 - offset).scaleb(-1)
        qty = Decimal(0) if rng.random() < 0.2 and price in side else Decimal(rng.randint(1, 10**8)).scaleb(-8)
        if qty:
            side[price] = qty
        else:
            del side[price]
        for kept, reverse in ((asks, False), (bids, True)):
            for extra in sorted(kept, reverse=reverse)[depth:]:
                del kept[extra]
        change = [{"price": float(price), "qty": float(qty)}]
        texts.append(json.dumps({"channel": "book", "type": "update", "data": [
            {"symbol": SYMBOL, "bids": [] if is_ask else change, "asks": change if is_ask else [],
             "checksum": crc(), "timestamp": "2026-01-01T00:00:00.000000Z"}]}))
    return texts


def memory(depth: int = 1000, updates: int = 4000) -> dict:
    """Bytes the book holds (tracemalloc, after a collection) after the snapshot, after half the
    updates and after all of them: bounded means the last two agree."""
    from krakenbot.stream.book import LocalBook
    from krakenbot.stream.connection import decode

    texts = _deep_feed(depth, updates)
    messages = [decode(text) for text in texts]
    gc.collect()
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        book = LocalBook(SYMBOL, 1, 8, depth)
        checkpoints = {}
        verified = 0
        for index, message in enumerate(messages):
            verified += book.apply(message["data"][0], message["type"] == "snapshot")
            if index in (0, len(messages) // 2, len(messages) - 1):
                gc.collect()
                checkpoints[index] = tracemalloc.get_traced_memory()[0] - base
    finally:
        tracemalloc.stop()
    snap, half, end = (checkpoints[k] for k in sorted(checkpoints))
    return {"depth": depth, "updates": updates, "verified": verified, "messages": len(messages),
            "levels": len(book), "bytes_after_snapshot": snap, "bytes_half_way": half, "bytes_at_end": end,
            "growth_second_half": (end - half) / half if half else None}


def measure(quick: bool = False) -> dict:
    result = throughput(repeats=2 if quick else 20, rounds=2 if quick else 5)
    result["memory"] = memory(depth=1000, updates=200 if quick else 4000)
    return result
