"""Request middleware for Flask (WSGI), Starlette (ASGI) and Django, served for real."""

import asyncio
import os
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest
import uvicorn
from django.test import AsyncClient, Client
from flask import Flask
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse, StreamingResponse
from starlette.routing import Route
from werkzeug.serving import make_server

from meauxcloud_client import ASGIMiddleware, Dataset, WSGIMiddleware, shared_dataset
from tests.clients.conftest import ScriptedServer
from tests.clients.support import drain_until_stored
from tests.clients.toolchain import ROOT, free_port
from tests.factories import ProjectFactory, key_for

REQUEST_ID = "0123456789abcdef"


def _get(url: str, **headers: str) -> tuple[int, bytes]:
    request = urllib.request.Request(url, headers={"User-Agent": "pytest-agent", **headers})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def _shape(point: dict) -> tuple:
    """A point with its duration replaced by whether it is a plausible positive number of ms."""
    duration, count, size = point["doubles"]
    return tuple(point["blobs"]), (0 < duration < 5_000, count, size), tuple(point["indexes"])


@pytest.fixture
def flask_served(scripted_server: ScriptedServer) -> Iterator[tuple[str, Dataset]]:
    app = Flask("tracked")

    @app.get("/hello")
    def hello() -> str:
        return "hi there"

    @app.get("/stream")
    def stream():
        return app.response_class((chunk for chunk in [b"ab", b"cde"]), mimetype="text/plain")

    @app.get("/boom")
    def boom() -> str:
        raise RuntimeError("boom")

    dataset = Dataset(scripted_server.url, "key", "flask_requests")
    app.wsgi_app = WSGIMiddleware(app.wsgi_app, dataset, environment="test")
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}", dataset
    server.shutdown()
    dataset.close()


def test_flask_requests_are_tracked_with_the_seeds_layout(flask_served, scripted_server: ScriptedServer):
    base, dataset = flask_served
    answers = [
        _get(f"{base}/hello", **{"X-Request-ID": REQUEST_ID}),
        _get(f"{base}/stream", **{"CF-Ray": "8abc-LHR"}),
        _get(f"{base}/missing", **{"X-Request-ID": "r-404"}),
        _get(f"{base}/boom", **{"X-Request-ID": "r-500"}),
    ]
    assert dataset.flush(timeout=5) is True

    assert [status for status, _ in answers] == [200, 200, 404, 500]
    # A threaded server records a streamed response when it closes it, which can be after the
    # client has read it and sent the next request: compare the points in request order.
    paths = ["/hello", "/stream", "/missing", "/boom"]
    shapes = sorted((_shape(point) for point in scripted_server.points()), key=lambda shape: paths.index(shape[0][1]))
    assert shapes == [
        (("GET", "/hello", "200", "test", "pytest-agent"), (True, 1, 8), (REQUEST_ID,)),
        (("GET", "/stream", "200", "test", "pytest-agent"), (True, 1, 5), ("8abc-LHR",)),
        (("GET", "/missing", "404", "test", "pytest-agent"), (True, 1, len(answers[2][1])), ("r-404",)),
        (("GET", "/boom", "500", "test", "pytest-agent"), (True, 1, len(answers[3][1])), ("r-500",)),
    ]


@pytest.fixture
def starlette_served(scripted_server: ScriptedServer) -> Iterator[tuple[str, Dataset]]:
    async def hello(request):
        return PlainTextResponse("hello starlette")

    async def stream(request):
        async def chunks():
            yield b"12"
            yield b"345"

        return StreamingResponse(chunks(), media_type="text/plain")

    async def boom(request):
        raise RuntimeError("boom")

    dataset = Dataset(scripted_server.url, "key", "starlette_requests")
    app = Starlette(routes=[Route("/hello", hello), Route("/stream", stream), Route("/boom", boom)])
    app.add_middleware(ASGIMiddleware, dataset=dataset, environment="test")
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="critical", lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}", dataset
    server.should_exit = True
    thread.join(10)
    dataset.close()


def test_starlette_requests_are_tracked_with_the_seeds_layout(starlette_served, scripted_server: ScriptedServer):
    base, dataset = starlette_served
    answers = [
        _get(f"{base}/hello", **{"X-Request-ID": REQUEST_ID}),
        _get(f"{base}/stream", **{"X-Request-ID": "r-stream"}),
        _get(f"{base}/boom", **{"X-Request-ID": "r-500"}),
    ]
    assert dataset.flush(timeout=5) is True

    assert [status for status, _ in answers] == [200, 200, 500]
    assert [_shape(point) for point in scripted_server.points()] == [
        (("GET", "/hello", "200", "test", "pytest-agent"), (True, 1, 15), (REQUEST_ID,)),
        (("GET", "/stream", "200", "test", "pytest-agent"), (True, 1, 5), ("r-stream",)),
        (("GET", "/boom", "500", "test", "pytest-agent"), (True, 1, 0), ("r-500",)),
    ]
    assert answers[2][1] == b"Internal Server Error"


