"""The operator's controls: a kill from another directory, a refused cleartext address, a stop
during a back-off.

The kill scenario runs the bot and ``krakenbot kill`` as real processes: a kill that reaches
another process through its home (kill file, SIGUSR1, the running-bot record) cannot be shown in
this one. That bot reads the machine's clock, so its scenario trades on an exchange of its own
that reads it too (``World.use_exchange_on_machine_clock``), whatever ran before it. Every wait on
them polls with a deadline, never a fixed sleep. The other two run in-process on the shared
ManualClock.
"""
from __future__ import annotations

import ipaddress
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from decimal import Decimal
from pathlib import Path

from behave import given, then, when
from hamcrest import (assert_that, contains_string, empty, equal_to, has_item, has_length, is_, is_not, less_than,
                      none, not_none)

ROOT = Path(__file__).resolve().parents[1]
DEADLINE_S = 60.0  # for another process to reach a state: its start-up paces from a full call counter (~35 s, starter)
CYCLE_S = "0.05"  # the running bot's pause between cycles


# -- helpers --------------------------------------------------------------------------------------
def _process_env(**settings: str) -> dict[str, str]:
    """Nothing of this process's environment but PATH and this checkout's sources: no stray key."""
    return {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)]),
            **settings}


def _poll(world, condition, what: str):
    deadline = time.monotonic() + DEADLINE_S
    bot = world.notes["process"]
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        assert_that(bot.poll(), none(), f"the running bot should not have exited while waiting for {what}: "
                                        f"{world.notes['process_log'].read_text()[-800:]}")
        try:  # another process's progress: wait on that process (an exit ends the wait at once), bounded
            bot.wait(timeout=0.005)
        except subprocess.TimeoutExpired:
            continue
    raise AssertionError(f"timed out after {DEADLINE_S:g}s waiting for {what}: "
                         f"{world.notes['process_log'].read_text()[-800:]}")


def _cycles_since(home: Path, since: float) -> int:
    """Trading cycles the running bot recorded in its home's store after ``since`` (its clock)."""
    try:
        with sqlite3.connect(f"file:{home / 'krakenbot.sqlite'}?mode=ro", uri=True, timeout=1) as db:
            return db.execute("SELECT COUNT(*) FROM audit WHERE action = 'cycle' AND time > ?", (since,)).fetchone()[0]
    except sqlite3.Error:
        return 0


