"""The running bot's record in its home: who runs (pid, mode), since when, alive when, what it saw.

Why: ``krakenbot kill`` from any directory must reach the bot that actually runs, and say so. The
bot writes ``bot.json`` in its home at start, refreshes its heartbeat at every safe point (between
cycles and during waits) and, once it has seen a kill file, writes the file's ``kill-id`` back
(``halt_seen``). ``kill`` signals the pid (SIGUSR1: look now) and waits for that id; ``status``
shows the running bot's real mode, its limits and its last cycle. Written atomically (a reader never sees half a record); removed
at a clean exit. Holds no secret: the key is not in it.

Who is the bot? Not a live pid (a pid is reused; macOS has no /proc to ask what runs there): the
running bot holds an exclusive ``flock`` on ``bot.lock`` in its home for as long as it runs (the
kernel drops it when the process ends, however it ends), and ``bot.lock`` and ``bot.json`` carry
the same random instance token. A second ``run`` on the home is refused; ``kill`` counts the bot as
running, and signals its pid, only while the lock is held by the record's instance.
"""
from __future__ import annotations

import json
import os
import secrets
import signal
import time
from pathlib import Path
from typing import Any

try:
    import fcntl
except ImportError:  # pragma: no cover - not Linux or macOS
    fcntl = None  # type: ignore[assignment]

RECORD_NAME = "bot.json"
LOCK_NAME = "bot.lock"


class AlreadyRunning(RuntimeError):
    """Another bot holds this home's lock, or its store's."""


def _holder(pid: Any, started: Any) -> str:
    """``pid 123, started 2026-12-07 06:10:39 UTC``: who holds a lock, as the refusal names it."""
    when = ""
    if isinstance(started, (int, float)):
        when = ", started " + time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(started))
    return f"pid {pid}{when}"


class StoreLock:
    """One bot per store, not only per home: two homes may name one ``STORE_PATH``, and two
    processes on one store fight over its nonce mark (one's requests refused ``EAPI:Invalid nonce``)
    and its open orders. An exclusive ``flock`` on ``<store>.lock`` for as long as the process runs
    (the kernel drops it however the process ends); the file names the holder (pid, start time,
    home) for the refusal. The emergency controls (``kill``, ``status``) never take it."""

    def __init__(self, store_path: str, home: str | os.PathLike[str] | None = None) -> None:
        self.path = Path(f"{store_path}.lock")
        self.store_path = store_path
        self.home = str(home) if home is not None else None
        self._fd: int | None = None

    def acquire(self) -> "StoreLock":
        if fcntl is None or self._fd is not None:  # pragma: no cover - not Linux or macOS
            return self
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            try:
                holder = json.loads(os.read(fd, 4096).decode("utf-8") or "{}")
            except ValueError:
                holder = {}
            os.close(fd)
            home = f", home {holder['home']}" if holder.get("home") else ""
            raise AlreadyRunning(f"the store {self.store_path} is in use by another bot "
                                 f"({_holder(holder.get('pid', '?'), holder.get('started'))}{home}): one bot per "
                                 f"store (stop it, or give this one its own STORE_PATH)") from None
        except BaseException:
            os.close(fd)
            raise
        os.ftruncate(fd, 0)
        os.write(fd, json.dumps({"pid": os.getpid(), "started": time.time(), "home": self.home}).encode("utf-8"))
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing drops the flock; the file stays (removing it would race a taker)
            self._fd = None

    def __enter__(self) -> "StoreLock":
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


def record_path(home: str | os.PathLike[str]) -> Path:
    return Path(home) / RECORD_NAME


def read(home: str | os.PathLike[str]) -> dict[str, Any] | None:
    try:
        data = json.loads(record_path(home).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and isinstance(data.get("pid"), int) else None


def is_running(record: dict[str, Any] | None) -> bool:
    """Does the record's instance run now: is the home's lock held, by the process whose token
    the record names? A live pid alone proves nothing (it may be reused by another program)."""
    if not record or not record.get("home") or not record.get("token"):
        return False
    lock = Path(record["home"]) / LOCK_NAME
    try:
        fd = os.open(lock, os.O_RDONLY)
    except OSError:
        return False
    try:
        if fcntl is None:  # pragma: no cover
            return False
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:  # held: a bot runs; is it this record's?
            return os.read(fd, 64).decode("ascii", "replace").strip() == record["token"]
        except OSError:
            return False
        fcntl.flock(fd, fcntl.LOCK_UN)  # we got it: nobody runs
        return False
    finally:
        os.close(fd)


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
                 kill_switch_file: str | None = None, store_path: str | None = None, limits: str | None = None) -> None:
        self.path = record_path(home)
        # The kill file and store this bot really uses: `kill --home` writes and halts these (they
        # may be absolute paths outside the home).
        self._lock_fd: int | None = None
        self.first_in_home = False  # set by acquire()
        self._store_lock = StoreLock(store_path, home) if store_path not in (None, ":memory:") else None
        self.data: dict[str, Any] = {"pid": os.getpid(), "mode": mode, "home": str(home), "pairs": list(pairs),
                                     "token": secrets.token_hex(16),
                                     "kill_switch_file": kill_switch_file, "store_path": store_path,
                                     "started": time.time(), "heartbeat": time.time(), "halt_seen": None,
                                     "limits": limits, "last_cycle": None}

    def acquire(self) -> None:
        """Take the home's lock, then the store's, for as long as this bot runs; ``AlreadyRunning``
        (naming the holder) if another holds either."""
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        if fcntl is None:  # pragma: no cover
            return
        lock_path = self.path.with_name(LOCK_NAME)
        self.first_in_home = not lock_path.exists()  # no bot ever ran here (Bot.start's pacing reads it)
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            other = read(self.path.parent)
            pid = f" ({_holder(other['pid'], other.get('started'))})" if other else ""
            raise AlreadyRunning(f"another bot{pid} is running with home {self.path.parent}: "
                                 f"one bot per home (stop it, or give this one its own --home)") from None
        except BaseException:
            os.close(fd)
            raise
        if self._store_lock is not None:
            try:
                self._store_lock.acquire()
            except BaseException:
                os.close(fd)
                raise
        os.ftruncate(fd, 0)
        os.write(fd, self.data["token"].encode("ascii"))
        self._lock_fd = fd

    def start(self, mode: str | None = None) -> None:
        if self._lock_fd is None:
            self.acquire()
        if mode is not None:
            self.data["mode"] = mode
        self._write()

    def beat(self, mode: str | None = None, last_cycle: float | None = None) -> None:
        """Alive now; ``last_cycle``: when the last trading cycle started (``status`` shows it)."""
        if mode is not None:
            self.data["mode"] = mode
        if last_cycle is not None:
            self.data["last_cycle"] = last_cycle
        self.data["heartbeat"] = time.time()
        self._write()

    def ack(self, kill_id: str | None) -> None:
        if kill_id and self.data.get("halt_seen") != kill_id:
            self.data["halt_seen"] = kill_id
            self.beat()

    def stop(self) -> None:
        """Remove the record (if it is this instance's), then let the lock go."""
        record = read(self.path.parent)
        if record and record.get("token") == self.data["token"]:
            self.path.unlink(missing_ok=True)
        if self._lock_fd is not None:
            os.close(self._lock_fd)  # closing drops the flock
            self._lock_fd = None
        if self._store_lock is not None:
            self._store_lock.release()

    def _write(self) -> None:
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(self.data, sort_keys=True), encoding="utf-8")
        os.replace(tmp, self.path)
