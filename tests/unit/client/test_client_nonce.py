from __future__ import annotations

import threading

from krakenbot.client.nonce import NonceGenerator


class MemoryNonceStore:
    def __init__(self, value: int = 0) -> None:
        self.value = value
        self.saves = 0

    def load_nonce(self) -> int:
        return self.value

    def save_nonce(self, n: int) -> None:
        self.saves += 1
        self.value = n


def test_strictly_increasing_with_a_frozen_clock():
    gen = NonceGenerator(now=lambda: 1_000)
    values = [gen.next() for _ in range(5)]
    assert values == [1_000, 1_001, 1_002, 1_003, 1_004]


def test_follows_time_when_it_moves_ahead():
    now = [100]
    gen = NonceGenerator(now=lambda: now[0])
    assert gen.next() == 100
    now[0] = 500
    assert gen.next() == 500
    now[0] = 50  # the wall clock stepped back: still increasing
    assert gen.next() == 501


def test_strictly_increasing_across_eight_threads():
    gen = NonceGenerator(now=lambda: 7)  # worst case: every thread sees the same time
    results: list[list[int]] = [[] for _ in range(8)]
    start = threading.Barrier(8)

    def work(bucket: list[int]) -> None:
        start.wait()
        for _ in range(2_000):
            bucket.append(gen.next())

    threads = [threading.Thread(target=work, args=(b,)) for b in results]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    everything = [n for bucket in results for n in bucket]
    assert len(set(everything)) == len(everything) == 16_000
    for bucket in results:  # each thread sees its own values strictly increasing
        assert all(a < b for a, b in zip(bucket, bucket[1:]))


def test_survives_restart_through_the_store_with_block_reservation():
    store = MemoryNonceStore()
    first = NonceGenerator(store, now=lambda: 1_000, block=100)
    handed = [first.next() for _ in range(250)]
    assert store.saves == 3  # one write per block, not per call
    assert store.value > max(handed)
    # a new process with a clock that went backwards still continues above everything handed out
    second = NonceGenerator(store, now=lambda: 10)
    assert second.next() > max(handed)


def test_real_clock_is_microseconds():
    gen = NonceGenerator()
    n = gen.next()
    assert 10**15 < n < 10**17


def test_a_failed_save_is_retried_before_any_unpersisted_nonce_goes_out():
    """If persisting the reservation fails, no nonce above the stored mark may be handed out
    (after a restart the next process would start below it and be refused)."""
    import pytest

    class FlakyStore:
        def __init__(self):
            self.value, self.fail = 0, True

        def load_nonce(self):
            return self.value

        def save_nonce(self, n):
            if self.fail:
                self.fail = False
                raise OSError("disk full")
            self.value = max(self.value, n)

    from krakenbot.errors import NonceNotSaved, StoreFailure

    store = FlakyStore()
    gen = NonceGenerator(store, now=lambda: 1_000, block=100)
    with pytest.raises(NonceNotSaved) as refused:  # typed: a store failure, and nothing was sent
        gen.next()
    assert isinstance(refused.value, StoreFailure) and isinstance(refused.value.__cause__, OSError)
    n = gen.next()
    assert n < store.value    # persisted before use


# -- issue 20, finding 10a: a stored mark far ahead of the clock ---------------------------------------
class _Mark:
    def __init__(self, value):
        self.value, self.saved = value, []

    def load_nonce(self):
        return self.value

    def save_nonce(self, n):
        self.saved.append(n)


DAY_US = 86_400_000_000


def test_a_stored_mark_a_day_ahead_is_not_used_until_kraken_says_it_was_and_the_operator_is_told(caplog):
    now = 1_800_000_000_000_000
    store = _Mark(now + DAY_US)
    with caplog.at_level("WARNING", logger="krakenbot.client.nonce"):
        gen = NonceGenerator(store, now=lambda: now, block=10_000_000)
    assert gen.mark_ahead_s == 86_400 and "86400 s ahead" in caplog.text
    assert gen.next() == now  # from the clock: the key's mark is not pushed a day ahead on a guess
    assert store.saved == []  # nor is the stored mark lowered: a restart decides again
    gen.rejected()  # Kraken: EAPI:Invalid nonce - the mark was real
    assert gen.next() > now + DAY_US and store.saved  # above it, and reserved above it
    gen.rejected()  # once decided, a later refusal moves nothing
    assert gen.next() < now + DAY_US + 10_000_000


def test_a_stored_mark_within_a_reservation_of_the_clock_is_used_as_is():
    now = 1_800_000_000_000_000
    gen = NonceGenerator(_Mark(now + 9_000_000), now=lambda: now, block=10_000_000)
    assert gen.mark_ahead_s == 0 and gen.next() == now + 9_000_001
