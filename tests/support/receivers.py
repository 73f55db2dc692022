"""Real notification receivers for tests: an HTTP server that verifies webhook signatures and
an SMTP server (aiosmtpd). Both record what they got, in arrival order."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from aiosmtpd.controller import Controller

from tests.clients.toolchain import free_port

MAX_AGE_SECONDS = 300


@dataclass
class Received:
    body: dict[str, Any]
    raw: bytes
    signature_ok: bool
    delivery_header: str


def signature_valid(*, secret: str, header: str, raw: bytes, now: float) -> bool:
    """What a receiver does (docs/alerts.md): recompute the HMAC and refuse stale timestamps."""
    parts = dict(item.split("=", 1) for item in header.split(",") if "=" in item)
    try:
        timestamp = int(parts["t"])
    except (KeyError, ValueError):
        return False
    expected = hmac.new(secret.encode(), f"{timestamp}.".encode() + raw, hashlib.sha256).hexdigest()
    return abs(now - timestamp) <= MAX_AGE_SECONDS and hmac.compare_digest(expected, parts.get("v1", ""))


@dataclass
class WebhookReceiver:
    """Answers 200 to each POST after ``delay`` seconds, or ``fail_first`` times with 500 first."""

    port: int = 0
    secret: str = ""
    delay: float = 0.0
    fail_first: int = 0
    received: list[Received] = field(default_factory=list)
    arrivals: int = 0

    def __post_init__(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                receiver.arrivals += 1
                if receiver.arrivals <= receiver.fail_first:
                    self.send_response(500)
                    self.end_headers()
                    return
                ok = signature_valid(
                    secret=receiver.secret, header=self.headers.get("X-Meaux-Signature", ""), raw=raw, now=time.time()
                )
                receiver.received.append(Received(json.loads(raw), raw, ok, self.headers.get("X-Meaux-Delivery", "")))
                time.sleep(receiver.delay)
                self.send_response(200 if ok else 401)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.port = self.server.server_address[1]
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def ids(self) -> list[str]:
        return [item.body["id"] for item in self.received]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class _Inbox:
    def __init__(self) -> None:
        self.messages: list[Message] = []

    async def handle_DATA(self, server: object, session: object, envelope: Any) -> str:  # noqa: N802 (aiosmtpd's name)
        message = message_from_bytes(envelope.original_content or envelope.content, policy=policy.default)
        message["X-Rcpt-To"] = ", ".join(envelope.rcpt_tos)
        self.messages.append(message)
        return "250 Message accepted for delivery"


class SmtpServer:
    """A real SMTP server on 127.0.0.1 (aiosmtpd); ``messages`` are parsed mails."""

    def __init__(self, port: int | None = None) -> None:
        port = port or free_port()
        self.inbox = _Inbox()
        self.controller = Controller(self.inbox, hostname="127.0.0.1", port=port)
        self.controller.start()
        self.port = port

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    @property
    def messages(self) -> list[Message]:
        return self.inbox.messages

    def close(self) -> None:
        self.controller.stop()
