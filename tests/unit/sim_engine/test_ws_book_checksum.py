"""The simulator's WebSocket book and checksum code against Kraken's own numbers: the documented
vectors and a recorded live feed replayed message by message (../shared/kraken/websocket-v2.md §4)."""
from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

from krakensim.ws_book import Book, checksum, level_text

# a verbatim copy of ../shared/kraken/ws-book-feed-v2.json (python-kraken-sdk's recorded BTC/USD feed)
FEED = Path(__file__).resolve().parents[2] / "integration" / "sim" / "kraken-ws-book-feed-v2.json"

GUIDE_ASKS = ("45285.2/0.00100000 45286.4/1.54571953 45286.6/1.54571109 45289.6/1.54560911 45290.2/0.15890660 "
              "45291.8/1.54553491 45294.7/0.04454749 45296.1/0.35380000 45297.5/0.09945542 45299.5/0.18772827")
GUIDE_BIDS = ("45283.5/0.10000000 45283.4/1.54582015 45282.1/0.10000000 45281.0/0.10000000 45280.3/1.54592586 "
              "45279.0/0.07990000 45277.6/0.03310103 45277.5/0.30000000 45277.3/1.54602737 45276.6/0.15445238")
MATIC_ASKS = ("0.5668/4410.79769741 0.5669/4655.40412487 0.567/49844.89424998 0.5671/24306.41678 "
              "0.5672/29783.25223475 0.5673/57234.71239278 0.5674/45065.04744 0.5675/5912.76380354 "
              "0.5676/42514.92434778 0.5677/36304.0847022")
MATIC_BIDS = ("0.5666/4831.75496356 0.5665/6658.22734739 0.5664/18724.91513344 0.5663/11563.92544914 "
              "0.5662/14006.65365711 0.5661/17454.85679807 0.566/18097.1547 0.5659/33644.89175666 "
              "0.5658/148.3464 0.5657/606.70854372")


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
