"""The wrapper's rule that no raw store error reaches a caller (``_guarded``): a failure that is
already a ``StoreFailure`` passes as it is, not as its own cause (a self-referencing chain)."""
from __future__ import annotations

from types import SimpleNamespace

import pytest

from krakenbot.errors import StoreFailure
from krakenbot.safety.wrapper import SafetyWrapper, _guarded
from krakenbot.store.database import StoreError


class _TypedStoreError(StoreError, StoreFailure):
    """A store error that is already the typed failure."""


class _Wrapper:
    _store_failure = SafetyWrapper._store_failure
    audit = SimpleNamespace(record=lambda *args, **kwargs: None)

    @staticmethod
    def _scrub(text: str) -> str:
        return text


def test_a_store_failure_is_raised_as_it_is_not_as_its_own_cause():
    failure = _TypedStoreError("disk full")

    def method(self):
        raise failure

    with pytest.raises(_TypedStoreError) as raised:
        _guarded("method", method)(_Wrapper())
    assert raised.value is failure
    assert raised.value.__cause__ is not failure


def test_a_raw_store_error_becomes_a_store_failure_caused_by_it():
    error = StoreError("database or disk is full")

    def method(self):
        raise error

    with pytest.raises(StoreFailure) as raised:
        _guarded("method", method)(_Wrapper())
    assert raised.value.__cause__ is error and "disk is full" in str(raised.value)
