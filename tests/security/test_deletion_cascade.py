"""Deletes go through the deletion job on every path: admin pages, admin bulk actions, querysets and cascades.

The admin deletes the rows at once; the job then removes every point and rollup row of the
deleted datasets (every rollup tier, the day totals, the projections and their rows),
including points that were still in the ingest buffer, and outlives the project it belonged to.
"""

import signal

import pytest
from django.db import connection
from django.test import Client

from projects.governance.models import AuditAction, AuditEvent, DeletionJob
from projects.models import Project
from tests.factories import ProjectFactory, UserFactory, key_for
from tests.support.processes import process_kill, wait_until, worker_start
from tests.tracking.helpers import post_points
from tracking.deletion.services import deletion_advance, deletion_request
from tracking.deletion.tasks import deletion_resume_task
from tracking.models import Dataset
from tracking.projections.db import TABLE as PROJECTION_ROWS
from tracking.projections.services import projections_prune
from tracking.rollups.db import ALL_TABLES, DAY_TOTALS_TABLE, PROJECT_DAY_TABLE
from tracking.rollups.services import rollups_prune
from tracking.services import buffer_drain

#: Every table with rows per dataset: points, each rollup tier, day totals, projections and their rows.
ROLLUP_TABLES = [*ALL_TABLES.values(), DAY_TOTALS_TABLE]
TABLES = ["tracking_datapoint", *ROLLUP_TABLES, "tracking_projection", PROJECTION_ROWS]


def _counts(dataset_ids: list[int]) -> dict[str, int]:
    """Rows per table that belong to these datasets."""
    with connection.cursor() as cursor:
        counts = {}
        for table in TABLES:
            cursor.execute(f"SELECT count(*) FROM {table} WHERE dataset_id = ANY(%s)", [dataset_ids])
            counts[table] = cursor.fetchone()[0]
        return counts


