"""The hand-rolled form encoder must produce exactly urlencode's bytes (the signature covers them)."""
from __future__ import annotations

from decimal import Decimal
from urllib.parse import urlencode

import pytest
from hypothesis import given, strategies as st

from krakenbot.client._client import encode_params
from krakenbot.client.trading import rfc3339


@given(st.dictionaries(st.text(min_size=1, max_size=8), st.text(max_size=12), max_size=6))
def test_same_bytes_as_urlencode(params):
    assert encode_params(params) == urlencode(params)


def test_kraken_values():
    assert encode_params({"volume": Decimal("0.00010000"), "validate": True, "txid": ["A", "B"], "x": None}) == (
        "volume=0.00010000&validate=true&txid=A%2CB"
    )
    assert encode_params({"deadline": "2026-01-01T00:00:15Z"}) == "deadline=2026-01-01T00%3A00%3A15Z"


def test_floats_are_refused():
    with pytest.raises(TypeError):
        encode_params({"price": 1.1})


def test_rfc3339_whole_seconds():
    assert rfc3339(1767225615.9) == "2026-01-01T00:00:15Z"
    assert rfc3339(1767225616.0) == "2026-01-01T00:00:16Z"
