"""``krakenbot orders / trades / pnl`` and ``status`` on a store a real bot wrote against the simulator:
a buy, then a sell at a higher price, both taker fills with fees."""
from __future__ import annotations

import hashlib
import json
import os
import time
from decimal import Decimal
from pathlib import Path

import pytest

from krakenbot import cli
from krakenbot.bot import Bot
from krakenbot.config import Settings
from krakenbot.positions import PositionManager
from krakenbot.running import Presence
from krakenbot.store import Store, utc_day, utc_day_bounds
from krakensim import KrakenSimulator
from krakensim.clock import ManualClock


@pytest.fixture(scope="module")
def home(tmp_path_factory) -> Path:
    """A home whose store holds a round trip made today (the simulator's clock a minute behind now)."""
    folder = tmp_path_factory.mktemp("home")
    with KrakenSimulator(seed=42, clock=ManualClock(time.time() - 60)) as sim:
        sim.set_price("XBTEUR", "60000")
        settings = Settings.from_env({
            "KRAKEN_API_KEY": sim.api_key, "KRAKEN_API_SECRET": sim.api_secret, "API_DOMAIN": sim.url,
            "TRADING_MODE": "live", "KRAKEN_LIVE_TRADING": "yes", "KRAKENBOT_HOME": str(folder),
            "MAX_ORDER_EUR": "1000", "TOTAL_BTC": "0.1", "MAX_OPEN_ORDERS": "10"})
        with Bot.build(settings, clock=sim.clock, live_flag=True) as bot:
            assert bot.safety.submit_order("XBTEUR", "buy", "limit", Decimal("0.01"), Decimal("60100")).placed
            sim.clock.advance(5)
            sim.set_price("XBTEUR", "61000")
            assert bot.safety.submit_order("XBTEUR", "sell", "limit", Decimal("0.01"), Decimal("60900")).placed
            bot.safety.refresh_orders()
            assert [f.side for f in bot.store.fills()] == ["buy", "sell"]
    return folder


def krakenbot(capsys, home: Path, *args: str) -> tuple[int, str, str]:
    env_file = home.parent / f"{home.name}.env"
    if not env_file.exists():
        env_file.write_text("")
        env_file.chmod(0o600)
    code = cli.main(["--env-file", str(env_file), "--home", str(home), *args])
    out = capsys.readouterr()
    return code, out.out, out.err


def store_of(home: Path) -> Store:
    return Store(str(home / "krakenbot.sqlite"), read_only=True)


def test_pnl_daily_is_the_position_logics_figure_net_of_fees(home, capsys):
    with store_of(home) as store:
        fills = store.fills()
        start, end = utc_day_bounds(fills[-1].time)
        expected = PositionManager(store).realised_pnl(since=start, until=end)
    buy, sell = fills
    by_hand = (sell.cost - sell.fee) - (buy.cost + buy.fee)  # both fees paid out of the round trip
    assert expected == by_hand and by_hand < sell.cost - buy.cost
    code, out, _ = krakenbot(capsys, home, "pnl", "--daily", "--json")
    assert code == 0
    assert json.loads(out) == {"pnl": [{"day": utc_day(sell.time), "pair": "XXBTZEUR", "fills": 2,
                                        "fees": format(buy.fee + sell.fee, "f"),
                                        "realised_pnl": format(expected, "f")}]}
    code, out, _ = krakenbot(capsys, home, "pnl", "--daily")
    assert code == 0
    assert out.split("\n")[0].split() == ["DAY", "PAIR", "FILLS", "FEES", "REALISED_PNL"]
    assert out.split("\n")[1].split() == [utc_day(sell.time), "XXBTZEUR", "2", format(buy.fee + sell.fee, "f"),
                                          format(expected, "f")]
    code, out, _ = krakenbot(capsys, home, "pnl", "--json")
    row = json.loads(out)["pnl"][0]
    assert (row["pair"], row["realised_pnl"], Decimal(row["held"])) == ("XXBTZEUR", format(expected, "f"), 0)


def test_status_shows_for_today_the_figure_of_pnl_daily(home, capsys):
    code, out, _ = krakenbot(capsys, home, "status")
    assert code == 0
    shown = next(line for line in out.splitlines() if line.startswith("realised PnL")).split()[2]
    code, out, _ = krakenbot(capsys, home, "pnl", "--daily", "--json")
    today = [r for r in json.loads(out)["pnl"] if r["day"] == utc_day(time.time())]
    assert [r["realised_pnl"] for r in today] == [shown] and Decimal(shown) != 0


