"""Deletion through the API, carried out by a real Celery worker that is killed mid-job and resumes."""

import signal
import urllib.request

import orjson
import pytest
from django.db import connection

from projects.governance.models import DeletionJob
from tests.support.processes import process_kill, wait_until, worker_start
from tracking.deletion.tasks import deletion_resume_task
from tracking.models import Dataset

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def _call(url: str, key: str, body: object) -> dict:
    request = urllib.request.Request(
        url, data=orjson.dumps(body), headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return orjson.loads(response.read())


def _users(dataset_name: str) -> dict[str, int]:
    dataset = Dataset.objects.filter(name=dataset_name).first()
    if dataset is None:
        return {}
    with connection.cursor() as cursor:
        cursor.execute("SELECT blob1, count(*) FROM tracking_datapoint WHERE dataset_id = %s GROUP BY 1", [dataset.id])
        return dict(cursor.fetchall())


def test_gdpr_deletion_survives_a_killed_worker_and_deletes_exactly_one_users_points(
    live_server, write_key, partitions, tmp_path, celery_queue
):
    log = tmp_path / "worker.log"
    small_slices = {"GOVERNANCE_DELETION_BATCH_ROWS": "25", "GOVERNANCE_DELETION_BATCHES_PER_RUN": "2"}
    worker = worker_start(queue=celery_queue, log_path=log, **small_slices)
    try:
        for batch in range(3):
            points = [{"blobs": [f"user-{i % 3}", f"b{batch}"]} for i in range(150)]
            assert _call(f"{live_server.url}/api/v1/datasets/gdpr/datapoints", write_key, points)["accepted"] == 150
        assert wait_until(lambda: _users("gdpr") == {"user-0": 150, "user-1": 150, "user-2": 150}, timeout=60)

        job = _call(f"{live_server.url}/api/v1/deletions", write_key, {"dataset": "gdpr", "column": "blob1", "equals": "user-1"})
        deletion_resume_task.apply_async(queue=celery_queue)  # what beat does every minute, without the wait
        assert wait_until(lambda: DeletionJob.objects.get(pk=job["id"]).deleted_rows > 0, timeout=60)
        process_kill(worker, signal.SIGKILL)
        interrupted = DeletionJob.objects.get(pk=job["id"])
        worker = worker_start(queue=celery_queue, log_path=log, **small_slices)
        deletion_resume_task.apply_async(queue=celery_queue)

        assert wait_until(lambda: DeletionJob.objects.get(pk=job["id"]).status == "done", timeout=90)
    finally:
        process_kill(worker, signal.SIGTERM)
    finished = DeletionJob.objects.get(pk=job["id"])
    assert interrupted.status == "running" and 0 < interrupted.deleted_rows < 150
    assert (finished.deleted_rows, finished.phase) == (150, "done")
    assert _users("gdpr") == {"user-0": 150, "user-2": 150}
