"""Issue 18: the operator's controls cannot miss. Each test reproduces a defect found by running the
bot as a new operator would (kill from another directory, cleartext, a stop during a back-off, an
emergency stop on a broken configuration, typos slipping through)."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from krakenbot import cli, running
from krakenbot.config import SETTING_NAMES
from krakensim import KrakenSimulator

ROOT = Path(__file__).resolve().parents[3]
KEY, SECRET = "KEYabcdefgh1234", "c2VjcmV0LXNlY3JldC1ieXRlcw=="


@pytest.fixture
def sim():
    # The system clock: the bot runs in another process. The pro tier: a start paces from a full call
    # counter (Bot.start), about 15 s of real time on the starter tier before the first cycle.
    with KrakenSimulator(seed=7, tier="pro") as simulator:
        yield simulator


def base_env(home: Path, **extra: str) -> dict[str, str]:
    env = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": os.environ.get("PYTHONPATH", ""),
           "KRAKENBOT_HOME": str(home)}
    env.update(extra)
    return env


def sim_env(sim, home: Path, **extra: str) -> dict[str, str]:
    return base_env(home, KRAKEN_API_KEY=sim.api_key, KRAKEN_API_SECRET=sim.api_secret, API_DOMAIN=sim.url,
                    **{"KRAKEN_TIER": sim.tier, **extra})


def cli_run(args: list[str], env: dict[str, str], cwd: Path, timeout: float = 30) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "krakenbot.cli", *args], env=env, cwd=cwd, capture_output=True,
                          text=True, timeout=timeout)


def start_bot(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "krakenbot.cli", "run", *args], env=env, cwd=cwd,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_until(condition, timeout: float = 20.0, what: str = "condition"):
    """Bounded polling of another process: never a fixed sleep."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


def stop(bot: subprocess.Popen) -> None:
    if bot.poll() is None:
        bot.send_signal(signal.SIGTERM)
        try:
            bot.wait(10)
        except subprocess.TimeoutExpired:
            bot.kill()
            bot.wait(5)


# -- 1. the kill switch reaches the running bot whatever the directory -----------------------------
def test_kill_from_another_directory_halts_the_running_bot_and_no_order_leaves_after(sim, tmp_path):
    home, dir_a, dir_b = tmp_path / "home", tmp_path / "A", tmp_path / "B"
    dir_a.mkdir(), dir_b.mkdir()
    bot = start_bot(["--mode", "paper", "--interval", "0.2"], sim_env(sim, home, STRATEGY_INTERVAL_SECONDS="1"), dir_a)
    try:
        wait_until(lambda: any(r.endpoint == "AddOrder" for r in sim.access_log), what="the bot's first order")
        # From B, with nothing but the home: no credentials, and an unrelated setting broken.
        killed = cli_run(["kill", "--reason", "drill"], base_env(home, TOTAL_BTC="-1"), dir_b)
        mark = len(sim.access_log)
        assert f"running bot pid {bot.pid} (paper) confirmed the halt" in killed.stdout, killed.stdout + killed.stderr
        assert "NOT cancelled" in killed.stderr and killed.returncode == 1  # no credentials: said so, not hidden
        assert (home / "KILL_SWITCH").exists() and not (dir_b / "KILL_SWITCH").exists()
        beat = running.read(home)["heartbeat"]
        wait_until(lambda: running.read(home)["heartbeat"] > beat + 0.5, what="the bot to run on after the kill")
        assert [r.endpoint for r in sim.access_log[mark:] if r.endpoint == "AddOrder"] == []
        status = cli_run(["status"], base_env(home), dir_b)
        assert "trading state  HALTED" in status.stdout and "mode           paper (running bot)" in status.stdout
    finally:
        stop(bot)


def test_kill_says_so_when_no_bot_runs_with_that_home(sim, tmp_path):
    killed = cli_run(["kill"], sim_env(sim, tmp_path / "empty-home"), tmp_path)
    assert killed.returncode == 1 and "no store at" in killed.stderr and str(tmp_path / "empty-home") in killed.stderr
    assert "no bot running" in killed.stdout


