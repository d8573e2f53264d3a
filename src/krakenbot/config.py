"""Settings from the environment (and an optional ``.env``), validated once at start-up.

Why one frozen object: every limit the bot enforces is read here, checked here, and
never re-parsed elsewhere, so a typo in ``MAX_ORDER_EUR`` stops the bot before it
talks to Kraken instead of silently disabling a limit. Errors name the setting and
what is wrong on one line, and never echo a secret.
"""
from __future__ import annotations

import base64
import binascii
import difflib
import logging
import os
import re
import stat
from dataclasses import dataclass, field, fields
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Callable, Mapping
from urllib.parse import urlparse

from krakenbot.client._transport import shown_url  # noqa: F401  (shown to operators: cli imports it here)
from krakenbot.safety.modes import TradingMode

log = logging.getLogger(__name__)

SECRET_SETTINGS = frozenset({"KRAKEN_API_KEY", "KRAKEN_API_SECRET"})
TIERS = ("starter", "intermediate", "pro")


class ConfigError(ValueError):
    """A setting is missing or invalid; ``str()`` is one line naming it."""

    def __init__(self, setting: str, message: str) -> None:
        self.setting = setting
        self.message = " ".join(str(message).split())  # one line, whatever came in
        super().__init__(f"{setting}: {self.message}")


def redact_key(key: str | None) -> str:
    """Keys show as their first four characters, as everywhere in the project."""
    if not key:
        return "<unset>"
    return f"{key[:4]}…"


