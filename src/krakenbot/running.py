"""The running bot's record in its home: who runs (pid, mode), since when, alive when, what it saw.

Why: ``krakenbot kill`` from any directory must reach the bot that actually runs, and say so. The
bot writes ``bot.json`` in its home at start, refreshes its heartbeat at every safe point (between
cycles and during waits) and, once it has seen a kill file, writes the file's ``kill-id`` back
(``halt_seen``). ``kill`` signals the pid (SIGUSR1: look now) and waits for that id; ``status``
shows the running bot's real mode. Written atomically (a reader never sees half a record); removed
at a clean exit. Holds no secret: the key is not in it.
"""
from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path
from typing import Any

RECORD_NAME = "bot.json"


def record_path(home: str | os.PathLike[str]) -> Path:
    return Path(home) / RECORD_NAME


def read(home: str | os.PathLike[str]) -> dict[str, Any] | None:
    try:
        data = json.loads(record_path(home).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and isinstance(data.get("pid"), int) else None


def is_running(record: dict[str, Any] | None) -> bool:
    """Is the record's pid alive and a krakenbot (a pid reused by another program is not ours)?"""
    if not record:
        return False
    pid = record["pid"]
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # alive, another user's: not ours to signal, but running
    cmdline = Path(f"/proc/{pid}/cmdline")
    if cmdline.exists():
        try:
            return b"krakenbot" in cmdline.read_bytes()
        except OSError:
            return True
    return True


def signal_check(record: dict[str, Any]) -> bool:
    """Ask the running bot to look at its kill switch now (SIGUSR1); False when it cannot be asked."""
    if not is_running(record) or not hasattr(signal, "SIGUSR1"):
        return False
    try:
        os.kill(record["pid"], signal.SIGUSR1)
    except OSError:
        return False
    return True


def wait_for_ack(home: str | os.PathLike[str], kill_id: str, timeout: float) -> dict[str, Any] | None:
    """The record once it says ``halt_seen == kill_id``; None when the bot did not say so in time
    (or stopped running)."""
    deadline = time.monotonic() + timeout
    while True:
        record = read(home)
        if record and record.get("halt_seen") == kill_id:
            return record
        if time.monotonic() >= deadline or not is_running(record):
            return None
        time.sleep(0.02)  # polling another process's file: bounded by the deadline


class Presence:
    """The running bot's side: write, beat, acknowledge a halt, remove."""

    def __init__(self, home: str | os.PathLike[str], mode: str, *, pairs: tuple[str, ...] = (),
                 kill_switch_file: str | None = None, store_path: str | None = None) -> None:
        self.path = record_path(home)
        # The kill file and store this bot really uses: `kill --home` writes and halts these (they
        # may be absolute paths outside the home).
        self.data: dict[str, Any] = {"pid": os.getpid(), "mode": mode, "home": str(home), "pairs": list(pairs),
                                     "kill_switch_file": kill_switch_file, "store_path": store_path,
                                     "started": time.time(), "heartbeat": time.time(), "halt_seen": None}

    def start(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._write()

    def beat(self, mode: str | None = None) -> None:
        if mode is not None:
            self.data["mode"] = mode
        self.data["heartbeat"] = time.time()
        self._write()

    def ack(self, kill_id: str | None) -> None:
        if kill_id and self.data.get("halt_seen") != kill_id:
            self.data["halt_seen"] = kill_id
            self.beat()

    def stop(self) -> None:
        record = read(self.path.parent)
        if record and record.get("pid") == os.getpid():
            self.path.unlink(missing_ok=True)

    def _write(self) -> None:
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(self.data, sort_keys=True), encoding="utf-8")
        os.replace(tmp, self.path)
