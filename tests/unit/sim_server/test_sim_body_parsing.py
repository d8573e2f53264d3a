"""Request bodies as Kraken's clients send them: form, nested form, JSON; garbage refused."""
from __future__ import annotations

import pytest

from krakensim import errors
from krakensim.server import parse_body, parse_query

FORM = "application/x-www-form-urlencoded"


def test_flat_form():
    assert parse_body(b"nonce=1&pair=XBTEUR&price=%2B5%25", FORM) == {"nonce": "1", "pair": "XBTEUR", "price": "+5%"}


def test_bracket_keys_become_nested_like_json():
    body = (b"nonce=1&pair=XBTEUR&orders%5B0%5D%5Bordertype%5D=limit&orders%5B0%5D%5Bvolume%5D=1"
            b"&orders%5B1%5D%5Bordertype%5D=market&close%5Bordertype%5D=limit&close%5Bprice%5D=10")
    assert parse_body(body, FORM) == {
        "nonce": "1", "pair": "XBTEUR",
        "orders": [{"ordertype": "limit", "volume": "1"}, {"ordertype": "market"}],
        "close": {"ordertype": "limit", "price": "10"},
    }


def test_json_object_with_string_or_number_nonce():
    assert parse_body(b'{"nonce": 5, "orders": ["OA", "OB"]}', "application/json; charset=utf-8") == {
        "nonce": 5, "orders": ["OA", "OB"]}
    assert parse_body(b'{"nonce":"5"}', "application/json")["nonce"] == "5"


@pytest.mark.parametrize("body, ctype", [
    (b"\xff\xfe\x00", FORM),
    (b"{not json", "application/json"),
    (b"[1, 2]", "application/json"),
    (b"a=1&&&=", FORM),
    (b"orders%5B999999999%5D=1", FORM),
    (b"a%5B0%5D=1&a%5Bx%5D=2", FORM),
])
def test_garbage_is_invalid_arguments(body, ctype):
    with pytest.raises(errors.KrakenAPIError) as caught:
        parse_body(body, ctype)
    assert caught.value.code == "EGeneral:Invalid arguments"


def test_query_string():
    assert parse_query("pair=XXBTZEUR&interval=60") == {"pair": "XXBTZEUR", "interval": "60"}
    assert parse_query("") == {}
