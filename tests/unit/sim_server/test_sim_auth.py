"""Kraken's signature, nonce and permission rules as the simulator enforces them."""
from __future__ import annotations

import base64

import pytest

from krakensim import errors
from krakensim.auth import (DEMO_PERMISSIONS, FUNDING_ENDPOINTS, KeyRing, parse_nonce, redact, sign)

# Kraken's published example (../shared/kraken/auth-and-errors.md section 1.4).
VECTOR_SECRET = "kQH5HW/8p1uGOVjbgWA7FunAmGO8lsSUXNsu3eow76sz84Q18fWxnyRzBHCd3pd5nE9qa99HAZtuZuj6F1huXg=="
VECTOR_NONCE = "1616492376594"
VECTOR_BODY = b"nonce=1616492376594&ordertype=limit&pair=XBTUSD&price=37500&type=buy&volume=1.25"
VECTOR_PATH = "/0/private/AddOrder"
VECTOR_SIGN = "4/dpxb3iT4tp/ZCVEwSnEsLxx0bqyhLpdfOpc6fn7OR8+UClSV5n9E6aSS8MPtnRfp32bAb0nmbRn6H8ndwLUQ=="


@pytest.fixture
def ring():
    return KeyRing()


def vector_key(ring: KeyRing):
    key, _ = ring.create(DEMO_PERMISSIONS, "demo", key="vector-key", secret_b64=VECTOR_SECRET)
    return ring.get(key)


def test_krakens_documented_signature_is_reproduced():
    assert sign(VECTOR_SECRET, VECTOR_PATH, VECTOR_NONCE, VECTOR_BODY) == VECTOR_SIGN


def test_krakens_documented_signature_verifies(ring):
    api_key = vector_key(ring)
    assert api_key.verify(VECTOR_PATH.encode(), VECTOR_NONCE.encode(), VECTOR_BODY, VECTOR_SIGN)


@pytest.mark.parametrize("path, body, signature", [
    (VECTOR_PATH, VECTOR_BODY.replace(b"37500", b"37501"), VECTOR_SIGN),        # body changed after signing
    (VECTOR_PATH, VECTOR_BODY.replace(b"&type=buy", b"&type=buy ") , VECTOR_SIGN),
    ("/0/private/CancelOrder", VECTOR_BODY, VECTOR_SIGN),                        # signed for another path
    (VECTOR_PATH, VECTOR_BODY, VECTOR_SIGN[:-4] + "AAA="),                       # tampered signature
    (VECTOR_PATH, VECTOR_BODY, "not base64!!"),
    (VECTOR_PATH, VECTOR_BODY, ""),
])
def test_anything_but_the_exact_signed_bytes_fails(ring, path, body, signature):
    assert not vector_key(ring).verify(path.encode(), VECTOR_NONCE.encode(), body, signature)


def test_signature_made_with_another_secret_fails(ring):
    api_key = vector_key(ring)
    other = base64.b64encode(b"x" * 64).decode()
    assert not api_key.verify(VECTOR_PATH.encode(), VECTOR_NONCE.encode(), VECTOR_BODY,
                              sign(other, VECTOR_PATH, VECTOR_NONCE, VECTOR_BODY))


def test_nonce_must_rise_strictly_and_a_refusal_does_not_move_the_mark(ring):
    api_key = vector_key(ring)
    ring.accept_nonce(api_key, 100)
    for stale in (100, 99, 1):
        with pytest.raises(errors.KrakenAPIError) as caught:
            ring.accept_nonce(api_key, stale)
        assert caught.value.code == "EAPI:Invalid nonce"
    assert api_key.last_nonce == 100
    ring.accept_nonce(api_key, 101)
    assert api_key.last_nonce == 101


def test_nonces_are_per_key(ring):
    first = vector_key(ring)
    second = ring.get(ring.create(DEMO_PERMISSIONS, "demo")[0])
    ring.accept_nonce(first, 1_000_000)
    ring.accept_nonce(second, 5)  # a low nonce on another key is fine
    assert second.last_nonce == 5


def test_nonce_window_admits_a_late_lower_nonce_once(ring):
    api_key = ring.get(ring.create(DEMO_PERMISSIONS, "demo", nonce_window=10)[0])
    ring.accept_nonce(api_key, 100)
    ring.accept_nonce(api_key, 95)
    with pytest.raises(errors.KrakenAPIError):
        ring.accept_nonce(api_key, 95)   # not twice
    with pytest.raises(errors.KrakenAPIError):
        ring.accept_nonce(api_key, 89)   # outside the window
    with pytest.raises(errors.KrakenAPIError):
        ring.accept_nonce(api_key, 100)  # the mark itself
    assert api_key.last_nonce == 100


