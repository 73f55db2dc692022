"""A small real HTTP server whose answers a test scripts, for the failures the app won't give on cue."""

import gzip
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest


@dataclass
class Received:
    at: float
    path: str
    headers: dict[str, str]
    points: list[dict]


@dataclass
class ScriptedServer:
    """Answers each POST with the next scripted (status, headers) and 202 once the script is spent."""

    url: str
    script: list[tuple[int, dict[str, str]]] = field(default_factory=list)
    received: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def points(self) -> list[dict]:
        with self.lock:
            return [point for request in self.received for point in request.points]


def _handler(server: ScriptedServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            if self.headers.get("Content-Encoding") == "gzip":
                body = gzip.decompress(body)
            points = [json.loads(line) for line in body.splitlines() if line.strip()]
            with server.lock:
                server.received.append(Received(time.monotonic(), self.path, dict(self.headers), points))
                status, headers = server.script.pop(0) if server.script else (202, {})
            answer = (
                {"accepted": len(points), "rejected": 0, "errors": []}
                if status == 202
                else {"code": "scripted", "detail": f"scripted {status}"}
            )
            payload = json.dumps(answer).encode()
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: object) -> None:
            return None

    return Handler


@pytest.fixture
def scripted_server() -> Iterator[ScriptedServer]:
    state = ScriptedServer(url="")
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    state.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield state
    httpd.shutdown()
    httpd.server_close()