def test_trades_since_a_day_or_a_time_with_the_exchanges_amounts(home, capsys):
    with store_of(home) as store:
        buy, sell = store.fills()
    code, out, _ = krakenbot(capsys, home, "trades", "--since", utc_day(buy.time), "--json")
    assert code == 0
    rows = json.loads(out)["trades"]
    assert [(r["trade_id"], r["side"], r["price"], r["volume"], r["cost"], r["fee"]) for r in rows] == [
        (f.trade_id, f.side, str(f.price), str(f.volume), str(f.cost), str(f.fee)) for f in (buy, sell)]
    assert (rows[0]["realised_pnl"], Decimal(rows[1]["realised_pnl"])) == ("", (sell.cost - sell.fee) - (buy.cost + buy.fee))
    between = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(buy.time + 1)) + "Z"
    code, out, _ = krakenbot(capsys, home, "trades", "--since", between)
    lines = out.strip().split("\n")
    assert code == 0 and len(lines) == 2 and lines[0].split()[:4] == ["TIME", "PAIR", "SIDE", "VOLUME"]
    assert lines[1].split()[1:5] == ["XXBTZEUR", "sell", str(sell.volume), str(sell.price)]
    assert lines[1].split()[0] == time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(sell.time))
    code, out, _ = krakenbot(capsys, home, "trades", "--since", "2999-01-01")
    assert (code, out.strip()) == (0, "no trades in the store")


def test_orders_by_status_pair_and_limit(home, capsys):
    code, out, _ = krakenbot(capsys, home, "orders", "--json")
    rows = json.loads(out)["orders"]
    assert code == 0 and [(r["side"], r["status"], r["executed"]) for r in rows] == [
        ("buy", "FILLED", "0.01000000"), ("sell", "FILLED", "0.01000000")]
    code, out, _ = krakenbot(capsys, home, "orders", "--status", "filled", "--limit", "1")
    lines = out.strip().split("\n")
    assert code == 0 and len(lines) == 2 and rows[1]["cl_ord_id"] in lines[1] and " sell " in lines[1]
    code, out, _ = krakenbot(capsys, home, "orders", "--status", "OPEN")
    assert out.strip() == "no orders in the store"
    code, out, _ = krakenbot(capsys, home, "orders", "--pair", "XETHZEUR", "--json")
    assert json.loads(out) == {"orders": []}


def test_a_home_without_a_store_says_so_in_one_line_and_creates_none(tmp_path, capsys):
    empty = tmp_path / "empty-home"
    empty.mkdir()
    for command in (["orders"], ["trades"], ["pnl", "--daily"]):
        code, out, err = krakenbot(capsys, empty, *command)
        assert code == 1 and out == "" and len(err.strip().splitlines()) == 1 and "no store at" in err
    assert list(empty.iterdir()) == []


@pytest.mark.parametrize("args, named", [
    (["trades", "--since", "yesterday"], "--since"),
    (["trades", "--since", "2026-13-45"], "--since"),
    (["orders", "--status", "DONE"], "--status"),
    (["orders", "--limit", "0"], "--limit"),
    (["orders", "--limit", "ten"], "--limit"),
])
def test_bad_arguments_are_one_line_exit_2(home, capsys, args, named):
    code, out, err = krakenbot(capsys, home, *args)
    assert code == 2 and out == "" and len(err.strip().splitlines()) == 1 and named in err


def test_the_history_commands_never_write_the_store(home, capsys):
    path = home / "krakenbot.sqlite"
    before = (hashlib.sha256(path.read_bytes()).hexdigest(), path.stat().st_mtime_ns)
    for command in (["orders"], ["orders", "--json"], ["trades"], ["trades", "--since", "2020-01-01", "--json"],
                    ["pnl"], ["pnl", "--daily", "--json"]):
        assert krakenbot(capsys, home, *command)[0] == 0
    assert (hashlib.sha256(path.read_bytes()).hexdigest(), path.stat().st_mtime_ns) == before


def test_status_reports_the_running_bot_its_last_cycle_and_limits(tmp_path, capsys, home):
    running = tmp_path / "running-home"
    presence = Presence(running, "paper", store_path=":memory:", limits="order <= 25 EUR, 7 trades/day")
    presence.start()
    try:
        cycle = time.time() - 3
        presence.beat("paper", last_cycle=cycle)
        code, out, _ = krakenbot(capsys, running, "status")
        lines = dict(line.split(None, 1) for line in out.splitlines() if " " in line)
        assert lines["home"].strip() == str(running)
        assert lines["bot"].strip().startswith(f"running: pid {os.getpid()}, mode paper")
        assert lines["mode"].strip() == "paper (running bot)"
        assert out.count(time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(cycle))) == 1
        assert "last cycle     " + time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(cycle)) in out
        assert "limits         order <= 25 EUR, 7 trades/day (running bot)" in out
    finally:
        presence.stop()
    code, out, _ = krakenbot(capsys, running, "status")
    assert "not running" in out and "last cycle     none (no bot running)" in out


