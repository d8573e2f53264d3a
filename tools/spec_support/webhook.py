"""A loopback webhook receiver for the specification and the tests: records each JSON POST it gets.

``status`` is its answer; ``hold`` cleared makes every POST wait (a hanging webhook) until it is set
again or 30 s have passed. ``wait_for`` waits, bounded, for the POSTs to arrive: they come from the
bot's sender thread."""
from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Receiver:
    def __init__(self, status: int = 200, path: str = "/hook") -> None:
        self.posts: list[dict] = []
        self.arrived = threading.Condition()
        self.hold = threading.Event()
        self.hold.set()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers["Content-Length"]))
                with receiver.arrived:
                    receiver.posts.append({"path": self.path, **json.loads(body)})
                    receiver.arrived.notify_all()
                receiver.hold.wait(30)
                self.send_response(status)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, name="webhook-receiver", daemon=True).start()
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}{path}"

    def wait_for(self, count: int, timeout: float = 10.0) -> list[dict]:
        """The POSTs once there are at least ``count`` of them; AssertionError after ``timeout`` s."""
        with self.arrived:
            if not self.arrived.wait_for(lambda: len(self.posts) >= count, timeout):
                raise AssertionError(f"{count} notification(s) expected within {timeout:g}s, got {self.posts}")
            return list(self.posts)

    def close(self) -> None:
        self.hold.set()
        self.server.shutdown()
        self.server.server_close()
