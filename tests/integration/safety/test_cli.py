"""The ``krakenbot`` command against a running simulator, as an operator runs it."""
from __future__ import annotations

import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from krakenbot.bot import Bot
from krakenbot.config import Settings
from krakensim import KrakenSimulator


@pytest.fixture
def live_sim():
    # The system clock: the CLI runs in another process. The pro tier: a start paces from a full call
    # counter (Bot.start), tens of seconds of real time on the starter tier.
    with KrakenSimulator(seed=7, tier="pro") as simulator:
        yield simulator


def cli_env(sim, tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": os.environ.get("PYTHONPATH", ""), "KRAKEN_API_KEY": sim.api_key, "KRAKEN_API_SECRET": sim.api_secret,
           "API_DOMAIN": sim.url, "KRAKEN_TIER": sim.tier, "STORE_PATH": str(tmp_path / "bot.sqlite"),
           "KILL_SWITCH_FILE": str(tmp_path / "KILL"),
           "XDG_STATE_HOME": os.environ["XDG_STATE_HOME"]}  # the test's own (tests/conftest.py), never the real one
    env.update(extra)
    return env


def empty_env_file(folder: Path) -> Path:
    """An empty, private .env: the commands read no stray one (a named --env-file must exist)."""
    path = folder / "empty.env"
    if not path.exists():
        path.write_text("")
        path.chmod(0o600)
    return path


def run_cli(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "krakenbot.cli", "--env-file", str(empty_env_file(cwd)), *args],
                          env=env, cwd=cwd, capture_output=True, text=True, timeout=30)


def test_check_prints_balances_and_never_the_secret(live_sim, tmp_path):
    result = run_cli(["check"], cli_env(live_sim, tmp_path), tmp_path)
    assert result.returncode == 0, result.stderr
    assert "auth       ok" in result.stdout and "status     online" in result.stdout
    assert "ZEUR" in result.stdout and "10000" in result.stdout
    output = result.stdout + result.stderr
    assert live_sim.api_secret not in output and live_sim.api_key not in output
    assert live_sim.api_key[:4] + "…" in result.stdout


def test_check_with_a_wrong_secret_fails_in_one_line(live_sim, tmp_path):
    _, other_secret = live_sim.create_key()
    result = run_cli(["check"], cli_env(live_sim, tmp_path, KRAKEN_API_SECRET=other_secret), tmp_path)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "invalid signature" in lines[0].lower(), result.stderr
    assert other_secret not in result.stdout + result.stderr


@pytest.mark.parametrize("name, value", [("KRAKEN_API_SECRET", "not-base64*"), ("MAX_ORDER_EUR", "lots"),
                                         ("API_DOMAIN", "kraken.com")])
def test_bad_config_is_one_line_naming_the_setting_exit_2(live_sim, tmp_path, name, value):
    result = run_cli(["check"], cli_env(live_sim, tmp_path, **{name: value}), tmp_path)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and name in lines[0]
    assert "not-base64*" not in result.stderr


def test_run_live_without_the_flag_is_refused(live_sim, tmp_path):
    result = run_cli(["run", "--mode", "live", "--once"], cli_env(live_sim, tmp_path, KRAKEN_LIVE_TRADING="yes"),
                       tmp_path)
    assert result.returncode == 2 and "--live" in result.stderr
    assert not [r for r in live_sim.access_log if r.endpoint == "AddOrder"]


def test_run_once_in_paper_mode(live_sim, tmp_path):
    result = run_cli(["run", "--mode", "paper", "--once"], cli_env(live_sim, tmp_path), tmp_path)
    assert result.returncode == 0, result.stderr
    assert "mode paper: 1 cycle(s)" in result.stdout


