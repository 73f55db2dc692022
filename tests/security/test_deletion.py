"""Data deletion: a dataset or the points matching a filter, in bounded resumable batches, audited."""

import math

import pytest
from django.db import connection
from django.test import Client

from projects.governance.models import AuditAction, AuditEvent, DeletionJob
from tests.factories import DatasetFactory, ProjectFactory
from tests.tracking.helpers import post_points
from tracking.db import partition_list
from tracking.deletion.services import DeletionInvalid, deletion_advance, deletion_request
from tracking.models import Dataset
from tracking.services import buffer_drain

pytestmark = pytest.mark.django_db


def _ingest(client: Client, key: str, users: list[str]) -> None:
    response = post_points(client, key, "web", [{"blobs": [user, "/home"], "doubles": [1]} for user in users])
    assert response.status_code == 202


def _rows(dataset_id: int) -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT blob1 FROM tracking_datapoint WHERE dataset_id = %s ORDER BY blob1", [dataset_id])
        return [row[0] for row in cursor.fetchall()]


def _run(job: DeletionJob) -> int:
    """Advance like the Celery task does, slice by slice; returns how many slices it took."""
    slices = 0
    while True:
        slices += 1
        job.refresh_from_db()
        if deletion_advance(job=job).finished:
            job.refresh_from_db()
            return slices
        assert slices < 100


def test_filter_deletion_removes_exactly_the_matching_points_and_is_audited(client, project, write_key, partitions):
    _ingest(client, write_key, ["user-1", "user-2", "user-1", "user-3"])
    buffer_drain(time_budget=5, block_ms=10)
    dataset = Dataset.objects.get(project=project, name="web")

    job = deletion_request(project=project, dataset=dataset, column="blob1", value="user-1")
    _run(job)

    assert _rows(dataset.id) == ["user-2", "user-3"]
    assert (job.status, job.deleted_rows, job.phase) == ("done", 2, "done")
    events = AuditEvent.objects.filter(project=project, action__startswith="data.").order_by("id")
    assert [(e.action, e.target, e.details) for e in events] == [
        (AuditAction.DATA_DELETE_REQUEST, "web", {"job": job.id, "kind": "filter", "column": "blob1", "value": "user-1"}),
        (AuditAction.DATA_DELETE_DONE, "web", {"job": job.id, "kind": "filter", "column": "blob1", "deleted_rows": 2}),
    ]


def test_points_still_buffered_when_deletion_is_asked_are_deleted_too(client, project, write_key, partitions):
    _ingest(client, write_key, ["user-1"])
    buffer_drain(time_budget=5, block_ms=10)
    dataset = Dataset.objects.get(project=project, name="web")
    _ingest(client, write_key, ["user-1", "user-2"])  # accepted, not yet stored

    job = deletion_request(project=project, dataset=dataset, column="blob1", value="user-1")
    waiting = deletion_advance(job=job)
    job.refresh_from_db()
    phase_while_buffered = job.phase
    buffer_drain(time_budget=5, block_ms=10)
    _run(job)

    assert (waiting.finished, phase_while_buffered) == (False, "wait_buffer")
    assert _rows(dataset.id) == ["user-2"]
    assert job.deleted_rows == 2


def test_deletion_runs_in_bounded_batches_and_resumes_where_it_stopped(client, project, write_key, partitions, settings):
    settings.GOVERNANCE_DELETION_BATCH_ROWS = 3
    settings.GOVERNANCE_DELETION_BATCHES_PER_RUN = 2
    _ingest(client, write_key, ["user-1"] * 10 + ["user-2"])
    buffer_drain(time_budget=5, block_ms=10)
    dataset = Dataset.objects.get(project=project, name="web")

    job = deletion_request(project=project, dataset=dataset, column="blob1", value="user-1")
    slices = _run(job)

    # One batch for each partition without the user's points, 4 (3+3+3+1) for today's; 2 per slice.
    batches = len(partition_list()) - 1 + 4
    assert _rows(dataset.id) == ["user-2"]
    assert (job.deleted_rows, slices) == (10, math.ceil(batches / 2))