def test_status_and_resume_never_create_a_store(tmp_path):
    for command in (["status"], ["resume"]):
        done = cli_run(command, base_env(tmp_path / "home"), tmp_path)
        assert done.returncode == 1 and f"no store at {tmp_path / 'home' / 'krakenbot.sqlite'}" in done.stderr
    assert not (tmp_path / "home" / "krakenbot.sqlite").exists() and not list(tmp_path.glob("*.sqlite"))


def test_kill_with_a_broken_unrelated_setting_still_writes_the_kill_file(tmp_path):
    done = cli_run(["kill", "--reason", "x"], base_env(tmp_path / "home", TOTAL_BTC="-1"), tmp_path)
    assert (tmp_path / "home" / "KILL_SWITCH").read_text().splitlines()[0] == "x"
    assert done.returncode == 1 and "NOT cancelled" in done.stderr


# -- 3. a stop during a back-off is honoured at once ------------------------------------------------
def test_sigterm_during_a_rate_limit_back_off_stops_within_two_seconds(sim, tmp_path):
    sim.faults.inject("OpenOrders", "error", error="EAPI:Rate limit exceeded", times=1)
    bot = start_bot(["--mode", "paper", "--interval", "0.2", "-v"], sim_env(sim, tmp_path / "home"), tmp_path)
    try:
        lines: list[str] = []
        wait_until(lambda: (lines.append(bot.stderr.readline()) or "backing off" in lines[-1]), 20, "the back-off")
        sent = time.monotonic()
        bot.send_signal(signal.SIGTERM)
        code = bot.wait(5)
        took = time.monotonic() - sent
    finally:
        stop(bot)
    rest = bot.stderr.read()
    assert took < 2.0, took
    assert code == 128 + signal.SIGTERM, "".join(lines) + rest
    assert "stopped by SIGTERM" in rest


# -- 4/5. configuration mistakes are caught ---------------------------------------------------------
def _main(monkeypatch, tmp_path, argv, **env):
    for name in list(os.environ):
        if name in SETTING_NAMES:
            monkeypatch.delenv(name)
    for name, value in {"KRAKEN_API_KEY": KEY, "KRAKEN_API_SECRET": SECRET, "API_DOMAIN": "http://127.0.0.1:9",
                        "KRAKENBOT_HOME": str(tmp_path / "home"), **env}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(tmp_path)
    return cli.main(argv)


def test_a_misspelt_setting_is_an_error_with_a_suggestion(monkeypatch, tmp_path, capsys):
    assert _main(monkeypatch, tmp_path, ["config"], MAX_ORDER_EURO="5") == 2
    err = capsys.readouterr().err
    assert "MAX_ORDER_EURO" in err and "did you mean MAX_ORDER_EUR?" in err and len(err.strip().splitlines()) == 1


def test_a_misspelt_setting_in_the_env_file_is_an_error(monkeypatch, tmp_path, capsys):
    dotenv = tmp_path / "bot.env"
    dotenv.write_text("max_order_eur=5\n")
    dotenv.chmod(0o600)
    assert _main(monkeypatch, tmp_path, ["config", "--env-file", str(dotenv)]) == 2
    assert "did you mean MAX_ORDER_EUR?" in capsys.readouterr().err


@pytest.mark.parametrize("argv", [["check", "--env-file", "missing.env"], ["--env-file", "missing.env", "check"]])
def test_a_missing_env_file_is_named(monkeypatch, tmp_path, capsys, argv):
    assert _main(monkeypatch, tmp_path, argv) == 2
    err = capsys.readouterr().err
    assert "--env-file" in err and "missing.env does not exist" in err


@pytest.mark.parametrize("before", [True, False])
def test_the_home_option_counts_before_or_after_the_command(monkeypatch, tmp_path, capsys, before):
    """``krakenbot --home H kill`` must halt H's bot, not the default home's (the subcommand's parse
    once overwrote options given before it)."""
    home = tmp_path / "named-home"
    monkeypatch.setenv("KRAKENBOT_HOME", str(tmp_path / "default-home"))
    argv = ["--home", str(home), "kill", "--reason", "x"] if before else ["kill", "--reason", "x", "--home", str(home)]
    cli.main(argv)
    assert (home / "KILL_SWITCH").exists() and not (tmp_path / "default-home" / "KILL_SWITCH").exists()


