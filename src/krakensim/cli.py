"""``krakensim serve``: the simulator as a long-running process for manual runs and demos.

Runs on the system clock with a gentle seeded random walk, so resting orders
fill as wall time passes. Prints one line with the URL and the demo key and
secret: the one place a secret is printed, on purpose, for the operator who
must paste it into the bot's configuration.
"""
from __future__ import annotations

import argparse
import base64
import binascii
import signal
import sys
import threading
from decimal import Decimal, InvalidOperation
from typing import Sequence

from krakensim.errors import KrakenAPIError
from krakensim.limits import TIERS

DEFAULT_VOLATILITY = "0.0005"  # per step: gentle enough for a demo, enough to fill resting orders


class _OneLineParser(argparse.ArgumentParser):
    """Bad arguments give one clear line and exit status 2 (argparse's own error adds a usage block)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        print(f"krakensim: error: {message}", file=sys.stderr)
        raise SystemExit(2)


def _balances(text: str) -> dict[str, Decimal]:
    out: dict[str, Decimal] = {}
    for item in text.split(","):
        asset, sep, amount = item.strip().partition("=")
        if not sep or not asset:
            raise argparse.ArgumentTypeError(f"expected ASSET=AMOUNT[,ASSET=AMOUNT...], got {item.strip()!r}")
        try:
            value = Decimal(amount)
        except InvalidOperation:
            raise argparse.ArgumentTypeError(f"{asset}: {amount!r} is not a decimal amount") from None
        if not value.is_finite() or value < 0:
            raise argparse.ArgumentTypeError(f"{asset}: amount must be a non-negative decimal")
        out[asset.upper()] = value
    return out


def _port(text: str) -> int:
    if not text.isdigit() or not 0 <= int(text) <= 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number (0-65535)")
    return int(text)


def _volatility(text: str) -> Decimal:
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise argparse.ArgumentTypeError(f"{text!r} is not a decimal") from None
    if not value.is_finite() or value < 0:
        raise argparse.ArgumentTypeError("volatility must be a non-negative decimal")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = _OneLineParser(prog="krakensim", description="A Kraken-compatible spot exchange on loopback.")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_OneLineParser)
    serve = commands.add_parser("serve", help="serve until SIGINT/SIGTERM")
    serve.add_argument("--port", type=_port, default=0, help="TCP port (0: any free port)")
    serve.add_argument("--host", default="127.0.0.1", help="bind address (default loopback)")
    serve.add_argument("--seed", type=int, default=42)
    serve.add_argument("--api-key", help="the demo key (generated when omitted)")
    serve.add_argument("--api-secret", help="the demo key's base64 secret (with --api-key)")
    serve.add_argument("--balance", type=_balances, help="demo funding, e.g. ZEUR=10000,XXBT=1")
    serve.add_argument("--tier", choices=sorted(TIERS), default="starter")
    serve.add_argument("--volatility", type=_volatility, default=Decimal(DEFAULT_VOLATILITY),
                       help=f"random-walk step size (default {DEFAULT_VOLATILITY}; 0 keeps prices still)")
    return parser


def serve(args: argparse.Namespace, stop: threading.Event | None = None) -> int:
    from krakensim import KrakenSimulator

    if (args.api_key is None) != (args.api_secret is None):
        print("krakensim: error: --api-key and --api-secret go together", file=sys.stderr)
        return 2
    if args.api_secret is not None:
        try:
            base64.b64decode(args.api_secret, validate=True)
        except (binascii.Error, ValueError):
            print("krakensim: error: --api-secret must be base64", file=sys.stderr)
            return 2
    try:
        sim = KrakenSimulator(seed=args.seed, tier=args.tier, api_key=args.api_key, api_secret=args.api_secret,
                              balances=args.balance, host=args.host, port=args.port, volatility=args.volatility)
    except OSError as exc:
        print(f"krakensim: error: cannot listen on {args.host}:{args.port}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    except (ValueError, KrakenAPIError) as exc:  # e.g. an asset the exchange does not list
        print(f"krakensim: error: {exc}", file=sys.stderr)
        return 2
    stop = stop or threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    with sim:
        print(f"krakensim serving {sim.url} api_key={sim.api_key} api_secret={sim.api_secret} "
              f"seed={args.seed} tier={args.tier} ws={sim.ws_url} ws_auth={sim.ws_auth_url}", flush=True)
        while not stop.wait(0.5):
            pass
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "serve":
        return serve(args)
    return 2  # pragma: no cover - argparse requires a command


if __name__ == "__main__":
    raise SystemExit(main())