@dataclass(frozen=True)
class Settings:
    """Everything the bot reads from its environment. Percentages are percent (2 = 2 %)."""

    api_key: str = field(repr=False)
    api_secret: str = field(repr=False)
    api_domain: str = "https://api.kraken.com"
    tier: str = "starter"
    # The bot's whole allocation, measured in BTC: what it holds and has on the book to buy, on every
    # pair, valued in BTC at the exchange's mid prices (an ETH position at ETH/EUR over XBT/EUR); a buy
    # that would take it above TOTAL_BTC is refused MAX_POSITION.
    total_btc: Decimal = Decimal("0.01")
    min_trade_volume: Decimal = Decimal("0.00005")
    min_eur_for_trade: Decimal = Decimal("5.0")
    max_order_eur: Decimal = Decimal("100")
    max_daily_trades: int = 20
    max_daily_loss_eur: Decimal = Decimal("50")
    max_open_orders: int = 5
    price_collar_pct: Decimal = Decimal("2")
    max_position_pct: Decimal = Decimal("50")
    stop_loss_pct: Decimal = Decimal("5")
    take_profit_pct: Decimal = Decimal("10")
    trading_mode: TradingMode = TradingMode.READ_ONLY
    live_trading_enabled: bool = False  # KRAKEN_LIVE_TRADING=yes; LIVE also needs the explicit flag
    store_path: str = "krakenbot.sqlite"  # relative: inside the home; from_env makes it absolute
    kill_switch_file: str = "KILL_SWITCH"  # relative: inside the home; from_env makes it absolute
    home: str = ""  # KRAKENBOT_HOME, absolute: where the store, kill file and running-bot record live
    pairs: tuple[str, ...] = ("XBTEUR",)
    dead_mans_switch_seconds: int = 60
    stale_data_seconds: int = 30
    canary_offset_pct: Decimal = Decimal("10")  # canary orders rest at least this far from mid
    canary_max_eur: Decimal = Decimal("10")  # notional cap of one canary order
    strategy_buy_eur: Decimal = Decimal("10")
    strategy_dip_pct: Decimal = Decimal("2")
    strategy_rise_pct: Decimal = Decimal("3")
    strategy_interval_seconds: int = 0  # 0: buy on dips only
    # DRY_RUN_WALLET: the dry run's starting balances ({asset id: amount}) or "snapshot" (the real ones)
    dry_run_wallet: dict[str, Decimal] | str | None = None
    bot_id: str | None = None  # BOT_ID: 4 chars [0-9a-z] in every cl_ord_id; None = drawn once per store
    # Seconds (client.Timeouts): opening a connection (and again its TLS handshake); each wait for
    # bytes of an answer; one whole call: connect, request, status line, headers and body, and for a
    # read its retries and their back-off waits too.
    connect_timeout: float = 3.05
    read_timeout: float = 10.0
    total_timeout: float = 30.0
    # NOTIFY_WEBHOOK_URL: events are POSTed there as JSON (krakenbot.notify); its path and query often
    # hold a token, so it is shown as scheme and host only.
    notify_webhook_url: str | None = field(default=None, repr=False)
    # MARKET_STREAM=on: prices, books and the bot's own order events come over Kraken's WebSocket v2
    # (krakenbot.stream), REST the fallback and the truth for reconciliation. Off by default: the
    # stream adds two connections, a thread each and a session token, which an operator turns on
    # knowingly (after a canary run), and every setting in place keeps its REST behaviour.
    market_stream: bool = False
    # ORDER_CHECK_SECONDS: while the executions stream follows open orders, REST is still asked about
    # them at least this often (a lost last notice shows no gap): the bot's clock, seconds.
    order_check_seconds: int = 60
    # KRAKEN_WS_URL / KRAKEN_WS_AUTH_URL: wss://, or ws:// to this machine (the simulator prints its
    # own); unset with Kraken's REST domain: Kraken's wss://ws.kraken.com/v2 and ws-auth's.
    ws_url: str = ""
    ws_auth_url: str = ""

    def __repr__(self) -> str:
        shown = ", ".join(f"{f.name}={getattr(self, f.name)!r}" for f in fields(self) if f.repr)
        return f"Settings(api_key={redact_key(self.api_key)!r}, api_secret='***', {shown})"

    __str__ = __repr__

    @property
    def redacted_key(self) -> str:
        return redact_key(self.api_key)

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> "Settings":
        """Parse and check every setting; the first bad one raises ``ConfigError``."""
        values: dict[str, object] = {}
        for name, (attr, parse, required) in _SPEC.items():
            raw = env.get(name)
            if raw is None or str(raw).strip() == "":
                if required:
                    raise ConfigError(name, "is required but not set")
                continue
            try:
                values[attr] = parse(str(raw).strip())
            except ConfigError:
                raise
            except (ValueError, InvalidOperation, TypeError) as exc:
                detail = "is invalid" if name in SECRET_SETTINGS else f"is invalid: {exc}"
                raise ConfigError(name, detail) from None
        for name, attr in (("KRAKEN_CONNECT_TIMEOUT", "connect_timeout"), ("KRAKEN_READ_TIMEOUT", "read_timeout")):
            value = values.get(attr, getattr(cls, attr))
            total = values.get("total_timeout", cls.total_timeout)
            if value > total and "total_timeout" in values:  # type: ignore[operator]
                raise ConfigError("KRAKEN_TOTAL_TIMEOUT", f"bounds a whole call, so it must be at least "
                                  f"{name} ({value:g} s), got {total:g}")
            if value > total:  # type: ignore[operator]
                raise ConfigError(name, f"must be at most KRAKEN_TOTAL_TIMEOUT ({total:g} s, the bound on a "
                                  f"whole call), got {value:g}")
        if values.get("trading_mode") is TradingMode.DRY_RUN and "dry_run_wallet" not in values:
            raise ConfigError("DRY_RUN_WALLET", "is required in dry-run mode: starting balances such as "
                              "ZEUR=1000,XXBT=0, or snapshot (the account's real balances)")
        if values.get("market_stream"):
            values.update(stream_urls(str(values.get("api_domain", cls.api_domain)), values.get("ws_url"),
                                      values.get("ws_auth_url")))
        values.update(bot_paths(env))
        values["store_path"] = store_path_of(values.get("trading_mode"), str(values["store_path"]))
        return cls(**values)  # type: ignore[arg-type]

    def in_mode(self, mode: TradingMode, env: Mapping[str, str]) -> "Settings":
        """These settings run in ``mode`` (``run --mode``), whatever TRADING_MODE in ``env`` said: the
        store follows the mode actually run, so live books never go into a dry run's store (nor the
        other way round)."""
        from dataclasses import replace

        return replace(self, trading_mode=mode, store_path=store_path_of(mode, bot_paths(env)["store_path"]))