def _stop_process(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


def _on_this_machine(host: object) -> bool:
    """Loopback by its text alone (the spec's own check, independent of the bot's)."""
    text = host.decode() if isinstance(host, bytes) else str(host)
    if text == "localhost":
        return True
    try:
        return ipaddress.ip_address(text.strip("[]")).is_loopback
    except ValueError:
        return False


class NoConnectionsOffThisMachine:
    """Record, and refuse without touching the network, every name look-up or connection for an
    address off this machine (loopback, the simulator, goes through)."""

    def __init__(self) -> None:
        self.attempts: list[str] = []

    def __enter__(self) -> "NoConnectionsOffThisMachine":
        self._getaddrinfo = socket.getaddrinfo
        self._connect = socket.socket.__dict__.get("connect")
        real_getaddrinfo, real_connect = socket.getaddrinfo, socket.socket.connect

        def getaddrinfo(host, *args, **kwargs):
            if not _on_this_machine(host):
                self.attempts.append(f"look up {host}")
                raise socket.gaierror(socket.EAI_NONAME, "refused by the specification: not this machine")
            return real_getaddrinfo(host, *args, **kwargs)

        def connect(sock, address):
            if isinstance(address, tuple) and not _on_this_machine(address[0]):
                self.attempts.append(f"connect to {address[0]}:{address[1]}")
                raise ConnectionRefusedError("refused by the specification: not this machine")
            return real_connect(sock, address)

        socket.getaddrinfo, socket.socket.connect = getaddrinfo, connect
        return self

    def __exit__(self, *exc: object) -> None:
        socket.getaddrinfo = self._getaddrinfo
        if self._connect is None:
            del socket.socket.connect
        else:
            socket.socket.connect = self._connect


# -- the kill switch from another directory -------------------------------------------------------
@given("a bot is running in {mode} mode, started from its own working directory")
def step_bot_running_elsewhere(context, mode):
    world = context.world
    started_in, home = world.tmpdir / "where-the-bot-was-started", world.tmpdir / "bot-home"
    started_in.mkdir()
    # The other process reads the machine's clock: so does its exchange (the run's shared one keeps
    # the scenarios' simulated days). A pro account: on the starter tier the bot's start-up fills
    # the call counter, so each cycle after it waits seconds for room. The kill does not depend on
    # the tier; the wait would only slow every run of the specification.
    world.use_exchange_on_machine_clock(tier="pro")
    settings = {k: v for k, v in world.env.items() if k not in ("STORE_PATH", "KILL_SWITCH_FILE")}  # the home's
    settings["KRAKEN_TIER"] = "pro"
    world.record_mode(mode)
    log = world.tmpdir / "running-bot.log"
    with log.open("w") as out:
        process = subprocess.Popen([sys.executable, "-m", "krakenbot.cli", "run", "--mode", mode, "--interval", CYCLE_S],
                                   env=_process_env(KRAKENBOT_HOME=str(home), **settings), cwd=started_in,
                                   stdout=out, stderr=subprocess.STDOUT)
    world.mends.append(lambda: _stop_process(process))
    world.notes.update(process=process, process_log=log, home=home, started_in=started_in, mode=mode)


@given("it has run a trading cycle")
def step_has_cycled(context):
    world = context.world
    _poll(world, lambda: _cycles_since(world.notes["home"], 0), "the running bot's first trading cycle")


@given("it is placing orders on the exchange")
def step_placing_orders(context):
    world = context.world
    _poll(world, lambda: world.exchange_calls("AddOrder", outcome="ok"), "the running bot's first order")


@when("the operator pulls the kill switch from another directory, naming only the bot's home")
def step_kill_from_elsewhere(context):
    world = context.world
    elsewhere = world.tmpdir / "the-operators-directory"
    elsewhere.mkdir()
    world.notes["kill"] = subprocess.run(
        [sys.executable, "-m", "krakenbot.cli", "kill", "--home", str(world.notes["home"]), "--reason", "drill"],
        env=_process_env(), cwd=elsewhere, capture_output=True, text=True, timeout=30)
    world.notes["kill_returned"] = time.time()  # the running bot's clock
    world.notes["after_kill"] = len(world.sim.access_log)


@then("the operator is told the running bot saw the halt")
def step_told_halt_seen(context):
    world = context.world
    kill, pid, mode = world.notes["kill"], world.notes["process"].pid, world.notes["mode"]
    assert_that(kill.stdout, contains_string(f"running bot pid {pid} ({mode}) confirmed the halt"),
                f"the kill should report the running bot's confirmation:\n{kill.stdout}{kill.stderr}")
    assert_that((world.notes["home"] / "KILL_SWITCH").exists(), is_(True), "the kill file should be in the home")


@then("no order reaches the exchange while the bot runs on after the kill")
def step_no_order_after_kill(context):
    """Two cycles recorded after the kill returned: the second began after it, and would have
    placed its canary order had the halt not held."""
    world = context.world
    home, since = world.notes["home"], world.notes["kill_returned"]
    _poll(world, lambda: _cycles_since(home, since) >= 2, "the running bot to run two cycles after the kill")
    sent = [r for r in world.sim.access_log_since(world.notes["after_kill"]) if r.endpoint == "AddOrder"]
    assert_that(sent, empty(), "no order should reach the exchange after the kill returned")


# -- a cleartext exchange address -----------------------------------------------------------------
@given("the exchange address is set to {address}")
def step_exchange_address(context, address):
    context.world.configure(API_DOMAIN=address)


@when("the operator starts the bot and it checks its connection")
def step_start_and_check(context):
    from krakenbot.config import ConfigError

    world = context.world
    with NoConnectionsOffThisMachine() as network:
        world.notes["network"] = network
        try:
            world.build_bot("read-only")
            world.notes["check"] = world.safety.check_connection()
        except ConfigError as exc:
            world.notes["config_error"] = exc


def _refused_address(world, setting: str) -> str:
    """The start refused on ``setting`` (named, with what to use instead), no bot built; the error's text."""
    error = world.notes.get("config_error")
    assert_that(error, not_none(), f"the bot should refuse the address before starting: {world.notes.get('check')}")
    assert_that(str(error), contains_string(setting), "the error should name the setting")
    assert_that(str(error), contains_string("https://"), "the error should say what to use instead")
    assert_that(world.bot, none(), "no bot should have been started")
    return str(error)


@then("the bot refuses to start with a configuration error about the exchange address")
def step_refused_cleartext(context):
    _refused_address(context.world, "API_DOMAIN")


@given("the notification address is set to {address}")
def step_notification_address(context, address):
    context.world.notes["webhook_token"] = address.rsplit("/", 1)[-1]
    context.world.configure(NOTIFY_WEBHOOK_URL=address)


@then("the bot refuses to start with a configuration error about the notification address, not showing its token")
def step_refused_webhook(context):
    error = _refused_address(context.world, "NOTIFY_WEBHOOK_URL")
    assert_that(error, is_not(contains_string(context.world.notes["webhook_token"])), "the error must not show the token")


@then("the bot attempted no connection")
def step_no_connection(context):
    assert_that(context.world.notes["network"].attempts, empty(), "nothing should have tried to reach the address")


# -- a secret Kraken never issues -----------------------------------------------------------------
_BAD_SECRETS = {"text with characters base64 does not use": "c2VjcmV0$c2VjcmV0%",
                "a character pasted from a word processor": "c2VjcmV0c2VjcmV0\u2019"}


@given("the bot's secret is set to {secret}")
def step_bad_secret(context, secret):
    assert_that(_BAD_SECRETS, has_item(secret), "the kinds of secret: " + ", ".join(_BAD_SECRETS))
    context.world.notes["bad_secret"] = _BAD_SECRETS[secret]
    context.world.configure(KRAKEN_API_SECRET=_BAD_SECRETS[secret])


@then("the bot refuses to start with one line about the secret, which it does not show")
def step_refused_secret(context):
    world = context.world
    error = world.notes.get("config_error")
    assert_that(error, not_none(), f"the bot should refuse the secret before starting: {world.notes.get('check')}")
    text = str(error)
    assert_that(text, contains_string("KRAKEN_API_SECRET"), "the error should name the setting")
    assert_that(text, contains_string("base64"), "the error should say what a secret Kraken issues looks like")
    assert_that("\n" in text.strip(), equal_to(False), f"one line: {text!r}")
    assert_that(text, is_not(contains_string(world.notes["bad_secret"])), "the error should not show the secret")
    assert_that(world.bot, none(), "no bot should have been started")


# -- a settings file others can read --------------------------------------------------------------
_FILE_MODES = {"only the owner": 0o600, "the owner's group": 0o640, "every user": 0o644,
               "users outside the owner's group": 0o604}


@given("the operator keeps the key in a settings file for live trading that {readers} can read")
def step_dotenv_readable_by(context, readers):
    assert_that(_FILE_MODES, has_item(readers), "who can read the file: " + ", ".join(_FILE_MODES))
    world = context.world
    path = world.tmpdir / "live.env"
    settings = {**world.env, "TRADING_MODE": "live", "KRAKEN_LIVE_TRADING": "yes"}
    path.write_text("".join(f"{name}={value}\n" for name, value in settings.items()))
    path.chmod(_FILE_MODES[readers])
    world.notes["dotenv"] = path


@when("the operator starts the bot from the command line with that file")
def step_start_with_dotenv(context):
    """``krakenbot check --env-file``, its settings from the file alone (none in the environment)."""
    import contextlib
    import io
    from unittest import mock

    from krakenbot import cli
    from krakenbot.config import SETTING_NAMES

    world = context.world
    keep = {k: v for k, v in os.environ.items() if k not in SETTING_NAMES}
    err, out = io.StringIO(), io.StringIO()
    with mock.patch.dict(os.environ, keep, clear=True), contextlib.redirect_stderr(err), \
            contextlib.redirect_stdout(out):
        world.notes["exit_code"] = cli.main(["check", "--env-file", str(world.notes["dotenv"]), "--store",
                                             str(world.tmpdir / "cli.sqlite")])
    world.notes["stderr"] = err.getvalue()
    world.notes["dotenv"].unlink()  # it holds the key: no file the run leaves may (test_secret_hygiene)


@then("the bot starts and checks its connection")
def step_started_with_dotenv(context):
    from krakenbot.cli import EXIT_OK

    notes = context.world.notes
    assert_that(notes["exit_code"], equal_to(EXIT_OK), f"the check should succeed: {notes['stderr']}")


@then("the bot refuses to start, telling the operator to run chmod 600 on it")
def step_refused_open_dotenv(context):
    from krakenbot.cli import EXIT_CONFIG

    notes = context.world.notes
    assert_that(notes["exit_code"], equal_to(EXIT_CONFIG), f"the bot should refuse the file: {notes['stderr']}")
    assert_that(notes["stderr"], contains_string(f"chmod 600 {notes['dotenv']}"), "the error should say the fix")


# -- a stop during a back-off ---------------------------------------------------------------------
@given("the bot's strategy buys XBT every minute")
def step_strategy_every_minute(context):
    context.world.configure(STRATEGY_INTERVAL_SECONDS="60")


@given("the exchange refuses the bot's balance check before an order for exceeding the rate limit")
def step_refuse_balance_check(context):
    context.world.sim.faults.inject(endpoint="BalanceEx", kind="error", error="EAPI:Rate limit exceeded", times=1)


@given("the operator stops the bot as that refusal comes back")
def step_stop_during_refusal(context):
    """What SIGTERM's handler does (``Wakeup.request_stop``), while the exchange answers the refused
    read: on the ManualClock a pause takes no real time, so the stop is there when the pause begins."""
    from krakenbot.clock import Wakeup

    world = context.world
    wakeup = Wakeup()
    world.clock.wakeup = wakeup
    world.mends.append(lambda: setattr(world.clock, "wakeup", None))
    world.sim.faults.on_arrival("BalanceEx", lambda: wakeup.request_stop(signal.SIGTERM))


@when("the bot runs its trading loop")
def step_run_loop(context):
    world = context.world
    world.notes["loop_began"] = world.clock.time()
    world.notes["cycles_done"] = world.bot.orchestrator.run(threading.Event(), max_cycles=1)


@then("the bot has stopped without waiting out the pause")
def step_stopped_at_once(context):
    world = context.world
    refused = [r for r in world.exchange_calls("BalanceEx") if "Rate limit" in (r.error or "")]
    assert_that(refused, has_length(1), "the exchange should have refused the balance check for the rate limit")
    orchestrator = world.bot.orchestrator
    assert_that(orchestrator.interrupted, is_not(none()), "the loop should say it was stopped")
    assert_that(world.notes["cycles_done"], equal_to(0), "the interrupted cycle is not a complete one")
    waited = world.clock.time() - world.notes["loop_began"]
    assert_that(waited, less_than(1.0), f"the bot should not wait out the ~45 s pause (it waited {waited:g} s)")


@then("the bot holds no order of unknown outcome")
def step_no_unknown_orders(context):
    from krakenbot.execution.order_state import OrderStatus

    waiting = [s.value for s in OrderStatus if s.name in ("NEW", "PENDING_SUBMIT", "UNKNOWN", "PENDING_CANCEL")]
    orders = context.world.bot.store.orders(statuses=waiting)
    assert_that([o.cl_ord_id for o in orders], empty(), "no order should be left without a known outcome")


# -- a kill file the bot cannot read, a kill file made by hand ------------------------------------
@given("the operator has left a folder where the kill file goes")
def step_kill_folder(context):
    """``mkdir KILL_SWITCH``: there, but nothing the bot can read."""
    world = context.world
    path = Path(world.env["KILL_SWITCH_FILE"])
    path.mkdir(parents=True)
    world.notes["kill_file"] = path


@given("the operator has left a file of bytes that are not text where the kill file goes")
def step_kill_binary(context):
    """Bytes no text encoding reads as a line: a copied binary, a file saved in the wrong encoding."""
    world = context.world
    path = Path(world.env["KILL_SWITCH_FILE"])
    path.write_bytes(b"\xff\xfe\x00\x89PNG\r\n\x1a\n\x00\x00\xc3\x28 stop")
    world.notes["kill_file"] = path


@then("the refusal names the kill file, in one line")
def step_refusal_names_kill_file(context):
    world = context.world
    reason = world.notes["outcome"].reason
    assert_that(reason, contains_string(f"kill file {world.env['KILL_SWITCH_FILE']} exists"),
                "the operator should read which file stops the bot")
    assert_that(reason.splitlines(), has_length(1), f"one line: {reason!r}")


@then("once the operator removes the kill file, a new order is still refused for reason {code}")
def step_halt_stands_without_file(context, code):
    """The cycle's full kill wrote the halt down: the file was only its trigger."""
    from tools.spec_support.facade import denial_codes, describe, submit

    world = context.world
    Path(world.env["KILL_SWITCH_FILE"]).unlink()
    outcome = submit(world, "buy", "market", Decimal("0.01"))
    assert_that(denial_codes(outcome), has_item(code), f"the halt should stand without the file: {describe(outcome)}")


@then("the bot's status still names the kill file as the reason for the halt")
def step_halt_names_kill_file(context):
    """The operator reading ``status`` after the file is gone learns which file halted the bot."""
    world = context.world
    why = world.safety.status()["halt_reason"] or ""
    assert_that(why, contains_string(f"kill file {world.env['KILL_SWITCH_FILE']} exists"),
                "the recorded halt should name the kill file that caused it")


# -- a folder as the kill file, in a running bot's home ------------------------------------------
def _kill_rows(home: Path) -> list[tuple[float, str]]:
    """The running bot's halts in its home's store: (time, actor), its clock."""
    try:
        with sqlite3.connect(f"file:{home / 'krakenbot.sqlite'}?mode=ro", uri=True, timeout=1) as db:
            return db.execute("SELECT time, actor FROM audit WHERE action = 'kill' AND outcome = 'halted'").fetchall()
    except sqlite3.Error:
        return []


@when("the operator makes a folder named as the kill file in the bot's home")
def step_kill_folder_in_home(context):
    world = context.world
    (world.notes["home"] / "KILL_SWITCH").mkdir()
    world.notes["kill_returned"] = time.time()  # the running bot's clock
    world.notes["after_kill"] = len(world.sim.access_log)


@then("the running bot writes down that the kill file halted it")
def step_running_bot_halted(context):
    world = context.world
    rows = _poll(world, lambda: _kill_rows(world.notes["home"]), "the running bot to halt on the kill file")
    assert_that([actor for _, actor in rows], equal_to(["kill_file"]), "one halt, by the kill file")
    world.notes["halted_at"] = rows[0][0]


@then("the running bot's record shows a heartbeat after the halt")
def step_heartbeat_after_halt(context):
    """``krakenbot status`` reads the heartbeat: one stuck at the halt would show a hung bot."""
    from krakenbot import running

    world = context.world
    halted_at = world.notes["halted_at"]
    _poll(world, lambda: float((running.read(world.notes["home"]) or {}).get("heartbeat", 0)) > halted_at,
          "the running bot's heartbeat after the halt")
