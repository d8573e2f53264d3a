"""One scenario's world: the exchange, the shared clock and a freshly built bot.

Why a class rather than loose ``context`` attributes: the run-level safety check needs
to know which trading mode was in force when each request reached the exchange, so
every mode change goes through ``World`` and is recorded against the access log.

Steps drive the bot only through ``world.bot`` (``bot.safety`` and ``bot.run_once``);
they read the exchange through ``world.sim`` (simulator target) or not at all (live).
"""
from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

DAY = 86_400.0
SCENARIO_START_HOUR = 10  # every scenario starts at 10:00 UTC on a fresh day: daily limits never leak

# The settings every simulator scenario starts from (what a Given table overrides).
# Generous enough that a plain order of 0.01 XBT near 60,000 EUR passes every limit.
SPEC_DEFAULTS: dict[str, str] = {
    "TOTAL_BTC": "2",
    "MAX_POSITION_PCT": "100",
    "MAX_ORDER_EUR": "5000",
    "MAX_DAILY_TRADES": "50",
    "MAX_DAILY_LOSS_EUR": "5000",
    "MAX_OPEN_ORDERS": "20",
    "PRICE_COLLAR_PCT": "5",
    "STALE_DATA_SECONDS": "30",
    "PAIRS": "XBTEUR",
}

# Business names used in the feature files -> settings (one place to change if the bot renames one).
LIMIT_SETTINGS: dict[str, str] = {
    "largest position in XBT": "TOTAL_BTC",
    "trades per day": "MAX_DAILY_TRADES",
    "price distance from market, %": "PRICE_COLLAR_PCT",
    "largest order in EUR": "MAX_ORDER_EUR",
    "largest position, % of the portfolio": "MAX_POSITION_PCT",
    "open orders": "MAX_OPEN_ORDERS",
    "canary distance from market, %": "CANARY_OFFSET_PCT",
    "largest canary order in EUR": "CANARY_MAX_EUR",
    "stop-loss below the average entry, %": "STOP_LOSS_PCT",
    "take-profit above the average entry, %": "TAKE_PROFIT_PCT",
    "the strategy's own profit target, %": "STRATEGY_RISE_PCT",
    "the strategy's buy interval, seconds": "STRATEGY_INTERVAL_SECONDS",
    "largest loss per day in EUR": "MAX_DAILY_LOSS_EUR",
    "largest position, % of the portfolio": "MAX_POSITION_PCT",
    "smallest order in XBT": "MIN_TRADE_VOLUME",
    "smallest order in EUR": "MIN_EUR_FOR_TRADE",
}

# What an operator who set no limit leaves out of the environment, the pairs to trade included: the bot
# then runs on the documented defaults of ``krakenbot.config.Settings`` (the spec's generous
# SPEC_DEFAULTS hide them), XBT/EUR alone among them.
RISK_SETTINGS = frozenset(SPEC_DEFAULTS) | frozenset(LIMIT_SETTINGS.values())

def _stream_options() -> dict[str, Any]:
    """The streams' own options in the specification: a short poll and back-off in real time, so a
    reconnect takes milliseconds; silence is judged on the scenario's clock as in production."""
    from krakenbot.stream.connection import Backoff

    return {"poll_s": 0.02, "backoff": Backoff(first_s=0.02, cap_s=0.2)}


@dataclass
class ModeSegment:
    """From access-log index ``start`` on, ``mode`` was in force."""

    start: int
    mode: str


