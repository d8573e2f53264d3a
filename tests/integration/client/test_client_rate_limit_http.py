"""Rate limits against the simulator's per-key counter, and secrets kept out of logs."""
from __future__ import annotations

import logging

from krakenbot.client import NO_RETRY
from krakenbot.errors import RateLimitError


def test_rate_limited_read_backs_off_on_the_clock_then_succeeds(make_client, sim, clock):
    # Another process on the same key (no pacing) has used up the counter.
    greedy = make_client(pacing=False, retry=NO_RETRY)
    for _ in range(40):
        try:
            greedy.account.balance()
        except RateLimitError:
            break
    else:
        raise AssertionError("the simulator never rate-limited the greedy client")
    paced = make_client()
    start = clock.time()
    assert paced.account.balance()
    assert clock.time() - start >= paced.pacer.rate_limit_backoff  # backed off as Kraken asks
    outcomes = [r.error for r in sim.access_log if r.endpoint == "Balance"][-2:]
    assert outcomes == ["EAPI:Rate limit exceeded", None]


def test_no_secret_in_logs_even_on_failures(make_client, sim, caplog):
    caplog.set_level(logging.DEBUG)
    client = make_client(retry=NO_RETRY)
    client.account.balance()
    for kind in ("error", "reset", "http_status"):
        sim.faults.inject(endpoint="Balance", kind=kind, times=1)
        try:
            client.account.balance()
        except Exception as exc:  # the typed error's text is checked below with the logs
            logging.getLogger("test").error("failed: %r %s", exc, exc)
    text = caplog.text
    assert caplog.records  # logging did happen
    assert sim.api_secret not in text and sim.api_key not in text and "API-Sign" not in text


def test_throttled_read_waits_until_the_named_time(client, sim, clock):
    until = int(clock.time()) + 20
    sim.faults.inject(endpoint="Balance", kind="error", error=f"EService: Throttled: {until}", times=1)
    assert client.account.balance()
    assert clock.time() >= until
    assert [r.outcome for r in sim.access_log if r.endpoint == "Balance"] == ["fault", "ok"]
