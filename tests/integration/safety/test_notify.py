"""Issue 22: the operator's webhook hears of the breaker, the kill switch, daily limits and fills; a webhook
that hangs or fails never holds an order back; its token never reaches the log; the URL is checked."""
from __future__ import annotations

import json
import logging
import time
from decimal import Decimal

import pytest

from krakenbot import cli
from krakenbot.bot import Bot
from krakenbot.config import ConfigError, Settings
from krakenbot.metrics import BotMetrics
from krakenbot.notify import Notifier, shown_webhook
from krakensim import KrakenSimulator
from krakensim.clock import ManualClock
from tools.spec_support.webhook import Receiver

TOKEN = "T0KEN-s3cr3t"
HOOK = f"/hooks/{TOKEN}?token={TOKEN}"  # a token in the path and the query, as Slack's and Telegram's carry


@pytest.fixture
def sim():
    with KrakenSimulator(seed=42, clock=ManualClock(time.time())) as simulator:
        simulator.set_price("XBTEUR", "60000")
        yield simulator


def live_bot(sim, tmp_path, receiver: Receiver, **env: str) -> Bot:
    settings = Settings.from_env({
        "KRAKEN_API_KEY": sim.api_key, "KRAKEN_API_SECRET": sim.api_secret, "API_DOMAIN": sim.url,
        "TRADING_MODE": "live", "KRAKEN_LIVE_TRADING": "yes", "KRAKENBOT_HOME": str(tmp_path),
        "MAX_ORDER_EUR": "1000", "TOTAL_BTC": "0.1", "MAX_OPEN_ORDERS": "10", "NOTIFY_WEBHOOK_URL": receiver.url,
        **env})
    return Bot.build(settings, clock=sim.clock, live_flag=True)


def buy(bot: Bot) -> object:
    return bot.safety.submit_order("XBTEUR", "buy", "market", Decimal("0.001"))  # read back at once: filled


def test_the_webhook_hears_breaker_fill_daily_limit_and_kill_without_any_key(sim, tmp_path):
    receiver = Receiver(path=HOOK)
    try:
        with live_bot(sim, tmp_path, receiver, MAX_DAILY_TRADES="1") as bot:
            notifier = Notifier(receiver.url, scrub=lambda t: t).attach(bot)
            assert buy(bot).placed
            assert buy(bot).codes == ["DAILY_TRADE_LIMIT"]
            assert buy(bot).codes == ["DAILY_TRADE_LIMIT"]  # said once a day
            bot.client.breaker.trip("drill")
            bot.client.breaker.reset("drill over")
            bot.safety.kill("drill")
            posts = receiver.wait_for(5)
            notifier.close()
    finally:
        receiver.close()
    assert [p["event"] for p in posts] == ["order_filled", "daily_limit", "breaker_opened", "breaker_closed",
                                           "kill_switch_engaged"]
    assert Decimal(posts[0]["details"]["volume"]) == Decimal("0.001") and posts[0]["text"] == posts[0]["content"]
    assert "circuit breaker opened: drill" in posts[2]["text"]
    assert all(p["path"] == f"/hooks/{TOKEN}?token={TOKEN}" for p in posts)
    sent = json.dumps(posts)
    assert sim.api_key not in sent and sim.api_secret not in sent


def test_a_hanging_webhook_holds_no_order_back_and_a_full_queue_drops_and_counts(sim, tmp_path):
    receiver = Receiver(path=HOOK)
    receiver.hold.clear()  # every POST waits until the test ends
    try:
        with live_bot(sim, tmp_path, receiver) as bot:
            metrics = BotMetrics(bot.clock).attach(bot)
            notifier = Notifier(receiver.url, on_outcome=metrics.notification, size=1).attach(bot)
            first = buy(bot)
            receiver.wait_for(1)  # the sender is stuck in the first POST from here on
            later = [buy(bot) for _ in range(3)]
            assert len(receiver.posts) == 1  # still stuck, yet every order went through
            dropped = metrics.registry.get_sample_value("krakenbot_notifications_total",
                                                        {"event": "order_filled", "outcome": "dropped"})
            receiver.hold.set()
            notifier.close()
    finally:
        receiver.close()
    assert first.placed and all(o.placed for o in later)
    assert [o.status for o in later] == ["FILLED"] * 3
    assert dropped == 2  # one waits in the queue of one, two found it full