def default_home(env: Mapping[str, str] | None = None) -> Path:
    """A per-user state directory, never the working directory: ``$XDG_STATE_HOME/krakenbot`` or
    ``~/.local/state/krakenbot``."""
    env = os.environ if env is None else env
    xdg = env.get("XDG_STATE_HOME") or os.environ.get("XDG_STATE_HOME")
    if xdg and os.path.isabs(xdg):
        return Path(xdg) / "krakenbot"
    home = env.get("HOME") or os.environ.get("HOME")
    return (Path(home) if home else Path.home()) / ".local" / "state" / "krakenbot"


def bot_paths(env: Mapping[str, str]) -> dict[str, str]:
    """``home``, ``store_path`` and ``kill_switch_file``, absolute, from these settings alone.

    Why one place: ``krakenbot kill`` from another directory must write the very file the running
    bot checks, and ``status`` must read its store. KRAKENBOT_HOME is absolute or starts with ``~``
    (a relative one is refused); relative STORE_PATH / KILL_SWITCH_FILE are inside the home (never
    the working directory); ``:memory:`` stays a memory store. Needs no
    credentials and no other valid setting: the emergency stop depends on nothing else."""
    def given(name: str) -> str | None:
        raw = env.get(name)
        if raw is None or not str(raw).strip():
            return None
        return _path(name)(str(raw).strip())

    raw_home = given("KRAKENBOT_HOME")
    if raw_home and raw_home.startswith("~"):
        user_home = env.get("HOME")
        raw_home = (user_home + raw_home[1:]) if user_home and raw_home[1:2] in ("", "/") \
            else os.path.expanduser(raw_home)
    if raw_home and not os.path.isabs(raw_home):
        # Relative to what? The working directory differs between the bot and a later `kill`.
        raise ConfigError("KRAKENBOT_HOME", f"must be an absolute path (or start with ~), got {raw_home!r}")
    try:
        home = Path(os.path.normpath(raw_home)) if raw_home else default_home(env)
    except (OSError, ValueError) as exc:
        raise ConfigError("KRAKENBOT_HOME", f"is not a usable directory path: {exc}") from None

    def inside(name: str, default: str) -> str:
        value = given(name) or default
        if value == ":memory:":
            return value
        return os.path.abspath(os.path.join(home, os.path.expanduser(value)))

    return {"home": str(home), "store_path": inside("STORE_PATH", "krakenbot.sqlite"),
            "kill_switch_file": inside("KILL_SWITCH_FILE", "KILL_SWITCH")}


def store_path_of(mode: object, store_path: str) -> str:
    """The store a bot in ``mode`` keeps its books in: a dry run's own (``dry_run_store_path``), else
    STORE_PATH as given."""
    return dry_run_store_path(store_path) if mode is TradingMode.DRY_RUN else store_path


def is_dry_run_store(store_path: str) -> bool:
    """True when the file's name says it holds a dry run's books (``dry_run_store_path``)."""
    return ".dry-run" in os.path.basename(store_path)


def dry_run_store_path(store_path: str) -> str:
    """A dry run's books live in their own file beside the live one (``krakenbot.sqlite`` ->
    ``krakenbot.dry-run.sqlite``), so its orders, fills and P&L are never mixed with real ones."""
    if store_path == ":memory:" or is_dry_run_store(store_path):
        return store_path
    root, ext = os.path.splitext(store_path)
    return f"{root}.dry-run{ext or '.sqlite'}"


# Read by the bot or its tools but not settings of the bot: never reported as a typo.
OTHER_NAMES = frozenset({"KRAKEN_TARGET", "KRAKENBOT_BENCH_RUNNING"})


@dataclass(frozen=True)
class Sources:
    """The merged settings (``.env`` under the real environment) and where each came from."""

    values: dict[str, str]
    origin: dict[str, str]  # name -> "environment" | ".env"
    dotenv: Path | None  # the file read, if any
    dotenv_open_to_others: bool = False

    def source(self, name: str) -> str:
        where = self.origin.get(name)
        if where == ".env" and self.dotenv is not None:
            return f".env ({self.dotenv})"
        return where or "default"


