"""Notifications: a JSON POST to the operator's webhook (``NOTIFY_WEBHOOK_URL``) when something happens
that an unattended bot's operator wants to hear of at once.

Events: the kill switch engaged or resumed, the breaker opened or closed, a daily limit reached
(once per UTC day and limit), discrepancies found by reconciliation, an order filled. The payload is
generic (``text`` for Slack-style bridges, ``content`` for Discord's, ``event`` and ``details`` for
anything else) and holds no key: it is built from audit rows and order records, which never carry
one, and passes the bot's scrubber as well.

Why a queue and one daemon thread: the events happen on the order path (a refusal, a fill), and a
slow or dead webhook must never delay an order. ``put_nowait`` on a bounded queue is all the order
path pays; a full queue drops the event (counted). Failures are logged with the webhook's host only:
a webhook's path and query often hold its token (Slack, Telegram).
"""
from __future__ import annotations

import http.client
import ipaddress
import json
import logging
import queue
import threading
from datetime import datetime, timezone
from typing import Any, Callable
from urllib.parse import urlsplit

log = logging.getLogger(__name__)

QUEUE_SIZE = 100
TIMEOUT_SECONDS = 10.0
_LIMIT_CODES = ("DAILY_TRADE_LIMIT", "DAILY_LOSS_LIMIT")
_STOP = object()


def shown_webhook(url: str | None) -> str:
    """The webhook as logs and ``krakenbot config`` show it: the scheme and the host's last two labels
    (some services put the token in the subdomain), an address whole, the port; never the path, the
    query or a user:password."""
    if not url:
        return "<unset>"
    parts = urlsplit(url)
    host = parts.hostname or ""
    try:
        ipaddress.ip_address(host)
        shown = f"[{host}]" if ":" in host else host
    except ValueError:
        labels = host.split(".")
        shown = host if len(labels) <= 2 else "***." + ".".join(labels[-2:])
    try:
        port = f":{parts.port}" if parts.port is not None else ""
    except ValueError:  # an invalid port is said by the caller
        port = ""
    return f"{parts.scheme}://{shown}{port}/***"


class Notifier:
    """Posts events to one webhook from a daemon thread; ``notify`` never blocks."""

    def __init__(self, url: str, *, scrub: Callable[[str], str] | None = None, bot: str = "krakenbot",
                 on_outcome: Callable[[str, str], Any] | None = None, timeout: float = TIMEOUT_SECONDS,
                 size: int = QUEUE_SIZE) -> None:
        parts = urlsplit(url)
        self._https = parts.scheme == "https"
        self._host, self._port = parts.hostname, parts.port
        self._path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        self.shown = shown_webhook(url)
        self._scrub = scrub or (lambda text: text)
        self._bot = bot
        self._on_outcome = on_outcome or (lambda event, outcome: None)
        self.timeout = timeout
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=size)
        self._limits_said: set[tuple[str, str]] = set()
        self._thread = threading.Thread(target=self._run, name="krakenbot-notify", daemon=True)
        self._thread.start()

    # -- the order path's side: never blocks ----------------------------------------------------------
    def notify(self, event: str, text: str, **details: Any) -> None:
        payload = {"event": event, "text": f"{self._bot}: {text}", "time": _now(), "details": details}
        try:
            self._queue.put_nowait(payload)
        except queue.Full:
            self._on_outcome(event, "dropped")

    def audit_row(self, row: dict) -> None:
        """The audit trail's listener: kill, resume, breaker, daily limits, discrepancies."""
        action, outcome = row.get("action"), row.get("outcome")
        reason = row.get("reason") or ""
        if action == "kill" and outcome == "halted":
            self.notify("kill_switch_engaged", f"kill switch engaged: {reason}", actor=row.get("actor"))
        elif action == "resume" and row.get("allowed"):
            self.notify("resumed", f"trading resumed: {reason}", actor=row.get("actor"))
        elif action == "breaker" and outcome in ("open", "closed"):
            what = "opened" if outcome == "open" else "closed"
            self.notify(f"breaker_{what}", f"circuit breaker {what}: {reason}", previous=row.get("previous"))
        elif action == "reconcile" and outcome == "discrepancies":
            self.notify("discrepancy", f"reconciliation found {row.get('discrepancies')} discrepancies: {reason}",
                        kinds=reason)
        elif action == "order" and row.get("allowed") is False:
            day = datetime.fromtimestamp(float(row.get("time") or 0), timezone.utc).date().isoformat()
            for code in row.get("codes") or ():
                if code in _LIMIT_CODES and (day, code) not in self._limits_said:
                    self._limits_said.add((day, code))
                    self.notify("daily_limit", f"daily limit reached ({code}): {reason}", code=code, day=day)

    def order_event(self, order: Any, was: str) -> None:
        """The executor's listener: an order filled."""
        if order.status != "FILLED":
            return
        price = format(order.cost / order.volume_executed, "f") if order.volume_executed else None
        self.notify("order_filled", f"order {order.cl_ord_id} filled: {order.side} {format(order.volume_executed, 'f')} "
                    f"{order.pair} for {format(order.cost, 'f')}", cl_ord_id=order.cl_ord_id, txid=order.txid,
                    pair=order.pair, side=order.side, volume=format(order.volume_executed, "f"),
                    cost=format(order.cost, "f"), average_price=price)

    # -- the sender thread -------------------------------------------------------------------------------
    def _run(self) -> None:
        while True:
            payload = self._queue.get()
            if payload is _STOP:
                return
            event = payload["event"]
            try:  # anything one event raises fails that event only: the thread must outlive it
                status = self._post(payload)
                failure = None if 200 <= status < 300 else f"HTTP {status}"
            except Exception as exc:
                failure = type(exc).__name__  # its message may quote the URL
            if failure is not None:
                log.warning("notification %s not delivered to %s: %s", event, self.shown, failure)
            try:
                self._on_outcome(event, "sent" if failure is None else "failed")
            except Exception as exc:
                log.warning("notification %s not counted: %s", event, type(exc).__name__)

    def _post(self, payload: dict) -> int:
        payload = {**payload, "content": payload["text"]}
        body = self._scrub(json.dumps(payload, default=str)).encode("utf-8")
        kind = http.client.HTTPSConnection if self._https else http.client.HTTPConnection
        conn = kind(self._host, self._port, timeout=self.timeout)
        try:
            conn.request("POST", self._path, body, {"Content-Type": "application/json",
                                                    "User-Agent": "krakenbot-notify"})
            response = conn.getresponse()
            response.read(65536)
            return response.status
        finally:
            conn.close()

    def attach(self, bot: Any) -> "Notifier":
        bot.safety.audit.listeners.append(self.audit_row)
        bot.safety.executor.order_listeners.append(self.order_event)
        return self

    def close(self, wait: float = 2.0) -> None:
        """Let the queued events go for at most ``wait`` seconds, then leave (the thread is a daemon)."""
        try:
            self._queue.put(_STOP, timeout=wait)
        except queue.Full:
            return
        self._thread.join(wait)


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")