def test_live_refuses_a_dotenv_others_can_read(monkeypatch, tmp_path, capsys):
    dotenv = tmp_path / ".env"
    dotenv.write_text(f"KRAKEN_API_KEY={KEY}\nKRAKEN_API_SECRET={SECRET}\n")
    dotenv.chmod(0o644)
    monkeypatch.delenv("KRAKEN_API_KEY", raising=False)
    assert _main(monkeypatch, tmp_path, ["run", "--mode", "live", "--live", "--once"], KRAKEN_LIVE_TRADING="yes") == 2
    err = capsys.readouterr().err
    assert "chmod 600" in err and "live" in err and SECRET not in err


@pytest.mark.parametrize("argv", [["run", "--cycles", "-3"], ["run", "--cycles", "0"], ["run", "--interval", "nan"],
                                  ["run", "--interval", "inf"], ["run", "--interval", "0"]])
def test_bad_numbers_on_the_command_line_are_refused(monkeypatch, tmp_path, capsys, argv):
    with pytest.raises(SystemExit) as exited:
        _main(monkeypatch, tmp_path, argv)
    assert exited.value.code == 2 and argv[1] in capsys.readouterr().err


def test_config_shows_sources_and_masks_secrets(monkeypatch, tmp_path, capsys):
    assert _main(monkeypatch, tmp_path, ["config"], MAX_ORDER_EUR="42") == 0
    out = capsys.readouterr().out
    assert KEY not in out and SECRET not in out and "KEYa…" in out
    lines = {line.split()[0]: line for line in out.splitlines()}
    assert lines["MAX_ORDER_EUR"].split()[1:] == ["42", "environment"]
    assert lines["MAX_DAILY_TRADES"].split()[-1] == "default"
    assert f"home           {tmp_path / 'home'}" in out
    assert set(SETTING_NAMES) <= set(lines)


def test_version_and_every_subcommand_help_has_a_description_and_an_example(capsys):
    with pytest.raises(SystemExit):
        cli.main(["--version"])
    assert capsys.readouterr().out.startswith("krakenbot ")
    for command in ("check", "run", "status", "kill", "resume", "config"):
        with pytest.raises(SystemExit):
            cli.main([command, "--help"])
        text = capsys.readouterr().out
        assert "example:" in text and f"krakenbot {command}" in text.split("example:")[1], command


def test_the_env_example_documents_every_setting():
    text = (ROOT / ".env.example").read_text()
    documented = {line.lstrip("# ").split("=")[0] for line in text.splitlines() if "=" in line}
    assert set(SETTING_NAMES) <= documented, sorted(set(SETTING_NAMES) - documented)


# -- review of issue 18 -------------------------------------------------------------------------------
def _open_orders_on(sim, count: int) -> None:
    """Resting orders on the account, placed straight at the exchange (not through the bot)."""
    from krakenbot.client import KrakenClient

    with KrakenClient(sim.url, sim.api_key, sim.api_secret) as client:
        for _ in range(count):
            client.private("AddOrder", pair="XBTEUR", type="buy", ordertype="limit", volume="0.001", price="1000")
    assert len([o for o in sim.orders() if o["status"] == "open"]) == count


def _still_open(sim) -> int:
    return len([o for o in sim.orders() if o["status"] == "open"])


def test_kill_cancels_at_the_exchange_while_the_homes_store_is_locked(sim, tmp_path):
    """Reducing exposure never waits on the disk: CancelAll leaves though the halt cannot be recorded."""
    import sqlite3

    from krakenbot.store import Store

    home = tmp_path / "home"
    home.mkdir()
    Store(str(home / "krakenbot.sqlite")).close()
    _open_orders_on(sim, 2)
    locker = sqlite3.connect(str(home / "krakenbot.sqlite"), isolation_level=None)
    locker.execute("BEGIN EXCLUSIVE")
    try:
        started = time.monotonic()
        killed = cli_run(["kill", "--reason", "drill"], sim_env(sim, home), tmp_path)
        took = time.monotonic() - started
    finally:
        locker.execute("ROLLBACK")
        locker.close()
    assert _still_open(sim) == 0, killed.stdout + killed.stderr
    assert killed.returncode == 1 and "Traceback" not in killed.stderr, killed.stderr
    assert len(killed.stderr.strip().splitlines()) == 1 and "store" in killed.stderr, killed.stderr
    assert (home / "KILL_SWITCH").exists()
    assert took < 8, took


