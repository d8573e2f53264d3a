"""Review of issue 22 (metrics, notifications): each test here fails against the merged code and names
the defect it proves. Real loopback HTTP only; no sleeps."""
from __future__ import annotations

import socket

from krakenbot.client import KrakenClient, NO_RETRY
from krakenbot.errors import ConnectionFailed
from krakenbot.metrics import BotMetrics
from krakensim.clock import ManualClock


def _closed_loopback_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # closed on leaving: a connect there is refused


def test_a_request_whose_connection_is_refused_is_counted_as_an_exchange_error():
    """The exchange unreachable (connection refused) is the first error an operator must see on the page;
    Transport.send only reports http.client/OSError failures, but _open already turned them into
    ConnectionFailed (a KrakenError), so the observer never hears of them: errors stay at 0."""
    metrics = BotMetrics(ManualClock(0))
    client = KrakenClient(f"http://127.0.0.1:{_closed_loopback_port()}", retry=NO_RETRY, pacing=False,
                          public_burst=None)
    client.observe(metrics)
    try:
        try:
            client.public("Time")
        except ConnectionFailed:
            pass
        else:
            raise AssertionError("a closed port answered")
    finally:
        client.close()
    counted = metrics.registry.get_sample_value("krakenbot_exchange_errors_total",
                                                {"endpoint": "Time", "kind": "ConnectionFailed"})
    assert counted == 1, "a refused connection is missing from krakenbot_exchange_errors_total"


def test_a_webhook_url_the_configuration_accepts_never_kills_the_sender_thread():
    """NOTIFY_WEBHOOK_URL with a non-ASCII path passes config._webhook; http.client then raises
    UnicodeEncodeError (a ValueError, not the OSError/HTTPException Notifier._run catches): the sender
    thread dies with a traceback on stderr and every later event is neither sent nor counted (the queue
    fills silently, then only 'dropped'). Either the setting is refused with one line, or each event is
    at least counted as failed."""
    import threading

    from krakenbot.config import ConfigError, Settings
    from krakenbot.notify import Notifier
    from tools.spec_support.webhook import Receiver

    receiver = Receiver(path="/hooks/t\u00f6ken")
    try:
        try:
            settings = Settings.from_env({"KRAKEN_API_KEY": "k", "KRAKEN_API_SECRET": "c2VjcmV0",
                                          "NOTIFY_WEBHOOK_URL": receiver.url})
        except ConfigError as exc:  # refused up front: fine, if it is one line
            assert "\n" not in str(exc)
            return
        outcomes: list[tuple[str, str]] = []
        heard = threading.Condition()

        def on_outcome(event: str, outcome: str) -> None:
            with heard:
                outcomes.append((event, outcome))
                heard.notify_all()

        notifier = Notifier(settings.notify_webhook_url, on_outcome=on_outcome)
        notifier.notify("breaker_opened", "first")
        notifier.notify("breaker_opened", "second")
        with heard:
            heard.wait_for(lambda: len(outcomes) >= 2, timeout=5)
        alive = notifier._thread.is_alive()
        notifier.close()
    finally:
        receiver.close()
    assert alive, "the sender thread died on the accepted webhook URL"
    assert len(outcomes) == 2, f"events vanished without a count: {outcomes}"
