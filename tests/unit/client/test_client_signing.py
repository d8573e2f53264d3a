"""Kraken's published signature vector (auth-and-errors.md §1.4) and secret redaction."""
from __future__ import annotations

import logging

import pytest

from krakenbot.client import KrakenClient
from krakenbot.client.signing import ApiSecret, Signer, redact_key, sign

SECRET = "kQH5HW/8p1uGOVjbgWA7FunAmGO8lsSUXNsu3eow76sz84Q18fWxnyRzBHCd3pd5nE9qa99HAZtuZuj6F1huXg=="
NONCE = "1616492376594"
BODY = "nonce=1616492376594&ordertype=limit&pair=XBTUSD&price=37500&type=buy&volume=1.25"
EXPECTED = "4/dpxb3iT4tp/ZCVEwSnEsLxx0bqyhLpdfOpc6fn7OR8+UClSV5n9E6aSS8MPtnRfp32bAb0nmbRn6H8ndwLUQ=="


def test_kraken_documented_vector():
    assert sign("/0/private/AddOrder", NONCE, BODY, SECRET) == EXPECTED


def test_signer_is_reusable_and_body_sensitive():
    signer = Signer(ApiSecret(SECRET))
    assert signer.sign(b"/0/private/AddOrder", NONCE, BODY) == EXPECTED
    assert signer.sign(b"/0/private/AddOrder", NONCE, BODY) == EXPECTED  # copy() leaves the keyed HMAC intact
    assert signer.sign(b"/0/private/AddOrder", NONCE, BODY + "&x=1") != EXPECTED
    assert signer.sign(b"/0/private/Balance", NONCE, BODY) != EXPECTED


def test_secret_never_prints():
    secret = ApiSecret(SECRET)
    assert SECRET not in repr(secret) and SECRET not in str(secret)
    assert "redacted" in repr(secret)
    assert SECRET[:10] not in repr(Signer(secret))


@pytest.mark.parametrize("bad", ["not base64 secret!!", "", "abcde"])
def test_bad_secret_refused_without_echo(bad):
    with pytest.raises(ValueError) as info:
        ApiSecret(bad)
    if bad:
        assert bad not in str(info.value)


def test_client_repr_redacts_key_and_secret(caplog):
    key = "ABCDEFGHIJKLMNOP" * 3
    with KrakenClient("http://127.0.0.1:9", key, SECRET) as client:
        text = repr(client) + str(client.__dict__.get("_signer"))
        assert key not in text and SECRET not in text
        assert "ABCD…" in repr(client)
    assert redact_key(None) == "<none>"


@pytest.mark.parametrize("suffix", ["\r", "\n", " ", "\x00", "é"])
def test_a_key_that_cannot_go_into_a_header_is_refused_without_echo(suffix):
    """A stray CR from a CRLF .env file made http.client raise 'Invalid header value b"<full key>"'."""
    key = "ABCDEFGHIJKLMNOP" * 3 + suffix
    with pytest.raises(ValueError) as info:
        KrakenClient("http://127.0.0.1:9", key, SECRET)
    assert key.strip() not in str(info.value) and "API key" in str(info.value)
