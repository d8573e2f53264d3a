"""``krakenbot``: check / run / status / kill / report.

Why these rules: an operator reads this output under stress. Every failure is one
line that says what is wrong (a bad setting is named, exit 2), secrets never appear
(settings are redacted, exchange errors are scrubbed), and ``run`` stops gracefully on
SIGINT/SIGTERM: it finishes the cycle, disarms the dead man's switch, closes the store.
"""
from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from decimal import Decimal
from typing import Any, Sequence

EXIT_OK, EXIT_FAILURE, EXIT_CONFIG = 0, 1, 2


def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)  # accepted before or after the subcommand
    common.add_argument("--env-file", default=argparse.SUPPRESS, help="dotenv file (real environment wins)")
    common.add_argument("--store", default=argparse.SUPPRESS, help="SQLite store path (default: STORE_PATH)")
    common.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS, help="log to stderr")
    parser = argparse.ArgumentParser(prog="krakenbot", description="Kraken spot trading bot", parents=[common])
    parser.set_defaults(env_file=".env", store=None, verbose=False)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("check", help="connectivity, authentication and balances", parents=[common])
    run = sub.add_parser("run", help="run the trading loop", parents=[common])
    run.add_argument("--mode", choices=["read-only", "paper", "canary", "live"], default=None,
                     help="trading mode (default: TRADING_MODE)")
    run.add_argument("--live", action="store_true", help="explicit live flag (LIVE also needs KRAKEN_LIVE_TRADING=yes)")
    run.add_argument("--once", action="store_true", help="run one cycle and stop")
    run.add_argument("--cycles", type=int, default=None, help="stop after N cycles")
    run.add_argument("--interval", type=float, default=60.0, help="seconds between cycles (default 60)")
    sub.add_parser("status", help="mode, breaker, kill switch, daily counters, open orders (from the store)",
                   parents=[common])
    kill = sub.add_parser("kill", help="write the kill file and cancel open orders", parents=[common])
    kill.add_argument("--reason", default="operator kill switch")
    resume = sub.add_parser("resume", help="clear a halt (refused while the kill file exists)", parents=[common])
    resume.add_argument("--reason", default="operator resumed")
    sub.add_parser("report", help="safety validation report (options: krakenbot report --help)", parents=[common])
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["report"]:  # the report has its own options: hand them over untouched
        return _report(argv[1:])
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, stream=sys.stderr,
                        format="%(levelname)s %(name)s: %(message)s")
    if args.command == "report":
        return _report()
    from krakenbot.config import ConfigError, load

    try:
        settings = load(args.env_file)
        if args.command == "run" and args.mode:
            from dataclasses import replace

            from krakenbot.safety.modes import TradingMode

            settings = replace(settings, trading_mode=TradingMode.parse(args.mode))
    except ConfigError as exc:
        return _fail(f"configuration error: {exc}", EXIT_CONFIG)
    handler = {"check": _check, "run": _run, "status": _status, "kill": _kill, "resume": _resume}[args.command]
    try:
        return handler(settings, args)
    except KeyboardInterrupt:
        return _fail("interrupted", EXIT_FAILURE)
    except Exception as exc:  # one line, scrubbed: never a traceback with parameters in it
        from krakenbot.bot import make_scrubber

        return _fail(make_scrubber(settings)(f"{type(exc).__name__}: {exc}"), EXIT_FAILURE)


def _fail(message: str, code: int) -> int:
    print(f"krakenbot: {' '.join(str(message).split())}", file=sys.stderr)
    return code


def _build(settings: Any, args: argparse.Namespace, live_flag: bool = False):
    from krakenbot.bot import Bot

    return Bot.build(settings, store_path=args.store, live_flag=live_flag)


# -- check ----------------------------------------------------------------------------------------
def _check(settings: Any, args: argparse.Namespace) -> int:
    from dataclasses import replace

    from krakenbot.safety.modes import TradingMode

    # A check only reads: always read-only, whatever TRADING_MODE says.
    with _build(replace(settings, trading_mode=TradingMode.READ_ONLY), args) as bot:
        report = bot.safety.check_connection()
    print(f"exchange   {settings.api_domain}")
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


# -- run ------------------------------------------------------------------------------------------
def _run(settings: Any, args: argparse.Namespace) -> int:
    from krakenbot.safety.modes import LiveTradingRefused

    try:
        bot = _build(settings, args, live_flag=args.live)
    except LiveTradingRefused as exc:
        return _fail(str(exc), EXIT_CONFIG)
    stop = threading.Event()
    previous = {}

    def request_stop(signum: int, frame: Any) -> None:
        logging.getLogger("krakenbot").warning("signal %s: finishing the cycle, then stopping", signum)
        stop.set()

    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGINT, signal.SIGTERM):
            previous[sig] = signal.signal(sig, request_stop)
    try:
        with bot:
            bot.orchestrator.cycle_seconds = args.interval
            recovery = bot.safety.recover()
            if recovery is not None and recovery.still_unknown:
                print(f"warning: {len(recovery.still_unknown)} order(s) still of unknown outcome: "
                      f"{', '.join(recovery.still_unknown)}", file=sys.stderr)
            if bot.settings.dead_mans_switch_seconds and bot.safety.mode.value in ("canary", "live"):
                bot.safety.arm_dead_mans_switch(bot.settings.dead_mans_switch_seconds)
            cycles = 1 if args.once else args.cycles
            done = bot.orchestrator.run(stop, max_cycles=cycles)
            report = bot.orchestrator.last_report
            print(f"mode {bot.safety.mode.value}: {done} cycle(s); last: "
                  f"{_cycle_line(report) if report else 'none'}")
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return EXIT_OK