def test_kill_cancels_at_the_exchange_when_the_home_cannot_be_written(sim, tmp_path):
    _open_orders_on(sim, 2)
    killed = cli_run(["kill"], sim_env(sim, Path("/proc/nohome")), tmp_path)
    assert _still_open(sim) == 0, killed.stdout + killed.stderr
    assert killed.returncode == 1 and "Traceback" not in killed.stderr, killed.stderr
    assert "kill file" in killed.stderr and len(killed.stderr.strip().splitlines()) == 1, killed.stderr


def test_the_wrappers_kill_and_cancel_leave_though_the_store_cannot_be_written(tmp_path):
    """The wrapper's own kill() and cancel_order(): the request leaves first, the record is attempted
    after and its failure reported (the store cannot even save the nonce mark here)."""
    import sqlite3
    from decimal import Decimal

    from krakenbot.bot import Bot
    from krakenbot.client.nonce import NonceGenerator
    from krakenbot.config import Settings
    from krakenbot.store import Store
    from krakensim.clock import ManualClock

    with KrakenSimulator(seed=71, clock=ManualClock()) as simulator:
        simulator.set_price("XBTEUR", "60000")
        env = {"KRAKEN_API_KEY": simulator.api_key, "KRAKEN_API_SECRET": simulator.api_secret,
               "API_DOMAIN": simulator.url, "TRADING_MODE": "live", "KRAKEN_LIVE_TRADING": "yes",
               "KRAKENBOT_HOME": str(tmp_path), "MAX_ORDER_EUR": "1000", "TOTAL_BTC": "0.1"}
        path = str(tmp_path / "krakenbot.sqlite")
        store = Store(path, busy_timeout=0.05)
        nonces = NonceGenerator(store, block=1)  # every request saves the nonce mark: the lock stops it
        with Bot.build(Settings.from_env(env), clock=simulator.clock, store=store, live_flag=True,
                       client_options={"nonce": nonces}) as bot:
            placed = [bot.safety.submit_order("XBTEUR", "buy", "limit", Decimal("0.001"), Decimal("59000"))
                      for _ in range(2)]
            assert all(o.placed for o in placed), placed
            locker = sqlite3.connect(path, isolation_level=None)
            locker.execute("BEGIN EXCLUSIVE")
            try:
                cancel = bot.safety.cancel_order(placed[0].cl_ord_id)
                assert _still_open(simulator) == 1 and "the cancel was sent" in cancel.reason, cancel
                report = bot.safety.kill("drill")
            finally:
                locker.execute("ROLLBACK")
                locker.close()
            assert _still_open(simulator) == 0
            assert report.problems and "halt could not be recorded" in report.problems[0], report
            assert bot.safety.submit_order("XBTEUR", "buy", "limit", Decimal("0.001"), Decimal("59000")).codes == \
                ["HALTED"]


def test_a_home_with_a_tilde_is_expanded_and_a_relative_home_is_refused(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("HOME", str(tmp_path / "user"))
    assert _main(monkeypatch, tmp_path, ["config"], KRAKENBOT_HOME="~/kb") == 0
    assert f"home           {tmp_path / 'user' / 'kb'}\n" in capsys.readouterr().out
    assert _main(monkeypatch, tmp_path, ["kill"], KRAKENBOT_HOME="relative/home") == 2
    err = capsys.readouterr().err
    assert "KRAKENBOT_HOME" in err and "absolute" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "relative").exists()
    # typed on the command line, here: made absolute at once
    cli.main(["kill", "--home", "typed-home"])
    assert (tmp_path / "typed-home" / "KILL_SWITCH").exists()


def test_kill_with_a_missing_env_file_still_writes_the_kill_file(monkeypatch, tmp_path, capsys):
    """The emergency stop first, then the complaint: the home is known without the file."""
    assert _main(monkeypatch, tmp_path, ["kill", "--env-file", "missing.env", "--reason", "x"]) == 1
    assert (tmp_path / "home" / "KILL_SWITCH").exists()
    said = [line for line in capsys.readouterr().err.splitlines() if line.startswith("krakenbot:")]  # the log aside
    assert len(said) == 1 and "missing.env does not exist" in said[0]


