"""The same strategy over the same seeded market, once live and once as a dry run, each against
its own simulator: the same orders and, for marketable ones, the same fills, fees and balances to
the unit. ``python -m tests.integration.safety.test_dry_run_agrees_with_live`` prints the figures."""
from __future__ import annotations

from decimal import Decimal

import pytest

from krakenbot.bot import Bot
from krakenbot.config import Settings
from krakenbot.models import OrderType, Side
from krakenbot.strategy import MarketView, TradeIntent
from krakensim import KrakenSimulator
from krakensim.clock import ManualClock

CYCLES = 12


class MarketSteps:
    """Buy 0.005 XBT at market each cycle (``buys`` orders in a row); at every fourth cycle sell what was
    bought (market)."""

    name = "market-steps"

    def __init__(self, buys: int = 1) -> None:
        self.cycle = 0
        self.buys = buys

    def decide(self, view: MarketView) -> list[TradeIntent]:
        self.cycle += 1
        if self.cycle % 4 == 0 and view.position_volume > 0:
            return [TradeIntent(view.pair, Side.SELL, OrderType.MARKET, view.position_volume, reason="sell")]
        return [TradeIntent(view.pair, Side.BUY, OrderType.MARKET, Decimal("0.005"), reason="buy")] * self.buys

    def acknowledge(self, intent: TradeIntent, placed: bool, now: float) -> None:
        return None


class RestingQuotes:
    """A post-only bid of 0.003 XBT at the best bid each cycle, a post-only ask at the best ask every third:
    orders that rest and fill only from other traders' orders."""

    name = "resting-quotes"

    def __init__(self, volume: Decimal = Decimal("0.003")) -> None:
        self.cycle = 0
        self.volume = volume

    def decide(self, view: MarketView) -> list[TradeIntent]:
        self.cycle += 1
        side = Side.SELL if self.cycle % 3 == 0 else Side.BUY
        return [TradeIntent(view.pair, side, OrderType.LIMIT, self.volume,
                            price=view.ask if side is Side.SELL else view.bid, reason="quote", post_only=True)]

    def acknowledge(self, intent: TradeIntent, placed: bool, now: float) -> None:
        return None


def _bot(sim: KrakenSimulator, mode: str, tmp: str, strategy: object) -> Bot:
    env = {"KRAKEN_API_KEY": sim.api_key, "KRAKEN_API_SECRET": sim.api_secret, "API_DOMAIN": sim.url,
           "TRADING_MODE": mode, "KILL_SWITCH_FILE": f"{tmp}/KILL-{mode}", "STORE_PATH": ":memory:",
           "MAX_ORDER_EUR": "1000", "TOTAL_BTC": "0.5", "MAX_OPEN_ORDERS": "20", "MAX_DAILY_TRADES": "50",
           "STRATEGY_BUY_EUR": "300", "STRATEGY_INTERVAL_SECONDS": "60", "STRATEGY_RISE_PCT": "0.3",
           "PRICE_COLLAR_PCT": "5", "KRAKEN_LIVE_TRADING": "yes", "DRY_RUN_WALLET": "snapshot"}
    return Bot.build(Settings.from_env(env), clock=sim.clock, store_path=":memory:", live_flag=mode == "live",
                     strategy=strategy)


def run(mode: str, seed: int = 7, cycles: int = CYCLES, tmp: str = "/tmp", strategy: object = None) -> dict:
    """One run of ``strategy`` (default: the bot's dip-buy strategy, buying 300 EUR every minute with
    a limit at the ask, selling once 0.3 % up) on a thin book that moves (seeded random walk)."""
    with KrakenSimulator(seed=seed, clock=ManualClock(), volatility="0.0005") as sim:
        sim.set_price("XBTEUR", "60000")
        sim.set_liquidity("XBTEUR", "0.002")  # thin: every buy walks several levels
        bot = _bot(sim, mode, tmp, strategy)
        try:
            bot.start()
            # Each cycle starts at the same moment of the market path in both runs: the dry run makes a
            # few calls live does not (TradeVolume, Assets), so the call counter's waits may differ
            # within a cycle; they must not shift every later cycle.
            start = sim.clock.time() + 60
            for i in range(cycles):
                sim.clock.advance(start + 60 * i - sim.clock.time())
                bot.orchestrator.run_once()
            bot.safety.refresh_orders()
            orders = [(o.side, o.ordertype, o.volume, o.price, o.status, o.volume_executed, o.cost, o.fee)
                      for o in sorted(bot.store.orders(), key=lambda o: o.created_at)]
            fills = [(f.side, f.price, f.volume, f.cost, f.fee, f.maker)
                     for f in sorted(bot.store.fills(), key=lambda f: (f.time, f.price))]
            balances = sim.balances() if mode == "live" else bot.safety.balances()
            pnl = bot.safety.risk.daily_realised_pnl()
            return {"orders": orders, "fills": fills, "pnl": pnl,
                    "balances": {a: balances.get(a, Decimal(0)) for a in ("ZEUR", "XXBT")}}
        finally:
            bot.close()


