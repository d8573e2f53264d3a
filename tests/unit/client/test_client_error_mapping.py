"""Every way an HTTP answer can go wrong maps to one typed error (``decode_response``)."""
from __future__ import annotations

import pytest

from krakenbot.client._transport import Timeouts, decode_response
from krakenbot.errors import (
    AuthenticationError,
    DeadlineElapsedError,
    HttpStatusError,
    InsufficientFundsError,
    InvalidArgumentsError,
    InvalidNonceError,
    MalformedResponse,
    MarketModeError,
    OrderMinimumError,
    OrderRateLimitError,
    PermissionDeniedError,
    RateLimitError,
    ServiceUnavailableError,
    UnknownOrderError,
    UnknownPairError,
)


@pytest.mark.parametrize(
    "code,cls",
    [
        ("EAPI:Invalid key", AuthenticationError),
        ("EAPI:Invalid signature", AuthenticationError),
        ("EAPI:Invalid nonce", InvalidNonceError),
        ("EGeneral:Permission denied", PermissionDeniedError),
        ("EAPI:Rate limit exceeded", RateLimitError),
        ("EOrder:Rate limit exceeded", OrderRateLimitError),
        ("EService:Unavailable", ServiceUnavailableError),
        ("EService:Busy", ServiceUnavailableError),
        ("EService:Market in cancel_only mode", MarketModeError),
        ("EService:Deadline elapsed", DeadlineElapsedError),
        ("EOrder:Insufficient funds", InsufficientFundsError),
        ("EOrder:Order minimum not met", OrderMinimumError),
        ("EGeneral:Invalid arguments:volume", InvalidArgumentsError),
        ("EOrder:Unknown order", UnknownOrderError),
        ("EQuery:Unknown asset pair", UnknownPairError),
        ("EService: Throttled: 1718010902", RateLimitError),
    ],
)
def test_kraken_error_strings(code, cls):
    body = ('{"error":["%s"]}' % code).encode()
    with pytest.raises(cls) as info:
        decode_response("AddOrder", 200, body)
    assert type(info.value) is cls
    assert info.value.codes == (code,) and info.value.endpoint == "AddOrder"


def test_success_and_warnings():
    assert decode_response("Time", 200, b'{"error":[],"result":{"unixtime":1}}') == {"unixtime": 1}
    assert decode_response("Time", 200, b'{"error":["WGeneral:Note"],"result":{"a":1}}') == {"a": 1}


HTML = b"<!DOCTYPE html><html><body>520: Web server is returning an unknown error</body></html>"


@pytest.mark.parametrize("status", [502, 503, 520, 404, 429])
def test_non_200_is_http_status_error(status):
    with pytest.raises(HttpStatusError) as info:
        decode_response("Ticker", status, HTML)
    assert info.value.status == status and info.value.retryable and info.value.counts_for_breaker


@pytest.mark.parametrize(
    "body",
    [
        HTML,  # HTML with status 200
        b'{"error":[],"result":{"unixtime":17',  # truncated
        b"not json at all",
        b"",
        b"\xff\xfe\x00",
        b"[]",
        b'{"result":{}}',  # no error list
        b'{"error":"EService:Unavailable"}',  # error not a list
        b'{"error":[]}',  # no result
        b'{"error":[],"result":[1,2]}',
        b'{"error":[42]}',
        b"null",
    ],
)
def test_garbage_is_malformed_response(body):
    with pytest.raises(MalformedResponse) as info:
        decode_response("Balance", 200, body)
    assert info.value.endpoint == "Balance"


@pytest.mark.parametrize(
    "kwargs,name",
    [({"connect": 0}, "connect"), ({"read": -1}, "read"), ({"total": 0}, "total"), ({"connect": True}, "connect"),
     ({"read": float("nan")}, "read"), ({"read": float("inf")}, "read"), ({"connect": "3"}, "connect")],
)
def test_timeouts_refuse_bad_values_naming_the_field(kwargs, name):
    with pytest.raises(ValueError) as info:
        Timeouts(**kwargs)
    assert f"Timeouts.{name}" in str(info.value)


def test_timeouts_are_frozen():
    t = Timeouts(connect=1, read=2, total=5)
    with pytest.raises(AttributeError):
        t.read = 3  # type: ignore[misc]
    assert (t.connect, t.read, t.total) == (1, 2, 5)


@pytest.mark.parametrize("body", [b"[" * 100_000, b'{"error":[],"result":' + b'{"a":' * 100_000])
def test_absurdly_nested_json_is_malformed_not_recursion_error(body):
    with pytest.raises(MalformedResponse):
        decode_response("Balance", 200, body)


@pytest.mark.parametrize("code", ["EService:Market in limit_only mode", "EService:Market in reduce_only mode"])
def test_other_market_modes_are_refusals_not_outages(code):
    """A pair or market in a restricted mode refuses the order: not an outage (no breaker, no retry)
    and not an ambiguous AddOrder (nothing was placed)."""
    from krakenbot.execution.executor import is_ambiguous

    with pytest.raises(MarketModeError) as info:
        decode_response("AddOrder", 200, ('{"error":["%s"]}' % code).encode())
    assert not info.value.counts_for_breaker and not info.value.retryable and not is_ambiguous(info.value)