def test_kill_reaches_a_bot_whose_kill_file_and_store_are_elsewhere(sim, tmp_path):
    """bot.json names the running bot's kill file and store: `kill --home H` writes and halts those."""
    home, elsewhere = tmp_path / "home", tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = sim_env(sim, home, STRATEGY_INTERVAL_SECONDS="1", KILL_SWITCH_FILE=str(elsewhere / "STOP"),
                  STORE_PATH=str(elsewhere / "bot.sqlite"))
    bot = start_bot(["--mode", "paper", "--interval", "0.2"], env, tmp_path)
    try:
        wait_until(lambda: any(r.endpoint == "AddOrder" for r in sim.access_log), what="the bot's first order")
        record = running.read(home)
        assert record["kill_switch_file"] == str(elsewhere / "STOP") and record["store_path"] == str(elsewhere / "bot.sqlite")
        killed = cli_run(["kill", "--reason", "drill"], base_env(home), tmp_path)
        mark = len(sim.access_log)
        assert f"running bot pid {bot.pid} (paper) confirmed the halt" in killed.stdout, killed.stdout + killed.stderr
        assert (elsewhere / "STOP").exists()
        beat = running.read(home)["heartbeat"]
        wait_until(lambda: running.read(home)["heartbeat"] > beat + 0.5, what="the bot to run on after the kill")
        assert [r.endpoint for r in sim.access_log[mark:] if r.endpoint == "AddOrder"] == []
        status = cli_run(["status"], base_env(home, STORE_PATH=str(elsewhere / "bot.sqlite")), tmp_path)
        assert "trading state  HALTED" in status.stdout, status.stdout + status.stderr
    finally:
        stop(bot)


def test_sigusr1_alone_halts_the_running_bot(sim, tmp_path):
    home = tmp_path / "home"
    bot = start_bot(["--mode", "paper", "--interval", "0.2"], sim_env(sim, home, STRATEGY_INTERVAL_SECONDS="1"),
                    tmp_path)
    try:
        wait_until(lambda: any(r.endpoint == "AddOrder" for r in sim.access_log), what="the bot's first order")
        wait_until(lambda: running.read(home), what="the bot's record")
        bot.send_signal(signal.SIGUSR1)  # no kill file anywhere
        wait_until(lambda: (home / "krakenbot.sqlite").exists() and "HALTED" in cli_run(
            ["status"], base_env(home), tmp_path).stdout, what="the halt")
        mark = len(sim.access_log)
        beat = running.read(home)["heartbeat"]
        wait_until(lambda: running.read(home)["heartbeat"] > beat + 1.5, what="the bot to run on")
        assert [r.endpoint for r in sim.access_log[mark:] if r.endpoint == "AddOrder"] == []
        assert bot.poll() is None
    finally:
        stop(bot)


def test_a_live_pid_in_a_stale_record_is_not_the_bot_and_is_never_signalled(tmp_path):
    """A reused pid (here: a sleeping process whose command line even says krakenbot) is not the
    bot: no lock is held on the home, so kill neither signals it nor waits for it."""
    home = tmp_path / "home"
    home.mkdir()
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", "krakenbot"])
    try:
        (home / "bot.json").write_text(json.dumps({"pid": other.pid, "mode": "live", "heartbeat": 0, "token": "x",
                                                   "home": str(home)}))
        (home / "bot.lock").write_text("x")  # left behind by the bot that died: nobody holds it
        assert not running.is_running(running.read(home))
        killed = cli_run(["kill", "--wait", "0.5"], base_env(home), tmp_path)
        assert "no bot running with this home" in killed.stdout, killed.stdout + killed.stderr
        assert other.poll() is None  # SIGUSR1's default action would have ended it
    finally:
        other.kill()
        other.wait(5)


def test_a_second_run_on_the_same_home_is_refused_in_one_line(sim, tmp_path):
    home = tmp_path / "home"
    first = start_bot(["--mode", "paper", "--interval", "0.2"], sim_env(sim, home), tmp_path)
    try:
        wait_until(lambda: running.read(home), what="the first bot's record")
        assert running.is_running(running.read(home))
        second = cli_run(["run", "--mode", "paper", "--once"], sim_env(sim, home), tmp_path)
        assert second.returncode == 1 and f"pid {first.pid}" in second.stderr, second.stdout + second.stderr
        assert len(second.stderr.strip().splitlines()) == 1 and running.read(home)["pid"] == first.pid
    finally:
        stop(first)
    assert not running.is_running(running.read(home))


