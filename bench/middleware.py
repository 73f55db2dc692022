"""What request tracking costs: median time per request with and without the middleware.

The three middlewares (WSGI, ASGI, Django) wrap a trivial app, so the difference is the
tracking itself: header lookups, one validated append to the client's queue, and the
sender thread's share of the GIL while it encodes, gzips and posts batches to a local
sink answering 202 (or a real platform with ``--url/--key``). Bare and tracked requests
alternate in blocks within one run, so both see the same machine state.

    .venv/bin/python -m bench.middleware                # about 20 s
    .venv/bin/python -m bench.middleware --requests 20000
"""

import argparse
import asyncio
import gzip
import json
import os
import statistics
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import django
from django.conf import settings

from meauxcloud_client import ASGIMiddleware, Dataset, WSGIMiddleware, data_point_check

BLOCK = 500


class _Sink(BaseHTTPRequestHandler):
    """Answers every batch with 202, after reading and un-gzipping it as the platform would."""

    protocol_version = "HTTP/1.1"
    points = 0

    def do_POST(self) -> None:
        body = gzip.decompress(self.rfile.read(int(self.headers["Content-Length"])))
        count = body.count(b"\n") + 1
        _Sink.points += count
        payload = json.dumps({"accepted": count, "rejected": 0, "errors": []}).encode()
        self.send_response(202)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: object) -> None:
        return None


def _median_us(samples: list[int]) -> float:
    return statistics.median(samples) / 1000


def _alternate(bare: Callable[[], None], tracked: Callable[[], None], requests: int) -> tuple[float, float]:
    bare_ns: list[int] = []
    tracked_ns: list[int] = []
    for _ in range(requests // BLOCK):
        for run, samples in ((bare, bare_ns), (tracked, tracked_ns)):
            for _ in range(BLOCK):
                started = time.perf_counter_ns()
                run()
                samples.append(time.perf_counter_ns() - started)
    return _median_us(bare_ns), _median_us(tracked_ns)


def wsgi_case(dataset: Dataset, requests: int) -> tuple[float, float]:
    def app(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "2")])
        return [b"ok"]

    tracked_app = WSGIMiddleware(app, dataset, environment="bench")
    environ = {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": "/api/projects",
        "HTTP_USER_AGENT": "bench/1.0",
        "HTTP_CF_RAY": "8abc123def-LHR",
    }

    def start_response(status, headers, exc_info=None):
        return None

    def call(target) -> Callable[[], None]:
        def run() -> None:
            body = target(dict(environ), start_response)
            b"".join(body)
            close = getattr(body, "close", None)
            if close is not None:
                close()

        return run

    return _alternate(call(app), call(tracked_app), requests)


def asgi_case(dataset: Dataset, requests: int) -> tuple[float, float]:
    async def app(scope, receive, send):
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]})
        await send({"type": "http.response.body", "body": b"ok"})

    tracked_app = ASGIMiddleware(app, dataset, environment="bench")
    scope = {
        "type": "http",
        "method": "GET",
        "path": "/api/projects",
        "headers": [(b"user-agent", b"bench/1.0"), (b"cf-ray", b"8abc123def-LHR")],
    }

    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message):
        return None

    loop = asyncio.new_event_loop()

    def call(target) -> Callable[[], None]:
        def run() -> None:
            coroutine = target(dict(scope), receive, send)
            try:
                coroutine.send(None)
            except StopIteration:
                return
            loop.run_until_complete(coroutine)

        return run

    try:
        return _alternate(call(app), call(tracked_app), requests)
    finally:
        loop.close()


def django_case(url: str, key: str, requests: int) -> tuple[float, float]:
    from django.http import HttpResponse
    from django.test import RequestFactory

    from meauxcloud_client.django import AnalyticsMiddleware

    settings.MEAUXCLOUD_ANALYTICS = {
        "URL": url, "KEY": key, "DATASET": "bench_django", "ENVIRONMENT": "bench", "OPTIONS": {"max_queue": requests},
    }

    def view(request):
        return HttpResponse("ok")

    tracked = AnalyticsMiddleware(view)
    request = RequestFactory().get("/api/projects", HTTP_USER_AGENT="bench/1.0", HTTP_CF_RAY="8abc123def-LHR")
    return _alternate(lambda: view(request), lambda: tracked(request), requests)


def parts(requests: int) -> dict[str, float]:
    """Median µs of the pieces of one tracked request, each timed alone."""
    blobs = ["GET", "/api/projects", "200", "bench", "bench/1.0"]
    doubles = [1.234, 1, 2]
    indexes = ["8abc123def-LHR"]
    pieces = {
        "validation (data_point_check)": lambda: data_point_check(blobs, doubles, indexes),
        "timestamp (time.time)": lambda: int(time.time() * 1000),
        "request id (os.urandom)": lambda: os.urandom(8).hex(),
    }
    medians = {}
    for name, piece in pieces.items():
        samples = []
        for _ in range(requests):
            started = time.perf_counter_ns()
            piece()
            samples.append(time.perf_counter_ns() - started)
        medians[name] = _median_us(samples)
    return medians


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=50_000, help="per case and variant")
    parser.add_argument("--url", help="a running platform instead of the local sink")
    parser.add_argument("--key", default="bench", help="write key for --url")
    args = parser.parse_args()

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "meauxcloud.settings")
    django.setup()
    sink = None
    url = args.url
    if url is None:
        sink = ThreadingHTTPServer(("127.0.0.1", 0), _Sink)
        threading.Thread(target=sink.serve_forever, daemon=True).start()
        url = f"http://127.0.0.1:{sink.server_address[1]}"

    from meauxcloud_client.registry import shared_dataset

    # The loop writes far faster than any server takes requests; a queue that holds the
    # whole run keeps the drop path (as cheap as an append) out of the comparison.
    wsgi_dataset = Dataset(url, args.key, "bench_wsgi", max_queue=args.requests)
    asgi_dataset = Dataset(url, args.key, "bench_asgi", max_queue=args.requests)
    results = {
        "WSGI": wsgi_case(wsgi_dataset, args.requests),
        "ASGI": asgi_case(asgi_dataset, args.requests),
        "Django": django_case(url, args.key, args.requests),
    }
    datasets = [wsgi_dataset, asgi_dataset, shared_dataset(url, args.key, "bench_django")]
    for dataset in datasets:
        dataset.flush(timeout=60)

    print(f"{args.requests} requests per variant, median per request, bare and tracked alternating in blocks of {BLOCK}")
    print(f"{'stack':8} {'bare µs':>9} {'tracked µs':>11} {'overhead µs':>12} {'accepted':>9} {'dropped':>8}")
    for (name, (bare, tracked)), dataset in zip(results.items(), datasets, strict=True):
        stats = dataset.stats()
        print(f"{name:8} {bare:9.2f} {tracked:11.2f} {tracked - bare:12.2f} {stats.accepted:9d} {stats.dropped:8d}")
    for name, median in parts(args.requests).items():
        print(f"  {name}: {median:.2f} µs")
    if sink is not None:
        print(f"points received by the sink: {_Sink.points}")
        sink.shutdown()


if __name__ == "__main__":
    main()
