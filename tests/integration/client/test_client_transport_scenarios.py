"""The transport against a scripted raw server: keep-alive reuse, connections the server closes,
chunked and truncated answers, and a refusing gate on a kept-alive connection."""
from __future__ import annotations

import select
import socket
import threading

import pytest

from krakenbot.client._transport import Timeouts, Transport
from krakenbot.errors import ConnectionFailed

OK = b'{"error":[],"result":{"n":%d}}'


class Server:
    """Each accepted connection is handled by ``handler(server, connection, index)`` on its own thread."""

    def __init__(self, handler) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.handler, self.accepted, self.received = handler, 0, []
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