def test_a_second_bot_on_the_same_store_from_another_home_is_refused_naming_the_holder(sim, tmp_path):
    """Issue 20, finding 9: one bot per store, not only per home. Two homes naming one STORE_PATH:
    the second `run` (and a `check`, whose nonces come from the same mark) is refused in one line
    naming the holder's pid and start time; the first runs on."""
    store = tmp_path / "shared" / "bot.sqlite"
    first_home, second_home = tmp_path / "A", tmp_path / "B"
    first = start_bot(["--mode", "paper", "--interval", "0.2"], sim_env(sim, first_home, STORE_PATH=str(store)),
                      tmp_path)
    try:
        record = wait_until(lambda: running.read(first_home), what="the first bot's record")
        started = time.strftime("%Y-%m-%d %H:%M", time.gmtime(record["started"]))
        for command in (["run", "--mode", "paper", "--once"], ["check"]):
            second = cli_run(command, sim_env(sim, second_home, STORE_PATH=str(store)), tmp_path)
            err = second.stderr.strip()
            assert second.returncode == 1 and len(err.splitlines()) == 1, (command, second.stdout + second.stderr)
            assert f"pid {first.pid}, started {started}" in err and str(store) in err, (command, err)
        assert first.poll() is None and running.is_running(running.read(first_home))
    finally:
        stop(first)
    # The lock went with the first bot. `check` takes it as `run` does, without `run`'s start-up paced from
    # a full call counter (about 12 s here on the pro tier).
    again = cli_run(["check"], sim_env(sim, second_home, STORE_PATH=str(store)), tmp_path)
    assert again.returncode == 0, again.stdout + again.stderr


@pytest.mark.parametrize("name", ["MAX_OPEN_FILES", "TRADING_DAYS", "KRAKEN_SECRET", "KRAKEN_API_URL", "KRAKEN_SIM"])
def test_other_programs_settings_in_the_environment_are_not_typos(name):
    from krakenbot.config import read_sources

    assert read_sources(None, {name: "1"}).values[name] == "1"


@pytest.mark.parametrize("name, meant", [("MAX_ORDER_EURO", "MAX_ORDER_EUR"), ("KRAKEN_LIVE", "KRAKEN_LIVE_TRADING"),
                                         ("MAX_DAILY_TRADE", "MAX_DAILY_TRADES")])
def test_a_near_miss_in_the_environment_names_the_setting_meant(name, meant):
    from krakenbot.config import ConfigError, read_sources

    with pytest.raises(ConfigError, match=f"did you mean {meant}\\?"):
        read_sources(None, {name: "1"})


def test_every_unknown_name_in_the_env_file_is_an_error(tmp_path):
    from krakenbot.config import ConfigError, read_sources

    dotenv = tmp_path / "bot.env"
    dotenv.write_text("SOMETHING_ELSE=1\n")
    dotenv.chmod(0o600)
    with pytest.raises(ConfigError, match="SOMETHING_ELSE.*not a krakenbot setting"):
        read_sources(dotenv, {})


@pytest.mark.parametrize("command", [["config"], ["check"], ["run", "--mode", "paper", "--once"]])
def test_a_password_in_the_api_url_is_never_shown(monkeypatch, tmp_path, capsys, command):
    _main(monkeypatch, tmp_path, command, API_DOMAIN="http://op:s3cretpw@127.0.0.1:9")
    shown = capsys.readouterr()
    assert "s3cretpw" not in shown.out + shown.err
    assert "http://op:***@127.0.0.1:9" in shown.out


def test_a_password_in_an_api_url_with_a_bad_port_is_never_shown(monkeypatch, tmp_path, capsys):
    """The URL is refused at start with one line, the password masked (it once reached the first request's
    ValueError and was printed whole); the client's repr masks it too."""
    from krakenbot.client import KrakenClient

    assert _main(monkeypatch, tmp_path, ["check"], API_DOMAIN="https://op:s3cretpw@127.0.0.1:99999") == 2
    shown = capsys.readouterr()
    assert "s3cretpw" not in shown.out + shown.err and "API_DOMAIN" in shown.err
    assert "s3cretpw" not in repr(KrakenClient("http://op:s3cretpw@127.0.0.1:9", api_key=KEY, api_secret=SECRET))


