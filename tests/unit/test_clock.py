"""The manual clock's listeners: a scenario that listens for one wait stops listening after it."""
from __future__ import annotations

from krakenbot.clock import ManualClock


def test_a_listener_taken_off_hears_no_later_advance():
    clock, heard = ManualClock(start=0.0), []
    clock.on_advance(heard.append)
    clock.sleep(2.0)
    clock.off_advance(heard.append)
    clock.off_advance(heard.append)  # a second time: nothing to take off, no error
    clock.advance(3.0)
    assert heard == [2.0]
