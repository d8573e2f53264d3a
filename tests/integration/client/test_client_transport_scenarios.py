"""The transport against a scripted raw server: keep-alive reuse, connections the server closes,
chunked and truncated answers, a refusing gate on a kept-alive connection; and the bounds on one
call (issue #20): one deadline over the whole exchange and its retries, a size limit on answers,
and cancels overtaking a private call stuck waiting for its answer.

No sleeps: a slow server dribbles a byte whenever a bounded ``Event.wait`` ends without the test
having stopped it, and every wait of the test itself is a join or an event wait with a timeout."""
from __future__ import annotations

import base64
import select
import socket
import ssl
import threading
import time
import tracemalloc

import pytest

from krakenbot.client import KrakenClient
from krakenbot.client._transport import Timeouts, Transport
from krakenbot.client.retry import RetryPolicy
from krakenbot.clock import ManualClock
from krakenbot.errors import AnswerTooLarge, ConnectionFailed, RequestTimeout

OK = b'{"error":[],"result":{"n":%d}}'


class Server:
    """Each accepted connection is handled by ``handler(server, connection, index)`` on its own thread."""

    def __init__(self, handler) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.handler, self.accepted, self.received, self.bodies = handler, 0, [], []
        self.dropped: list[OSError] = []  # handlers ended by the client closing its end (expected in some tests)
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            index, self.accepted = self.accepted, self.accepted + 1
            threading.Thread(target=self._one, args=(conn, index), daemon=True).start()

    def _one(self, conn: socket.socket, index: int) -> None:
        try:
            self.handler(self, conn, index)
        except OSError as error:
            self.dropped.append(error)

    def read_request(self, conn: socket.socket) -> bytes | None:
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = conn.recv(65536)
            if not chunk:
                return None
            data += chunk
        head, _, rest = data.partition(b"\r\n\r\n")
        length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n")
                       if line.lower().startswith(b"content-length:")), 0)
        while len(rest) < length:
            rest += conn.recv(65536)
        self.received.append(head)
        self.bodies.append(rest)
        return head

    def close(self) -> None:
        self.sock.close()


def answer(body: bytes, extra: bytes = b"") -> bytes:
    return b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n%s\r\n" % (len(body), extra) + body


@pytest.fixture
def serve():
    servers: list[Server] = []

    def start(handler) -> Server:
        servers.append(Server(handler))
        return servers[-1]

    yield start
    for server in servers:
        server.close()


def test_after_connection_close_the_next_request_opens_a_new_connection(serve):
    def handler(server, conn, index):
        server.read_request(conn)
        conn.sendall(answer(OK % index, b"Connection: close\r\n"))
        conn.close()

    transport = Transport(serve(handler).url, Timeouts(1, 1, 5), "t")
    assert transport.request("GET", "/x", "X") == {"n": 0}
    assert transport.request("GET", "/x", "X") == {"n": 1}
    assert transport.connections_opened == 2


def test_an_idle_connection_the_server_closed_is_not_reused(serve):
    def handler(server, conn, index):
        server.read_request(conn)
        conn.sendall(answer(OK % index))
        conn.close()  # keep-alive announced, then closed while idle

    transport = Transport(serve(handler).url, Timeouts(1, 1, 5), "t")
    assert transport.request("GET", "/x", "X") == {"n": 0}
    idle = transport._idle[0].sock
    assert select.select([idle], [], [], 5)[0]  # the server's FIN has arrived (bounded wait, no sleep)
    assert transport.request("GET", "/x", "X") == {"n": 1}  # a new connection, not an error


@pytest.mark.parametrize("total", [None, 5.0])
def test_a_chunked_answer_is_read_whole_and_the_connection_kept(serve, total):
    def handler(server, conn, index):
        while server.read_request(conn) is not None:
            body = OK % 7
            conn.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                         + b"%x\r\n%s\r\n" % (5, body[:5]) + b"%x\r\n%s\r\n0\r\n\r\n" % (len(body) - 5, body[5:]))

    transport = Transport(serve(handler).url, Timeouts(1, 1, total), "t")
    for _ in range(3):
        assert transport.request("GET", "/x", "X") == {"n": 7}
    assert transport.connections_opened == 1