# -- issue 20, finding 10a: a saved nonce mark a day ahead of the clock ---------------------------------
DAY_S = 86_400


def _bot_on_store(simulator, tmp_path, mark: int):
    from krakenbot.bot import Bot
    from krakenbot.config import Settings
    from krakenbot.store import Store

    path = str(tmp_path / "krakenbot.sqlite")
    with Store(path) as store:
        store.save_nonce(mark)
    env = {"KRAKEN_API_KEY": simulator.api_key, "KRAKEN_API_SECRET": simulator.api_secret,
           "API_DOMAIN": simulator.url, "TRADING_MODE": "live", "KRAKEN_LIVE_TRADING": "yes",
           "KRAKENBOT_HOME": str(tmp_path), "MAX_ORDER_EUR": "1000", "TOTAL_BTC": "0.1"}
    return Bot.build(Settings.from_env(env), store_path=path, live_flag=True)


def test_a_saved_nonce_mark_a_day_ahead_that_kraken_never_saw_does_not_push_the_keys_mark(sim, tmp_path, caplog):
    """A copied or hand-edited store: the bot's nonces stay at the clock (bounded), the operator is told."""
    mark = (int(time.time()) + DAY_S) * 1_000_000
    with caplog.at_level("WARNING", logger="krakenbot.client.nonce"), _bot_on_store(sim, tmp_path, mark) as bot:
        start = len(sim.access_log)
        assert bot.safety.check_connection().authenticated
        sent = [int(r.params["nonce"]) for r in sim.access_log_since(start) if r.kind == "private"]
        assert sent and max(sent) < (time.time() + 60) * 1_000_000, (sent, mark)
        assert bot.safety.status()["nonce_mark_ahead_s"] > DAY_S - 60
    assert "ahead of this machine's clock" in caplog.text


def test_a_saved_nonce_mark_a_day_ahead_that_kraken_did_see_still_lets_the_kill_switch_cancel(sim, tmp_path):
    """The clock stepped back a day after the mark was used: Kraken refuses the first CancelAll's nonce;
    the kill sends it once more above the mark, and every order is cancelled."""
    from krakenbot.client import KrakenClient
    from krakenbot.client.nonce import NonceGenerator, wall_microseconds

    ahead = NonceGenerator(now=lambda: wall_microseconds() + DAY_S * 1_000_000)
    with KrakenClient(sim.url, sim.api_key, sim.api_secret, nonce=ahead) as client:  # yesterday's run, clock ahead
        client.private("AddOrder", pair="XBTEUR", type="buy", ordertype="limit", volume="0.001", price="1000")
    with _bot_on_store(sim, tmp_path, ahead.last + NonceGenerator.DEFAULT_BLOCK) as bot:
        start = len(sim.access_log)
        report = bot.safety.kill("clock drill")
        cancels = [r for r in sim.access_log_since(start) if r.endpoint == "CancelAll"]
    assert _still_open(sim) == 0 and report.problems == (), report
    assert [r.outcome for r in cancels] == ["error", "ok"] and "Invalid nonce" in (cancels[0].error or ""), cancels


# -- a dry run's kill and resume act on the dry run, never on the exchange's orders -------------------
DRY_WALLET = "ZEUR=5000,XXBT=0"

def _order_calls(sim, mark: int) -> list[str]:
    """Every call since ``mark`` that entered, changed or cancelled an order at the exchange."""
    from krakenbot.client import endpoints as table

    calls = table.names(effect=table.Effect.PLACE) | table.names(effect=table.Effect.CANCEL)
    return [r.endpoint for r in sim.access_log[mark:] if r.endpoint in calls]


def _dry_run_orders(sim, home: Path, count: int) -> None:
    """Resting limit buys in the dry run's venue (a dry-run bot of this home, closed again)."""
    from decimal import Decimal

    from krakenbot.bot import Bot
    from krakenbot.config import Settings

    home.mkdir(exist_ok=True)
    env = {**sim_env(sim, home), "TRADING_MODE": "dry-run", "DRY_RUN_WALLET": DRY_WALLET}
    below = (sim.exchange.mid("XBTEUR") * Decimal("0.99")).quantize(Decimal(1))  # inside the collar, never reached
    with Bot.build(Settings.from_env(env)) as bot:
        for i in range(count):
            outcome = bot.safety.submit_order("XBTEUR", "buy", "limit", Decimal("0.001"), below - i)
            assert outcome.placed, outcome


