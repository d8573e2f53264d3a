"""TLS or nothing: the API key and signatures never cross the network in clear.

Plain http is accepted only to this machine (the simulator). Anything else is refused while the
client is built, before any socket exists: ``no_connections`` turns every connect into a recorded
refusal, so even a broken check could not reach another machine from this test."""
from __future__ import annotations

import socket

import pytest

from krakenbot.client import NO_RETRY, KrakenClient
from krakenbot.client._transport import cleartext_refusal, is_loopback_host
from krakenbot.config import ConfigError, Settings

KEY, SECRET = "KEYabcdefgh", "c2VjcmV0LXNlY3JldC1ieXRlcw=="
FAR = "http://203.0.113.7:8080"  # TEST-NET-3: documentation only, never routed


@pytest.fixture
def no_connections(monkeypatch):
    """Every connection attempt is recorded and refused here: nothing leaves this process."""
    attempts: list[object] = []

    def refuse(self, address, *args, **kwargs):
        attempts.append(address)
        raise ConnectionRefusedError("test: no connections")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    return attempts


@pytest.mark.parametrize("host, loopback", [
    ("127.0.0.1", True), ("127.5.5.5", True), ("::1", True), ("[::1]", True), ("localhost", True),
    ("LOCALHOST.", True), ("10.0.0.1", False), ("203.0.113.7", False), ("127.0.0.1.example.com", False),
    ("localhost.example.com", False), ("api.kraken.com", False), ("", False), (None, False),
    ("api.localhost", False), ("evil.localhost.", False),  # only localhost itself: a resolver decides the rest
])
def test_loopback_is_decided_from_the_address_alone(host, loopback):
    assert is_loopback_host(host) is loopback


@pytest.mark.parametrize("url", ["https://api.kraken.com", "https://10.0.0.1:443", "http://127.0.0.1:9",
                                 "http://localhost:8080", "http://[::1]:8080/prefix"])
def test_tls_anywhere_and_plain_http_to_this_machine_are_accepted(url):
    assert cleartext_refusal(url) is None
    assert Settings.from_env({"KRAKEN_API_KEY": KEY, "KRAKEN_API_SECRET": SECRET, "API_DOMAIN": url})


@pytest.mark.parametrize("url", [FAR, "http://10.0.0.1", "http://api.kraken.com", "http://127.0.0.1.example.com"])
def test_plain_http_off_this_machine_is_a_one_line_error_naming_api_domain(url):
    with pytest.raises(ConfigError) as info:
        Settings.from_env({"KRAKEN_API_KEY": KEY, "KRAKEN_API_SECRET": SECRET, "API_DOMAIN": url})
    assert info.value.setting == "API_DOMAIN" and "\n" not in str(info.value) and "https" in str(info.value)
    assert KEY not in str(info.value)


def test_a_client_with_credentials_refuses_a_cleartext_host_before_any_connection(no_connections):
    with pytest.raises(ValueError, match="^API_DOMAIN: plain http"):
        with KrakenClient(FAR, KEY, SECRET, retry=NO_RETRY) as client:  # a broken check: the call below
            client.account.balance()  # would try to connect, and be recorded
    assert no_connections == []


def test_the_cli_refuses_before_any_connection(no_connections, monkeypatch, tmp_path, capsys):
    from krakenbot import cli

    for name, value in {"KRAKEN_API_KEY": KEY, "KRAKEN_API_SECRET": SECRET, "API_DOMAIN": FAR,
                        "KRAKENBOT_HOME": str(tmp_path)}.items():
        monkeypatch.setenv(name, value)
    empty = tmp_path / "empty.env"
    empty.write_text("")
    empty.chmod(0o600)
    assert cli.main(["check", "--env-file", str(empty)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "API_DOMAIN" in err[0] and "https" in err[0], err
    assert no_connections == []
