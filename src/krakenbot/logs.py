"""The operator's log: one line per event, UTC time, level, component, message.

Why one module: every command sets logging up here (``configure``), so the format, the levels
``-v``/``-vv`` select, the file and the JSON shape are decided once; and every line passes the
scrubber last (``scrub_with``), so a secret that reached a message still never reaches the log.
An event's fields ride on the record as ``extra={"fields": {...}}``: the text line says them in
its message, the JSON line carries them as keys too.
"""
from __future__ import annotations

import json
import logging
import os
import sys
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any, Callable

FORMATS = ("text", "json")
_ROOT = "krakenbot"
_handler: logging.Handler | None = None
_previous: dict[str, int] = {}


class LogSetupError(ValueError):
    """A bad ``--log-file`` or ``--log-format``: said in one line by the CLI (exit 2)."""


def component(name: str) -> str:
    """``krakenbot.execution.executor`` -> ``executor``; a third-party logger keeps its name."""
    if name == _ROOT or not name.startswith(_ROOT + "."):
        return name
    return name.rsplit(".", 1)[-1]


def utc_time(created: float) -> str:
    """ISO 8601, milliseconds, Z: sorts as text and reads the same on every host."""
    return datetime.fromtimestamp(created, timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def fields(record: logging.LogRecord) -> dict[str, Any]:
    found = getattr(record, "fields", None)
    return dict(found) if isinstance(found, dict) else {}


class _Formatter(logging.Formatter):
    def __init__(self, as_json: bool) -> None:
        super().__init__()
        self.as_json = as_json
        self.scrub: Callable[[str], str] = lambda text: text

    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if self.as_json:
            line: dict[str, Any] = {"time": utc_time(record.created), "level": record.levelname,
                                    "component": component(record.name), "message": message}
            for name, value in fields(record).items():
                line.setdefault(name, value)
            if record.exc_text:
                line["exception"] = record.exc_text
            text = json.dumps(line, default=_plain, ensure_ascii=False)
        else:
            text = f"{utc_time(record.created)} {record.levelname:<7} {component(record.name)}: {message}"
            if record.exc_text:
                text += "\n" + record.exc_text
        return self.scrub(text)


def _plain(value: Any) -> str:
    """Money as written (``0.0001``, never ``1E-4``); anything else as its text."""
    return format(value, "f") if isinstance(value, Decimal) else str(value)


def levels(command: str, verbose: int) -> tuple[int, int]:
    """(the bot's own loggers, everything else). ``run`` shows INFO by default: an unattended bot
    must say what it does; the other commands print their answer and log only warnings."""
    if verbose >= 2:
        return logging.DEBUG, logging.DEBUG
    if verbose == 1:
        return logging.DEBUG, logging.WARNING
    return (logging.INFO if command == "run" else logging.WARNING), logging.WARNING


def configure(command: str, verbose: int = 0, log_file: str | None = None, log_format: str | None = None) -> None:
    """Route the log to stderr, or to ``log_file`` (appended) instead; raise ``LogSetupError``."""
    global _handler
    log_format = "text" if log_format is None else log_format
    if log_format not in FORMATS:
        raise LogSetupError(f"--log-format must be one of {', '.join(FORMATS)}, got {log_format!r}")
    if log_file is not None:
        path = os.path.abspath(os.path.expanduser(log_file))
        if not os.path.isdir(os.path.dirname(path)):
            raise LogSetupError(f"--log-file {log_file}: the directory {os.path.dirname(path)} does not exist")
        if os.path.isdir(path):
            raise LogSetupError(f"--log-file {log_file}: is a directory")
        try:
            handler: logging.Handler = logging.FileHandler(path, mode="a", encoding="utf-8")
        except OSError as exc:
            raise LogSetupError(f"--log-file {log_file}: cannot be opened ({exc.strerror or exc})") from None
    else:
        handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_Formatter(as_json=log_format == "json"))
    own, others = levels(command, verbose)
    handler.addFilter(lambda record: record.levelno >= (own if _is_own(record.name) else others))
    close()
    root = logging.getLogger()
    _previous["level"] = root.level
    root.addHandler(handler)
    root.setLevel(min(own, others))
    _handler = handler


def _is_own(name: str) -> bool:
    return name == _ROOT or name.startswith(_ROOT + ".")


def close() -> None:
    """Remove the handler and give the root logger its level back (the CLI runs in tests' processes too)."""
    global _handler
    if _handler is None:
        return
    root = logging.getLogger()
    root.removeHandler(_handler)
    _handler.close()
    root.setLevel(_previous.pop("level", root.level))
    _handler = None


def scrub_with(scrub: Callable[[str], str]) -> None:
    """Every line from here on passes ``scrub`` (the settings' key and secret out), once they are known."""
    if _handler is not None and isinstance(_handler.formatter, _Formatter):
        _handler.formatter.scrub = scrub