def read_sources(dotenv_path: str | os.PathLike[str] | None = ".env", environ: Mapping[str, str] | None = None,
                 *, explicit: bool = False, check_names: bool = True) -> Sources:
    """The raw settings, unvalidated, with the checks that need no value: a named ``--env-file``
    that does not exist, and a misspelt setting (``MAX_ORDER_EURO``) that would otherwise be
    silently ignored while the limit it meant stays at its default."""
    from dotenv import dotenv_values  # imported here: keeps ``import krakenbot`` light

    real = dict(os.environ if environ is None else environ)
    from_file: dict[str, str] = {}
    dotenv: Path | None = None
    open_to_others = False
    if dotenv_path is not None:
        candidate = Path(dotenv_path)
        if candidate.is_file():
            dotenv = candidate
            open_to_others = warn_if_readable_by_others(candidate)
            from_file = {k: v for k, v in dotenv_values(candidate).items() if v is not None}
        elif explicit:
            raise ConfigError("--env-file", f"{candidate} does not exist (or is not a file)")
    for name in sorted(from_file) if check_names else ():
        problem = _unknown_setting(name, in_file=True)
        if problem:
            raise ConfigError(name, f"in {dotenv}: {problem}")
    for name in sorted(real) if check_names else ():
        problem = _unknown_setting(name, in_file=False)
        if problem:
            raise ConfigError(name, f"in the environment: {problem}")
    origin = {**{k: ".env" for k in from_file}, **{k: "environment" for k in real}}
    return Sources({**from_file, **real}, origin, dotenv, open_to_others)


def _unknown_setting(name: str, *, in_file: bool) -> str | None:
    """Why ``name`` looks like a misspelt setting, or None. A ``.env`` is the bot's own file: every
    name in it that is not a setting is an error. The environment is shared with other programs:
    only a name that starts like one of the bot's (``MAX_``, ``KRAKEN_``...) and is a near miss
    counts - a known name starting with it (``KRAKEN_LIVE``) or within two edits (``MAX_ORDER_EURO``)."""
    if name in _SPEC or name in OTHER_NAMES:
        return None
    upper = name.upper()
    if not in_file and upper.split("_", 1)[0] not in _PREFIXES:
        return None
    longer = [known for known in SETTING_NAMES if known.startswith(upper + "_")]
    near = [known for known in SETTING_NAMES if _edits(upper, known) <= 2]
    close = longer or near or (difflib.get_close_matches(upper, SETTING_NAMES, n=1, cutoff=0.75) if in_file else [])
    if close:
        return f"is not a krakenbot setting; did you mean {' or '.join(close[:2])}?"
    return "is not a krakenbot setting (see .env.example)" if in_file else None


def _edits(a: str, b: str) -> int:
    """Levenshtein distance (names are short)."""
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]


def load(dotenv_path: str | os.PathLike[str] | None = ".env", environ: Mapping[str, str] | None = None,
         *, explicit: bool = False) -> Settings:
    """Settings from ``.env`` (if present) under the real environment, which always wins."""
    return Settings.from_env(read_sources(dotenv_path, environ, explicit=explicit).values)


def refuse_open_dotenv_for_live(settings: Settings, sources: Sources) -> None:
    """Live trading does not start on a ``.env`` others can read (elsewhere it is a warning)."""
    if settings.trading_mode is TradingMode.LIVE and sources.dotenv is not None and sources.dotenv_open_to_others:
        mode = oct(sources.dotenv.stat().st_mode & 0o777)
        raise ConfigError(str(sources.dotenv), f"holds the API secret and is readable by group/other (mode {mode}); "
                          f"live trading refuses it: run chmod 600 {sources.dotenv}")


def warn_if_readable_by_others(path: Path) -> bool:
    """A ``.env`` holds the API secret: group/other must not read it."""
    mode = path.stat().st_mode
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        log.warning("%s is readable by group/other (mode %s); run: chmod 600 %s", path, oct(mode & 0o777), path)
        return True
    return False


# --- parsers -----------------------------------------------------------------------------


def _api_key(text: str) -> str:
    if any(ch.isspace() for ch in text):
        raise ConfigError("KRAKEN_API_KEY", "must not contain whitespace")
    return text


