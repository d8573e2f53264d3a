"""Kraken's wire formats: fixed-decimal strings, RFC 3339 / RFC 1123 times, loose params.

Kraken sends money as strings with a fixed number of decimals and accepts parameters
as strings in several spellings (booleans as true/True/1, times as ``+n`` or Unix
seconds), so parsing and printing live in one place and fail as Kraken does.
"""
from __future__ import annotations

import time as _time
from datetime import datetime, timezone
from decimal import ROUND_HALF_UP, Context, Decimal, InvalidOperation
from typing import Any

from krakensim.errors import invalid_arguments

_QUANTA = {n: Decimal(1).scaleb(-n) for n in range(0, 19)}
# Quantizing needs room for every digit of the result: the default 28 would raise InvalidOperation
# on a large cost at 10 decimals, and an order holding such a value would break its account.
_WIDE = Context(prec=60)
MAX_MAGNITUDE = 15  # a price or volume of 10**15 or more is refused as invalid arguments


def fmt(value: Decimal, places: int) -> str:
    """A decimal as Kraken prints it: exactly ``places`` decimals."""
    return f"{value.quantize(_QUANTA[places], rounding=ROUND_HALF_UP, context=_WIDE):f}"


def q(value: Decimal, places: int, rounding: str = ROUND_HALF_UP) -> Decimal:
    return value.quantize(_QUANTA[places], rounding=rounding, context=_WIDE)


def decimals_of(value: Decimal) -> int:
    exp = value.normalize().as_tuple().exponent
    return max(0, -exp) if isinstance(exp, int) else 0


def text(params: dict[str, Any], name: str) -> str | None:
    """A scalar parameter as text; lists and objects are invalid arguments."""
    v = params.get(name)
    if v is None:
        return None
    if type(v) is str:  # the usual case, kept fast: this runs ~20 times per AddOrder
        return v.strip()
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (str, int, Decimal)):
        return str(v).strip()
    if isinstance(v, float):
        return repr(v)
    raise invalid_arguments(name)


def parse_decimal(raw: str | None, field: str, *, required: bool = True) -> Decimal | None:
    if raw is None or raw == "":
        if required:
            raise invalid_arguments(field)
        return None
    try:
        d = Decimal(raw)
    except (InvalidOperation, ValueError):
        raise invalid_arguments(field) from None
    if not d.is_finite() or (d and d.adjusted() >= MAX_MAGNITUDE):
        raise invalid_arguments(field)
    return d


def parse_bool(params: dict[str, Any], name: str, default: bool = False) -> bool:
    raw = text(params, name)
    if raw is None or raw == "":
        return default
    low = raw.lower()
    if low in ("true", "1", "yes"):
        return True
    if low in ("false", "0", "no"):
        return False
    raise invalid_arguments(name)


def parse_int(params: dict[str, Any], name: str, default: int | None = None,
              lo: int | None = None, hi: int | None = None) -> int | None:
    raw = text(params, name)
    if raw is None or raw == "":
        return default
    try:
        n = int(raw)
    except ValueError:
        raise invalid_arguments(name) from None
    if (lo is not None and n < lo) or (hi is not None and n > hi):
        raise invalid_arguments(name)
    return n


def parse_time_spec(raw: str | None, now: float, field: str) -> float:
    """``0``/absent -> 0 (none), ``+n`` -> now + n seconds, ``n`` -> Unix seconds."""
    if raw is None or raw in ("", "0"):
        return 0.0
    try:
        if raw.startswith("+"):
            return now + float(Decimal(raw[1:]))
        return float(Decimal(raw))
    except (InvalidOperation, ValueError):
        raise invalid_arguments(field) from None


def rfc3339(ts: float) -> str:
    return _time.strftime("%Y-%m-%dT%H:%M:%SZ", _time.gmtime(ts))


def parse_rfc3339(raw: str, field: str) -> float:
    try:
        s = raw.strip()
        if s.endswith(("Z", "z")):
            s = s[:-1] + "+00:00"
        dt = datetime.fromisoformat(s)
        if dt.tzinfo is None:
            raise ValueError("no timezone")
        return dt.timestamp()
    except (ValueError, TypeError, OverflowError):
        raise invalid_arguments(field) from None


def rfc1123(ts: float) -> str:
    """Kraken's ``Time.rfc1123``: two-digit year, the day padded with a space (``Sun,  7 Jun 20``)."""
    t = _time.gmtime(ts)
    return _time.strftime(f"%a, {t.tm_mday:2d} %b %y %H:%M:%S +0000", t)


def since_seconds(raw: str | None, field: str = "since") -> float | None:
    """A ``since`` in seconds, accepting the nanosecond (or ms/µs) forms clients send."""
    nanos = since_nanos(raw, field)
    return None if nanos is None else nanos / 1e9


def since_nanos(raw: str | None, field: str = "since") -> int | None:
    """A ``since`` as whole nanoseconds: exact, so a page's ``last`` cursor is never rounded
    onto a neighbouring trade (a float of seconds cannot hold today's nanoseconds)."""
    if raw is None or raw == "":
        return None
    try:
        v = Decimal(raw)
    except (InvalidOperation, ValueError):
        raise invalid_arguments(field) from None
    if not v.is_finite() or v < 0 or v >= Decimal("1e20"):
        raise invalid_arguments(field)
    scale = 1 if v > Decimal("1e17") else 1_000 if v > Decimal("1e14") else \
        1_000_000 if v > Decimal("1e11") else 1_000_000_000
    return int(v * scale)


def utc_day_start(ts: float) -> float:
    d = datetime.fromtimestamp(ts, tz=timezone.utc)
    return datetime(d.year, d.month, d.day, tzinfo=timezone.utc).timestamp()
