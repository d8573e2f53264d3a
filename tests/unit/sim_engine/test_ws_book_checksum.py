"""The simulator's WebSocket book and checksum code against Kraken's own numbers: the documented
vectors and a recorded live feed replayed message by message (../shared/kraken/websocket-v2.md §4)."""
from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

from krakensim.ws_book import Book, checksum, level_text

# a verbatim copy of ../shared/kraken/ws-book-feed-v2.json (python-kraken-sdk's recorded BTC/USD feed)
FEED = Path(__file__).resolve().parents[2] / "integration" / "sim" / "kraken-ws-book-feed-v2.json"

# the documented checksum vectors, shared with the other side's test (the bot's book / the simulator's)
VECTORS = json.loads((FEED.parent / "kraken-ws-checksum-vectors.json").read_text())
GUIDE_ASKS, GUIDE_BIDS, MATIC_ASKS, MATIC_BIDS = (VECTORS[k] for k in ("GUIDE_ASKS", "GUIDE_BIDS", "MATIC_ASKS",
                                                                      "MATIC_BIDS"))


def _levels(text: str, pp: int, qp: int) -> list[tuple[str, str]]:
    out = []
    for row in text.split():
        price, qty = row.split("/")
        out.append((level_text(Decimal(price), pp), level_text(Decimal(qty), qp)))
    return out


def test_the_guide_vector_and_its_variants() -> None:
    book = Book(10)
    book.apply("asks", _levels(GUIDE_ASKS, 1, 8))
    book.apply("bids", _levels(GUIDE_BIDS, 1, 8))
    assert book.checksum() == 3310070434
    book.apply("asks", [("45285.2", "0.00000000")])
    assert book.checksum() == 1182027464
    book.apply("asks", [("45285.2", "0.00100000")])
    book.apply("bids", [("45284.0", "0.50000000")])
    book.truncate()
    assert len(book.bids) == 10 and book.checksum() == 1818405665


def test_the_matic_vector_then_its_update() -> None:
    book = Book(10)
    book.apply("asks", _levels(MATIC_ASKS, 4, 8))
    book.apply("bids", _levels(MATIC_BIDS, 4, 8))
    assert book.checksum() == 2439117997
    book.apply("bids", [("0.5657", "1098.39475580")])
    assert book.checksum() == 2114181697


def test_the_recorded_feed_replays_with_every_checksum() -> None:
    """1 snapshot + 509 updates of a live BTC/USD depth-10 book: 510 of 510 checksums agree."""
    feed = json.loads(FEED.read_text(), parse_float=Decimal)
    messages = [feed["init"], *feed["updates"]]
    book = Book(10)
    agreed = 0
    for message in messages:
        data = message["data"][0]
        for side in ("asks", "bids"):
            book.apply(side, [(level_text(Decimal(lv["price"]), 1), level_text(Decimal(lv["qty"]), 8))
                              for lv in data[side]])
        book.truncate()
        agreed += book.checksum() == data["checksum"]
    assert (agreed, len(messages)) == (510, 510)


def test_a_diff_reproduces_the_target_book_and_deletes_at_full_precision() -> None:
    book = Book(10)
    book.apply("asks", _levels(GUIDE_ASKS, 1, 8))
    book.apply("bids", _levels(GUIDE_BIDS, 1, 8))
    target = Book(10)
    target.apply("asks", _levels(GUIDE_ASKS, 1, 8)[1:] + [("45300.0", "2.00000000")])
    target.apply("bids", _levels(GUIDE_BIDS, 1, 8))
    rows = {side: [(Decimal(p), p, q) for p, q in target.rows(side)] for side in ("asks", "bids")}
    asks, bids = book.diff(rows["asks"], rows["bids"])
    assert asks == [("45285.2", "0.00000000"), ("45300.0", "2.00000000")] and bids == []
    assert book.checksum() == target.checksum() == checksum(target.rows("asks"), target.rows("bids"))