def _api_secret(text: str) -> str:
    try:
        decoded = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise ConfigError("KRAKEN_API_SECRET", "is not valid base64") from None
    if not decoded:
        raise ConfigError("KRAKEN_API_SECRET", "decodes to nothing")
    return text


def _url(text: str) -> str:
    """https, or plain http to this machine only (the simulator): the key and signatures ride in it."""
    from krakenbot.client._transport import cleartext_refusal

    parsed = urlparse(text)
    try:
        parsed.port  # a port that is not a number in range raises here, not at the first request
    except ValueError:
        raise ConfigError("API_DOMAIN", f"has an invalid port: {shown_url(text)!r}") from None
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise ConfigError("API_DOMAIN", f"must be an https:// URL, got {shown_url(text)!r}")
    refusal = cleartext_refusal(text)
    if refusal:
        raise ConfigError("API_DOMAIN", refusal)
    return text.rstrip("/")


_URL_CHARACTERS = re.compile(r"[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]+")  # RFC 3986's, nothing else


def _webhook(text: str) -> str:
    """https, or plain http to this machine (a test's receiver): the URL often carries a token."""
    from krakenbot.client._transport import cleartext_refusal
    from krakenbot.notify import shown_webhook

    if not _URL_CHARACTERS.fullmatch(text):  # http.client sends ASCII only: refused here, not in the sender
        raise ConfigError("NOTIFY_WEBHOOK_URL", "must be printable ASCII without spaces (percent-encode the rest)")
    parsed = urlparse(text)
    try:
        parsed.port
    except ValueError:
        raise ConfigError("NOTIFY_WEBHOOK_URL", f"has an invalid port: {shown_webhook(text)}") from None
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise ConfigError("NOTIFY_WEBHOOK_URL", "must be an https:// URL")
    refusal = cleartext_refusal(text)
    if refusal:
        raise ConfigError("NOTIFY_WEBHOOK_URL", refusal)
    return text


KRAKEN_WS_URLS = {"ws_url": "wss://ws.kraken.com/v2", "ws_auth_url": "wss://ws-auth.kraken.com/v2"}


def stream_urls(api_domain: str, ws_url: Any, ws_auth_url: Any) -> dict[str, str]:
    """The two WebSocket URLs: as set, else Kraken's when the REST domain is Kraken's. Any other
    REST target (the simulator, a proxy) names its own: a guess could stream another exchange's book."""
    kraken = urlparse(api_domain).hostname == "api.kraken.com"
    urls = {}
    for attr, name, given in (("ws_url", "KRAKEN_WS_URL", ws_url), ("ws_auth_url", "KRAKEN_WS_AUTH_URL", ws_auth_url)):
        if not given and not kraken:
            raise ConfigError(name, f"is required with MARKET_STREAM=on and API_DOMAIN {shown_url(api_domain)!r} "
                              "(not Kraken's): the simulator prints its ws:// URLs")
        urls[attr] = given or KRAKEN_WS_URLS[attr]
    return urls


def _ws(name: str) -> Callable[[str], str]:
    """wss://, or plain ws:// to this machine only: the private stream's token rides in it."""
    def parse(text: str) -> str:
        from krakenbot.client._transport import is_loopback_host

        parsed = urlparse(text)
        try:
            parsed.port
        except ValueError:
            raise ConfigError(name, f"has an invalid port: {shown_url(text)!r}") from None
        if not parsed.hostname or not (parsed.scheme == "wss" or
                                       (parsed.scheme == "ws" and is_loopback_host(parsed.hostname))):
            raise ConfigError(name, f"must be a wss:// URL (ws:// only to this machine), got {shown_url(text)!r}")
        return text

    return parse


def _on_off(text: str) -> bool:
    lowered = text.lower()
    if lowered in ("on", "yes", "true", "1"):
        return True
    if lowered in ("off", "no", "false", "0"):
        return False
    raise ConfigError("MARKET_STREAM", f"must be on or off, got {text!r}")


def _tier(text: str) -> str:
    if text.lower() not in TIERS:
        raise ConfigError("KRAKEN_TIER", f"must be one of {', '.join(TIERS)}, got {text!r}")
    return text.lower()


