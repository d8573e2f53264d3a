"""``krakenbot``: check / run / status / kill / report.

Why these rules: an operator reads this output under stress. Every failure is one
line that says what is wrong (a bad setting is named, exit 2), secrets never appear
(settings are redacted, exchange errors are scrubbed), and ``run`` stops gracefully on
SIGINT/SIGTERM: it finishes the cycle, disarms the dead man's switch, closes the store.
"""
from __future__ import annotations

import argparse
import logging
import math
import os
import signal
import sys
import threading
import time
from decimal import Decimal
from pathlib import Path
from typing import Any, Sequence

EXIT_OK, EXIT_FAILURE, EXIT_CONFIG = 0, 1, 2
log = logging.getLogger(__name__)
KILL_CONFIRM_SECONDS = 10.0


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number >= 1, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def _port(text: str) -> int:
    if not text.isdigit() or int(text) > 65535:
        raise argparse.ArgumentTypeError(f"must be a port number 0-65535, got {text!r}")
    return int(text)


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number of seconds, got {text!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"must be a finite number of seconds > 0, got {text!r}")
    return value


def _sub(sub: Any, name: str, common: argparse.ArgumentParser, help_text: str, description: str,
         examples: str) -> argparse.ArgumentParser:
    return sub.add_parser(name, help=help_text, parents=[common], description=description,
                          epilog="example:\n" + examples, formatter_class=argparse.RawDescriptionHelpFormatter)