@dataclass
class World:
    target: str  # "simulator" | "live"
    clock: Any
    sim: Any = None  # KrakenSimulator on the simulator target
    live_env: dict[str, str] = field(default_factory=dict)  # credentials etc. on the live target
    overrides: dict[str, str] = field(default_factory=dict)  # settings forced over every Given (environment.py)
    env: dict[str, str] = field(default_factory=dict)
    bot: Any = None
    api_key: str = ""
    api_secret: str = ""
    segments: list[ModeSegment] = field(default_factory=list)
    tmpdir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="krakenbot-spec-")))
    notes: dict[str, Any] = field(default_factory=dict)  # what a Given/When left for a Then
    foreign: set[int] = field(default_factory=set)  # access-log seqs sent by the steps, not the bot
    log_start: int = 0  # the access log's length when the scenario began
    start_balances: dict[str, Decimal] = field(default_factory=dict)
    # Client options a scenario needs that no setting offers (e.g. a short read timeout, so that
    # "no answer in time" happens in milliseconds); kept across restarts.
    client_options: dict[str, Any] = field(default_factory=dict)
    mends: list[Any] = field(default_factory=list)  # undo what a scenario broke on the bot's side, before it closes
    account: str = "demo"  # the simulator account the scenario's key trades on
    own_sim: Any = None  # an exchange this scenario alone uses (use_exchange_on_machine_clock), closed with it

    # -- set-up -----------------------------------------------------------------------------------
    @property
    def on_simulator(self) -> bool:
        return self.target == "simulator"

    def begin(self) -> None:
        """A clean exchange, a fresh day, a fresh key (nonce marks never leak between scenarios)."""
        if self.on_simulator:
            self.sim.reset()
            now = self.clock.time()
            next_day = (now // DAY + 1) * DAY + SCENARIO_START_HOUR * 3600
            self.sim.advance(next_day - now)
            self.env = dict(SPEC_DEFAULTS)
            self._open_demo_key()
        else:
            self.api_key = self.live_env["KRAKEN_API_KEY"]
            self.api_secret = self.live_env["KRAKEN_API_SECRET"]
            self.env = dict(self.live_env)
            self.env.pop("KRAKEN_LIVE_TRADING", None)  # live target: paper / read-only only
            self.env["TRADING_MODE"] = "read-only"
        self.env["STORE_PATH"] = str(self.tmpdir / "bot.sqlite")
        self.env["KILL_SWITCH_FILE"] = str(self.tmpdir / "KILL_SWITCH")
        self.env.update(self.overrides)

    def _open_demo_key(self) -> None:
        """A fresh key on the demo account of ``self.sim``, its log read from here on."""
        self.account = "demo"
        self.api_key, self.api_secret = self.sim.create_key(account=self.account)
        self.log_start = len(self.sim.access_log)
        self.env.update(KRAKEN_API_KEY=self.api_key, KRAKEN_API_SECRET=self.api_secret, API_DOMAIN=self.sim.url)
        self.start_balances = dict(self.sim.balances())

    def use_exchange_on_machine_clock(self, tier: str) -> None:
        """This scenario trades on an exchange of its own that reads the machine's clock, as a bot in
        another process does: the run's shared exchange stays on its simulated days, and a later
        scenario's fresh day never puts it ahead of the machine (the bot would refuse for clock skew).
        Before any bot or mode, so the evidence reads one exchange's log."""
        from krakensim import KrakenSimulator, SystemClock

        if self.bot is not None or self.segments:
            raise RuntimeError("a scenario chooses its exchange before any bot runs")
        self.own_sim = self.sim = KrakenSimulator(seed=self.sim.seed, clock=SystemClock(), tier=tier)
        self._open_demo_key()

    def configure(self, **settings: str) -> None:
        """Change settings; a bot already built is restarted with them (same store)."""
        self.env.update({k: str(v) for k, v in settings.items()})
        self.env.update(self.overrides)  # a deliberate breakage wins over any Given
        if self.bot is not None:
            mode = self.mode
            self.restart()
            self.set_mode(mode)

    def configure_no_limits(self) -> None:
        """Drop every risk setting (the spec's and any Given's): the bot restarts on its own defaults."""
        for name in RISK_SETTINGS:
            self.env.pop(name, None)
        self.configure()

    def fund_account(self, balances: dict[str, str]) -> None:
        """Trade from a fresh exchange account holding just ``balances``: a new key on it, bot restarted."""
        self.account = "funded-" + "-".join(f"{k}{v}" for k, v in sorted(balances.items()))
        self.api_key, self.api_secret = self.sim.create_key(account=self.account, balances=balances)
        self.start_balances = dict(self.sim.balances(self.account))
        self.configure(KRAKEN_API_KEY=self.api_key, KRAKEN_API_SECRET=self.api_secret)

    # -- the bot ----------------------------------------------------------------------------------
    def build_bot(self, mode: str = "read-only") -> Any:
        from krakenbot.bot import Bot
        from krakenbot.config import Settings

        env = dict(self.env)
        env.setdefault("TRADING_MODE", "read-only")
        if mode == "dry-run":  # its venue is wired when the bot is built, so the mode is a setting
            env["TRADING_MODE"] = "dry-run"
            env.setdefault("DRY_RUN_WALLET", "snapshot")
        elif env["TRADING_MODE"] == "dry-run":
            env["TRADING_MODE"] = "read-only"
        if mode == "live":
            env["KRAKEN_LIVE_TRADING"] = "yes"
        settings = Settings.from_env(env)
        self.bot = Bot.build(settings, clock=self.clock, store_path=env["STORE_PATH"],
                             client_options=dict(self.client_options) or None)
        from tools.spec_support import safety_evidence

        safety_evidence.observe(self)  # its breaker watched from its first call (a start-up in the same step calls)
        self.record_mode()
        if mode != self.mode:
            self.set_mode(mode)
        if settings.market_stream:  # as `krakenbot run` does at start-up (Bot.start)
            self.bot.start_streams(**_stream_options())
        return self.bot

    def set_mode(self, mode: str, *, live_flag: bool | None = None, env: dict[str, str] | None = None) -> None:
        from krakenbot.safety import TradingMode

        wanted = TradingMode.parse(mode)
        flag = (wanted is TradingMode.LIVE) if live_flag is None else live_flag
        try:
            if env is None:
                self.bot.safety.set_mode(wanted, live_flag=flag)
            else:
                self.bot.safety.set_mode(wanted, live_flag=flag, env=env)
        finally:
            self.record_mode()

    @property
    def mode(self) -> str:
        mode = self.bot.safety.mode
        return str(getattr(mode, "value", mode))

    @property
    def safety(self) -> Any:
        return self.bot.safety

    def stop_request_numbering_clock(self) -> None:
        """Hold the wall clock the bot's nonces come from (the machine's, not the scenario's ManualClock)
        still, just above the last nonce handed out: as a coarse or stalled clock would."""
        from krakenbot.client.nonce import wall_microseconds

        nonces = self.safety.client.nonces
        frozen = max(wall_microseconds(), nonces.last) + 1
        nonces._now = lambda: frozen  # the generator's time source; there is no other way in from outside

    def run_request_numbering_clock_fast(self, seconds: float) -> None:
        """The wall clock the bot's nonces come from runs ``seconds`` fast, as a clock that a time
        server later sets back would; a restarted bot reads the machine's clock as it is again."""
        from krakenbot.client.nonce import wall_microseconds

        ahead = int(seconds * 1_000_000)
        self.safety.client.nonces._now = lambda: wall_microseconds() + ahead  # as stop_request_numbering_clock

    def restart(self) -> Any:
        """Close the bot and build a new one on the same store, as a process restart would."""
        mode = self.mode if self.bot is not None else "read-only"
        self.close_bot()
        return self.build_bot(mode)

    def lose_store(self) -> None:
        """Stop the bot and delete its store files, as a lost disk or a stray ``rm`` would."""
        self.notes["mode_before_loss"] = self.mode
        self.close_bot()
        if self.on_simulator:  # what the records held is gone on purpose: the safety report does not judge it
            lost = self.notes.setdefault("planted_losses", [])
            lost += [o["txid"] for o in self.sim.orders(self.account)] + [t["txid"] for t in self.sim.trades(self.account)]
        for suffix in ("", "-wal", "-shm"):
            Path(self.env["STORE_PATH"] + suffix).unlink(missing_ok=True)

    def start_again(self) -> Any:
        """A new bot process on the store as it is now, through its start-up (``Bot.start``)."""
        mode = self.notes.pop("mode_before_loss", None) or (self.mode if self.bot is not None else "read-only")
        self.close_bot()
        self.build_bot(mode)
        return self.bot.start()

    def start_from_command_line(self, **settings: str) -> tuple[int, str]:
        """``krakenbot check`` as the operator runs it, with ``settings`` in its environment over the
        scenario's: the exit code and what it printed on stderr (the bot built so far is closed)."""
        import contextlib
        import io
        from unittest import mock

        from krakenbot import cli

        self.close_bot()
        empty = self.tmpdir / "empty.env"  # an empty settings file: no ./.env of the checkout can slip in
        empty.touch(mode=0o600)
        err = io.StringIO()
        with mock.patch.dict(os.environ, {**self.env, **settings}), contextlib.redirect_stderr(err):
            code = cli.main(["--env-file", str(empty), "--store", str(self.tmpdir / "cli.sqlite"), "check"])
        return code, err.getvalue()

    def close_bot(self) -> None:
        if self.bot is not None:
            close = getattr(self.bot, "close", None)
            if callable(close):
                close()
            self.bot = None

    def record_mode(self, mode: str | None = None) -> None:
        """The mode in force from now on: the World's bot's, or ``mode`` for a bot the scenario runs
        as another process (the run-level allowlist check holds it to that mode)."""
        if mode is None and self.bot is None:
            return
        index = len(self.sim.access_log) if self.on_simulator else 0
        mode = mode or self.mode
        if not self.segments or self.segments[-1].mode != mode:
            self.segments.append(ModeSegment(index, mode))

    # -- what the exchange saw --------------------------------------------------------------------
    def exchange_calls(self, endpoint: str | None = None, *, outcome: str | None = None) -> list[Any]:
        """Requests that reached the exchange in this scenario (exchange controls excluded)."""
        records = [r for r in self.scenario_log() if r.kind in ("public", "private")]
        if endpoint is not None:
            records = [r for r in records if r.endpoint == endpoint]
        if outcome is not None:
            records = [r for r in records if r.outcome == outcome]
        return records

    def bot_calls(self, endpoint: str | None = None, since: int = 0) -> list[Any]:
        """The requests the bot sent (the steps' own excluded), from access-log position ``since`` on."""
        return [r for r in self.exchange_calls(endpoint) if r.seq >= since and r.seq not in self.foreign]

    def cycle_a_minute_later(self) -> list[Any]:
        """A minute passes and the bot runs one trading cycle: the orders it sent in that cycle."""
        mark = len(self.sim.access_log)
        self.sim.advance(60)
        self.bot.run_once()
        return self.bot_calls("AddOrder", since=mark)

    def scenario_log(self) -> list[Any]:
        """Every request the exchange received since this scenario began."""
        return self.sim.access_log_since(self.log_start) if self.on_simulator else []

    def mend(self) -> None:
        """Undo what the scenario broke on the bot's side (a disk refusing writes, a running process),
        once: before the evidence is taken, so the final look at the bot's records is a fair one."""
        mends, self.mends = self.mends, []
        for mend in reversed(mends):
            mend()

    def finish(self) -> None:
        """Mend, close the bot, then whatever happened to those: close the scenario's own exchange and
        drop its folder (an exchange left serving would outlive the scenario)."""
        try:
            self.mend()
            self.close_bot()
        finally:
            if self.own_sim is not None:
                self.own_sim.close()
            shutil.rmtree(self.tmpdir, ignore_errors=True)


def live_credentials(environ: dict[str, str] | None = None, dotenv_path: str = ".env") -> dict[str, str]:
    """KRAKEN_API_KEY/SECRET (and API_DOMAIN) from the environment over ``.env``; empty values dropped."""
    from dotenv import dotenv_values

    merged: dict[str, str] = {}
    if Path(dotenv_path).is_file():
        merged.update({k: v for k, v in dotenv_values(dotenv_path).items() if v})
    merged.update({k: v for k, v in (environ or os.environ).items() if v})
    return merged