def _decimal(name: str, *, minimum: Decimal = Decimal(0), inclusive: bool = False,
             maximum: Decimal | None = None) -> Callable[[str], Decimal]:
    def parse(text: str) -> Decimal:
        try:
            value = Decimal(text)
        except InvalidOperation:
            raise ConfigError(name, f"must be a decimal number, got {text!r}") from None
        if not value.is_finite():
            raise ConfigError(name, f"must be a finite number, got {text!r}")
        if value < minimum or (value == minimum and not inclusive):
            bound = ">=" if inclusive else ">"
            raise ConfigError(name, f"must be {bound} {minimum}, got {text}")
        if maximum is not None and value > maximum:
            raise ConfigError(name, f"must be <= {maximum}, got {text}")
        return value

    return parse


def _seconds(name: str) -> Callable[[str], float]:
    """A timeout in seconds: more than 0, at most 300 (a call held longer helps nobody)."""
    parse = _decimal(name, maximum=Decimal(300))
    return lambda text: float(parse(text))


def _percent(name: str) -> Callable[[str], Decimal]:
    return _decimal(name, maximum=Decimal(100))


def _int(name: str, *, minimum: int = 1, maximum: int | None = None) -> Callable[[str], int]:
    def parse(text: str) -> int:
        if not re.fullmatch(r"[+-]?\d+", text):
            raise ConfigError(name, f"must be a whole number, got {text!r}")
        value = int(text)
        if value < minimum:
            raise ConfigError(name, f"must be >= {minimum}, got {value}")
        if maximum is not None and value > maximum:
            raise ConfigError(name, f"must be <= {maximum}, got {value}")
        return value

    return parse


def _mode(text: str) -> TradingMode:
    try:
        return TradingMode.parse(text)
    except ValueError as exc:
        raise ConfigError("TRADING_MODE", str(exc)) from None


def _yes_no(text: str) -> bool:
    lowered = text.lower()
    if lowered in ("yes",):
        return True
    if lowered in ("no", "false", "0", "off"):
        return False
    raise ConfigError("KRAKEN_LIVE_TRADING", f"must be 'yes' to allow live trading or 'no', got {text!r}")


def _pairs(text: str) -> tuple[str, ...]:
    pairs = tuple(p.strip().upper() for p in text.split(",") if p.strip())
    if not pairs:
        raise ConfigError("PAIRS", "must list at least one pair, e.g. XBTEUR")
    for pair in pairs:
        if not re.fullmatch(r"[A-Z0-9]{5,16}", pair.replace("/", "")):
            raise ConfigError("PAIRS", f"{pair!r} is not a Kraken pair name such as XBTEUR")
    return pairs


def _path(name: str) -> Callable[[str], str]:
    def parse(text: str) -> str:
        if "\x00" in text:
            raise ConfigError(name, "must be a file path")
        return text

    return parse


def _dry_run_wallet(text: str) -> dict[str, Decimal] | str:
    from krakenbot.dry_run.wallet import parse_wallet

    try:
        return parse_wallet(text)
    except ValueError as exc:
        raise ConfigError("DRY_RUN_WALLET", str(exc)) from None


def _bot_id(text: str) -> str:
    """Exactly 4 lower-case base36 chars, so one bot's id is never the start of another's."""
    if len(text) != 4 or not all(c in "0123456789abcdefghijklmnopqrstuvwxyz" for c in text):
        raise ConfigError("BOT_ID", f"must be exactly 4 characters 0-9 or a-z, got {text!r}")
    return text