def _parser() -> argparse.ArgumentParser:
    from krakenbot import __version__

    common = argparse.ArgumentParser(add_help=False)  # accepted before or after the subcommand
    common.add_argument("--env-file", default=argparse.SUPPRESS,
                        help="dotenv file (default: ./.env if present; a named file must exist; the environment wins)")
    common.add_argument("--home", default=argparse.SUPPRESS,
                        help="the bot's home: store, kill file, running-bot record (default: KRAKENBOT_HOME, "
                             "else $XDG_STATE_HOME/krakenbot or ~/.local/state/krakenbot)")
    common.add_argument("--store", default=argparse.SUPPRESS, help="SQLite store path (default: STORE_PATH, in the home)")
    common.add_argument("--log-file", default=argparse.SUPPRESS,
                        help="append the log to this file instead of stderr (its directory must exist)")
    common.add_argument("--log-format", default=argparse.SUPPRESS,
                        help="text (default: UTC time, level, component, message) or json (one object per line)")
    parser = argparse.ArgumentParser(prog="krakenbot", description="Kraken spot trading bot", parents=[common],
                                     epilog="example:\n  krakenbot check\n  krakenbot run --mode paper --once",
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    # -v before the subcommand counts apart: the subcommand's parse replaces every value it sets, so one
    # shared counter would forget the first (`krakenbot -v run -v` is -vv; _parse adds them up).
    verbosity = "-v: the bot's debug lines too; -vv: every library's (run logs INFO by default, the other " \
                "commands warnings only)"
    parser.add_argument("-v", "--verbose", action="count", dest="verbose_before", default=0, help=verbosity)
    common = argparse.ArgumentParser(add_help=False, parents=[common])
    common.add_argument("-v", "--verbose", action="count", default=argparse.SUPPRESS, help=verbosity)
    parser.add_argument("--version", action="version", version=f"krakenbot {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    _sub(sub, "check", common, "connectivity, authentication and balances",
         "Connect, authenticate and list balances. Always read-only, whatever TRADING_MODE says.",
         "  krakenbot check --env-file ~/.config/krakenbot.env")
    run = _sub(sub, "run", common, "run the trading loop",
               "Run the trading loop until Ctrl-C/SIGTERM (stops at once, even during a back-off), --once or "
               "--cycles N.\nExit 0: clean; 1: the last cycle had errors; 128+signal: stopped by a signal.",
               "  krakenbot run --mode paper --interval 30\n"
               "  KRAKEN_LIVE_TRADING=yes krakenbot run --mode live --live")
    run.add_argument("--mode", choices=["read-only", "paper", "dry-run", "canary", "live"], default=None,
                     help="trading mode (default: TRADING_MODE). read-only: reads only, no order; paper: AddOrder "
                          "with validate=true only (Kraken checks it, nothing fills); dry-run: orders fill locally "
                          "against the live book with DRY_RUN_WALLET, no order or cancel is sent; canary: a tiny "
                          "real post-only order far from the market, cancelled at once; live: real orders")
    run.add_argument("--live", action="store_true", help="explicit live flag (LIVE also needs KRAKEN_LIVE_TRADING=yes)")
    run.add_argument("--once", action="store_true", help="run one cycle and stop")
    run.add_argument("--cycles", type=_positive_int, default=None, help="stop after N cycles (N >= 1)")
    run.add_argument("--interval", type=_seconds, default=60.0, help="seconds between cycles (> 0, default 60)")
    run.add_argument("--metrics-port", type=_port, default=None,
                     help="serve Prometheus metrics on this port at /metrics (default: off; 0: any free port)")
    run.add_argument("--metrics-host", default="127.0.0.1",
                     help="address the metrics page listens on (default 127.0.0.1: this machine only)")
    status = _sub(sub, "status", common, "running bot, mode, kill switch, daily counters, open orders",
                  "The running bot (pid, actual mode, heartbeat), kill switch, trading state, today's counters and "
                  "open orders, from the home's store. Needs no credentials; never creates a store.",
                  "  krakenbot status --home ~/.local/state/krakenbot\n  krakenbot status --dry-run")
    _dry_run_option(status)
    kill = _sub(sub, "kill", common, "halt the running bot and cancel open orders",
                "Write the kill file in the home, halt the store's trading state, make the running bot confirm "
                "it has seen the halt, then cancel open orders (cancelling needs the credentials; halting does "
                "not). Exit 0 only when all of that is confirmed. In a dry run (--dry-run, TRADING_MODE=dry-run, or a "
                "dry-run bot running in the home) the dry run's store is halted and its own orders cancelled; nothing "
                "is sent to the exchange.",
                "  krakenbot kill --reason \"price feed looks wrong\"")
    kill.add_argument("--reason", default="operator kill switch")
    _dry_run_option(kill)
    kill.add_argument("--wait", type=_seconds, default=KILL_CONFIRM_SECONDS,
                      help=f"seconds to wait for the running bot's confirmation (default {KILL_CONFIRM_SECONDS:g})")
    resume = _sub(sub, "resume", common, "clear a halt (refused while the kill file exists)",
                  "Set the store's trading state back to ACTIVE (the dry run's store in a dry run, as for kill). "
                  "Refused while the kill file exists. With --pair, "
                  "clear only that pair's halt (set when an exchange answer contradicted an order on it; `krakenbot "
                  "status` lists the halted pairs).",
                  "  rm ~/.local/state/krakenbot/KILL_SWITCH && krakenbot resume --reason \"incident closed\"\n"
                  "  krakenbot resume --pair XXBTZEUR --reason \"orders checked against the exchange\"")
    resume.add_argument("--reason", default="operator resumed")
    resume.add_argument("--pair", default=None, help="clear this pair's halt only (the pair id `status` shows)")
    _dry_run_option(resume)
    _sub(sub, "config", common, "the resolved settings and where each came from",
         "Every setting as the bot would use it, with its source (environment, .env or default). Secrets are "
         "masked: the key shows its first 4 characters only.", "  krakenbot config --env-file prod.env")
    _history_parsers(sub, common)
    sub.add_parser("report", help="safety validation report (options: krakenbot report --help)", parents=[common])
    return parser


def _history_parsers(sub: Any, common: argparse.ArgumentParser) -> None:
    """orders / trades / pnl: the home's store, read-only (their values are checked by krakenbot.history,
    so a bad one is one line)."""
    what = "From the home's store, read-only: needs no credentials; never creates or writes a store. Times " \
           "are UTC; amounts as the exchange sent them."
    orders = _sub(sub, "orders", common, "the bot's orders from the store", f"The bot's orders, oldest first. {what}",
                  "  krakenbot orders --status FILLED --limit 20")
    orders.add_argument("--status", default=None, help="only orders in this state (FILLED, CANCELED, OPEN, ...)")
    orders.add_argument("--limit", default=None, help="only the newest N")
    trades = _sub(sub, "trades", common, "the bot's fills from the store",
                  f"The bot's fills, oldest first, with the PnL each sell realised (net of fees). {what}",
                  "  krakenbot trades --since 2026-12-01\n  krakenbot trades --since 2026-12-07T14:00:00Z --json")
    trades.add_argument("--since", default=None, help="from this UTC day (YYYY-MM-DD) or ISO time on")
    pnl = _sub(sub, "pnl", common, "realised PnL (net of fees) per pair, or per UTC day",
               f"Realised PnL, net of fees, by the bot's own position logic (average cost). {what}",
               "  krakenbot pnl\n  krakenbot pnl --daily --pair XXBTZEUR")
    pnl.add_argument("--daily", action="store_true", help="per UTC day and pair")
    for command in (orders, trades, pnl):
        _dry_run_option(command)
        command.add_argument("--pair", default=None, help="only this pair (the id the store holds, e.g. XXBTZEUR)")
        command.add_argument("--json", action="store_true", help="one JSON document (amounts as strings)")


def _dry_run_option(command: argparse.ArgumentParser) -> None:
    command.add_argument("--dry-run", action="store_true",
                         help="the dry run's books (the store with .dry-run in its name), as with TRADING_MODE=dry-run")


_COMMON_DEFAULTS = {"env_file": None, "home": None, "store": None, "verbose": 0, "log_file": None,
                    "log_format": None}


def _parse(argv: Sequence[str]) -> argparse.Namespace:
    """The common options' defaults are filled in after parsing: ``set_defaults`` on the main parser would change
    the option objects it shares with every subcommand (``parents=``), whose parse then overwrote an option
    given before the subcommand (``krakenbot --home H kill`` halted the default home's bot, not H's)."""
    args = _parser().parse_args(argv)
    for name, default in _COMMON_DEFAULTS.items():
        if not hasattr(args, name):
            setattr(args, name, default)
    args.verbose += args.verbose_before
    return args


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["report"]:  # the report has its own options: hand them over untouched
        return _report(argv[1:])
    args = _parse(argv)
    from krakenbot import logs

    try:
        logs.configure(args.command, args.verbose, args.log_file, args.log_format)
    except logs.LogSetupError as exc:
        return _fail(str(exc), EXIT_CONFIG)
    try:
        return _command(args)
    finally:
        logs.close()


def _command(args: argparse.Namespace) -> int:
    from krakenbot import logs

    if args.command == "report":
        return _report()
    from krakenbot.config import ConfigError

    if args.command in ("status", "kill", "resume", *_HISTORY):  # the controls and the history need only the home
        args.problems = []
        try:
            sources, paths = _home_only(args)
        except ConfigError as exc:
            if args.command != "kill" or exc.setting != "--env-file":
                return _fail(f"configuration error: {exc}", EXIT_CONFIG)
            # The emergency stop first, from the environment alone; the missing file is reported after.
            args.problems = [f"configuration error: {exc}"]
            try:
                sources, paths = _home_only(args, dotenv=False)
            except ConfigError as again:
                return _fail(f"configuration error: {again}", EXIT_CONFIG)
        logs.scrub_with(lambda text: _scrub_sources(sources, text))
        if args.command != "kill" and args.command != "resume" and _dry_run_asked(args, sources):
            from krakenbot.config import dry_run_store_path

            paths = {**paths, "store_path": dry_run_store_path(paths["store_path"])}
        try:
            handlers = {"status": _status, "kill": _kill, "resume": _resume}
            return handlers.get(args.command, _history)(sources, paths, args)
        except KeyboardInterrupt:
            return _fail("interrupted", EXIT_FAILURE)
        except Exception as exc:  # one line, never a traceback (and never a secret from the sources)
            return _fail(_scrub_sources(sources, f"{type(exc).__name__}: {exc}"), EXIT_FAILURE)
    try:
        settings, sources = _settings(args)
    except ConfigError as exc:
        return _fail(f"configuration error: {exc}", EXIT_CONFIG)
    from krakenbot.bot import make_scrubber

    logs.scrub_with(make_scrubber(settings))
    handler = {"check": _check, "run": _run, "config": _config}[args.command]
    try:
        return handler(settings, args) if args.command != "config" else _config(settings, sources, args)
    except KeyboardInterrupt:
        return _fail("interrupted", EXIT_FAILURE)
    except Exception as exc:  # one line, scrubbed: never a traceback with parameters in it
        return _fail(make_scrubber(settings)(f"{type(exc).__name__}: {exc}"), EXIT_FAILURE)


def _environ(args: argparse.Namespace) -> dict[str, str]:
    """The real environment with the command line's --home and --store over it."""
    environ = dict(os.environ)
    if args.home:  # typed here: relative to this directory, made absolute at once
        environ["KRAKENBOT_HOME"] = os.path.abspath(os.path.expanduser(args.home))
    if args.store:
        environ["STORE_PATH"] = args.store
    return environ


def _sources(args: argparse.Namespace, check_names: bool = True, dotenv: bool = True) -> Any:
    from krakenbot.config import read_sources

    path = (args.env_file if args.env_file is not None else ".env") if dotenv else None
    return read_sources(path, _environ(args), explicit=args.env_file is not None, check_names=check_names)


def _settings(args: argparse.Namespace) -> tuple[Any, Any]:
    """Every setting validated (check, run, config); live refuses a .env others can read."""
    from krakenbot.config import Settings, refuse_open_dotenv_for_live
    from krakenbot.safety.modes import TradingMode

    sources = _sources(args)
    settings = Settings.from_env(sources.values)
    if getattr(args, "mode", None):
        settings = settings.in_mode(TradingMode.parse(args.mode), sources.values)
        if settings.trading_mode is TradingMode.DRY_RUN and settings.dry_run_wallet is None:
            from krakenbot.config import ConfigError

            raise ConfigError("DRY_RUN_WALLET", "is required in dry-run mode: starting balances such as "
                              "ZEUR=1000,XXBT=0, or snapshot (the account's real balances)")
    refuse_open_dotenv_for_live(settings, sources)
    return settings, sources


def _home_only(args: argparse.Namespace, dotenv: bool = True) -> tuple[Any, dict[str, str]]:
    """The home and its paths, from nothing but KRAKENBOT_HOME / STORE_PATH / KILL_SWITCH_FILE: a
    broken unrelated setting (or no credentials) must not stop an emergency stop. ``dotenv=False``:
    the environment alone (a named env file is missing)."""
    from krakenbot.config import bot_paths

    sources = _sources(args, check_names=False, dotenv=dotenv)
    return sources, bot_paths(sources.values)


def _dry_run_asked(args: argparse.Namespace, sources: Any) -> bool:
    """``--dry-run``, or TRADING_MODE says dry-run (read leniently: the other settings need not be valid)."""
    from krakenbot.safety.modes import TradingMode

    if getattr(args, "dry_run", False):
        return True
    try:
        return TradingMode.parse(str(sources.values.get("TRADING_MODE") or "")) is TradingMode.DRY_RUN
    except ValueError:
        return False


DRY_RUN_LABEL = "dry run"


def _dry_run_books(store: Any) -> bool:
    """True when the store holds a dry run's books (the bot marks them so when it first runs on it)."""
    from krakenbot.bot import BOOKS_KEY
    from krakenbot.safety.modes import TradingMode

    return store.get_meta(BOOKS_KEY) == TradingMode.DRY_RUN.value


def _dry_run_banner(path: str) -> str:
    return f"DRY RUN: rehearsed orders and fills, no real money ({path})"


def _full_settings(sources: Any) -> tuple[Any, str | None]:
    """The validated settings if they are valid, else None and why (for kill/status/resume)."""
    from krakenbot.config import ConfigError, Settings

    try:
        return Settings.from_env(sources.values), None
    except ConfigError as exc:
        return None, str(exc)


def _scrub_sources(sources: Any, text: str) -> str:
    """The key and secret as given (valid or not) out of a message."""
    from krakenbot.config import redact_key

    for name in ("KRAKEN_API_SECRET", "KRAKEN_API_KEY"):
        value = str(sources.values.get(name) or "").strip()
        if value:
            text = text.replace(value, "***" if name == "KRAKEN_API_SECRET" else redact_key(value))
    return text


def _fail(message: str, code: int) -> int:
    print(f"krakenbot: {' '.join(str(message).split())}", file=sys.stderr)
    return code


def _build(settings: Any, args: argparse.Namespace, live_flag: bool = False, clock: Any = None):
    """The bot on the home's store (check and run make the home: it holds the API's nonce mark)."""
    from krakenbot.bot import Bot

    if settings.store_path != ":memory:":
        os.makedirs(os.path.dirname(settings.store_path), mode=0o700, exist_ok=True)
    return Bot.build(settings, clock=clock, live_flag=live_flag)


def _home_line(home: str) -> None:
    print(f"home           {home}")


# -- check ----------------------------------------------------------------------------------------
def _check(settings: Any, args: argparse.Namespace) -> int:
    from dataclasses import replace

    from krakenbot.config import shown_url
    from krakenbot.safety.modes import TradingMode

    from krakenbot.running import AlreadyRunning, StoreLock

    # A check only reads: always read-only, whatever TRADING_MODE says.
    _home_line(settings.home)
    lock = StoreLock(settings.store_path, settings.home) if settings.store_path != ":memory:" else None
    try:  # its nonces come from the store's mark too: a bot running on it would see them refused
        if lock is not None:
            lock.acquire()
    except AlreadyRunning as exc:
        return _fail(str(exc), EXIT_FAILURE)
    try:
        with _build(replace(settings, trading_mode=TradingMode.READ_ONLY), args) as bot:
            report = bot.safety.check_connection()
    finally:
        if lock is not None:
            lock.release()
    print(f"exchange   {shown_url(settings.api_domain)}")
    print(f"status     {report.system_status or 'unreachable'}")
    print(f"key        {settings.redacted_key}")
    print(f"auth       {'ok' if report.authenticated else 'FAILED'}")
    if report.balances:
        print("balances")
        width = max(len(a) for a in report.balances)
        for asset, amount in sorted(report.balances.items()):
            print(f"  {asset:<{width}}  {_amount(amount)}")
    if report.error:
        return _fail(report.error, EXIT_FAILURE)
    if not report.online:
        return _fail(f"exchange is {report.system_status}, not online", EXIT_FAILURE)
    return EXIT_OK


def _amount(value: Decimal) -> str:
    text = format(value, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


# -- config ---------------------------------------------------------------------------------------
def _config(settings: Any, sources: Any, args: argparse.Namespace) -> int:
    """Every setting as resolved, and where it came from; secrets masked (key: 4 characters)."""
    from dataclasses import fields

    from krakenbot.config import _SPEC, SECRET_SETTINGS, shown_url
    from krakenbot.notify import shown_webhook

    _home_line(settings.home)
    shown = {f.name for f in fields(settings)}
    width = max(len(n) for n in _SPEC)
    for name, (attr, _, _) in _SPEC.items():
        if name in SECRET_SETTINGS:
            value = settings.redacted_key if name == "KRAKEN_API_KEY" else ("***" if settings.api_secret else "<unset>")
        else:
            value = _shown(getattr(settings, attr)) if attr in shown else "?"
            value = shown_url(value) if name == "API_DOMAIN" else value
            value = shown_webhook(settings.notify_webhook_url) if name == "NOTIFY_WEBHOOK_URL" and \
                settings.notify_webhook_url else value
        print(f"{name:<{width}}  {value:<28} {sources.source(name)}")
    return EXIT_OK


def _shown(value: Any) -> str:
    if value is None:
        return "<unset>"
    if isinstance(value, tuple):
        return ",".join(value)
    if isinstance(value, Decimal):
        return format(value, "f")
    return str(getattr(value, "value", value))


# -- run ------------------------------------------------------------------------------------------
def _run(settings: Any, args: argparse.Namespace) -> int:
    from krakenbot.clock import Interrupted, SystemClock, Wakeup
    from krakenbot.running import AlreadyRunning, Presence
    from krakenbot.safety.modes import LiveTradingRefused

    from krakenbot.config import dry_run_store_path
    from krakenbot.safety.modes import TradingMode

    store_path = settings.store_path  # the store the bot really uses: `kill` halts that one
    if settings.trading_mode is TradingMode.DRY_RUN:
        store_path = dry_run_store_path(store_path)
    presence = Presence(settings.home, settings.trading_mode.value, pairs=settings.pairs,
                        kill_switch_file=settings.kill_switch_file, store_path=store_path,
                        limits=_limits_line(settings))
    try:
        presence.acquire()  # one bot per home, before it touches the store or the exchange
    except AlreadyRunning as exc:
        return _fail(str(exc), EXIT_FAILURE)
    wakeup = Wakeup()
    try:
        bot = _build(settings, args, live_flag=args.live, clock=SystemClock(wakeup))
    except LiveTradingRefused as exc:
        presence.stop()
        return _fail(str(exc), EXIT_CONFIG)
    except BaseException:
        presence.stop()
        raise
    try:
        watchers, said = _watchers(bot, args)
    except OSError as exc:
        bot.close()
        presence.stop()
        return _fail(f"--metrics-port {args.metrics_port}: cannot listen on {args.metrics_host} "
                     f"({exc.strerror or exc})", EXIT_CONFIG)
    stop = threading.Event()
    previous = {}

    def request_stop(signum: int, frame: Any) -> None:
        stop.set()  # not waited on by anyone: safe to set here (the wakeup sets its event on a thread)
        wakeup.request_stop(signum)

    usr1: dict[str, bool] = {}

    def request_check(signum: int, frame: Any) -> None:
        """`krakenbot kill`: halt in memory at once (the guard refuses every order from here, file
        or no file), then the full kill (cancel, record) at the next safe point."""
        bot.safety.kill_switch.engage("SIGUSR1 from krakenbot kill")
        usr1["pending"] = True
        wakeup.request_check()

    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGINT, signal.SIGTERM):
            previous[sig] = signal.signal(sig, request_stop)
        if hasattr(signal, "SIGUSR1"):
            previous[signal.SIGUSR1] = signal.signal(signal.SIGUSR1, request_check)
    done, report, unknown = 0, None, []
    try:
        with bot:
            _banner(bot)
            for line in said:
                print(line, flush=True)
            presence.start(bot.safety.mode.value)

            def safe_point() -> None:
                """Between cycles and during any clock wait (SIGUSR1), never during a send: beat, and
                see a kill file or a kill signal. A wait can follow an ambiguous AddOrder
                (Executor.resolve_unknown): a kill there cancels, and that order stays UNKNOWN
                until it is read (reported at the end; resolved at the next start)."""
                kill = bot.safety.kill_switch
                signalled = usr1.pop("pending", False)
                if (signalled or (kill.file_present() and not kill.engaged_by_command)) and not usr1.get("done"):
                    usr1["done"] = True  # the full kill once: halt, cancel, record
                    reason = kill.file_reason() or kill.reason or "kill switch"
                    print(f"kill switch: {reason}: halted", file=sys.stderr)
                    bot.safety.kill(reason, actor="kill_file")
                try:  # the record comes after the kill: a home that cannot be written must not stop the cancel
                    if kill.file_present():
                        presence.ack(kill.file_kill_id() or "unnamed")
                    last = bot.orchestrator.last_report
                    presence.beat(bot.safety.mode.value, last_cycle=last.started_at if last else None)
                except OSError as exc:
                    log.warning("running-bot record not written (%s); the halt stands", exc)

            wakeup.on_check = safe_point
            bot.orchestrator.safe_point = safe_point
            bot.orchestrator.cycle_seconds = args.interval
            started = bot.start(first_in_home=presence.first_in_home)
            for watcher in watchers:
                if hasattr(watcher, "sample"):
                    watcher.sample(bot)  # the gauges from the start, not only after the first cycle
            if started.still_unknown:
                print(f"warning: {len(started.still_unknown)} order(s) still of unknown outcome: "
                      f"{', '.join(started.still_unknown)}", file=sys.stderr)
            if started.halted:
                print(f"HALTED: {started.halted}", file=sys.stderr)
            if bot.settings.dead_mans_switch_seconds and bot.safety.mode.value in ("canary", "dry-run", "live") \
                    and not started.dead_mans_switch_armed:
                print("warning: the dead man's switch could not be armed; no order is placed until it is",
                      file=sys.stderr)
            cycles = 1 if args.once else args.cycles
            done = bot.orchestrator.run(stop, max_cycles=cycles)
            report = bot.orchestrator.last_report
            unknown = _unknown_orders(bot)
            print(f"mode {bot.safety.mode.value}: {done} cycle(s); last: "
                  f"{report.counts() if report else 'none'}")
    except Interrupted:  # a stop while starting (recovery's reads during a back-off): reported below
        pass
    finally:
        for watcher in watchers:
            watcher.close()
        presence.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if unknown:
        print(f"warning: {len(unknown)} order(s) of unknown outcome, resolved at the next start: "
              f"{', '.join(unknown)}", file=sys.stderr)
    if wakeup.stopping:
        name = signal.Signals(wakeup.stop_signal).name if (wakeup.stop_signal or 0) > 0 else "a stop request"
        return _fail(f"stopped by {name} after {done} complete cycle(s)", 128 + max(wakeup.stop_signal or 0, 0))
    if report is not None and report.errors:
        return _fail(f"the last cycle ended on {len(report.errors)} error(s): {report.errors[0]}", EXIT_FAILURE)
    return EXIT_FAILURE if unknown else EXIT_OK


def _watchers(bot: Any, args: argparse.Namespace) -> tuple[list[Any], list[str]]:
    """The metrics page (--metrics-port) and the webhook (NOTIFY_WEBHOOK_URL), each when asked for, and
    the banner's lines for them; an OSError when the page cannot listen."""
    from krakenbot.bot import make_scrubber

    watchers: list[Any] = []
    said: list[str] = []
    metrics = None
    if args.metrics_port is not None:
        from krakenbot.metrics import BotMetrics

        metrics = BotMetrics(bot.clock).attach(bot)
        port = metrics.serve(args.metrics_port, args.metrics_host)
        host = f"[{args.metrics_host}]" if ":" in args.metrics_host else args.metrics_host
        said.append(f"metrics        http://{host}:{port}/metrics")
        watchers.append(metrics)
    if bot.settings.notify_webhook_url:
        from krakenbot.notify import Notifier

        notifier = Notifier(bot.settings.notify_webhook_url, scrub=make_scrubber(bot.settings),
                            bot=f"krakenbot {bot.safety.executor.bot_id}",
                            on_outcome=metrics.notification if metrics is not None else None).attach(bot)
        said.append(f"notifications  {notifier.shown}")
        watchers.append(notifier)
    return watchers, said


def _unknown_orders(bot: Any) -> list[str]:
    from krakenbot.execution.order_state import OrderStatus

    waiting = [s.value for s in OrderStatus if s.name in ("NEW", "PENDING_SUBMIT", "UNKNOWN", "PENDING_CANCEL")]
    return [o.cl_ord_id for o in bot.store.orders(statuses=waiting)]


def _banner(bot: Any) -> None:
    """What this run will do, before it does anything: loud in live."""
    from krakenbot.config import shown_url

    s, mode = bot.settings, bot.safety.mode.value
    if mode == "live":
        print("*** LIVE TRADING: orders use real money on the exchange below ***")
    print(f"krakenbot run  mode {mode.upper()}  pid {os.getpid()}")
    _home_line(s.home)
    print(f"exchange       {shown_url(s.api_domain)}")
    print(f"key            {s.redacted_key}")
    print(f"pairs          {', '.join(s.pairs)}")
    print(f"allocation     {_amount(s.total_btc)} BTC (max position {_amount(s.max_position_pct)} %)")
    print(f"limits         {_limits_line(s)}")
    print(f"kill switch    {s.kill_switch_file}  (krakenbot kill --home {s.home})", flush=True)


def _limits_line(s: Any) -> str:
    return (f"order <= {_amount(s.max_order_eur)} EUR, {s.max_daily_trades} trades/day, "
            f"daily loss <= {_amount(s.max_daily_loss_eur)} EUR, {s.max_open_orders} open orders, "
            f"collar {_amount(s.price_collar_pct)} %")


def _existing_store(paths: dict[str, str]) -> Any:
    """The home's store, opened only if it exists: the controls never create one."""
    from krakenbot.store import Store

    path = paths["store_path"]
    if path != ":memory:" and not os.path.isfile(path):
        return None
    return Store(path)


def _no_store(paths: dict[str, str]) -> str:
    return (f"no store at {paths['store_path']}: no bot has run with home {paths['home']} "
            f"(is KRAKENBOT_HOME / --home the running bot's?)")


def _bot_line(record: Any) -> str:
    from krakenbot.running import is_running

    if record is None:
        return "not running (no record in this home)"
    age = time.time() - float(record.get("heartbeat", 0))
    if not is_running(record):
        return f"not running (last: pid {record['pid']}, heartbeat {age:.0f}s ago)"
    return f"running: pid {record['pid']}, mode {record.get('mode')}, heartbeat {age:.0f}s ago"


def _running_lines(record: Any, settings: Any) -> None:
    """The running bot (from its record): alive or not, its real mode, last cycle and limits in use."""
    from krakenbot import running

    mode = record.get("mode") if running.is_running(record) else None
    configured = settings.trading_mode.value if settings else "?"
    print(f"bot            {_bot_line(record)}")
    print(f"mode           {mode + ' (running bot)' if mode else 'not running; configured ' + configured}")
    print(f"last cycle     {_last_cycle(record, mode is not None)}")
    if mode and record.get("limits"):
        print(f"limits         {record['limits']} (running bot)")
    else:
        print(f"limits         {_limits_line(settings) + ' (configured)' if settings else 'unknown: settings invalid'}")


def _last_cycle(record: Any, alive: bool) -> str:
    from krakenbot.history import utc_time

    when = (record or {}).get("last_cycle")
    if not isinstance(when, (int, float)):
        return "none yet" if alive else "none (no bot running)"
    return f"{utc_time(when)} ({time.time() - when:.0f}s ago)"


# -- status ---------------------------------------------------------------------------------------
def _status(sources: Any, paths: dict[str, str], args: argparse.Namespace) -> int:
    """From the home only (store, kill file, running-bot record): works while the exchange is down,
    without credentials, and with a broken unrelated setting."""
    from krakenbot import running
    from krakenbot.execution.order_state import ACTIVE_STATUSES
    from krakenbot.safety.kill_switch import KillSwitch

    _home_line(paths["home"])
    settings, problem = _full_settings(sources)
    record = running.read(paths["home"])
    kill = KillSwitch(paths["kill_switch_file"], None)
    store = _existing_store(paths)
    if store is None:
        _running_lines(record, settings)
        print(f"kill switch    {'ENGAGED: ' + (kill.reason or '') if kill.engaged else 'off'} ({kill.file_path})")
        return _fail(_no_store(paths), EXIT_FAILURE)
    with store:
        risk = _risk_manager(settings, store)
        day = risk.today()
        breaker_rows = store.audit_rows("breaker")
        open_orders = store.orders(statuses=[s.value for s in ACTIVE_STATUSES])
        dry = _dry_run_books(store)
        if dry:
            print(_dry_run_banner(paths["store_path"]))
        _running_lines(record, settings)
        print(f"store          {paths['store_path']}" + (f" ({DRY_RUN_LABEL})" if dry else ""))
        halted = risk.halt_reason()
        print(f"trading state  {risk.trading_state.value}" + (f": {halted}" if halted else ""))
        for pair, why in sorted(risk.halted_pairs().items()):
            print(f"pair halted    {pair}: {why}")
        print(f"kill switch    {'ENGAGED: ' + (kill.reason or '') if kill.engaged else 'off'} ({kill.file_path})")
        print(f"breaker        {breaker_rows[-1]['outcome'] if breaker_rows else 'closed'} (last recorded)")
        limit = settings.max_daily_trades if settings else "?"
        print(f"trades today   {risk.daily_trades()} of {limit} ({day})")
        print(f"realised PnL   {risk.daily_realised_pnl()} today")
        owed = [f"{o.cl_ord_id} {format(gap, 'f')} {o.pair}" for o, gap in _fills_owed(store)]
        if owed:
            print(f"fills owed     {len(owed)} order(s) executed, their trades not read yet; no new exposure"
                  f" until recorded: {', '.join(owed)}")
        print(f"open orders    {len(open_orders)}")
        for order in open_orders:
            price = format(order.price, "f") if order.price is not None else "market"
            print(f"  {order.cl_ord_id}  {order.txid or '-':<19} {order.side:<4} {format(order.volume, 'f')} "
                  f"{order.pair} @ {price}  {order.status}")
        if problem:
            print(f"settings       invalid: {problem}")
    return EXIT_OK


def _fills_owed(store) -> list:
    """The orders whose executed volume has no recorded fill yet (the executor's record of them)."""
    from krakenbot.execution.executor import FILLS_OWED_KEY

    import json

    raw = store.get_meta(FILLS_OWED_KEY)
    return store.orders_short_of_fills(json.loads(raw)) if raw else []


# -- orders / trades / pnl -----------------------------------------------------------------------
_HISTORY = ("orders", "trades", "pnl")
_COLUMNS = {
    "orders": ("created", "cl_ord_id", "txid", "pair", "side", "type", "volume", "price", "executed", "cost", "fee",
               "status", "reason"),
    "trades": ("time", "pair", "side", "volume", "price", "cost", "fee", "realised_pnl", "trade_id", "cl_ord_id"),
}


def _history(sources: Any, paths: dict[str, str], args: argparse.Namespace) -> int:
    """The home's store, opened read-only; the rows and their rendering are krakenbot.history's."""
    from krakenbot import history
    from krakenbot.store import Store

    try:
        pair = args.pair.strip().upper() if args.pair else None
        if args.command == "orders":
            status = history.parse_status(args.status) if args.status is not None else None
            limit = history.parse_limit(args.limit) if args.limit is not None else None
        elif args.command == "trades":
            since = history.parse_since(args.since) if args.since is not None else None
    except history.BadArgument as exc:
        return _fail(str(exc), EXIT_CONFIG)
    if paths["store_path"] == ":memory:" or not os.path.isfile(paths["store_path"]):
        return _fail(_no_store(paths), EXIT_FAILURE)
    with Store(paths["store_path"], read_only=True) as store:
        dry = _dry_run_books(store)
        if args.command == "orders":
            rows = history.orders(store, pair, status, limit)
        elif args.command == "trades":
            rows = history.trades(store, since, pair)
        else:
            rows = history.pnl(store, daily=args.daily, pair=pair)
    label = DRY_RUN_LABEL if dry else None
    if dry and not args.json:
        print(_dry_run_banner(paths["store_path"]))
    print(history.render(args.command, rows, as_json=args.json, columns=_COLUMNS.get(args.command), books=label))
    return EXIT_OK


# -- kill -----------------------------------------------------------------------------------------
KILL_STORE_BUSY_SECONDS = 0.5  # a locked store must not hold the cancel


def _kill(sources: Any, paths: dict[str, str], args: argparse.Namespace) -> int:
    """Write the kill file in the home first (every bot of this home refuses every order from then
    on: its guard checks the file before each send), have the running bot confirm it has seen the
    halt (SIGUSR1, then its record), then cancel open orders and halt the store. Cancelling needs
    the credentials and a mode that may cancel, but no live flag: a cancel only ever reduces
    exposure. No step waits on another: a kill file or store that cannot be written is reported
    (one line, exit 1) and the cancel still leaves."""
    import uuid

    from krakenbot import running
    from krakenbot.safety.kill_switch import KillSwitch

    _home_line(paths["home"])
    problems: list[str] = list(getattr(args, "problems", []))
    kill_id: str | None = uuid.uuid4().hex[:12]
    record = running.read(paths["home"])
    alive = running.is_running(record)
    dry = _dry_run_control(args, sources, record)
    if dry:
        paths = _dry_run_paths(paths)
    files = [paths["kill_switch_file"]]
    if alive and record.get("kill_switch_file") not in (None, *files):  # the running bot's own file
        files.append(str(record["kill_switch_file"]))
    written = 0
    for file in files:
        try:
            print(f"kill file written: {KillSwitch(file, None).write_file(args.reason, kill_id)}")
            written += 1
        except OSError as exc:
            problems.append(f"kill file NOT written at {file}: {exc.strerror or exc}")
    if not written:
        kill_id = None
    if alive and record.get("store_path") not in (None, ":memory:", paths["store_path"]):
        other, why = _kill_store({**paths, "store_path": str(record["store_path"])})
        if other is None:
            problems.append(f"the running bot's {why}")
        else:
            with other:
                _record_halt(other, args.reason, problems)
    if alive:
        if not running.signal_check(record):
            problems.append(f"could not signal the running bot (pid {record['pid']})")
        elif kill_id is None:
            problems.append(f"the running bot (pid {record['pid']}) was signalled (it halts in memory) but "
                            f"cannot confirm: no kill file was written")
        elif running.wait_for_ack(paths["home"], kill_id, args.wait) is not None:
            print(f"running bot pid {record['pid']} ({record.get('mode')}) confirmed the halt")
        else:
            problems.append(f"the running bot (pid {record['pid']}) did not confirm the halt within {args.wait:g}s")
    else:
        print(f"no bot running with this home ({_bot_line(record)})")
    settings, problem = _full_settings(sources)
    store, store_problem = _kill_store(paths)
    if store_problem:
        problems.append(store_problem)
    if dry:
        problems.extend(_kill_dry_run(settings, problem, store, paths["store_path"], alive, args))
    elif settings is None:
        if store is not None:
            with store:
                _record_halt(store, args.reason, problems)
        problems.append(f"open orders were NOT cancelled: {problem}")
    else:
        problems.extend(_cancel_everything(settings, store, paths, args))
    if problems:
        return _fail("; ".join(problems), EXIT_FAILURE)
    return EXIT_OK


def _dry_run_control(args: argparse.Namespace, sources: Any, record: Any) -> bool:
    """Whether kill / resume act on the dry run's books: when asked (``--dry-run``, TRADING_MODE=dry-run)
    or when the bot running in the home is a dry run, but never while a bot of a real-money mode runs
    there (its kill must reach the exchange, whatever the environment says)."""
    from krakenbot import running

    mode = record.get("mode") if running.is_running(record) else None
    if mode in ("canary", "live"):
        return False
    return mode == "dry-run" or _dry_run_asked(args, sources)


def _dry_run_paths(paths: dict[str, str]) -> dict[str, str]:
    from krakenbot.config import dry_run_store_path

    dry = dry_run_store_path(paths["store_path"])
    print(f"dry run        {dry}: its orders are the dry run's own; nothing is sent to the exchange")
    return {**paths, "store_path": dry}


def _kill_dry_run(settings: Any, problem: str | None, store: Any, path: str, alive: bool,
                  args: argparse.Namespace) -> list[str]:
    """A dry run's kill: the dry run's store halted and its venue's orders cancelled, locally. No
    cancel goes to the exchange: the account's real orders are not the dry run's. A running dry run
    cancels its own venue's orders (it holds them in memory: they are its to cancel); else they are
    cancelled here, on the venue restored from the store."""
    from dataclasses import replace

    from krakenbot.bot import Bot, make_scrubber
    from krakenbot.dry_run.venue import JOURNAL
    from krakenbot.safety.modes import TradingMode

    if store is None:  # none (said above), or it cannot be written: the venue's orders stay where they are
        return ["the dry run's orders were NOT cancelled"] if os.path.isfile(path) else []
    if alive or not store.meta_items(JOURNAL) or settings is None:
        problems: list[str] = []
        with store:
            _record_halt(store, args.reason, problems)
        if not alive and settings is None and store.meta_items(JOURNAL):
            problems.append(f"the dry run's orders were NOT cancelled: {problem}")
        return problems
    settings = replace(settings, trading_mode=TradingMode.DRY_RUN, store_path=store.path)
    try:
        with Bot.build(settings, store=store) as bot:
            report = bot.safety.kill(args.reason, actor="cli")
    except Exception as exc:  # one line, scrubbed
        return [make_scrubber(settings)(f"the dry run's orders were NOT cancelled: {type(exc).__name__}: {exc}")]
    print(f"cancelled {report.cancelled} dry-run order(s); halted")
    return list(report.problems)


def _kill_store(paths: dict[str, str]) -> tuple[Any, str | None]:
    """The home's store for the kill, with a short busy timeout, if it exists and takes a write;
    else None and why (the cancel then goes out on a memory store)."""
    import sqlite3

    from krakenbot.store import Store, StoreError

    path = paths["store_path"]
    if path != ":memory:" and not os.path.isfile(path):
        return None, _no_store(paths)
    store = None
    try:
        store = Store(path, busy_timeout=KILL_STORE_BUSY_SECONDS)
        with store.tx():  # takes the write lock: a locked or read-only store is known before the cancel
            pass
        return store, None
    except (sqlite3.Error, StoreError, OSError) as exc:
        if store is not None:
            store.close()
        return None, f"the store {path} cannot be written ({exc}): the halt is NOT recorded there"


def _record_halt(store: Any, reason: str, problems: list[str]) -> None:
    import sqlite3

    from krakenbot.store import StoreError

    try:
        _risk_manager(None, store).halt(f"kill switch: {reason}", actor="cli")
        print("halted (store trading state HALTED)")
    except (sqlite3.Error, StoreError, OSError) as exc:
        problems.append(f"the halt could not be recorded in {store.path}: {exc}")


def _cancel_everything(settings: Any, store: Any, paths: dict[str, str], args: argparse.Namespace) -> list[str]:
    """CancelAll, on the home's store if it takes writes, else on a memory store whose nonces
    start above the home's saved mark (read, not written)."""
    from dataclasses import replace

    from krakenbot.bot import Bot, make_scrubber
    from krakenbot.client.nonce import NonceGenerator
    from krakenbot.safety.modes import TradingMode
    from krakenbot.store import Store

    settings = replace(settings, trading_mode=TradingMode.CANARY,
                       store_path=store.path if store is not None else ":memory:")
    options: dict[str, Any] = {}
    if store is None:
        nonces = NonceGenerator(None)
        nonces.advance_past(_saved_nonce(paths["store_path"]))
        options["nonce"] = nonces
    try:
        with Bot.build(settings, client_options=options, store=store or Store(":memory:")) as bot:
            report = bot.safety.kill(args.reason, actor="cli")
    except Exception as exc:  # one line, scrubbed: the other steps are done and reported
        return [make_scrubber(settings)(f"open orders were NOT cancelled: {type(exc).__name__}: {exc}")]
    print(f"cancelled {report.cancelled} open order(s)" + ("" if store is None else "; halted"))
    return list(report.problems)


def _saved_nonce(path: str) -> int:
    """The home store's nonce mark, read only (0 when it cannot be read)."""
    import sqlite3
    from contextlib import closing
    from urllib.parse import quote

    if path == ":memory:" or not os.path.isfile(path):
        return 0
    # mode=ro still creates the WAL index (-shm) when no bot has the file open, which a full or read-only
    # disk refuses; then the file alone (immutable): a bot that closed cleanly left everything in it.
    for options in ("mode=ro", "immutable=1"):
        try:
            with closing(sqlite3.connect(f"file:{quote(path)}?{options}", uri=True,
                                         timeout=KILL_STORE_BUSY_SECONDS)) as db:
                row = db.execute("SELECT value FROM nonce WHERE id = 1").fetchone()
            return int(row[0]) if row else 0
        except (sqlite3.Error, ValueError):
            continue
    log.warning("the nonce mark in %s cannot be read: the cancel's nonce follows the clock", path)
    return 0


# -- resume ---------------------------------------------------------------------------------------
def _resume(sources: Any, paths: dict[str, str], args: argparse.Namespace) -> int:
    """Trading state back to ACTIVE. Local only (store and flag): nothing is sent."""
    from krakenbot.safety.kill_switch import KillSwitch

    from krakenbot import running

    _home_line(paths["home"])
    kill = KillSwitch(paths["kill_switch_file"], None)
    if kill.file_present():
        return _fail(f"resume refused: kill file {kill.file_path} exists; remove it first", EXIT_FAILURE)
    if _dry_run_control(args, sources, running.read(paths["home"])):
        paths = _dry_run_paths(paths)
    store = _existing_store(paths)
    if store is None:
        return _fail(_no_store(paths), EXIT_FAILURE)
    with store:
        risk = _risk_manager(_full_settings(sources)[0], store)
        if args.pair is not None:
            halted = risk.halted_pairs()
            if args.pair not in halted:
                return _fail(f"resume refused: pair {args.pair} is not halted (halted: "
                             f"{', '.join(sorted(halted)) or 'none'})", EXIT_FAILURE)
            risk.resume_pair(args.pair, args.reason, actor="cli")
            print(f"pair {args.pair} HALTED -> ACTIVE")
            return EXIT_OK
        old = risk.trading_state.value
        risk.resume(args.reason, actor="cli")
    print(f"trading state {old} -> ACTIVE")
    return EXIT_OK


def _risk_manager(settings: Any, store: Any) -> Any:
    """The store's trading state and daily counters; default limits when the settings are invalid
    (only the counters' display uses them)."""
    from krakenbot.bot import risk_limits_from
    from krakenbot.clock import SystemClock
    from krakenbot.risk import RiskLimits, RiskManager

    limits = risk_limits_from(settings) if settings is not None else RiskLimits()
    return RiskManager(limits, store, SystemClock())


# -- report ---------------------------------------------------------------------------------------
def _report(argv: Sequence[str] = ()) -> int:
    """A thin entry point into the specification's report (``tools/safety_report``).

    Why it is not in the package: the report is the specification's oracle, judging the bot's
    evidence with the plan's own allowlist; an oracle shipped inside the package it judges could
    be "fixed" along with the bug. It judges a spec run's files, which exist only in a checkout,
    so it runs from there (this source tree's root, or the working directory).
    """
    try:
        report = _import_safety_report()
    except ImportError:
        return _fail("report: the safety validation report is not available here: run it from the repository "
                     "checkout (tools/safety_report)", EXIT_CONFIG)
    return int(report.main(list(argv)) or 0)


def _import_safety_report() -> Any:
    import importlib

    root = Path(__file__).resolve().parents[2]  # src/krakenbot/cli.py -> the checkout
    if (root / "tools" / "safety_report").is_dir() and str(root) not in sys.path:
        sys.path.append(str(root))
    return importlib.import_module("tools.safety_report")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
