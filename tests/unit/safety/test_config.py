"""Settings: every bad value gives one line naming the setting; secrets never leak."""
from __future__ import annotations

import base64
import logging
import os
from decimal import Decimal

import pytest

from krakenbot.client import Timeouts

from krakenbot.config import SETTING_NAMES, ConfigError, Settings, load
from krakenbot.safety.modes import TradingMode

SECRET = base64.b64encode(b"super-secret-bytes-0123456789").decode()
KEY = "KEYabcdefghijklmnopqrstuvwxyz0123456789"
BASE = {"KRAKEN_API_KEY": KEY, "KRAKEN_API_SECRET": SECRET}


def test_defaults_when_only_credentials_given():
    settings = Settings.from_env(BASE)
    assert settings.api_domain == "https://api.kraken.com"
    assert settings.trading_mode is TradingMode.READ_ONLY
    assert settings.pairs == ("XBTEUR",)
    assert settings.min_trade_volume == Decimal("0.00005")
    assert settings.min_eur_for_trade == Decimal("5.0")
    assert settings.live_trading_enabled is False


def test_values_are_parsed_as_decimal_and_int():
    settings = Settings.from_env({**BASE, "MAX_ORDER_EUR": "250.50", "MAX_DAILY_TRADES": "7",
                                  "PAIRS": "xbteur, etheur", "TRADING_MODE": "paper",
                                  "KRAKEN_LIVE_TRADING": "yes", "API_DOMAIN": "http://127.0.0.1:8080/"})
    assert settings.max_order_eur == Decimal("250.50") and isinstance(settings.max_order_eur, Decimal)
    assert settings.max_daily_trades == 7
    assert settings.pairs == ("XBTEUR", "ETHEUR")
    assert settings.trading_mode is TradingMode.PAPER
    assert settings.live_trading_enabled is True
    assert settings.api_domain == "http://127.0.0.1:8080"


BAD_VALUES = {
    "KRAKEN_API_KEY": "has space",
    "KRAKEN_API_SECRET": "not*base64!!",
    "API_DOMAIN": "ftp://example.com",
    "KRAKEN_TIER": "diamond",
    "TOTAL_BTC": "0",
    "MIN_TRADE_VOLUME": "-1",
    "MIN_EUR_FOR_TRADE": "five",
    "MAX_ORDER_EUR": "NaN",
    "MAX_DAILY_TRADES": "1.5",
    "MAX_DAILY_LOSS_EUR": "-3",
    "MAX_OPEN_ORDERS": "0",
    "PRICE_COLLAR_PCT": "150",
    "MAX_POSITION_PCT": "abc",
    "STOP_LOSS_PCT": "0",
    "TAKE_PROFIT_PCT": "-5",
    "TRADING_MODE": "yolo",
    "KRAKEN_LIVE_TRADING": "maybe",
    "STORE_PATH": "bad\x00path",
    "KILL_SWITCH_FILE": "bad\x00path",
    "PAIRS": " , ",
    "DEAD_MANS_SWITCH_SECONDS": "100000",
    "STALE_DATA_SECONDS": "soon",
    "CANARY_OFFSET_PCT": "0",
    "CANARY_MAX_EUR": "-1",
    "STRATEGY_BUY_EUR": "x",
    "STRATEGY_DIP_PCT": "200",
    "STRATEGY_RISE_PCT": "-1",
    "STRATEGY_INTERVAL_SECONDS": "-1",
    "BOT_ID": "KB-1",
    "DRY_RUN_WALLET": "ZEUR1000",
    "KRAKENBOT_HOME": "bad\x00path",
    "KRAKEN_CONNECT_TIMEOUT": "0",
    "KRAKEN_READ_TIMEOUT": "inf",
    "KRAKEN_TOTAL_TIMEOUT": "301",
    "NOTIFY_WEBHOOK_URL": "http://hooks.example.com/T0KEN",
    "MARKET_STREAM": "sometimes",
    "ORDER_CHECK_SECONDS": "0",  # REST must still be asked about open orders while the stream follows
    "KRAKEN_WS_URL": "ws://ws.kraken.com/v2",  # a token-free stream still only over TLS off this machine
    "KRAKEN_WS_AUTH_URL": "https://ws-auth.kraken.com/v2",
}


def test_every_setting_has_a_bad_value_case():
    assert set(BAD_VALUES) == set(SETTING_NAMES)


@pytest.mark.parametrize("name", sorted(BAD_VALUES))
def test_bad_value_gives_one_line_naming_the_setting(name):
    env = {**BASE, name: BAD_VALUES[name]}
    if name == "PAIRS":
        env[name] = "!!"
    with pytest.raises(ConfigError) as info:
        Settings.from_env(env)
    message = str(info.value)
    assert info.value.setting == name
    assert message.startswith(f"{name}: ")
    assert "\n" not in message
    assert SECRET not in message and KEY not in message


@pytest.mark.parametrize("text, said", [
    ("ZEUR=1000,XXBT", "'XXBT' is not ASSET=AMOUNT"),
    ("ZEUR=ten", "ZEUR: 'ten' is not a decimal amount"),
    ("ZEUR=-5", "ZEUR: the amount must be a number >= 0"),
    ("ZEUR=1,ZEUR=2", "ZEUR is given twice"),
    ("zeur=1000", "'zeur=1000' is not ASSET=AMOUNT"),
    (",", "lists no asset"),
])
def test_a_mistyped_dry_run_wallet_is_one_clear_line(text, said):
    with pytest.raises(ConfigError) as info:
        Settings.from_env({**BASE, "TRADING_MODE": "dry-run", "DRY_RUN_WALLET": text})
    assert str(info.value).startswith("DRY_RUN_WALLET: ") and said in str(info.value)
    assert "\n" not in str(info.value)


