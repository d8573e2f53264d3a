"""The bot's live book against Kraken's own numbers: the documented checksum vectors, the recorded
live feed replayed message by message (510/510), a corrupted or skipped update noticed at once,
and a random walk checked level by level against the plain reading of the rule."""
from __future__ import annotations

import copy
import json
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from krakenbot.stream.book import LocalBook, checksum

# a verbatim copy of ../shared/kraken/ws-book-feed-v2.json (python-kraken-sdk's recorded BTC/USD feed, depth 10)
FEED = Path(__file__).resolve().parents[2] / "integration" / "sim" / "kraken-ws-book-feed-v2.json"

# the documented checksum vectors, shared with the other side's test (the bot's book / the simulator's)
VECTORS = json.loads((FEED.parent / "kraken-ws-checksum-vectors.json").read_text())
GUIDE_ASKS, GUIDE_BIDS, MATIC_ASKS, MATIC_BIDS = (VECTORS[k] for k in ("GUIDE_ASKS", "GUIDE_BIDS", "MATIC_ASKS",
                                                                      "MATIC_BIDS"))


def _levels(text: str) -> list[dict]:
    return [{"price": Decimal(p), "qty": Decimal(q)} for p, q in (row.split("/") for row in text.split())]


def _message(asks: list[dict], bids: list[dict], crc: int) -> dict:
    return {"symbol": "BTC/USD", "asks": asks, "bids": bids, "checksum": crc}


def feed() -> tuple[dict, list[dict]]:
    recorded = json.loads(FEED.read_text(), parse_float=Decimal)
    return recorded["init"], recorded["updates"]


def test_the_documented_vectors_through_the_book():
    book = LocalBook("BTC/USD", 1, 8)
    assert book.apply(_message(_levels(GUIDE_ASKS), _levels(GUIDE_BIDS), 3310070434), snapshot=True)
    assert book.apply(_message([{"price": Decimal("45285.2"), "qty": Decimal("0")}], [], 1182027464), snapshot=False)
    matic = LocalBook("MATIC/USD", 4, 8)
    assert matic.apply(_message(_levels(MATIC_ASKS), _levels(MATIC_BIDS), 2439117997), snapshot=True)
    assert matic.apply(_message([], [{"price": Decimal("0.5657"), "qty": Decimal("1098.3947558")}], 2114181697),
                       snapshot=False)
    assert matic.trusted and matic.checksum == 2114181697


def test_an_insert_past_the_depth_is_cut_off_as_kraken_does():
    book = LocalBook("BTC/USD", 1, 8)
    book.apply(_message(_levels(GUIDE_ASKS), _levels(GUIDE_BIDS), 3310070434), snapshot=True)
    assert book.apply(_message([], [{"price": Decimal("45284.0"), "qty": Decimal("0.5")}], 1818405665),
                      snapshot=False)
    assert len(book.bids()) == 10 and book.bids()[0] == (Decimal("45284.0"), Decimal("0.5"))
    assert book.bids()[-1][0] == Decimal("45277.3")  # 45276.6 fell off the end


def test_the_recorded_feed_verifies_message_by_message():
    init, updates = feed()
    book = LocalBook("BTC/USD", 1, 8, depth=10)
    verified = [book.apply(init["data"][0], snapshot=True)]
    verified += [book.apply(update["data"][0], snapshot=False) for update in updates]
    assert verified.count(True) == len(verified) == 510
    assert book.trusted and book.messages == 510 and book.checksum == updates[-1]["data"][0]["checksum"]
    reference = checksum(book.asks(), book.bids(), 1, 8)
    assert reference == book.checksum


def test_a_corrupted_update_is_noticed_at_once_and_the_book_waits_for_a_snapshot():
    init, updates = feed()
    book = LocalBook("BTC/USD", 1, 8)
    book.apply(init["data"][0], snapshot=True)
    for update in updates[:100]:
        assert book.apply(update["data"][0], snapshot=False)
    bad = copy.deepcopy(updates[100]["data"][0])
    level = (bad["asks"] or bad["bids"])[0]
    level["qty"] = level["qty"] + Decimal("0.00000001")
    assert not book.apply(bad, snapshot=False)
    assert not book.trusted and "checksum mismatch" in book.problem
    # later updates are ignored, even ones whose own checksum would verify against the exchange's book
    assert not book.apply(updates[101]["data"][0], snapshot=False) and not book.trusted
    assert book.apply(init["data"][0], snapshot=True) and book.trusted and book.problem is None