@pytest.mark.parametrize("raw", ["", "12a", "-5", "1.5", " 7", None, True, "1" * 21, str(2**64)])
def test_malformed_nonce_is_invalid_nonce(raw):
    with pytest.raises(errors.KrakenAPIError) as caught:
        parse_nonce(raw)
    assert caught.value.code == "EAPI:Invalid nonce"


def test_json_number_and_string_nonces_give_the_signed_digits():
    assert parse_nonce(1616492376594) == (1616492376594, b"1616492376594")
    assert parse_nonce("1616492376594") == (1616492376594, b"1616492376594")


@pytest.mark.parametrize("permission, allowed", [
    ("query_funds", {"Balance", "BalanceEx", "TradeBalance", "TradeVolume"}),
    ("query_orders", {"OpenOrders", "ClosedOrders", "QueryOrders", "QueryTrades", "TradesHistory"}),
    ("query_ledger", {"Ledgers", "QueryLedgers"}),
    ("trade", {"AddOrder", "AddOrderBatch", "EditOrder", "AmendOrder", "CancelAllOrdersAfter"}),
    ("cancel", {"CancelOrder", "CancelAll", "CancelAllOrdersAfter", "CancelOrderBatch"}),
])
def test_each_permission_opens_exactly_its_endpoints(ring, permission, allowed):
    api_key = ring.get(ring.create({permission}, "demo")[0])
    probes = {"Balance", "BalanceEx", "TradeBalance", "TradeVolume", "OpenOrders", "ClosedOrders", "QueryOrders",
              "QueryTrades", "TradesHistory", "Ledgers", "QueryLedgers", "AddOrder", "AddOrderBatch", "EditOrder",
              "AmendOrder", "CancelOrder", "CancelAll", "CancelAllOrdersAfter", "CancelOrderBatch", "Withdraw"}
    assert {name for name in probes if api_key.allows(name)} == allowed


def test_funding_endpoints_are_refused_even_with_withdraw_permission(ring):
    api_key = ring.get(ring.create({"withdraw", "query_funds"}, "demo")[0])
    assert FUNDING_ENDPOINTS >= {"Withdraw", "WithdrawCancel", "WalletTransfer", "DepositAddresses"}
    assert not any(api_key.allows(name) for name in FUNDING_ENDPOINTS)


def test_demo_permissions_are_everything_but_withdraw():
    assert "withdraw" not in DEMO_PERMISSIONS
    assert {"query_funds", "query_orders", "query_ledger", "trade", "cancel"} <= DEMO_PERMISSIONS


def test_unknown_permission_or_bad_secret_is_refused(ring):
    with pytest.raises(ValueError):
        ring.create({"fly"}, "demo")
    with pytest.raises(ValueError):
        ring.create({"trade"}, "demo", secret_b64="***")


def test_redacted_key_keeps_four_characters():
    assert redact("ABCDEFGHIJ") == "ABCD\u2026"
    assert redact(None) is None


def test_a_key_record_never_shows_its_secret_or_full_key(ring):
    api_key = vector_key(ring)
    text = repr(api_key) + str(api_key) + repr(ring) + f"{[api_key]}"
    assert base64.b64decode(VECTOR_SECRET).hex() not in text.replace("\\x", "")
    assert repr(base64.b64decode(VECTOR_SECRET)) not in text and VECTOR_SECRET not in text
    assert "vector-key" not in text and "vect\u2026" in repr(api_key)


def test_lockouts_of_attacker_chosen_keys_stay_bounded_and_a_fresh_one_still_holds():
    from krakensim.auth import Lockouts
    from krakensim.clock import ManualClock

    clock = ManualClock()
    locks = Lockouts(clock, failures=1, seconds=300)
    locks.MAX_TRACKED = 50
    for n in range(500):  # every key locked out at once: only the newest ones are kept
        locks.failed(f"junk{n}")
    assert len(locks._until) <= 50
    with pytest.raises(errors.KrakenAPIError):
        locks.check("junk499")
    clock.advance(301)  # expired lockouts are the first to go
    locks.failed("late")
    assert set(locks._until) == {"late"}