def _project_day_rows(project_id: int) -> int:
    """The project's own figures (summed from its datasets' day totals)."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM {PROJECT_DAY_TABLE} WHERE project_id = %s", [project_id])
        return int(cursor.fetchone()[0])


def _ingest(client: Client, key: str, dataset: str, count: int) -> None:
    points = [{"blobs": [f"user-{i % 3}", "/home"], "doubles": [i]} for i in range(count)]
    response = post_points(client, key, dataset, points)
    assert response.status_code == 202, response.content


def _run_jobs(jobs: list[DeletionJob]) -> None:
    """Advance each job as its Celery task does, slice by slice, until it is done."""
    for job in jobs:
        for _ in range(100):
            job.refresh_from_db()
            if deletion_advance(job=job).finished:
                break
        job.refresh_from_db()
        assert job.status == "done", (job.phase, job.error)


@pytest.fixture
def admin_client(client: Client) -> Client:
    client.force_login(UserFactory(username="operator", is_staff=True, is_superuser=True))
    return client


@pytest.mark.django_db
def test_deleting_a_project_in_admin_leaves_no_point_or_rollup_row_after_the_job(
    admin_client, project, write_key, partitions
):
    other = ProjectFactory()
    other_key = key_for(other, "write").secret
    _ingest(admin_client, write_key, "web", 30)
    _ingest(admin_client, write_key, "api", 20)
    _ingest(admin_client, other_key, "web", 10)
    buffer_drain(time_budget=5, block_ms=10)
    _ingest(admin_client, write_key, "web", 5)  # accepted before the delete, still in the buffer
    doomed = sorted(Dataset.objects.filter(project=project).values_list("id", flat=True))
    kept = list(Dataset.objects.filter(project=other).values_list("id", flat=True))
    before = _counts(doomed)
    slug, project_id = project.slug, project.id
    project_days_before = _project_day_rows(project_id)

    response = admin_client.post(f"/admin/projects/project/{project.pk}/delete/", {"post": "yes"})
    jobs = list(DeletionJob.objects.filter(project_slug=slug).order_by("dataset_id_value"))
    buffer_drain(time_budget=5, block_ms=10)  # what the worker does meanwhile: the buffered points land
    landed = _counts(doomed)["tracking_datapoint"]
    _run_jobs(jobs)

    assert response.status_code == 302
    assert not Project.objects.filter(slug=slug).exists() and not Dataset.objects.filter(id__in=doomed).exists()
    assert before["tracking_datapoint"] == 50 and all(before[table] > 0 for table in TABLES)
    assert landed == 55
    assert _counts(doomed) == dict.fromkeys(TABLES, 0)
    assert project_days_before > 0 and _project_day_rows(project_id) == 0
    assert _counts(kept)["tracking_datapoint"] == 10 and _project_day_rows(other.id) > 0
    assert [(job.dataset_id_value, job.kind, job.project_id, job.requested_by) for job in jobs] == [
        (dataset_id, "dataset", None, "user operator") for dataset_id in doomed
    ]
    assert sorted(job.deleted_rows for job in jobs) == [20, 35]
    done = AuditEvent.objects.filter(project_slug=slug, action=AuditAction.DATA_DELETE_DONE)
    assert sorted(event.details["deleted_rows"] for event in done) == [20, 35]


@pytest.mark.django_db
def test_deleting_a_dataset_on_its_admin_page_runs_the_deletion_job(admin_client, project, write_key, partitions):
    _ingest(admin_client, write_key, "web", 12)
    _ingest(admin_client, write_key, "api", 4)
    buffer_drain(time_budget=5, block_ms=10)
    web = Dataset.objects.get(project=project, name="web")
    api = Dataset.objects.get(project=project, name="api")

    response = admin_client.post(f"/admin/tracking/dataset/{web.pk}/delete/", {"post": "yes"})
    [job] = DeletionJob.objects.all()
    _run_jobs([job])

    assert response.status_code == 302
    assert (job.project_id, job.project_slug, job.dataset_name, job.deleted_rows) == (project.id, project.slug, "web", 12)
    assert _counts([web.id]) == dict.fromkeys(TABLES, 0)
    assert _counts([api.id])["tracking_datapoint"] == 4


@pytest.mark.django_db
def test_the_admin_bulk_delete_action_runs_one_job_per_dataset(admin_client, project, write_key, partitions):
    for name in ("a", "b", "c"):
        _ingest(admin_client, write_key, name, 6)
    buffer_drain(time_budget=5, block_ms=10)
    chosen = list(Dataset.objects.filter(project=project, name__in=["a", "b"]).order_by("id").values_list("id", flat=True))

    response = admin_client.post(
        "/admin/tracking/dataset/", {"action": "delete_selected", "_selected_action": chosen, "post": "yes"}
    )
    jobs = list(DeletionJob.objects.order_by("dataset_id_value"))
    _run_jobs(jobs)

    assert response.status_code == 302
    assert [job.dataset_id_value for job in jobs] == chosen
    assert _counts(chosen) == dict.fromkeys(TABLES, 0)
    assert list(Dataset.objects.filter(project=project).values_list("name", flat=True)) == ["c"]


@pytest.mark.django_db
def test_a_queryset_delete_runs_the_job_and_a_job_in_progress_is_not_doubled(project, write_key, client, partitions):
    _ingest(client, write_key, "web", 8)
    buffer_drain(time_budget=5, block_ms=10)
    dataset = Dataset.objects.get(project=project, name="web")
    requested = deletion_request(project=project, dataset=dataset)

    Dataset.objects.filter(project=project).delete()
    _run_jobs([requested])

    assert list(DeletionJob.objects.values_list("id", flat=True)) == [requested.id]
    assert requested.deleted_rows == 8
    assert _counts([dataset.id]) == dict.fromkeys(TABLES, 0)


@pytest.mark.django_db
def test_the_rollup_prune_removes_rows_of_datasets_that_no_longer_exist(project, write_key, client, partitions):
    from django.utils import timezone

    _ingest(client, write_key, "web", 9)
    buffer_drain(time_budget=5, block_ms=10)
    dataset = Dataset.objects.get(project=project, name="web")
    with connection.cursor() as cursor:  # a deletion that bypassed the ORM, so no job ran
        cursor.execute("DELETE FROM tracking_projection WHERE dataset_id = %s", [dataset.id])
        cursor.execute("DELETE FROM tracking_dataset WHERE id = %s", [dataset.id])
    before = _counts([dataset.id])

    rollups_prune(now=timezone.now())
    projections_prune()

    assert all(before[table] > 0 for table in [*ROLLUP_TABLES, PROJECTION_ROWS])
    after = _counts([dataset.id])
    assert {table: after[table] for table in [*ROLLUP_TABLES, PROJECTION_ROWS]} == dict.fromkeys(
        [*ROLLUP_TABLES, PROJECTION_ROWS], 0
    )
    assert _project_day_rows(project.id) == 0


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_empties_a_project_deleted_in_admin(client, project, write_key, partitions, tmp_path, celery_queue):
    client.force_login(UserFactory(username="operator", is_staff=True, is_superuser=True))
    worker = worker_start(queue=celery_queue, log_path=tmp_path / "worker.log", beat=False)
    try:
        _ingest(client, write_key, "web", 40)
        datasets = list(Dataset.objects.filter(project=project).values_list("id", flat=True))
        assert wait_until(lambda: _counts(datasets)["tracking_datapoint"] == 40, timeout=60)

        response = client.post(f"/admin/projects/project/{project.pk}/delete/", {"post": "yes"})
        deletion_resume_task.apply_async(queue=celery_queue)  # what beat does every minute, without the wait
        finished = wait_until(lambda: set(DeletionJob.objects.values_list("status", flat=True)) == {"done"}, timeout=60)
    finally:
        process_kill(worker, signal.SIGTERM)

    assert response.status_code == 302 and finished
    assert _counts(datasets) == dict.fromkeys(TABLES, 0)
    assert list(DeletionJob.objects.values_list("project_id", "deleted_rows")) == [(None, 40)]