def test_a_running_bot_records_its_last_cycle_and_limits_for_status(tmp_path, monkeypatch, capsys):
    """``krakenbot run`` writes what ``status`` shows: its limits at start, each cycle's start at the next
    safe point (the record is removed at exit, so its writes are watched)."""
    written: list[dict] = []
    original = Presence._write

    def watched(self):
        written.append(dict(self.data))
        original(self)

    monkeypatch.setattr(Presence, "_write", watched)
    with KrakenSimulator(seed=7, tier="pro") as sim:
        for name, value in {"KRAKEN_API_KEY": sim.api_key, "KRAKEN_API_SECRET": sim.api_secret,
                            "API_DOMAIN": sim.url, "KRAKEN_TIER": sim.tier, "MAX_DAILY_TRADES": "7"}.items():
            monkeypatch.setenv(name, value)
        started = time.time()
        code, out, err = krakenbot(capsys, tmp_path / "bot-home", "run", "--mode", "paper", "--cycles", "2",
                                   "--interval", "0.01")
    assert code == 0, err
    assert {w["limits"] for w in written} == {next(line for line in out.splitlines()
                                                   if line.startswith("limits")).split(None, 1)[1]}
    assert "7 trades/day" in written[0]["limits"]
    cycles = [w["last_cycle"] for w in written if w["last_cycle"] is not None]
    assert cycles and started <= cycles[0] <= cycles[-1] <= time.time()


# -- a dry run's books ----------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def two_books(tmp_path_factory) -> Path:
    """A home with a live store (one buy of 0.01) and, beside it, a dry run's (a buy of 0.002, a sell of 0.001)."""
    folder = tmp_path_factory.mktemp("two-books")
    with KrakenSimulator(seed=42, clock=ManualClock(time.time() - 60)) as sim:
        sim.set_price("XBTEUR", "60000")
        env = {"KRAKEN_API_KEY": sim.api_key, "KRAKEN_API_SECRET": sim.api_secret, "API_DOMAIN": sim.url,
               "KRAKEN_LIVE_TRADING": "yes", "KRAKENBOT_HOME": str(folder), "MAX_ORDER_EUR": "1000",
               "TOTAL_BTC": "0.1", "MAX_OPEN_ORDERS": "10", "DRY_RUN_WALLET": "ZEUR=1000"}
        with Bot.build(Settings.from_env({**env, "TRADING_MODE": "live"}), clock=sim.clock, live_flag=True) as bot:
            assert bot.safety.submit_order("XBTEUR", "buy", "market", Decimal("0.01")).placed
        with Bot.build(Settings.from_env({**env, "TRADING_MODE": "dry-run"}), clock=sim.clock) as bot:
            for side, volume in (("buy", "0.002"), ("sell", "0.001")):
                assert bot.safety.submit_order("XBTEUR", side, "market", Decimal(volume)).placed
    return folder


def in_books(capsys, home: Path, *args: str, mode: str = "") -> tuple[int, str]:
    env_file = home.parent / f"{home.name}-{mode or 'none'}.env"
    env_file.write_text(f"TRADING_MODE={mode}\n" if mode else "")
    env_file.chmod(0o600)
    code = cli.main(["--env-file", str(env_file), "--home", str(home), *args])
    out = capsys.readouterr()
    assert code == 0, out.err
    return code, out.out


@pytest.mark.parametrize("how", ["--dry-run", "TRADING_MODE=dry-run"])
def test_orders_trades_and_pnl_show_the_dry_runs_books_labelled_in_table_and_json(two_books, capsys, how):
    """Asked with --dry-run, or with the mode set to dry-run, the history reads the dry run's store (no
    STORE_PATH to set) and says so on every output; without either, the live books, unlabelled."""
    flag, mode = ((how,), "") if how.startswith("--") else ((), "dry-run")
    for command in ("orders", "trades"):
        _, out = in_books(capsys, two_books, command, "--json", *flag, mode=mode)
        document = json.loads(out)
        assert document["books"] == "dry run"
        assert [Decimal(r["volume"]) for r in document[command]] == [Decimal("0.002"), Decimal("0.001")]
        _, out = in_books(capsys, two_books, command, *flag, mode=mode)
        assert out.splitlines()[0].startswith("DRY RUN: ") and len(out.strip().splitlines()) == 4
    _, out = in_books(capsys, two_books, "pnl", "--json", *flag, mode=mode)
    assert json.loads(out)["books"] == "dry run" and Decimal(json.loads(out)["pnl"][0]["held"]) == Decimal("0.001")
    _, out = in_books(capsys, two_books, "pnl", *flag, mode=mode)
    assert out.splitlines()[0].startswith("DRY RUN: ")

    _, out = in_books(capsys, two_books, "trades", "--json")
    assert "books" not in json.loads(out) and [Decimal(r["volume"]) for r in json.loads(out)["trades"]] == [
        Decimal("0.01")]
    _, out = in_books(capsys, two_books, "trades")
    assert "dry run" not in out.lower()


@pytest.mark.parametrize("how", ["--dry-run", "TRADING_MODE=dry-run"])
def test_status_shows_the_dry_runs_books_labelled(two_books, capsys, how):
    flag, mode = ((how,), "") if how.startswith("--") else ((), "dry-run")
    _, out = in_books(capsys, two_books, "status", *flag, mode=mode)
    lines = dict(line.split(None, 1) if line[:1] != " " else ("", line) for line in out.splitlines() if line.strip())
    assert out.splitlines()[1].startswith("DRY RUN: ")
    assert lines["store"].strip().endswith("krakenbot.dry-run.sqlite (dry run)")
    assert "trades today   2 of" in out

    _, out = in_books(capsys, two_books, "status")
    assert "dry run" not in out.lower() and "trades today   1 of" in out