def _dry_run_status(home: Path, cwd: Path) -> str:
    done = cli_run(["status", "--dry-run"], base_env(home), cwd)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_kill_during_a_dry_run_halts_it_cancels_its_orders_and_sends_nothing_to_the_exchange(sim, tmp_path):
    home = tmp_path / "home"
    _open_orders_on(sim, 1)  # a real order on the account: a dry run's kill must leave it alone
    _dry_run_orders(sim, home, 2)
    mark = len(sim.access_log)
    env = sim_env(sim, home, TRADING_MODE="dry-run", DRY_RUN_WALLET=DRY_WALLET)
    killed = cli_run(["kill", "--reason", "drill"], env, tmp_path)
    assert killed.returncode == 0, killed.stdout + killed.stderr
    assert _order_calls(sim, mark) == []
    assert _still_open(sim) == 1
    assert "cancelled 2 dry-run order(s)" in killed.stdout, killed.stdout
    status = _dry_run_status(home, tmp_path)
    assert "trading state  HALTED" in status and "open orders    0" in status, status
    assert not (home / "krakenbot.sqlite").exists()  # the live books were never touched, nor made

    (home / "KILL_SWITCH").unlink()
    resumed = cli_run(["resume", "--reason", "drill over"], env, tmp_path)
    assert resumed.returncode == 0 and "HALTED -> ACTIVE" in resumed.stdout, resumed.stdout + resumed.stderr
    assert "trading state  ACTIVE" in _dry_run_status(home, tmp_path)


@pytest.mark.parametrize("asked", [["--dry-run"], []], ids=["asked", "the running bot's record says dry-run"])
def test_kill_halts_the_running_dry_run_bot_and_resume_clears_it(sim, tmp_path, asked):
    home = tmp_path / "home"
    _open_orders_on(sim, 1)
    mark = len(sim.access_log)
    bot = start_bot(["--mode", "dry-run", "--interval", "0.2"],
                    sim_env(sim, home, STRATEGY_INTERVAL_SECONDS="1", DRY_RUN_WALLET=DRY_WALLET), tmp_path)
    try:
        wait_until(lambda: (running.read(home) or {}).get("last_cycle"), what="the dry run's first cycle")
        killed = cli_run(["kill", *asked, "--reason", "drill"], sim_env(sim, home), tmp_path)
        assert killed.returncode == 0, killed.stdout + killed.stderr
        assert f"running bot pid {bot.pid} (dry-run) confirmed the halt" in killed.stdout, killed.stdout
        assert "trading state  HALTED" in _dry_run_status(home, tmp_path)
        assert _order_calls(sim, mark) == []
        assert _still_open(sim) == 1
        (home / "KILL_SWITCH").unlink()
        resumed = cli_run(["resume", *asked, "--reason", "drill over"], base_env(home), tmp_path)
        assert resumed.returncode == 0 and "HALTED -> ACTIVE" in resumed.stdout, resumed.stdout + resumed.stderr
        assert "trading state  ACTIVE" in _dry_run_status(home, tmp_path)
    finally:
        stop(bot)


def test_a_dry_run_kill_asked_while_a_real_money_bot_runs_is_the_full_kill(monkeypatch):
    """Whatever the environment or --dry-run say, a canary or live bot running in the home gets the kill
    that reaches the exchange; a running dry run's record alone makes the kill a dry run's."""
    from types import SimpleNamespace

    monkeypatch.setattr(running, "is_running", lambda record: record is not None)
    dry_env, plain = SimpleNamespace(values={"TRADING_MODE": "dry-run"}), SimpleNamespace(values={})
    asked, not_asked = cli._parse(["kill", "--dry-run"]), cli._parse(["kill"])
    assert [cli._dry_run_control(asked, dry_env, {"mode": mode}) for mode in ("live", "canary", "dry-run")] == \
        [False, False, True]
    assert [cli._dry_run_control(not_asked, plain, record) for record in ({"mode": "dry-run"}, {"mode": "paper"},
                                                                          None)] == [True, False, False]
