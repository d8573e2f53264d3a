"""The background flush behind an order's intent (``krakenbot.fsync``): it really flushes the
descriptor it was given, reports failure when waited for, and falls back to a flush at once."""
from __future__ import annotations

import errno
import gc
import os
import signal
import sys
import time

import pytest

from krakenbot import fsync


def _glibc() -> bool:
    try:
        return sys.platform == "linux" and os.confstr("CS_GNU_LIBC_VERSION").startswith("glibc")
    except (ValueError, OSError):
        return False


def _until(condition, what: str, limit_s: float = 10.0) -> None:
    """Poll ``condition`` (no sleep: what it waits for ends within milliseconds) and fail, naming
    ``what``, if it has not held within ``limit_s``."""
    ends = time.monotonic() + limit_s
    while not condition():
        assert time.monotonic() < ends, f"not within {limit_s:.0f} s: {what}"


def test_a_flush_of_a_file_returns_once_done_and_can_be_waited_for_again(tmp_path):
    fd = os.open(tmp_path / "f", os.O_RDWR | os.O_CREAT)
    try:
        os.write(fd, b"intent")
        pending = fsync.start_datasync(fd)
        pending.wait()
        assert pending.done
        pending.wait()  # idempotent
    finally:
        os.close(fd)


@pytest.mark.skipif(not _glibc(), reason="glibc's AIO is the overlapping path; elsewhere the flush is at once")
def test_on_linux_with_glibc_the_flush_runs_in_the_background():
    """CI runs here: the overlapping path is the one the order path takes, so it is the one tested."""
    assert fsync.overlapping()


def test_the_flush_is_made_on_the_given_descriptor_and_its_failure_is_raised_when_waited_for():
    """fdatasync on a pipe fails with EINVAL: the error proves the flush ran on our descriptor
    (in glibc's helper thread when overlapping), not on some other one, and was not skipped."""
    read_end, write_end = os.pipe()
    try:
        pending = fsync.start_datasync(write_end)
        with pytest.raises(OSError) as raised:
            pending.wait()
        assert raised.value.errno == errno.EINVAL
        with pytest.raises(OSError):  # the failure stays
            pending.wait()
    finally:
        os.close(read_end)
        os.close(write_end)


def test_a_descriptor_that_is_not_open_is_a_failed_flush_reported_once_not_a_silent_one():
    unused = 1 << 20  # far above any descriptor this process has open
    failures: list[OSError] = []
    pending = fsync.start_datasync(unused, on_failure=failures.append)
    with pytest.raises(OSError) as raised:
        pending.wait()
    assert raised.value.errno == errno.EBADF and [f.errno for f in failures] == [errno.EBADF]


def test_a_failure_nobody_waited_for_still_reaches_its_starter(tmp_path):
    """A caller that gave up before its send never waits: its control block stays alive until glibc is
    done with it, and is settled at a later start, which hands a failure on to the starter."""
    read_end, write_end = os.pipe()
    fd = os.open(tmp_path / "f", os.O_RDWR | os.O_CREAT)
    failures: list[OSError] = []
    try:
        dropped = [fsync.start_datasync(write_end, on_failure=failures.append) for _ in range(3)]
        _until(lambda: all(p.done for p in dropped), "the dropped flushes end")  # nobody waits for them
        del dropped
        gc.collect()
        fsync.start_datasync(fd).wait()
        assert [f.errno for f in failures] == [errno.EINVAL] * 3
        assert not any(p for p in list(fsync._in_flight) if p.done)
    finally:
        for d in (read_end, write_end, fd):
            os.close(d)


def test_a_forked_child_flushes_at_once_instead_of_waiting_for_helper_threads_it_lacks(tmp_path):
    """glibc's AIO helper threads do not survive a fork: neither the child's own flushes nor one the
    parent started must wait for them."""
    fd = os.open(tmp_path / "f", os.O_RDWR | os.O_CREAT)
    try:
        fsync.start_datasync(fd).wait()  # the parent has used AIO
        inherited = fsync.start_datasync(fd)  # and has one in flight when it forks
        child = os.fork()
        if child == 0:  # pragma: no cover - runs in the child
            signal.alarm(10)  # a hang kills the child: the parent sees a signal, not exit 0
            try:
                inherited.wait()  # before anything else has looked at it
                assert inherited.done
                fsync.start_datasync(fd).wait()
                os._exit(0 if not fsync.overlapping() else 3)
            except BaseException:
                os._exit(2)
        _, status = os.waitpid(child, 0)
        assert os.waitstatus_to_exitcode(status) == 0
        inherited.wait()
    finally:
        os.close(fd)


