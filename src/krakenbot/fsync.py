"""An ``fdatasync`` that runs while the caller goes on working, and is waited for before it matters.

Why: an order's intent must be on disk before the order's first byte leaves (``Store.record_intent``).
The disk flush takes 0.2-0.5 ms here, and the request's own preparation after the intent (guard,
nonce, signing, encoding, HTTP framing) takes about as long. Started right after the intent's
commit and waited for at the socket (the client's send gate), the flush runs during that
preparation instead of before it; the order still cannot leave until the flush has returned.

Why by hand, through glibc's POSIX AIO (``aio_fsync`` via ctypes): Python has no asynchronous
fsync, and a Python thread cannot start one while the order's thread is busy: it first needs the
GIL, which the busy thread holds until it blocks at the send (measured: a worker-thread
``fdatasync`` made the order path 83 us *slower*). glibc hands the sync to its own helper thread,
which never needs the GIL. Where that is not available (not Linux with 64-bit glibc),
``start_datasync`` flushes at once with ``os.fdatasync``: the same guarantee, without the overlap.

Either way ``wait()`` returns only once the flush has returned, and raises ``OSError`` when it failed
(``TimeoutError`` when it has not returned within the caller's bound). A failure is also handed to the
starter's ``on_failure`` the first time anyone sees it (the store stops taking intents then: after a
failed flush the kernel may report the next one as clean although the data never reached the disk).
A forked child never uses the parent's AIO (glibc's helper threads do not survive a fork): it flushes
at once.
"""
from __future__ import annotations

import contextlib
import ctypes
import errno
import logging
import os
import sys
import threading
import time
from typing import Any, Callable, Iterable

log = logging.getLogger(__name__)

__all__ = ["PendingSync", "SYNCED", "start_datasync", "settle", "overlapping"]


class _SigEvent(ctypes.Structure):  # struct sigevent (64 bytes on 64-bit Linux)
    _fields_ = [("sigev_value", ctypes.c_void_p), ("sigev_signo", ctypes.c_int), ("sigev_notify", ctypes.c_int),
                ("_pad", ctypes.c_byte * 48)]


class _AioCb(ctypes.Structure):  # glibc's struct aiocb on 64-bit Linux (168 bytes)
    _fields_ = [("aio_fildes", ctypes.c_int), ("aio_lio_opcode", ctypes.c_int), ("aio_reqprio", ctypes.c_int),
                ("aio_buf", ctypes.c_void_p), ("aio_nbytes", ctypes.c_size_t), ("aio_sigevent", _SigEvent),
                ("next_prio", ctypes.c_void_p), ("abs_prio", ctypes.c_int), ("policy", ctypes.c_int),
                ("error_code", ctypes.c_int), ("return_value", ctypes.c_ssize_t), ("aio_offset", ctypes.c_int64),
                ("reserved", ctypes.c_byte * 32)]


class _AioInit(ctypes.Structure):  # glibc's struct aioinit
    _fields_ = [(name, ctypes.c_int) for name in ("aio_threads", "aio_num", "aio_locks", "aio_usedba", "aio_debug",
                                                  "aio_numusers", "aio_idle_time", "aio_reserved")]


_SIGEV_NONE = 1  # no signal on completion: completion is polled (aio_error) and waited for (aio_suspend)
_AIO_OK = ctypes.sizeof(_AioCb) == 168 and ctypes.sizeof(_SigEvent) == 64
_CbList = ctypes.POINTER(_AioCb) * 1  # aio_suspend's list of one


class _TimeSpec(ctypes.Structure):
    _fields_ = [("tv_sec", ctypes.c_long), ("tv_nsec", ctypes.c_long)]


def _glibc_aio() -> Any:
    """libc with the AIO calls typed, or None where glibc's 64-bit layout cannot be assumed."""
    if sys.platform != "linux" or ctypes.sizeof(ctypes.c_void_p) != 8 or not _AIO_OK:
        return None
    try:
        if not os.confstr("CS_GNU_LIBC_VERSION").startswith("glibc"):
            return None
    except (ValueError, OSError):
        return None
    for name in (None, "librt.so.1"):  # glibc >= 2.34 has AIO in libc itself; older ones in librt
        try:
            lib = ctypes.CDLL(name, use_errno=True)  # aio_suspend's errno tells a timeout from a signal
            calls = (lib.aio_fsync, lib.aio_error, lib.aio_return, lib.aio_suspend, lib.aio_init)
        except (OSError, AttributeError):
            continue
        cb = ctypes.POINTER(_AioCb)
        for call, args, result in zip(calls, ((ctypes.c_int, cb), (cb,), (cb,),
                                              (ctypes.POINTER(cb), ctypes.c_int, ctypes.POINTER(_TimeSpec)),
                                              (ctypes.POINTER(_AioInit),)),
                                      (ctypes.c_int, ctypes.c_int, ctypes.c_ssize_t, ctypes.c_int, None)):
            call.argtypes, call.restype = args, result
        # Few helper threads (a store's flushes run one after another anyway), kept for a minute between
        # orders instead of glibc's default second, so an order rarely pays for starting one.
        lib.aio_init(ctypes.byref(_AioInit(aio_threads=2, aio_num=16, aio_idle_time=60)))
        return lib
    return None


_aio: Any = None
_aio_loaded = False
_load_lock = threading.Lock()
_failure_lock = threading.Lock()
# Control blocks glibc's helper thread may still write to: kept alive until completion is seen.
_in_flight: set["PendingSync"] = set()