@pytest.mark.parametrize("total", [None, 5.0])
def test_an_answer_shorter_than_its_content_length_is_a_dropped_connection(serve, total):
    """Even when what arrived parses: the end of the answer is missing."""
    def handler(server, conn, index):
        server.read_request(conn)
        body = OK % 1
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % (len(body) + 10) + body)
        conn.close()

    transport = Transport(serve(handler).url, Timeouts(1, 1, total), "t")
    with pytest.raises(ConnectionFailed):
        transport.request("GET", "/x", "X")
    assert transport._idle == []


# -- the bounds on one call (issue #20) ---------------------------------------------------------

KEY, SECRET = "test-key", base64.b64encode(bytes(range(64))).decode()


class Call:
    """``fn`` on its own thread, timed; ``wait(t)``: did it end within ``t`` s (a bounded join)."""

    def __init__(self, fn) -> None:
        self.result = self.error = self.elapsed = None
        self.started = time.monotonic()
        self.thread = threading.Thread(target=self._run, args=(fn,), daemon=True)
        self.thread.start()

    def _run(self, fn) -> None:
        try:
            self.result = fn()
        except BaseException as error:  # noqa: BLE001 - handed to the test
            self.error = error
        finally:
            self.elapsed = time.monotonic() - self.started

    def wait(self, timeout: float) -> bool:
        self.thread.join(timeout)
        return not self.thread.is_alive()


@pytest.fixture
def stop():
    """Set at the end of each test: every dribbling handler stops."""
    event = threading.Event()
    yield event
    event.set()


def dribble(conn: socket.socket, stop: threading.Event, byte: bytes = b"a") -> None:
    """One byte every 20 ms: far inside any read timeout, so only the whole-call bound ends it."""
    while not stop.wait(0.02):
        conn.sendall(byte)


CHUNKED = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"


@pytest.mark.parametrize("sent_first", [
    b"HTTP/1.1 20",  # the status line itself never ends
    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nX-Slow: ",  # a header line never ends
    CHUNKED + b"100\r\n",  # a chunk that never fills (this one was already bounded between chunks)
], ids=["status-line", "headers", "chunked-body"])
def test_a_dribbling_answer_ends_at_the_total_timeout(serve, stop, sent_first):
    """Finding 3: ``total`` bounds the status line and the headers too, not only the body."""
    def handler(server, conn, index):
        server.read_request(conn)
        conn.sendall(sent_first)
        dribble(conn, stop)

    transport = Transport(serve(handler).url, Timeouts(connect=1, read=1, total=0.5), "t")
    call = Call(lambda: transport.request("GET", "/0/public/Ticker", "Ticker"))
    assert call.wait(10), "the call was still running 10 s after a 0.5 s total timeout"
    assert isinstance(call.error, RequestTimeout), call.error
    assert "total timeout" in str(call.error) and "Ticker" in str(call.error)
    assert call.elapsed < 2.0
    assert transport._idle == []  # a half-read connection never carries another request