def test_kill_writes_the_flag_and_cancels_open_orders(live_sim, tmp_path):
    settings = Settings.from_env({**cli_env(live_sim, tmp_path), "TRADING_MODE": "live", "KRAKEN_LIVE_TRADING": "yes",
                                  "MAX_ORDER_EUR": "1000", "TOTAL_BTC": "1"})
    with Bot.build(settings, live_flag=True) as bot:  # the store kill and status will read
        mid = bot.safety.ticker("XBTEUR").mid
        placed = bot.safety.submit_order("XBTEUR", "buy", "limit", Decimal("0.01"), (mid * Decimal("0.99")).quantize(Decimal("0.1")))
        assert placed.placed, placed
    assert [o for o in live_sim.orders() if o["status"] == "open"]
    result = run_cli(["kill", "--reason", "test"], cli_env(live_sim, tmp_path), tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "KILL").read_text().splitlines()[0] == "test"
    assert "cancelled 1 open order" in result.stdout
    assert not [o for o in live_sim.orders() if o["status"] == "open"]
    status = run_cli(["status"], cli_env(live_sim, tmp_path), tmp_path)
    assert status.returncode == 0, status.stderr
    assert "kill switch    ENGAGED" in status.stdout and "trading state  HALTED" in status.stdout


def test_resume_is_refused_while_the_kill_file_exists(live_sim, tmp_path):
    from krakenbot.clock import SystemClock
    from krakenbot.risk import RiskLimits, RiskManager
    from krakenbot.store import Store

    with Store(str(tmp_path / "bot.sqlite")) as store:
        RiskManager(RiskLimits(), store, SystemClock()).halt("test halt")
    (tmp_path / "KILL").write_text("incident\n")
    refused = run_cli(["resume"], cli_env(live_sim, tmp_path), tmp_path)
    assert refused.returncode == 1 and "remove it first" in refused.stderr
    (tmp_path / "KILL").unlink()
    resumed = run_cli(["resume", "--reason", "incident closed"], cli_env(live_sim, tmp_path), tmp_path)
    assert resumed.returncode == 0 and "HALTED -> ACTIVE" in resumed.stdout, resumed.stderr
    after = run_cli(["status"], cli_env(live_sim, tmp_path), tmp_path)
    assert "trading state  ACTIVE" in after.stdout and "kill switch    off" in after.stdout


def test_status_lists_a_halted_pair_and_resume_pair_clears_only_it(live_sim, tmp_path):
    from krakenbot.clock import SystemClock
    from krakenbot.risk import RiskLimits, RiskManager
    from krakenbot.store import Store

    with Store(str(tmp_path / "bot.sqlite")) as store:
        RiskManager(RiskLimits(), store, SystemClock()).halt_pair("XXBTZEUR", "exchange answer contradicted an order")
    status = run_cli(["status"], cli_env(live_sim, tmp_path), tmp_path)
    assert "pair halted    XXBTZEUR: exchange answer contradicted an order" in status.stdout, status.stderr
    wrong = run_cli(["resume", "--pair", "XETHZEUR"], cli_env(live_sim, tmp_path), tmp_path)
    assert wrong.returncode == 1 and "not halted (halted: XXBTZEUR)" in wrong.stderr
    cleared = run_cli(["resume", "--pair", "XXBTZEUR", "--reason", "checked"], cli_env(live_sim, tmp_path), tmp_path)
    assert cleared.returncode == 0 and "pair XXBTZEUR HALTED -> ACTIVE" in cleared.stdout, cleared.stderr
    assert "pair halted" not in run_cli(["status"], cli_env(live_sim, tmp_path), tmp_path).stdout


def test_report_without_the_reporting_module_exits_2_in_one_line(monkeypatch, capsys):
    from krakenbot import cli

    monkeypatch.setitem(sys.modules, "tools.safety_report", None)  # import fails as if absent
    assert cli.main(["report"]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "not available" in err


def test_report_hands_its_arguments_to_the_reporting_entry_point(monkeypatch, capsys):
    import types

    from krakenbot import cli

    seen = []
    fake = types.ModuleType("tools.safety_report")
    fake.main = lambda argv: seen.append(argv) or 0
    monkeypatch.setitem(sys.modules, "tools.safety_report", fake)
    assert cli.main(["report", "--out", "reports/x"]) == 0
    assert seen == [["--out", "reports/x"]]