def _library() -> Any:
    global _aio, _aio_loaded
    if not _aio_loaded:
        with _load_lock:
            if not _aio_loaded:
                _aio = _glibc_aio()
                _aio_loaded = True
                if _aio is None:
                    log.info("no glibc AIO here: an order's intent is flushed before its request is prepared")
    return _aio


def _after_fork_in_child() -> None:
    """glibc has no AIO fork handler: a child's request would wait for helper threads it does not
    have (measured: forever). The child flushes at once instead."""
    global _aio, _aio_loaded, _failure_lock
    _aio, _aio_loaded = None, True
    _in_flight.clear()
    _failure_lock = threading.Lock()  # a parent thread may have held it at the fork


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def overlapping() -> bool:
    """Whether ``start_datasync`` runs the flush in the background here (else: at once)."""
    return _library() is not None


class PendingSync:
    """One started flush; ``wait()`` blocks until it has returned (idempotent)."""

    __slots__ = ("_cb", "_error", "_on_failure")

    def __init__(self, cb: _AioCb | None = None, error: OSError | None = None,
                 on_failure: Callable[[OSError], None] | None = None) -> None:
        self._cb = cb
        self._error = error
        self._on_failure = on_failure
        if error is not None:
            self._failed(error)

    @property
    def done(self) -> bool:
        """The flush has returned (successfully or not); never blocks (in a forked child, a flush
        the parent started is made here and now)."""
        cb = self._cb  # once: another thread's wait() may clear it meanwhile
        if cb is None:
            return True
        if _aio is None:
            self._settle_in_child(cb)
            return True
        return _aio.aio_error(ctypes.byref(cb)) != errno.EINPROGRESS

    def wait(self, timeout: float | None = None) -> None:
        """Return once the data is on disk; raise ``OSError`` if the flush failed, ``TimeoutError``
        if it has not returned within ``timeout`` seconds (it goes on; wait again or let it go)."""
        cb = self._cb
        if cb is not None and _aio is None:  # started by the parent of this forked process
            self._settle_in_child(cb)
        elif cb is not None:
            ref, waiting = ctypes.byref(cb), None
            ends = None if timeout is None else time.monotonic() + timeout
            while (code := _aio.aio_error(ref)) == errno.EINPROGRESS:
                waiting = waiting or _CbList(ctypes.pointer(cb))
                left = None if ends is None else max(0.0, ends - time.monotonic())
                bound = None if left is None else ctypes.byref(_TimeSpec(int(left), int(left % 1 * 1e9)))
                if _aio.aio_suspend(waiting, 1, bound) != 0:  # the GIL is released meanwhile (ctypes)
                    why = ctypes.get_errno()
                    if why == errno.EAGAIN and _aio.aio_error(ref) == errno.EINPROGRESS:
                        raise TimeoutError(f"fdatasync has not returned within {timeout:.1f} s")
                    if why not in (errno.EAGAIN, errno.EINTR):  # EINTR: a signal; wait the time left
                        raise OSError(why, f"waiting for fdatasync failed: {os.strerror(why)}")
            result = _aio.aio_return(ref)
            if code == -1:  # glibc does not know the request: cannot tell that anything was flushed
                code = errno.EINVAL
            if code or result:  # the failure is recorded (and reported) before the block is let go:
                # another thread's wait() that finds no block must find the error
                self._error = OSError(code or errno.EIO, f"fdatasync failed: {os.strerror(code or errno.EIO)}")
                self._failed(self._error)
            self._cb = None
            _in_flight.discard(self)
        if self._error is not None:
            raise self._error

    def _settle_in_child(self, cb: _AioCb) -> None:
        """A forked child has none of the parent's AIO threads: flush the descriptor itself."""
        try:
            os.fdatasync(cb.aio_fildes)
        except OSError as error:
            self._error = error
            self._failed(error)
        self._cb = None  # only now: another thread's wait() that finds no block must find the outcome

    def _failed(self, error: OSError) -> None:
        with _failure_lock:  # one report per flush, whichever thread sees the failure first
            notify, self._on_failure = self._on_failure, None
        if notify is not None:
            notify(error)


SYNCED = PendingSync()  # nothing to flush, or already flushed


def settle(flushes: Iterable[PendingSync]) -> list[PendingSync]:
    """Settle the flushes that have ended (a failure among them reaches its starter's ``on_failure``,
    whether or not anyone waits for it) and return those still running."""
    running = []
    for pending in flushes:
        if pending.done:
            with contextlib.suppress(OSError):  # reported through on_failure; the waiter, if any, raises
                pending.wait()
        else:
            running.append(pending)
    return running


def _reap() -> None:
    """Settle finished flushes nobody waited for (their callers gave up before the send)."""
    settle(list(_in_flight))  # list(): a copy taken at once (other threads add)


def start_datasync(fd: int, on_failure: Callable[[OSError], None] | None = None) -> PendingSync:
    """Start ``fdatasync(fd)``; the caller must ``wait()`` before relying on it. ``on_failure`` is
    called once with the error the first time the flush is seen to have failed, whoever sees it."""
    aio = _library()
    if aio is not None:
        if _in_flight:
            _reap()
        cb = _AioCb(aio_fildes=fd)
        cb.aio_sigevent.sigev_notify = _SIGEV_NONE
        if aio.aio_fsync(os.O_DSYNC, ctypes.byref(cb)) == 0:  # O_DSYNC: fdatasync, not fsync
            pending = PendingSync(cb, on_failure=on_failure)
            _in_flight.add(pending)
            return pending
        # EAGAIN (glibc out of resources), EBADF or the like: flush here and now instead
    try:
        os.fdatasync(fd)
    except OSError as error:
        return PendingSync(error=error, on_failure=on_failure)
    return SYNCED