def test_dataset_deletion_drops_the_dataset_and_all_its_points(client, project, write_key, partitions):
    _ingest(client, write_key, ["user-1", "user-2"])
    buffer_drain(time_budget=5, block_ms=10)
    dataset = Dataset.objects.get(project=project, name="web")
    kept = DatasetFactory(project=project, name="other")

    job = deletion_request(project=project, dataset=dataset)
    _run(job)
    _ingest(client, write_key, ["user-9"])  # a later write starts a fresh dataset
    buffer_drain(time_budget=5, block_ms=10)

    fresh = Dataset.objects.get(project=project, name="web")
    assert (job.kind, job.deleted_rows, job.status) == ("dataset", 2, "done")
    assert _rows(dataset.id) == []
    assert fresh.id != dataset.id and _rows(fresh.id) == ["user-9"]
    assert Dataset.objects.filter(pk=kept.pk).exists()


def test_deletion_of_another_projects_dataset_is_refused(project):
    foreign = DatasetFactory(project=ProjectFactory(), name="theirs")

    with pytest.raises(DeletionInvalid):
        deletion_request(project=project, dataset=foreign)

    assert DeletionJob.objects.count() == 0


def test_api_accepts_a_filter_deletion_with_a_write_key_and_reports_progress(client, project, write_key, read_key, partitions):
    DatasetFactory(project=project, name="web")
    headers = {"HTTP_AUTHORIZATION": f"Bearer {write_key}"}

    created = client.post("/api/v1/deletions", {"dataset": "web", "column": "blob1", "equals": "user-1"}, content_type="application/json", **headers)
    status = client.get(f"/api/v1/deletions/{created.json()['id']}", **headers)
    with_read_key = client.post("/api/v1/deletions", {"dataset": "web"}, content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {read_key}")
    missing = client.post("/api/v1/deletions", {"dataset": "nope"}, content_type="application/json", **headers)
    half = client.post("/api/v1/deletions", {"dataset": "web", "column": "blob1"}, content_type="application/json", **headers)
    bad_column = client.post("/api/v1/deletions", {"dataset": "web", "column": "double1", "equals": "1"}, content_type="application/json", **headers)

    assert created.status_code == 202
    assert {k: created.json()[k] for k in ("dataset", "kind", "column", "status", "deleted_rows")} == {
        "dataset": "web", "kind": "filter", "column": "blob1", "status": "pending", "deleted_rows": 0,
    }
    assert status.json()["status"] == "pending"
    assert (with_read_key.status_code, missing.status_code, half.status_code, bad_column.status_code) == (403, 404, 400, 400)
    assert missing["Content-Type"] == "application/problem+json"
    assert missing.json() == {
        "type": "https://meauxcloud.dev/problems/dataset_not_found", "title": "Not Found", "status": 404,
        "detail": "No such dataset.", "code": "dataset_not_found",
    }
    unknown_job = client.get(f"/api/v1/deletions/{created.json()['id'] + 1000}", **headers)
    assert (unknown_job.status_code, unknown_job["Content-Type"]) == (404, "application/problem+json")
    assert unknown_job.json() == {
        "type": "https://meauxcloud.dev/problems/not_found", "title": "Not Found", "status": 404,
        "detail": "No such deletion.", "code": "not_found",
    }


def test_admin_requests_a_filter_deletion_attributed_to_the_signed_in_user(client, project):
    from tests.factories import UserFactory

    dataset = DatasetFactory(project=project, name="web")
    client.force_login(UserFactory(username="dpo", is_staff=True, is_superuser=True))

    response = client.post(
        "/admin/governance/deletionjob/add/", {"dataset": dataset.pk, "column": "blob3", "value": "user-42"}
    )

    job = DeletionJob.objects.get()
    assert response.status_code == 302
    assert (job.kind, job.column, job.value, job.requested_by, job.status) == ("filter", "blob3", "user-42", "user dpo", "pending")
    event = AuditEvent.objects.get(project=project, action=AuditAction.DATA_DELETE_REQUEST)
    assert (event.actor, event.details["value"]) == ("user dpo", "user-42")
