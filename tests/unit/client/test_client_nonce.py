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
