"""Access records: ordered, indexable, and never carrying a secret."""
from __future__ import annotations

import threading

from krakensim.access_log import AccessLog, safe_params


def test_secret_fields_are_dropped_and_values_become_text():
    params = safe_params({"nonce": 17, "otp": "123456", "pair": "XBTEUR",
                          "orders": [{"type": "buy"}], "validate": True})
    assert params == {"nonce": "17", "pair": "XBTEUR", "orders": '[{"type":"buy"}]', "validate": "true"}


def test_records_are_numbered_in_order_and_since_slices():
    log = AccessLog()
    for i in range(5):
        log.append(time=float(i), http_method="GET", path="/0/public/Time", endpoint="Time", kind="public",
                   key_id=None, params=None, outcome="ok")
    assert [r.seq for r in log.records()] == [0, 1, 2, 3, 4]
    assert [r.seq for r in log.since(3)] == [3, 4]
    log.clear()
    assert log.records() == [] and len(log) == 0


def test_concurrent_appends_lose_nothing():
    log = AccessLog()

    def writer() -> None:
        for _ in range(500):
            log.append(time=0.0, http_method="POST", path="/0/private/Balance", endpoint="Balance",
                       kind="private", key_id="ABCD\u2026", params={"nonce": "1"}, outcome="ok")

    threads = [threading.Thread(target=writer) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(r.seq for r in log.records()) == list(range(2000))


def test_oversized_values_are_cut():
    params = safe_params({"junk": "x" * 100_000})
    assert len(params["junk"]) == 2049 and params["junk"].endswith("\u2026")
