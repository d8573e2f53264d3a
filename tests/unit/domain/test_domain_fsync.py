"""The background flush behind an order's intent (``krakenbot.fsync``): it really flushes the
descriptor it was given, reports failure when waited for, and falls back to a flush at once."""
from __future__ import annotations

import errno
import gc
import os
import sys

import pytest

from krakenbot import fsync


def _glibc() -> bool:
    try:
        return sys.platform == "linux" and os.confstr("CS_GNU_LIBC_VERSION").startswith("glibc")
    except (ValueError, OSError):
        return False


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


def test_a_closed_descriptor_is_a_failed_flush_not_a_silent_one(tmp_path):
    fd = os.open(tmp_path / "f", os.O_RDWR | os.O_CREAT)
    os.close(fd)
    with pytest.raises(OSError) as raised:
        fsync.start_datasync(fd).wait()
    assert raised.value.errno == errno.EBADF


def test_flushes_nobody_waited_for_are_let_go_once_finished(tmp_path):
    """A caller that gave up before its send never waits: the control block stays alive until glibc is
    done with it, and is dropped at a later start."""
    fd = os.open(tmp_path / "f", os.O_RDWR | os.O_CREAT)
    try:
        for _ in range(5):
            fsync.start_datasync(fd)  # dropped at once
        gc.collect()
        last = fsync.start_datasync(fd)
        last.wait()
        for pending in list(fsync._in_flight):
            pending.wait()
        assert fsync._in_flight == set()
    finally:
        os.close(fd)


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