class _BrokenWriter:
    def write_data_point(self, blobs=None, doubles=None, indexes=None) -> None:
        raise RuntimeError("analytics is down")


def test_a_failing_dataset_never_fails_the_request(caplog):
    def app(environ, start_response):
        start_response("200 OK", [("Content-Length", "2")])
        return [b"ok"]

    tracked = WSGIMiddleware(app, _BrokenWriter())
    statuses: list[str] = []
    body = b"".join(tracked({"REQUEST_METHOD": "GET", "PATH_INFO": "/"}, lambda status, headers: statuses.append(status)))

    assert (statuses, body) == (["200 OK"], b"ok")
    assert [record.getMessage() for record in caplog.records] == ["meauxcloud: request tracking failed"]


def test_django_middleware_tracks_sync_and_async_requests(scripted_server: ScriptedServer, settings, db):
    settings.MEAUXCLOUD_ANALYTICS = {"URL": scripted_server.url, "KEY": "key", "DATASET": "django_requests", "ENVIRONMENT": "test"}
    settings.MIDDLEWARE = ["meauxcloud_client.django.AnalyticsMiddleware", *settings.MIDDLEWARE]

    sync_response = Client().get("/healthz", HTTP_X_REQUEST_ID=REQUEST_ID, HTTP_USER_AGENT="django-client")
    async_response = asyncio.run(AsyncClient().get("/healthz", headers={"X-Request-ID": "r-async", "User-Agent": "async-client"}))
    dataset = shared_dataset(scripted_server.url, "key", "django_requests")
    assert dataset.flush(timeout=5) is True

    assert [_shape(point) for point in scripted_server.points()] == [
        (("GET", "/healthz", str(sync_response.status_code), "test", "django-client"), (True, 1, len(sync_response.content)), (REQUEST_ID,)),
        (("GET", "/healthz", str(async_response.status_code), "test", "async-client"), (True, 1, len(async_response.content)), ("r-async",)),
    ]


@pytest.mark.django_db(transaction=True)
def test_dogfooding_tracks_the_platforms_own_requests_into_its_own_project(live_server, partitions, settings):
    dogfood = ProjectFactory(slug="meauxcloud-dogfood")
    settings.MEAUXCLOUD_DOGFOOD_URL = live_server.url
    settings.MEAUXCLOUD_DOGFOOD_KEY = key_for(dogfood, "write").secret
    settings.MEAUXCLOUD_DOGFOOD_ENVIRONMENT = "test"
    settings.MIDDLEWARE = ["tracking.middleware.DogfoodMiddleware", *settings.MIDDLEWARE]

    client = Client()
    statuses = [client.get("/healthz", HTTP_X_REQUEST_ID=f"dog-{n}").status_code for n in range(3)]
    assert shared_dataset(live_server.url, settings.MEAUXCLOUD_DOGFOOD_KEY, "meauxcloud_requests").flush(timeout=10)
    rows = drain_until_stored(dogfood, "meauxcloud_requests", 3, columns="index1, blob1, blob2, blob3, blob4, double2")

    assert sorted(rows) == [(f"dog-{n}", "GET", "/healthz", str(statuses[n]), "test", 1.0) for n in range(3)]


@pytest.mark.parametrize(
    ("env", "dogfooding"),
    [
        ({"MEAUXCLOUD_DOGFOOD_URL": "http://127.0.0.1:8000", "MEAUXCLOUD_DOGFOOD_KEY": "mc_x"}, "first"),
        ({"MEAUXCLOUD_DOGFOOD_URL": "", "MEAUXCLOUD_DOGFOOD_KEY": ""}, "absent"),
    ],
)
def test_the_dogfood_setting_alone_puts_the_middleware_first(env, dogfooding):
    code = (
        "from django.conf import settings; name = 'tracking.middleware.DogfoodMiddleware'; "
        "print('first' if settings.MIDDLEWARE[0] == name else 'absent' if name not in settings.MIDDLEWARE else 'elsewhere')"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "meauxcloud.settings", **env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.stdout.strip() == dogfooding