def test_a_dry_run_has_a_wallet_and_books_of_its_own(tmp_path):
    env = {**BASE, "TRADING_MODE": "dry-run", "KRAKENBOT_HOME": str(tmp_path)}
    with pytest.raises(ConfigError, match="^DRY_RUN_WALLET: is required in dry-run mode"):
        Settings.from_env(env)
    settings = Settings.from_env({**env, "DRY_RUN_WALLET": "ZEUR=1000, XXBT=0.5"})
    assert settings.dry_run_wallet == {"ZEUR": Decimal(1000), "XXBT": Decimal("0.5")}
    assert settings.store_path == str(tmp_path / "krakenbot.dry-run.sqlite")
    assert Settings.from_env({**env, "DRY_RUN_WALLET": "snapshot"}).dry_run_wallet == "snapshot"
    live = Settings.from_env({**BASE, "KRAKENBOT_HOME": str(tmp_path)})
    assert live.store_path == str(tmp_path / "krakenbot.sqlite")


@pytest.mark.parametrize("name", ["KRAKEN_API_KEY", "KRAKEN_API_SECRET"])
def test_missing_credentials_are_named(name):
    env = dict(BASE)
    del env[name]
    with pytest.raises(ConfigError, match=f"^{name}: is required"):
        Settings.from_env(env)


def test_secret_value_never_echoed_when_invalid():
    bad_secret = "THIS-IS-THE-SECRET-VALUE*"
    with pytest.raises(ConfigError) as info:
        Settings.from_env({**BASE, "KRAKEN_API_SECRET": bad_secret})
    assert bad_secret not in str(info.value) and bad_secret not in repr(info.value)


def test_repr_redacts_key_and_secret():
    settings = Settings.from_env(BASE)
    for text in (repr(settings), str(settings)):
        assert SECRET not in text
        assert KEY not in text
        assert "KEYa…" in text


def test_load_reads_dotenv_but_real_environment_wins(tmp_path):
    env_file = tmp_path / ".env"
    env_file.write_text(f"KRAKEN_API_KEY={KEY}\nKRAKEN_API_SECRET={SECRET}\nMAX_ORDER_EUR=42\nTRADING_MODE=paper\n")
    os.chmod(env_file, 0o600)
    settings = load(env_file, environ={"TRADING_MODE": "canary"})
    assert settings.max_order_eur == Decimal("42")
    assert settings.trading_mode is TradingMode.CANARY


def test_load_warns_when_dotenv_readable_by_others(tmp_path, caplog):
    env_file = tmp_path / ".env"
    env_file.write_text(f"KRAKEN_API_KEY={KEY}\nKRAKEN_API_SECRET={SECRET}\n")
    os.chmod(env_file, 0o644)
    with caplog.at_level(logging.WARNING, logger="krakenbot.config"):
        load(env_file, environ={})
    assert any("chmod 600" in r.getMessage() and str(env_file) in r.getMessage() for r in caplog.records)
    assert all(SECRET not in r.getMessage() for r in caplog.records)


def test_load_private_dotenv_does_not_warn(tmp_path, caplog):
    env_file = tmp_path / ".env"
    env_file.write_text(f"KRAKEN_API_KEY={KEY}\nKRAKEN_API_SECRET={SECRET}\n")
    os.chmod(env_file, 0o600)
    with caplog.at_level(logging.WARNING, logger="krakenbot.config"):
        load(env_file, environ={})
    assert not [r for r in caplog.records if "chmod" in r.getMessage()]


def test_settings_are_frozen():
    settings = Settings.from_env(BASE)
    with pytest.raises(Exception):
        settings.max_order_eur = Decimal("1")  # type: ignore[misc]


def test_the_command_line_options_count_before_and_after_the_subcommand():
    """``krakenbot --home H kill`` must reach H's bot: an option before the subcommand was once dropped."""
    from krakenbot import cli

    for argv in (["--env-file", "x.env", "--home", "h", "--store", "s", "-v", "kill"],
                 ["kill", "--env-file", "x.env", "--home", "h", "--store", "s", "-v"]):
        args = cli._parse(argv)
        assert (args.env_file, args.home, args.store, args.verbose) == ("x.env", "h", "s", True), argv
    args = cli._parse(["check"])
    assert (args.env_file, args.home, args.store, args.verbose) == (None, None, None, False)


def test_the_timeouts_reach_the_client_and_the_total_bounds_the_other_two():
    from krakenbot.bot import Bot
    from krakenbot.store import Store

    settings = Settings.from_env({**BASE, "KRAKEN_CONNECT_TIMEOUT": "2", "KRAKEN_READ_TIMEOUT": "5",
                                  "KRAKEN_TOTAL_TIMEOUT": "12.5"})
    with Bot.build(settings, store=Store(":memory:")) as bot:
        assert bot.client._transport.timeouts == Timeouts(2.0, 5.0, 12.5)
    with pytest.raises(ConfigError) as info:  # the setting the operator gave is the one named
        Settings.from_env({**BASE, "KRAKEN_READ_TIMEOUT": "40"})
    assert info.value.setting == "KRAKEN_READ_TIMEOUT" and "KRAKEN_TOTAL_TIMEOUT (30 s" in str(info.value)
    with pytest.raises(ConfigError) as info:
        Settings.from_env({**BASE, "KRAKEN_CONNECT_TIMEOUT": "5", "KRAKEN_TOTAL_TIMEOUT": "4"})
    assert info.value.setting == "KRAKEN_TOTAL_TIMEOUT" and "KRAKEN_CONNECT_TIMEOUT (5 s)" in str(info.value)
