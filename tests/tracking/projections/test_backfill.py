"""A backfill never blocks ingest: while a step holds the dataset's lock the API keeps answering 202;
the drain of that dataset waits for the step, then the points land in the projection too, which
answers SQL exactly as the raw scan does once ready."""

from __future__ import annotations

import threading
import time

import psycopg
import pytest
from django.test import Client

from tests.support import processes
from tests.tracking.helpers import post_points
from tests.tracking.projections.conftest import START
from tracking.models import Dataset, ProjectionState
from tracking.projections.services import projection_add, projection_backfill
from tracking.services import buffer_drain

pytestmark = pytest.mark.django_db(transaction=True)

QUERY = "SELECT blob2 AS path, count() AS n, sum(double1) AS total FROM web GROUP BY path ORDER BY path"


def _sql(client: Client, key: str, plan: str):
    return client.post(f"/api/v1/sql?plan={plan}", data={"query": QUERY}, content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {key}")


def test_ingest_answers_while_a_backfill_step_holds_the_dataset_and_the_projection_then_matches_raw(
    client: Client, dataset: Dataset, stored: int, write_key: str, read_key: str
) -> None:
    projection = projection_add(dataset=dataset, name="by_path", dimensions=["blob2"], doubles=["double1"])
    late = [{"blobs": ["GET", "/late", "200"], "doubles": [100.0 + i, 1.0], "timestamp": int(START.timestamp()) * 1000 + 3_600_000 * i} for i in range(5)]
    drained: list[int] = []

    # What projection_backfill_step holds while it recomputes a day: the dataset's exclusive lock.
    with psycopg.connect(processes.test_database_url(), autocommit=False) as step:
        step.execute("SELECT pg_advisory_xact_lock(hashtext('tracking.projections'), (%s::bigint %% 2147483647)::int)", [dataset.id])
        began = time.monotonic()
        accepted = post_points(client, write_key, "web", late)
        answered_in = time.monotonic() - began
        drain = threading.Thread(target=lambda: drained.append(buffer_drain(time_budget=30, block_ms=10).points))
        drain.start()
        drain.join(timeout=2)
        waited = drain.is_alive()
        step.rollback()
    drain.join(timeout=30)
    ready = projection_backfill(projection_id=projection.id)
    projected, raw = _sql(client, read_key, "auto"), _sql(client, read_key, "raw")

    assert (accepted.status_code, accepted.json()["accepted"]) == (202, 5)
    assert answered_in < 2
    assert waited and drained == [5]
    assert ready
    projection.refresh_from_db()
    assert projection.state == ProjectionState.READY
    assert projected["X-Query-Plan"] == "projection=by_path" and raw["X-Query-Plan"] == "raw"
    assert {k: projected.json()[k] for k in ("meta", "data", "rows")} == {k: raw.json()[k] for k in ("meta", "data", "rows")}
    rows = projected.json()["data"]
    assert {row["path"]: row["n"] for row in rows} == {"/late": "5", "/p0": "12", "/p1": "12", "/p2": "12"}
