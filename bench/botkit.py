"""A real bot (``Bot.build``) wired to a simulator process, for the bot-path and memory sections.

LIVE mode (``KRAKEN_LIVE_TRADING=yes`` plus the explicit flag: it is a simulator), a real
SQLite file, the system clock, the client's pacers off (the simulator's rate limits are
off). Risk limits are widened only where a benchmark would otherwise trip them by design
(daily trade count, open orders, daily loss from fees); the checks themselves all run.
"""
from __future__ import annotations

import time
from decimal import ROUND_DOWN, Decimal
from pathlib import Path
from typing import Any, Callable, Iterable

from bench.ours import build_client
from bench.simproc import SimProcess

PAIR = "XBTEUR"
VOLUME = Decimal("0.0002")  # ~12 EUR at 60,000: above ordermin, costmin and MIN_EUR_FOR_TRADE

BENCH_ENV = {
    "TRADING_MODE": "live",
    "KRAKEN_LIVE_TRADING": "yes",
    "MAX_DAILY_TRADES": "1000000",
    "MAX_OPEN_ORDERS": "1000",
    "MAX_ORDER_EUR": "1000",
    "MAX_DAILY_LOSS_EUR": "1000000",
    "TOTAL_BTC": "1",
    "PRICE_COLLAR_PCT": "10",
}


def build_bot(sim: SimProcess, workdir: Path, **extra_env: str) -> Any:
    from krakenbot.bot import Bot
    from krakenbot.clock import SystemClock
    from krakenbot.config import Settings

    key, secret = sim.new_key()
    env = {
        "KRAKEN_API_KEY": key, "KRAKEN_API_SECRET": secret, "API_DOMAIN": sim.url,
        "STORE_PATH": str(workdir / "bot.sqlite"), "KILL_SWITCH_FILE": str(workdir / "KILL_SWITCH"),
        **BENCH_ENV, **extra_env,
    }
    settings = Settings.from_env(env)
    return Bot.build(settings, SystemClock(), str(workdir / "bot.sqlite"), live_flag=True,
                     client_options={"pacing": False, "public_burst": None})


def bare_client(sim: SimProcess) -> Any:
    """Our client with no guard, store or audit: the bare client call the bot path is compared to."""
    return build_client(sim.url, *sim.new_key())


def price_at(mid: Decimal, factor: str, tick: Decimal = Decimal("0.1")) -> Decimal:
    """``mid * factor`` rounded down to the tick."""
    return (mid * Decimal(factor) / tick).to_integral_value(rounding=ROUND_DOWN) * tick


def order_request(side: str, price: Decimal, *, pair: str = PAIR, validate: bool = False, cl_ord_id: str | None = None):
    from krakenbot.models import OrderRequest, OrderType, Side

    return OrderRequest(pair=pair, side=Side(side), ordertype=OrderType.LIMIT, volume=VOLUME, price=price,
                        validate=validate, cl_ord_id=cl_ord_id)


def time_layers(bot: Any, layers: Iterable[tuple[str, str, str]], into: dict[str, int],
                clock: Callable[[], int] = time.perf_counter_ns) -> Callable[[], None]:
    """Wrap each ``(label, attribute path on the bot, method)`` on the bot's own objects so that every
    call adds its ``clock`` time to ``into[label]`` (nested layers count in each); returns the function
    that removes the wrappers."""
    installed: list[tuple[Any, str]] = []
    for label, path, method in layers:
        owner = bot
        for part in path.split("."):
            owner = getattr(owner, part)
        original = getattr(owner, method)

        def timed(*args: Any, _original: Any = original, _label: str = label, **kwargs: Any) -> Any:
            start = clock()
            try:
                return _original(*args, **kwargs)
            finally:
                into[_label] = into.get(_label, 0) + clock() - start
        setattr(owner, method, timed)
        installed.append((owner, method))

    def remove() -> None:
        for owner, method in installed:
            try:
                delattr(owner, method)  # instance attribute over the class's method
            except AttributeError:
                pass
    return remove