def _cycle_line(report: Any) -> str:
    parts = [f"intents {report.intents}", f"placed {report.placed}", f"refused {report.refused}"]
    if report.skipped:
        parts.append("skipped " + "; ".join(f"{p}: {why}" for p, why in report.skipped.items()))
    if report.errors:
        parts.append(f"errors {len(report.errors)}")
    return ", ".join(parts)


# -- status ---------------------------------------------------------------------------------------
def _status(settings: Any, args: argparse.Namespace) -> int:
    """From the store and local flags only: works while the exchange is down."""
    from krakenbot.execution.order_state import ACTIVE_STATUSES
    from krakenbot.safety.kill_switch import KillSwitch
    from krakenbot.store import Store

    with Store(args.store or settings.store_path) as store:
        risk = _risk_manager(settings, store)
        day = risk.today()
        kill = KillSwitch(settings.kill_switch_file, None)
        breaker_rows = store.audit_rows("breaker")
        open_orders = store.orders(statuses=[s.value for s in ACTIVE_STATUSES])
        print(f"mode           {settings.trading_mode.value}")
        print(f"trading state  {risk.trading_state.value}")
        print(f"kill switch    {'ENGAGED: ' + kill.reason if kill.engaged else 'off'} ({settings.kill_switch_file})")
        print(f"breaker        {breaker_rows[-1]['outcome'] if breaker_rows else 'closed'} (last recorded)")
        print(f"trades today   {risk.daily_trades()} of {settings.max_daily_trades} ({day})")
        print(f"realised PnL   {risk.daily_realised_pnl()} today")
        print(f"open orders    {len(open_orders)}")
        for order in open_orders:
            price = format(order.price, "f") if order.price is not None else "market"
            print(f"  {order.cl_ord_id}  {order.txid or '-':<19} {order.side:<4} {format(order.volume, 'f')} "
                  f"{order.pair} @ {price}  {order.status}")
    return EXIT_OK


# -- kill -----------------------------------------------------------------------------------------
def _kill(settings: Any, args: argparse.Namespace) -> int:
    """Write the kill file first (every running bot stops placing orders at its next
    attempt), then cancel open orders. Cancelling needs a mode that may cancel, but no
    live flag: a cancel only ever reduces exposure."""
    from dataclasses import replace

    from krakenbot.safety.kill_switch import KillSwitch
    from krakenbot.safety.modes import TradingMode

    path = KillSwitch(settings.kill_switch_file, None).write_file(args.reason)
    print(f"kill file written: {path}")
    with _build(replace(settings, trading_mode=TradingMode.CANARY), args) as bot:
        report = bot.safety.kill(args.reason, actor="cli")
    print(f"halted; cancelled {report.cancelled} open order(s)")
    if report.problems:
        return _fail("; ".join(report.problems), EXIT_FAILURE)
    return EXIT_OK


# -- resume ---------------------------------------------------------------------------------------
def _resume(settings: Any, args: argparse.Namespace) -> int:
    """Trading state back to ACTIVE. Local only (store and flag): nothing is sent."""
    from krakenbot.safety.kill_switch import KillSwitch
    from krakenbot.store import Store

    kill = KillSwitch(settings.kill_switch_file, None)
    if kill.file_present():
        return _fail(f"resume refused: kill file {kill.file_path} exists; remove it first", EXIT_FAILURE)
    with Store(args.store or settings.store_path) as store:
        risk = _risk_manager(settings, store)
        old = risk.trading_state.value
        risk.resume(args.reason, actor="cli")
    print(f"trading state {old} -> ACTIVE")
    return EXIT_OK


def _risk_manager(settings: Any, store: Any) -> Any:
    from krakenbot.bot import risk_limits_from
    from krakenbot.clock import SystemClock
    from krakenbot.risk import RiskManager

    return RiskManager(risk_limits_from(settings), store, SystemClock())


# -- report ---------------------------------------------------------------------------------------
def _report(argv: Sequence[str] = ()) -> int:
    try:
        from krakenbot import reporting  # filled in by the reporting work
    except ImportError:
        reporting = None
    entry = getattr(reporting, "main", None)
    if not callable(entry):
        return _fail("report: the safety validation report is not available in this build", EXIT_CONFIG)
    return int(entry(list(argv)) or 0)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