def test_an_endless_chunked_answer_is_refused_at_the_size_limit_with_memory_bounded(serve, stop):
    """Finding 4: an answer that never ends stops at ``max_answer_bytes`` (16 MiB by default) with a
    typed error naming the endpoint and the size; what the call held stays near the limit. The
    server stops by itself after 4x the limit so that the code before the fix ends too."""
    limit = Transport.MAX_ANSWER_BYTES if hasattr(Transport, "MAX_ANSWER_BYTES") else 16 * 2**20
    piece = b"%x\r\n%s\r\n" % (65536, b"a" * 65536)
    sent = []

    def handler(server, conn, index):
        server.read_request(conn)
        conn.sendall(CHUNKED)
        for n in range(4 * limit // 65536):
            if stop.is_set():
                return
            conn.sendall(piece)
            sent.append(n)
        conn.sendall(b"0\r\n\r\n")

    transport = Transport(serve(handler).url, Timeouts(connect=1, read=5, total=30), "t")
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        with pytest.raises(AnswerTooLarge) as raised:
            transport.request("GET", "/0/public/Depth", "Depth")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < limit + 8 * 2**20, f"peak {peak / 2**20:.0f} MiB for a {limit / 2**20:.0f} MiB limit"
    message = str(raised.value)
    assert "Depth" in message and "16 MiB" in message
    assert transport._idle == []


def test_an_announced_content_length_over_the_limit_is_refused_before_reading(serve, stop):
    def handler(server, conn, index):
        server.read_request(conn)
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100000000000\r\n\r\n")
        dribble(conn, stop, b"{")

    transport = Transport(serve(handler).url, Timeouts(connect=1, read=1, total=5), "t")
    call = Call(lambda: transport.request("GET", "/0/public/AssetPairs", "AssetPairs"))
    assert call.wait(10)
    assert isinstance(call.error, AnswerTooLarge), call.error
    assert "100000000000" in str(call.error) and "AssetPairs" in str(call.error)
    assert call.elapsed < 0.5  # refused on the header, not after reading until the total timeout


def client_for(server, **kwargs) -> KrakenClient:
    kwargs.setdefault("timeouts", Timeouts(connect=1, read=5, total=10))
    return KrakenClient(server.url, KEY, SECRET, clock=ManualClock(), pacing=False, public_burst=None, **kwargs)


def test_retries_of_a_read_share_one_deadline(serve, stop):
    """Finding 10b: a quick 503, then a body that trickles: the retry gets what is left of the one
    call budget (``Timeouts.total``) and no third attempt starts once it is spent."""
    def handler(server, conn, index):
        while server.read_request(conn) is not None:
            if len(server.received) == 1:
                conn.sendall(b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n")
                continue
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n")
            dribble(conn, stop, b" ")
            return

    server = serve(handler)
    client = client_for(server, timeouts=Timeouts(connect=1, read=1, total=0.6),
                        retry=RetryPolicy(max_attempts=3, base_delay=0.01, jitter=0))
    call = Call(lambda: client.public("Ticker", pair="XBTEUR"))
    assert call.wait(10)
    assert isinstance(call.error, RequestTimeout), call.error
    assert len(server.received) == 2, f"{len(server.received)} attempts: a third started with no time left"
    assert call.elapsed < 1.5, f"one Ticker call took {call.elapsed:.1f} s with a 0.6 s total"


def test_a_cancel_overtakes_a_private_call_stuck_waiting_for_its_answer(serve):
    """Finding 3b: the kill switch's CancelAll is answered while a Balance waits for its answer;
    its nonce is above the stuck call's (taken after the Balance was fully sent)."""
    stuck, release = threading.Event(), threading.Event()

    def handler(server, conn, index):
        while (head := server.read_request(conn)) is not None:
            if b"/Balance " in head:
                stuck.set()
                release.wait(15)  # the answer stalls until the test lets it go
                conn.sendall(answer(b'{"error":[],"result":{"ZEUR":"1"}}'))
            else:
                conn.sendall(answer(b'{"error":[],"result":{"count":2}}'))

    server = serve(handler)
    client = client_for(server, timeouts=Timeouts(connect=1, read=30, total=60))
    try:
        balance = Call(lambda: client.private("Balance"))
        assert stuck.wait(5)
        cancel = Call(client.trading.cancel_all)
        overtook = cancel.wait(2)
    finally:
        release.set()
    assert overtook, "CancelAll waited for the stuck Balance's answer"
    assert cancel.result == 2 and cancel.error is None
    assert balance.wait(5) and balance.result == {"ZEUR": "1"}
    nonces = {head.split(b" ")[1]: int(body.split(b"&")[0].split(b"=")[1])
              for head, body in zip(server.received, server.bodies)}
    assert nonces[b"/0/private/CancelAll"] > nonces[b"/0/private/Balance"]


def test_nothing_private_is_sent_while_a_cancel_waits_for_its_answer(serve):
    """The other half of the ordering rule: a call started after a cancel is sent after the
    cancel's answer, so its higher nonce cannot reach Kraken first and void the cancel."""
    stuck, release = threading.Event(), threading.Event()

    def handler(server, conn, index):
        while (head := server.read_request(conn)) is not None:
            if b"/CancelAll " in head:
                stuck.set()
                release.wait(15)
                conn.sendall(answer(b'{"error":[],"result":{"count":1}}'))
            else:
                conn.sendall(answer(b'{"error":[],"result":{"ZEUR":"1"}}'))

    server = serve(handler)
    client = client_for(server)
    try:
        cancel = Call(client.trading.cancel_all)
        assert stuck.wait(5)
        balance = Call(lambda: client.private("Balance"))
        assert not balance.wait(0.3)
        sent = list(server.received)
    finally:
        release.set()
    assert [h.split(b" ")[1] for h in sent] == [b"/0/private/CancelAll"]
    assert cancel.wait(5) and cancel.result == 1
    assert balance.wait(5) and balance.result == {"ZEUR": "1"}


def test_a_cancel_that_overtook_an_order_is_sent_again_once_the_order_call_ended(serve):
    """Issue #20 review: with a nonce window the overtaken AddOrder can land after the cancel. A
    CancelOrder by client id that found nothing ("unknown order": the AddOrder not in yet) is sent
    again once the AddOrder's call has ended, and that one cancels the order."""
    stuck, release, first_cancel_answered = threading.Event(), threading.Event(), threading.Event()
    cancels = []

    def handler(server, conn, index):
        while (head := server.read_request(conn)) is not None:
            if b"/AddOrder " in head:
                stuck.set()
                release.wait(15)
                conn.sendall(answer(b'{"error":[],"result":{"txid":["O1"],"descr":{"order":"x"}}}'))
            elif b"/CancelOrder " in head:
                cancels.append(release.is_set())
                if len(cancels) == 1:
                    conn.sendall(answer(b'{"error":["EOrder:Unknown order"]}'))
                    first_cancel_answered.set()
                else:
                    conn.sendall(answer(b'{"error":[],"result":{"count":1}}'))

    server = serve(handler)
    client = client_for(server, timeouts=Timeouts(connect=1, read=30, total=60))
    try:
        order = Call(lambda: client.private("AddOrder", pair="XBTEUR", type="buy", ordertype="limit",
                                            volume="0.01", price="59000", cl_ord_id="c1"))
        assert stuck.wait(5)
        cancel = Call(lambda: client.trading.cancel_order(cl_ord_id="c1"))
        assert first_cancel_answered.wait(5), "the CancelOrder waited for the AddOrder's answer"
        assert not cancel.wait(0.2), "the cancel returned before the AddOrder it overtook had ended"
    finally:
        release.set()
    assert order.wait(5) and order.error is None
    assert cancel.wait(5) and cancel.error is None and cancel.result == 1
    assert cancels == [False, True]  # the second one left after the AddOrder was answered


def _self_signed(tmp_path, host: str):
    """A certificate for ``host`` and its key, written as PEM files (``cryptography`` comes with
    the dev dependencies, through ccxt)."""
    x509 = pytest.importorskip("cryptography.x509")
    import datetime

    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(host)]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_file, key_file = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_file, key_file


def test_tls_still_checks_the_certificate_and_the_host_name(serve, tmp_path):
    """The TLS connect is the transport's own (its handshake bounded by the deadline): it must
    keep the context's checks, a certificate for another name is refused."""
    cert_file, key_file = _self_signed(tmp_path, "localhost")
    server_tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_tls.load_cert_chain(cert_file, key_file)

    def handler(server, conn, index):
        try:
            conn = server_tls.wrap_socket(conn, server_side=True)
        except (ssl.SSLError, OSError):
            return  # the client refused the certificate
        while server.read_request(conn) is not None:
            conn.sendall(answer(OK % index))

    server = serve(handler)
    port = server.url.rsplit(":", 1)[1]
    trusting = ssl.create_default_context(cafile=str(cert_file))
    good = Transport(f"https://localhost:{port}", Timeouts(1, 1, 5), "t", ssl_context=trusting)
    assert good.request("GET", "/x", "X") == {"n": 0}
    assert good.request("GET", "/x", "X") == {"n": 0}  # kept alive
    wrong_name = Transport(f"https://127.0.0.1:{port}", Timeouts(1, 1, 5), "t", ssl_context=trusting)
    with pytest.raises(ConnectionFailed, match="SSLCertVerificationError"):
        wrong_name.request("GET", "/x", "X")
    untrusted = Transport(f"https://localhost:{port}", Timeouts(1, 1, 5), "t")
    with pytest.raises(ConnectionFailed, match="SSLCertVerificationError"):
        untrusted.request("GET", "/x", "X")


@pytest.mark.parametrize("total, expected", [(0.3, "not connected within the total timeout"),
                                             (5, "connect timed out")], ids=["total-first", "connect-first"])
def test_a_silent_tls_handshake_names_the_bound_that_ended_it(serve, stop, total, expected):
    """The server accepts and never answers the TLS hello: the handshake ends at whichever bound
    comes first, and the error names that one (the deadline is not a connect timeout)."""
    def handler(server, conn, index):
        stop.wait(10)  # silent until the test ends

    server = serve(handler)
    transport = Transport(server.url.replace("http://", "https://"), Timeouts(connect=0.6, read=1, total=total), "t")
    call = Call(lambda: transport.request("GET", "/x", "X"))
    assert call.wait(10)
    assert isinstance(call.error, RequestTimeout), call.error
    assert expected in str(call.error)
