"""Everything the process logs (every logger, down to DEBUG) and prints, for the secrets scenario.

Why every logger at DEBUG rather than the bot's configured level: a secret written in a debug
line leaks the day an operator turns debugging on, so the specification looks at the most the
code can ever write. Loggers that do not propagate get the handler of their own, so none is missed.
"""
from __future__ import annotations

import io
import logging
from contextlib import contextmanager, redirect_stderr, redirect_stdout
from dataclasses import dataclass, field
from typing import Iterator


@dataclass
class Captured:
    logged: io.StringIO = field(default_factory=io.StringIO)
    stdout: io.StringIO = field(default_factory=io.StringIO)
    stderr: io.StringIO = field(default_factory=io.StringIO)
    records: int = 0
    debug_enabled: bool = False  # the bot's loggers wrote DEBUG lines while captured

    def text(self) -> str:
        return "\n".join((self.logged.getvalue(), self.stdout.getvalue(), self.stderr.getvalue()))


class _Counting(logging.StreamHandler):
    def __init__(self, captured: Captured) -> None:
        super().__init__(captured.logged)
        self.captured = captured

    def emit(self, record: logging.LogRecord) -> None:
        self.captured.records += 1
        super().emit(record)


@contextmanager
def everything_logged_and_printed() -> Iterator[Captured]:
    captured = Captured()
    handler = _Counting(captured)
    handler.setLevel(logging.DEBUG)
    # The message, its arguments, any exception and stack text, as a log file would hold them.
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    loggers = [root] + [lg for lg in root.manager.loggerDict.values() if isinstance(lg, logging.Logger)]
    saved = [(lg, lg.level, lg.disabled) for lg in loggers]
    disabled_below = root.manager.disable
    logging.disable(logging.NOTSET)
    for lg in loggers:
        lg.setLevel(logging.DEBUG)
        lg.disabled = False
    own = [lg for lg in loggers if lg is not root and not lg.propagate]
    for lg in [root] + own:
        lg.addHandler(handler)
    captured.debug_enabled = logging.getLogger("krakenbot.client").isEnabledFor(logging.DEBUG)
    try:
        with redirect_stdout(captured.stdout), redirect_stderr(captured.stderr):
            yield captured
    finally:
        for lg in [root] + own:
            lg.removeHandler(handler)
        for lg, level, disabled in saved:
            lg.setLevel(level)
            lg.disabled = disabled
        logging.disable(disabled_below)