def test_a_skipped_update_shows_as_a_mismatch():
    init, updates = feed()
    book = LocalBook("BTC/USD", 1, 8)
    book.apply(init["data"][0], snapshot=True)
    results = [book.apply(update["data"][0], snapshot=False) for i, update in enumerate(updates[:50]) if i != 20]
    assert results[:20] == [True] * 20 and results[20] is False and not book.trusted


def test_an_update_before_any_snapshot_is_not_trusted():
    _, updates = feed()
    book = LocalBook("BTC/USD", 1, 8)
    assert not book.apply(updates[0]["data"][0], snapshot=False)
    assert not book.trusted and book.problem == "no snapshot yet"


@pytest.mark.parametrize("level, why", [
    ({"price": Decimal("45285.25"), "qty": Decimal("1")}, "more decimals"),
    ({"price": Decimal("-1.0"), "qty": Decimal("1")}, "positive"),
    ({"price": Decimal("1.0"), "qty": Decimal("-1")}, "negative"),
    ({"price": 1.5, "qty": Decimal("1")}, "not a decimal number"),
    ({"price": "45285.2", "qty": Decimal("1")}, "not a decimal number"),
    ({"price": Decimal("1E+40"), "qty": Decimal("1")}, "sane"),
    ({"qty": Decimal("1")}, "KeyError"),
])
def test_a_malformed_level_marks_the_book_untrusted_with_a_reason(level, why):
    book = LocalBook("BTC/USD", 1, 8)
    book.apply(_message(_levels(GUIDE_ASKS), _levels(GUIDE_BIDS), 3310070434), snapshot=True)
    assert not book.apply(_message([level], [], 0), snapshot=False)
    assert not book.trusted and why in book.problem


def test_an_integer_price_is_exact_too():
    book = LocalBook("X/Y", 0, 0)
    crc = checksum([(Decimal(5), Decimal(2))], [(Decimal(4), Decimal(3))], 0, 0)
    assert book.apply(_message([{"price": 5, "qty": 2}], [{"price": 4, "qty": 3}], crc), snapshot=True)
    assert book.asks() == [(Decimal(5), Decimal(2))]


def test_the_risk_checks_read_it_as_an_order_book():
    book = LocalBook("BTC/USD", 1, 8)
    book.apply(_message(_levels(GUIDE_ASKS), _levels(GUIDE_BIDS), 3310070434), snapshot=True)
    view = book.order_book("XBTUSD", 3)
    assert view.best_ask == Decimal("45285.2") and view.best_bid == Decimal("45283.5")
    assert [level.volume for level in view.asks] == [Decimal("0.001"), Decimal("1.54571953"), Decimal("1.54571109")]


def test_a_depth_kraken_does_not_offer_is_refused():
    with pytest.raises(ValueError, match="depth 20"):
        LocalBook("BTC/USD", 1, 8, depth=20)


_prices = st.integers(min_value=1, max_value=60)
_qtys = st.integers(min_value=0, max_value=3)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.booleans(), _prices, _qtys), min_size=1, max_size=120),
       st.sampled_from([10, 25]))
def test_a_random_walk_matches_the_plain_rule_level_by_level(changes, depth):
    """Model: dicts per side, every change applied, each side cut to the depth; the checksum
    the exchange would send is the plain rule's over that model."""
    book = LocalBook("T/Y", 2, 3, depth=depth)
    asks: dict[Decimal, Decimal] = {}
    bids: dict[Decimal, Decimal] = {}
    assert book.apply(_message([], [], checksum([], [], 2, 3)), snapshot=True)
    for is_ask, price, qty in changes:
        p = Decimal(price + (100 if is_ask else 0)).scaleb(-2)  # asks above bids
        q = Decimal(qty).scaleb(-3)
        side = asks if is_ask else bids
        if q:
            side[p] = q
        else:
            side.pop(p, None)
        for name, kept, reverse in (("a", asks, False), ("b", bids, True)):
            for extra in sorted(kept, reverse=reverse)[depth:]:
                del kept[extra]
        crc = checksum(asks.items(), bids.items(), 2, 3)
        level = [{"price": p, "qty": q}]
        assert book.apply(_message(level if is_ask else [], [] if is_ask else level, crc), snapshot=False)
    assert book.asks() == sorted(asks.items()) and book.bids() == sorted(bids.items(), reverse=True)
