"""The send gate: a private call's ``before_send`` runs right before the request's first byte is
written, and when it refuses, not one byte (not even a connection) reaches the exchange."""
from __future__ import annotations

import shutil
import socket
import ssl
import subprocess
import threading
import time
from decimal import Decimal

import pytest

from krakenbot.client import KrakenClient, Timeouts
from krakenbot.client import _transport
from krakenbot.errors import IntentNotDurable
from krakenbot.models import OrderRequest, OrderType, Side


def _order(cl_ord_id: str) -> OrderRequest:
    return OrderRequest("XBTEUR", Side.BUY, OrderType.LIMIT, Decimal("0.001"), Decimal("30000"), cl_ord_id=cl_ord_id)


def test_the_gate_runs_once_before_the_exchange_has_the_order(client, sim):
    seen = []

    def gate():
        seen.append([o for o in sim.orders() if o.get("cl_ord_id") == "g-1"])

    ack = client.trading.add_order(_order("g-1"), before_send=gate)
    assert seen == [[]] and len(ack.txids) == 1
    assert [o["cl_ord_id"] for o in sim.orders()] == ["g-1"]


def test_a_refusing_gate_sends_nothing_and_the_order_is_not_placed(client, sim):
    client.market.server_time()  # a kept-alive connection exists: the refusal must not use it either
    seen = len(sim.access_log)

    def refuse():
        raise IntentNotDurable("not on disk", (), "AddOrder")

    with pytest.raises(IntentNotDurable):
        client.trading.add_order(_order("g-2"), before_send=refuse)
    assert [r.endpoint for r in sim.access_log[seen:]] == [] and sim.orders() == []
    assert client.trading.add_order(_order("g-3")).txids  # the client goes on working


