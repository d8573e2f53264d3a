"""Every test gets its own state directory: none touches the operator's real
``~/.local/state/krakenbot`` (a bot running there holds its lock, and two test runs would collide)."""
import pytest


@pytest.fixture(autouse=True)
def _own_state_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path_factory.mktemp("state")))
