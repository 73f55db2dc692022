"""A real OpenTelemetry-instrumented WSGI app, configured only by the OTEL_* environment, feeds the reports.

The app (tests/tracking/otlp/instrumented_app.py) runs in its own process with the SDK's
batch processors and the real OTLP/HTTP exporters, protobuf or JSON; a real Celery worker
drains the buffer; the report API must then count exactly the requests that were made.
"""

import math
import signal

import pytest
from django.db import connection

from tests.support.processes import process_kill, wait_until, worker_start
from tests.tracking.otlp.app_runner import durations, run_instrumented_app, stored
from tracking.models import Dataset

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

@pytest.mark.parametrize("protocol", ["http/protobuf", "http/json"])
def test_an_instrumented_app_shows_its_requests_errors_and_p95_in_the_reports(
    client, live_server, write_key, read_key, partitions, tmp_path, celery_queue, protocol
):
    worker = worker_start(queue=celery_queue, log_path=tmp_path / "worker.log", beat=False)
    try:
        statuses = run_instrumented_app(
            live_server.url, write_key, "otel", protocol, resource={"service.name": "shop", "deployment.environment": "staging"}
        )
        # 40 request points, and one error point for each 500: from its span and from its ERROR log.
        assert wait_until(lambda: stored("otel") == 40 + 6 + 6, timeout=60)
    finally:
        process_kill(worker, signal.SIGTERM)
    assert sorted(statuses) == [200] * 30 + [404] * 4 + [500] * 6

    auth = {"HTTP_AUTHORIZATION": f"Bearer {read_key}"}
    overview = client.get("/api/v1/reports/overview?dataset=otel&range=1h", **auth).json()
    errors = client.get("/api/v1/reports/errors?dataset=otel&range=1h", **auth).json()

    totals = overview["totals"]
    assert (totals["requests"], totals["errors_5xx"], totals["errors_4xx"]) == (40, 6, 4)
    observed = durations("otel")
    exact_p95 = observed[math.ceil(0.95 * len(observed)) - 1]
    assert exact_p95 <= totals["p95_ms"] <= exact_p95 * 1.05
    assert {row["path"]: row["requests"] for row in overview["tables"]["top_paths"]["rows"]} == {
        "/items/0": 6, "/items/1": 6, "/items/2": 6, "/items/3": 6, "/items/4": 6, "/checkout/fail": 6, "/missing": 4,
    }
    assert errors["totals"]["error_events"] == 12
    assert {row["error_type"]: row["errors"] for row in errors["tables"]["errors_by_type"]["rows"]} == {
        "http_500": 6, "log:ERROR": 6,
    }
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT DISTINCT blob4, blob5 FROM tracking_datapoint WHERE dataset_id = %s",
            [Dataset.objects.get(name="otel").id],
        )
        assert cursor.fetchall() == [("staging", "shop")]