class _OneAnswerServer:
    """A raw loopback listener: answers the first request on the first connection with Kraken's
    empty envelope, then only records what arrives."""

    def __init__(self, tls: ssl.SSLContext | None = None) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.tls = tls
        self.url = f"{'https' if tls else 'http'}://127.0.0.1:{self.listener.getsockname()[1]}"
        self.conn: socket.socket | None = None
        self.answered = threading.Event()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        self.conn, _ = self.listener.accept()
        if self.tls is not None:
            self.conn = self.tls.wrap_socket(self.conn, server_side=True)
        data = b""
        while b"\r\n\r\n" not in data:
            data += self.conn.recv(65536)
        head, _, body = data.partition(b"\r\n\r\n")
        length = int(next(line.split(b":")[1] for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")))
        while len(body) < length:
            body += self.conn.recv(65536)
        answer = b'{"error":[],"result":{"txid":["OABCDE-FGHIJ-KLMNOP"],"descr":{"order":"buy"}}}'
        self.conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
                          + str(len(answer)).encode() + b"\r\n\r\n" + answer)
        self.answered.set()

    def bytes_waiting(self) -> bytes:
        """What the client wrote since the answer (loopback delivers within the client's send call)."""
        assert self.conn is not None
        self.conn.setblocking(False)
        try:
            return self.conn.recv(65536)
        except (BlockingIOError, ssl.SSLWantReadError):
            return b""

    def new_connection_waiting(self) -> bool:
        self.listener.setblocking(False)
        try:
            self.listener.accept()[0].close()
            return True
        except BlockingIOError:
            return False

    def close(self) -> None:
        for s in (self.conn, self.listener):
            if s is not None:
                s.close()


@pytest.fixture
def raw_server():
    server = _OneAnswerServer()
    yield server
    server.close()


def test_a_refusing_gate_writes_not_one_byte_on_an_open_connection(raw_server):
    client = KrakenClient(raw_server.url, "key", "c2VjcmV0", timeouts=Timeouts(connect=1.0, read=2.0))
    try:
        client.trading.add_order(_order("r-1"))
        assert raw_server.answered.wait(2)

        def refuse():
            raise IntentNotDurable("not on disk", (), "AddOrder")

        with pytest.raises(IntentNotDurable):
            client.trading.add_order(_order("r-2"), before_send=refuse)
        assert raw_server.bytes_waiting() == b""  # neither headers nor body left
        assert not raw_server.new_connection_waiting()  # nor was another connection opened
    finally:
        client.close()


def test_a_request_that_left_without_its_gate_is_reported_as_an_unknown_outcome(client, sim, monkeypatch):
    """Should an http.client ever write without going through ``send``, the call fails as ambiguous (the
    executor then looks the order up by cl_ord_id) instead of passing as if the gate had run."""
    monkeypatch.setattr(_transport._GatedSend, "send", lambda self, data: super(_transport._GatedSend, self).send(data))
    with pytest.raises(_transport.GateSkipped):
        client.trading.add_order(_order("s-1"), before_send=lambda: None)
    # It did go out: the call failed without reading the answer, so the exchange may still be on it
    # (a bounded poll that yields to the simulator's thread, not a fixed sleep).
    arrived, ends = threading.Event(), time.monotonic() + 10
    while not sim.orders() and time.monotonic() < ends:
        arrived.wait(0.001)
    assert [o["cl_ord_id"] for o in sim.orders()] == ["s-1"]


def test_what_the_gate_raises_reaches_the_caller_as_it_is_even_an_os_error(client, sim):
    """An OSError from the gate must not pass for a dropped connection (an ambiguous outcome)."""
    def refuse():
        raise OSError(5, "Input/output error")

    with pytest.raises(OSError) as raised:
        client.trading.add_order(_order("e-1"), before_send=refuse)
    assert type(raised.value) is OSError and sim.orders() == []


def test_a_request_made_on_the_same_thread_before_the_send_does_not_disarm_the_gate(client, sim, monkeypatch):
    """Another request can run on this thread between arming and the first write (a logging handler
    that posts, say); the outer request's gate must still run."""
    real_putrequest = _transport._GatedHTTPConnection.putrequest
    ran: list[str] = []

    def putrequest(conn, *args, **kwargs):  # after the gate is armed, before the first write
        if not ran:
            ran.append("inner")
            client.market.server_time()  # a whole request of its own, with no gate
        return real_putrequest(conn, *args, **kwargs)

    monkeypatch.setattr(_transport._GatedHTTPConnection, "putrequest", putrequest)
    client.trading.add_order(_order("n-1"), before_send=lambda: ran.append("gate"))
    assert ran == ["inner", "gate"]


@pytest.fixture
def tls_files(tmp_path):
    """A throwaway self-signed certificate for 127.0.0.1 (made here: no key is kept in the repository)."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is needed to make a test certificate")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    made = subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out",
                           str(cert), "-days", "2", "-subj", "/CN=127.0.0.1", "-addext",
                           "subjectAltName=IP:127.0.0.1"], capture_output=True)
    if made.returncode != 0:  # an openssl older than 1.1.1 has no -addext
        pytest.skip(f"openssl could not make a test certificate: {made.stderr.decode(errors='replace')[:200]}")
    return cert, key


def test_over_tls_a_refusing_gate_writes_not_one_byte_of_the_request(tls_files):
    """Kraken is HTTPS: there the connection and its TLS handshake come before the gate (they carry
    nothing of the request); the request itself must still not leave."""
    cert, key = tls_files
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server = _OneAnswerServer(tls=context)
    trust_only_it = ssl.create_default_context(cafile=str(cert))  # the throwaway certificate, and only it
    transport = _transport.Transport(server.url, Timeouts(connect=2.0, read=2.0), "krakenbot-test",
                                     ssl_context=trust_only_it)
    gates: list[str] = []
    try:
        headers = {"API-Key": "key", "Content-Type": "application/x-www-form-urlencoded"}
        transport.request("POST", "/0/private/AddOrder", "AddOrder", "nonce=1", headers,
                          before_send=lambda: gates.append("ran"))
        assert server.answered.wait(2) and gates == ["ran"]

        def refuse():
            raise IntentNotDurable("not on disk", (), "AddOrder")

        with pytest.raises(IntentNotDurable):
            transport.request("POST", "/0/private/AddOrder", "AddOrder", "nonce=2", headers, before_send=refuse)
        assert server.bytes_waiting() == b"" and not server.new_connection_waiting()
    finally:
        transport.close()
        server.close()


def test_certificates_are_verified_by_default(tls_files):
    """A client built as the bot builds it (the system's trust store) refuses a certificate nobody
    vouches for: the handshake fails and not one byte of the request reaches that server."""
    from krakenbot.client import NO_RETRY
    from krakenbot.errors import ConnectionFailed

    cert, key = tls_files
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    listener = socket.create_server(("127.0.0.1", 0))
    received: list[bytes] = []
    handshake: list[str] = []

    def serve() -> None:
        conn, _ = listener.accept()
        try:
            with context.wrap_socket(conn, server_side=True) as tls:
                handshake.append("completed")
                received.append(tls.recv(65536))
        except (ssl.SSLError, OSError) as exc:
            handshake.append(type(exc).__name__)

    server = threading.Thread(target=serve, daemon=True)
    server.start()
    client = KrakenClient(f"https://127.0.0.1:{listener.getsockname()[1]}", "key", "c2VjcmV0",
                          timeouts=Timeouts(connect=2.0, read=2.0), retry=NO_RETRY)
    try:
        with pytest.raises(ConnectionFailed, match="SSLCertVerificationError"):
            client.account.balance()
        server.join(5)
        assert handshake and handshake[0] != "completed" and received == []
    finally:
        client.close()
        listener.close()