# env name -> (attribute, parser, required)
_SPEC: dict[str, tuple[str, Callable[[str], object], bool]] = {
    "KRAKEN_API_KEY": ("api_key", _api_key, True),
    "KRAKEN_API_SECRET": ("api_secret", _api_secret, True),
    "API_DOMAIN": ("api_domain", _url, False),
    "KRAKEN_TIER": ("tier", _tier, False),
    "TOTAL_BTC": ("total_btc", _decimal("TOTAL_BTC"), False),
    "MIN_TRADE_VOLUME": ("min_trade_volume", _decimal("MIN_TRADE_VOLUME"), False),
    "MIN_EUR_FOR_TRADE": ("min_eur_for_trade", _decimal("MIN_EUR_FOR_TRADE", inclusive=True), False),
    "MAX_ORDER_EUR": ("max_order_eur", _decimal("MAX_ORDER_EUR"), False),
    "MAX_DAILY_TRADES": ("max_daily_trades", _int("MAX_DAILY_TRADES"), False),
    "MAX_DAILY_LOSS_EUR": ("max_daily_loss_eur", _decimal("MAX_DAILY_LOSS_EUR"), False),
    "MAX_OPEN_ORDERS": ("max_open_orders", _int("MAX_OPEN_ORDERS"), False),
    "PRICE_COLLAR_PCT": ("price_collar_pct", _percent("PRICE_COLLAR_PCT"), False),
    "MAX_POSITION_PCT": ("max_position_pct", _percent("MAX_POSITION_PCT"), False),
    "STOP_LOSS_PCT": ("stop_loss_pct", _percent("STOP_LOSS_PCT"), False),
    "TAKE_PROFIT_PCT": ("take_profit_pct", _decimal("TAKE_PROFIT_PCT", maximum=Decimal(1000)), False),
    "TRADING_MODE": ("trading_mode", _mode, False),
    "KRAKEN_LIVE_TRADING": ("live_trading_enabled", _yes_no, False),
    "STORE_PATH": ("store_path", _path("STORE_PATH"), False),
    "KILL_SWITCH_FILE": ("kill_switch_file", _path("KILL_SWITCH_FILE"), False),
    "PAIRS": ("pairs", _pairs, False),
    "DEAD_MANS_SWITCH_SECONDS": ("dead_mans_switch_seconds", _int("DEAD_MANS_SWITCH_SECONDS", minimum=0, maximum=86_399), False),
    "STALE_DATA_SECONDS": ("stale_data_seconds", _int("STALE_DATA_SECONDS"), False),
    "CANARY_OFFSET_PCT": ("canary_offset_pct", _percent("CANARY_OFFSET_PCT"), False),
    "CANARY_MAX_EUR": ("canary_max_eur", _decimal("CANARY_MAX_EUR"), False),
    "STRATEGY_BUY_EUR": ("strategy_buy_eur", _decimal("STRATEGY_BUY_EUR"), False),
    "STRATEGY_DIP_PCT": ("strategy_dip_pct", _percent("STRATEGY_DIP_PCT"), False),
    "STRATEGY_RISE_PCT": ("strategy_rise_pct", _decimal("STRATEGY_RISE_PCT", maximum=Decimal(1000)), False),
    "STRATEGY_INTERVAL_SECONDS": ("strategy_interval_seconds", _int("STRATEGY_INTERVAL_SECONDS", minimum=0), False),
    "BOT_ID": ("bot_id", _bot_id, False),
    "DRY_RUN_WALLET": ("dry_run_wallet", _dry_run_wallet, False),
    "KRAKEN_CONNECT_TIMEOUT": ("connect_timeout", _seconds("KRAKEN_CONNECT_TIMEOUT"), False),
    "KRAKEN_READ_TIMEOUT": ("read_timeout", _seconds("KRAKEN_READ_TIMEOUT"), False),
    "KRAKEN_TOTAL_TIMEOUT": ("total_timeout", _seconds("KRAKEN_TOTAL_TIMEOUT"), False),
    "NOTIFY_WEBHOOK_URL": ("notify_webhook_url", _webhook, False),
    "MARKET_STREAM": ("market_stream", _on_off, False),
    "ORDER_CHECK_SECONDS": ("order_check_seconds", _int("ORDER_CHECK_SECONDS", maximum=86_400), False),
    "KRAKEN_WS_URL": ("ws_url", _ws("KRAKEN_WS_URL"), False),
    "KRAKEN_WS_AUTH_URL": ("ws_auth_url", _ws("KRAKEN_WS_AUTH_URL"), False),
    # Paths, resolved together by bot_paths() (the parse here only checks the text).
    "KRAKENBOT_HOME": ("home", _path("KRAKENBOT_HOME"), False),
}

SETTING_NAMES = tuple(_SPEC)
_PREFIXES = frozenset(n.split("_", 1)[0] for n in SETTING_NAMES)
