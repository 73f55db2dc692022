"""Runs tests/tracking/otlp/instrumented_app.py against a live server, as a deployed service would be."""

import os
import subprocess
import sys
import urllib.error
import urllib.request

from django.db import connection

from tests.clients.toolchain import free_port
from tests.support.processes import ROOT
from tracking.models import Dataset

REQUESTS = [("GET", f"/items/{n % 5}") for n in range(30)] + [("GET", "/missing")] * 4 + [("POST", "/checkout/fail")] * 6


def call(port: int, method: str, path: str) -> int:
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", method=method, data=b"" if method == "POST" else None)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def stored(name: str) -> int:
    dataset = Dataset.objects.filter(name=name).first()
    if dataset is None:
        return 0
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM tracking_datapoint WHERE dataset_id = %s", [dataset.id])
        return cursor.fetchone()[0]


def durations(name: str) -> list[float]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT double1 FROM tracking_datapoint WHERE dataset_id = %s AND blob1 IN ('GET', 'POST') ORDER BY double1",
            [Dataset.objects.get(name=name).id],
        )
        return [row[0] for row in cursor.fetchall()]


def run_instrumented_app(
    live_server_url: str, write_key: str, dataset: str, protocol: str, *, resource: dict[str, str] | None = None
) -> list[int]:
    """Start the app with only the OTEL_* settings, make the requests, and let it flush on exit.

    The app sees no OTEL_* variable but the endpoint and the header, and the resource ones
    when ``resource`` is given: the SDK's defaults do the rest (its batch processors flush on exit).
    """
    env = {name: value for name, value in os.environ.items() if not name.startswith("OTEL_")}
    env.update(
        OTEL_EXPORTER_OTLP_ENDPOINT=f"{live_server_url}/otlp/{dataset}",
        OTEL_EXPORTER_OTLP_HEADERS=f"Authorization=Bearer%20{write_key}",  # as docs/otlp.md writes it
    )
    if resource is not None:
        env.update(
            OTEL_SERVICE_NAME=resource["service.name"],
            OTEL_RESOURCE_ATTRIBUTES=",".join(f"{k}={v}" for k, v in resource.items() if k != "service.name"),
        )
    port = free_port()
    app = subprocess.Popen(
        [sys.executable, "-m", "tests.tracking.otlp.instrumented_app", "--port", str(port), "--protocol", protocol],
        cwd=ROOT, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )
    try:
        assert app.stdout.readline().strip() == "ready"
        statuses = [call(port, method, path) for method, path in REQUESTS]
    finally:
        app.stdin.close()
        app.wait(timeout=60)
    assert app.returncode == 0
    return statuses
