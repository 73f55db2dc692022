"""HTTP → Redis stream → a real Celery worker process → the partitioned table."""

import signal
import time
import urllib.request

import orjson
import pytest
from django.db import connection

from tests.support.processes import process_kill, wait_until, worker_start
from tracking.models import Dataset

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def _post(url: str, key: str, points: list[dict]) -> dict:
    request = urllib.request.Request(
        url,
        data=orjson.dumps(points),
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.status == 202
        return orjson.loads(response.read())


def _stored(dataset_name: str) -> tuple[int, int]:
    dataset = Dataset.objects.filter(name=dataset_name).first()
    if dataset is None:
        return 0, 0
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*), count(DISTINCT blob1) FROM tracking_datapoint WHERE dataset_id = %s", [dataset.id]
        )
        return cursor.fetchone()


def test_points_posted_over_http_are_stored_by_a_real_worker(
    live_server, write_key, partitions, tmp_path, celery_queue
):
    worker = worker_start(queue=celery_queue, log_path=tmp_path / "worker.log")
    url = f"{live_server.url}/api/v1/datasets/e2e/datapoints"
    try:
        accepted = 0
        for batch in range(8):
            points = [{"blobs": [f"p{batch}-{i}"], "doubles": [i]} for i in range(250)]
            points.append({"blobs": ["x"] * 21})
            outcome = _post(url, write_key, points)
            assert (outcome["rejected"], outcome["errors"][0]["index"]) == (1, 250)
            accepted += outcome["accepted"]

        assert wait_until(lambda: _stored("e2e") == (accepted, accepted), timeout=60)
    finally:
        process_kill(worker, signal.SIGTERM)
    assert accepted == 2000


def test_worker_killed_mid_load_loses_and_duplicates_nothing(
    live_server, write_key, partitions, tmp_path, celery_queue
):
    log = tmp_path / "worker.log"
    fast_claim = {"TRACKING_CLAIM_IDLE_MS": "1000", "TRACKING_DRAIN_BATCH_POINTS": "2000"}
    worker = worker_start(queue=celery_queue, log_path=log, **fast_claim)
    url = f"{live_server.url}/api/v1/datasets/faults/datapoints"
    accepted = 0
    batches = 60
    try:
        for batch in range(batches):
            if batch == batches // 2:
                assert wait_until(lambda: _stored("faults")[0] > 0, timeout=30)
                process_kill(worker, signal.SIGKILL)
                worker = worker_start(queue=celery_queue, log_path=log, **fast_claim)
            points = [{"blobs": [f"k{batch}-{i}"], "doubles": [i]} for i in range(500)]
            accepted += _post(url, write_key, points)["accepted"]

        assert wait_until(lambda: _stored("faults")[0] >= accepted, timeout=120)
        time.sleep(2)  # a late duplicate would land within this; none may
        assert _stored("faults") == (accepted, accepted)
    finally:
        process_kill(worker, signal.SIGTERM)
    assert accepted == batches * 500