def resting_run(mode: str, seed: int = 7, cycles: int = CYCLES, tmp: str = "/tmp", flow: float = 2,
                volume: Decimal = Decimal("0.003"), looks: int = 1) -> list[list]:
    """``RestingQuotes`` on a market of other traders (``flow`` arrivals a second, no random walk): at the
    start of every cycle and at the end, each order's executed volume (placement order), read at the same
    moment of the market in both modes (the exchange's own record live, the venue's in the dry run)."""
    with KrakenSimulator(seed=seed, clock=ManualClock(), flow_rate=flow) as sim:
        sim.set_price("XBTEUR", "60000")
        bot = _bot(sim, mode, tmp, RestingQuotes(volume))
        seen: list[list] = []
        try:
            bot.start()
            start = sim.clock.time() + 60
            for i in range(cycles + 1):
                for k in range(looks):
                    sim.clock.advance(start + 60 * i - 60 * (looks - 1 - k) / looks - sim.clock.time())
                    if mode == "live":
                        sim.advance(0)
                        rows = [(o["opentm"], o["txid"], Decimal(str(o["vol_exec"]))) for o in sim.orders()]
                    else:
                        bot.client.venue.catch_up()
                        rows = [(o.opentm, o.txid, o.vol_exec) for o in bot.client.venue.orders.values()]
                    seen.append([executed for _, _, executed in sorted(rows)])
                if i < cycles:
                    bot.orchestrator.run_once()
        finally:
            bot.close()
        return seen


@pytest.mark.parametrize("buys, cycles", [(1, CYCLES), (2, 8)])
def test_dry_run_and_live_agree_on_the_same_market(tmp_path, buys, cycles):
    """``buys=2``: two market buys in a row in one cycle, the second on the book the first left (live); over
    fewer cycles, as live's traded volume would otherwise reach the next fee tier, which the dry run's
    fills never move (README "Dry run")."""
    live = run("live", tmp=str(tmp_path), cycles=cycles, strategy=MarketSteps(buys))
    dry = run("dry-run", tmp=str(tmp_path), cycles=cycles, strategy=MarketSteps(buys))
    assert len(live["orders"]) >= 4 and {o[0] for o in live["orders"]} == {"buy", "sell"}, live["orders"]
    assert dry["orders"] == live["orders"]
    assert len(live["fills"]) > len(live["orders"])  # the thin book: orders fill over several levels
    assert dry["fills"] == live["fills"]
    assert dry["balances"] == live["balances"]
    assert dry["pnl"] == live["pnl"]


def bounded(live: list[list], dry: list[list]) -> dict[str, Decimal]:
    """Resting orders: the volume filled in each mode at the end, and how often (order x look) the dry run
    had filled less, or more, than live at the same moment of the market."""
    return {"live filled": sum(live[-1]), "dry run filled": sum(dry[-1]),
            "order-looks where the dry run was behind": sum(d < v for a, b in zip(dry, live) for d, v in zip(a, b)),
            "order-looks where the dry run was ahead": sum(d > v for a, b in zip(dry, live) for d, v in zip(a, b))}


def figures(live: dict, dry: dict) -> None:
    fee = lambda r: sum(f[4] for f in r["fills"])  # noqa: E731
    print(f"orders: live {len(live['orders'])}, dry run {len(dry['orders'])}, identical {live['orders'] == dry['orders']}")
    print(f"fills: live {len(live['fills'])}, dry run {len(dry['fills'])}, identical {live['fills'] == dry['fills']}")
    print(f"fees: live {fee(live)}, dry run {fee(dry)}, difference {fee(dry) - fee(live)}")
    for asset in ("ZEUR", "XXBT"):
        print(f"{asset}: live {live['balances'][asset]}, dry run {dry['balances'][asset]}, "
              f"difference {dry['balances'][asset] - live['balances'][asset]}")
    print(f"realised P&L: live {live['pnl']}, dry run {dry['pnl']}")


if __name__ == "__main__":
    print("market orders (MarketSteps):")
    figures(run("live", strategy=MarketSteps()), run("dry-run", strategy=MarketSteps()))
    print("two market buys in a row each cycle (MarketSteps(2), 8 cycles):")
    figures(run("live", cycles=8, strategy=MarketSteps(2)), run("dry-run", cycles=8, strategy=MarketSteps(2)))
    print("limit orders at the ask, the rest resting (DipBuyStrategy; the simulator's random walk, no other traders):")
    figures(run("live"), run("dry-run"))
    print("resting post-only quotes, other traders' flow 2/s, looked at every 10 s (RestingQuotes):")
    for name, value in bounded(resting_run("live", looks=6), resting_run("dry-run", looks=6)).items():
        print(f"{name}: {value}")