def test_a_failing_webhook_is_logged_without_its_token_and_counted(sim, tmp_path, caplog):
    receiver = Receiver(status=500, path=HOOK)
    try:
        with live_bot(sim, tmp_path, receiver) as bot:
            metrics = BotMetrics(bot.clock).attach(bot)
            notifier = Notifier(receiver.url, on_outcome=metrics.notification).attach(bot)
            with caplog.at_level(logging.WARNING, logger="krakenbot.notify"):
                assert buy(bot).placed
                receiver.wait_for(1)
                notifier.close()
            failed = metrics.registry.get_sample_value("krakenbot_notifications_total",
                                                       {"event": "order_filled", "outcome": "failed"})
    finally:
        receiver.close()
    lines = [r.getMessage() for r in caplog.records if r.name == "krakenbot.notify"]
    assert lines == [f"notification order_filled not delivered to http://127.0.0.1:{receiver.server.server_address[1]}"
                     f"/***: HTTP 500"]
    assert failed == 1


def test_the_sender_thread_survives_any_failure_of_an_event_and_counts_it(caplog):
    """Whatever one event's POST raises (here http.client's UnicodeEncodeError on a URL the configuration
    now refuses, built by hand), that event is logged and counted as failed and the thread goes on."""
    import threading

    receiver = Receiver(path="/hooks/t\u00f6ken")
    outcomes: list[tuple[str, str]] = []
    heard = threading.Condition()

    def on_outcome(event: str, outcome: str) -> None:
        with heard:
            outcomes.append((event, outcome))
            heard.notify_all()

    try:
        notifier = Notifier(receiver.url, on_outcome=on_outcome)
        with caplog.at_level(logging.WARNING, logger="krakenbot.notify"):
            notifier.notify("breaker_opened", "first")
            notifier.notify("breaker_opened", "second")
            with heard:
                heard.wait_for(lambda: len(outcomes) >= 2, timeout=5)
            alive = notifier._thread.is_alive()
            notifier.close()
    finally:
        receiver.close()
    assert alive, "the sender thread died"
    assert outcomes == [("breaker_opened", "failed")] * 2
    assert [r.getMessage().rpartition(": ")[2] for r in caplog.records if r.name == "krakenbot.notify"] == \
        ["UnicodeEncodeError"] * 2


@pytest.mark.parametrize("url, said", [
    ("http://hooks.example.com/x", "plain http is allowed only to this machine"),
    ("ftp://127.0.0.1/x", "must be an https:// URL"),
    ("https://hooks.example.com:99999/x", "has an invalid port"),
    ("https://hooks.example.com/hooks/t\u00f6ken", "ASCII"),  # passed, then killed the sender thread
    ("https://hooks.example.com/hooks/a b", "ASCII"),
])
def test_a_bad_webhook_url_is_one_line_naming_the_setting(url, said, tmp_path, capsys):
    with pytest.raises(ConfigError, match=said):
        Settings.from_env({"KRAKEN_API_KEY": "k", "KRAKEN_API_SECRET": "c2VjcmV0", "NOTIFY_WEBHOOK_URL": url})
    env = tmp_path / "bot.env"
    env.write_text(f"KRAKEN_API_KEY=KEYabcd\nKRAKEN_API_SECRET=c2VjcmV0\nNOTIFY_WEBHOOK_URL={url}\n")
    env.chmod(0o600)
    assert cli.main(["config", "--env-file", str(env), "--home", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("krakenbot: configuration error: NOTIFY_WEBHOOK_URL") and len(err.splitlines()) == 1


def test_krakenbot_config_shows_only_the_webhooks_scheme_and_domain(tmp_path, capsys):
    """Some services put the secret in the subdomain: only the host's last two labels are shown."""
    env = tmp_path / "bot.env"
    env.write_text(f"KRAKEN_API_KEY=KEYabcd\nKRAKEN_API_SECRET=c2VjcmV0\n"
                   f"NOTIFY_WEBHOOK_URL=https://{TOKEN}.hooks.example.com/services/{TOKEN}?t={TOKEN}\n")
    env.chmod(0o600)
    assert cli.main(["config", "--env-file", str(env), "--home", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "https://***.example.com/***" in out and TOKEN not in out and "hooks" not in out


@pytest.mark.parametrize("url, shown", [
    ("https://T0KEN.hooks.example.com/services/x", "https://***.example.com/***"),
    ("https://user:pw@a.b.example.com:8443/x?t=1", "https://***.example.com:8443/***"),  # a port is no label
    ("https://example.com/x", "https://example.com/***"),
    ("http://127.0.0.1:8080/hooks/x", "http://127.0.0.1:8080/***"),  # an address holds no secret: the test receiver
    ("http://[::1]:8080/x", "http://[::1]:8080/***"),
    (None, "<unset>"),
])
def test_the_webhook_is_shown_by_its_scheme_and_last_two_host_labels_only(url, shown):
    assert shown_webhook(url) == shown