@pytest.fixture
def queued_behind_a_read():
    """A flush that cannot run yet: glibc runs one descriptor's requests in order, and an AIO read of
    an empty pipe is ahead of it; writing a byte lets both end (the flush with EINVAL: a pipe)."""
    if not fsync.overlapping():
        pytest.skip("needs glibc's AIO")
    import ctypes

    lib = fsync._library()
    read_end, write_end = os.pipe()
    byte = ctypes.create_string_buffer(1)
    blocker = fsync._AioCb(aio_fildes=read_end, aio_buf=ctypes.cast(byte, ctypes.c_void_p), aio_nbytes=1)
    blocker.aio_sigevent.sigev_notify = fsync._SIGEV_NONE
    read = lib.aio_read
    read.argtypes, read.restype = [ctypes.POINTER(fsync._AioCb)], ctypes.c_int
    assert read(ctypes.byref(blocker)) == 0
    pending = fsync.start_datasync(read_end)
    yield pending, lambda: os.write(write_end, b"x")
    if lib.aio_error(ctypes.byref(blocker)) == errno.EINPROGRESS:
        os.write(write_end, b"x")
    _until(lambda: lib.aio_error(ctypes.byref(blocker)) != errno.EINPROGRESS, "the blocking read ends")
    _until(lambda: not fsync.settle(list(fsync._in_flight)), "every flush started here ends")
    os.close(read_end)
    os.close(write_end)


def test_a_flush_that_has_not_returned_in_time_is_a_timeout_and_can_be_waited_for_again(queued_behind_a_read):
    pending, release = queued_behind_a_read
    with pytest.raises(TimeoutError):
        pending.wait(timeout=0.05)
    assert not pending.done
    release()
    with pytest.raises(OSError) as raised:
        pending.wait()
    assert raised.value.errno == errno.EINVAL


def test_a_signal_during_the_wait_is_not_taken_for_a_timeout(queued_behind_a_read):
    pending, release = queued_behind_a_read
    fired: list[int] = []

    def handler(signum, frame):  # the first signal only interrupts the wait; the second ends the read
        fired.append(signum)
        if len(fired) == 1:
            signal.setitimer(signal.ITIMER_REAL, 0.05)
        else:
            release()

    previous = signal.signal(signal.SIGALRM, handler)
    signal.setitimer(signal.ITIMER_REAL, 0.05)
    try:
        with pytest.raises(OSError) as raised:  # the flush's own end (EINVAL), not TimeoutError
            pending.wait(timeout=30)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    assert fired == [signal.SIGALRM] * 2 and raised.value.errno == errno.EINVAL


def test_without_glibc_aio_the_flush_happens_at_once(tmp_path, monkeypatch):
    monkeypatch.setattr(fsync, "_library", lambda: None)
    flushed: list[int] = []
    monkeypatch.setattr(fsync.os, "fdatasync", flushed.append)
    fd = os.open(tmp_path / "f", os.O_RDWR | os.O_CREAT)
    try:
        pending = fsync.start_datasync(fd)
        assert flushed == [fd] and pending.done
        pending.wait()
    finally:
        os.close(fd)


def test_a_failed_flush_never_looks_successful_to_another_waiter_while_it_is_settled(monkeypatch):
    """Two threads may settle one flush (the order's send gate and the next intent tidying up): the one
    that finds it already let go must find its failure, not an empty success."""
    if not fsync.overlapping():
        pytest.skip("needs glibc's AIO")
    read_end, write_end = os.pipe()
    seen_meanwhile: list[str] = []

    class Watched(set):
        def discard(self, pending):  # the moment the first waiter lets the flush go
            try:
                pending.wait()
                seen_meanwhile.append("success")
            except OSError:
                seen_meanwhile.append("failure")
            super().discard(pending)

    monkeypatch.setattr(fsync, "_in_flight", Watched())
    try:
        pending = fsync.start_datasync(write_end)  # a pipe cannot be flushed: EINVAL
        with pytest.raises(OSError):
            pending.wait()
        assert seen_meanwhile == ["failure"]
    finally:
        os.close(read_end)
        os.close(write_end)
