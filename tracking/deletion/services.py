"""Data deletion (a dataset, or the points matching a filter, e.g. one user id for GDPR).

A request creates a ``DeletionJob`` and returns; a Celery task advances it in bounded
batches (each its own short transaction, so ingest is never locked out) and reschedules
itself until done. The job's state is in PostgreSQL, so a killed worker loses nothing:
beat re-queues unfinished jobs and deleting already-deleted rows is a no-op.

Points still in the ingest buffer are not forgotten: a job first waits until every
buffer entry accepted before it has been stored, then deletes.

Every way a dataset row disappears goes through here: the API and the deletion admin call
``deletion_request``; admin delete actions, queryset deletes and the cascade of a project
reach ``dataset_deletion_ensure`` through a ``pre_delete`` receiver (tracking/signals.py).
A job outlives its project: it keeps the project's slug and loses only the reference.
"""

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import cast

from django.db import transaction
from django.utils import timezone

from meauxcloud.redis import redis_client
from projects.governance.audit import actor_current, audit_record
from projects.governance.conf import governance_settings
from projects.governance.models import FILTER_COLUMNS, AuditAction, DeletionJob, DeletionKind, DeletionStatus
from projects.models import Project
from tracking import db as tracking_db
from tracking.conf import tracking_settings
from tracking.ingest import buffer, outage
from tracking.models import Dataset
from tracking.projections import services as projections
from tracking.rollups import services as rollups
from tracking.services import dead_letters_erase

logger = logging.getLogger(__name__)

UNFINISHED = (DeletionStatus.PENDING, DeletionStatus.RUNNING)


class DeletionInvalid(ValueError):
    pass


def _buffer_marker() -> str:
    """The id of the newest buffer entry now (or 0-0): everything up to it must be stored first."""
    newest = cast(list[tuple[bytes, dict[bytes, bytes]]], redis_client().xrevrange(tracking_settings.STREAM_KEY, count=1))
    return newest[0][0].decode() if newest else "0-0"


def _buffer_stored_through(marker: str) -> bool:
    """Acknowledged entries are deleted from the stream, so none left up to ``marker`` means all stored."""
    if marker == "0-0":
        return True
    return not redis_client().xrange(tracking_settings.STREAM_KEY, min="-", max=marker, count=1)


def _job_create(*, project: Project, dataset: Dataset, column: str, value: str) -> DeletionJob:
    job = DeletionJob.objects.create(
        project=project,
        project_slug=project.slug,
        dataset_id_value=dataset.id,
        dataset_name=dataset.name,
        kind=DeletionKind.FILTER if column else DeletionKind.DATASET,
        column=column,
        value=value,
        buffer_marker=_buffer_marker(),
        requested_by=actor_current().label,
    )
    audit_record(
        project=project,
        action=AuditAction.DATA_DELETE_REQUEST,
        target=dataset.name,
        details={"job": job.id, "kind": job.kind, "column": column, "value": value},
    )
    from tracking.deletion.tasks import deletion_advance_task

    transaction.on_commit(lambda: deletion_advance_task.delay(job.id))
    return job


def deletion_request(
    *, project: Project, dataset: Dataset, column: str = "", value: str = ""
) -> DeletionJob:
    """Ask for a whole dataset (no column) or its points where ``column = value`` to be deleted."""
    if dataset.project_id != project.id:
        raise DeletionInvalid("The dataset belongs to another project.")
    if column and column not in FILTER_COLUMNS:
        raise DeletionInvalid(f"Points can be matched on {', '.join(FILTER_COLUMNS[:3])} … blob20; not {column!r}.")
    return _job_create(project=project, dataset=dataset, column=column, value=value)


def dataset_deletion_ensure(*, dataset: Dataset) -> DeletionJob | None:
    """The dataset row is being deleted: make sure a job deletes its points and rollups.

    Its dead letters lose their payload now: nothing could replay them once the row is gone.
    It is marked deleted in the buffer first, so web processes still holding a recent copy of
    it stop appending to it (tracking.services.datapoints_accept).

    Nothing to do when an unfinished whole-dataset job exists already (the job's own
    ``drop_dataset`` phase deletes the row this way). The row goes at once, so the job's
    ``drop_dataset`` phase finds nothing to drop.
    """
    buffer.dataset_gone_mark(dataset_id=dataset.id)
    outage.dataset_forget(dataset=dataset)
    dead_letters_erase(dataset=dataset)
    if DeletionJob.objects.filter(
        dataset_id_value=dataset.id, kind=DeletionKind.DATASET, status__in=UNFINISHED
    ).exists():
        return None
    return _job_create(project=dataset.project, dataset=dataset, column="", value="")


def deletion_jobs_detach(*, project: Project) -> int:
    """The project is being deleted: its jobs keep running, and keep its slug, without the reference."""
    return DeletionJob.objects.filter(project=project).update(project=None)


@dataclass(frozen=True)
class DeletionStep:
    finished: bool
    deleted_rows: int


def _delete_batches(job: DeletionJob, budget: int) -> tuple[int, bool]:
    """Delete in up to ``budget`` batches, partition by partition from where the job stopped.

    Returns (rows deleted, all gone). A partition is marked clean in the job only once a
    batch found fewer rows than the limit, so a crash at any point only repeats work.
    """
    deleted = batches = 0
    limit = governance_settings.DELETION_BATCH_ROWS
    for partition in tracking_db.partition_list():
        if job.partitions_done_through and partition <= job.partitions_done_through:
            continue
        while True:
            if batches >= budget:
                return deleted, False
            with transaction.atomic():
                touched: set[datetime] = set()
                removed = tracking_db.datapoint_delete_batch(
                    partition=partition,
                    dataset_id=job.dataset_id_value,
                    limit=limit,
                    column=job.column,
                    value=job.value,
                    touched=touched,
                )
                projections.projections_points_deleted(dataset_id=job.dataset_id_value, timestamps=touched)
            batches += 1
            deleted += removed
            if removed < limit:
                break
        job.partitions_done_through = partition
    return deleted, True


def deletion_advance(*, job: DeletionJob) -> DeletionStep:
    """Do one bounded slice of a job. Phases: wait_buffer → (drop_dataset → wait_buffer_2) → delete_rows → rollups."""
    if job.status in (DeletionStatus.DONE, DeletionStatus.FAILED):
        return DeletionStep(True, 0)
    job.status = DeletionStatus.RUNNING
    deleted = 0
    if job.phase in ("wait_buffer", "wait_buffer_2"):
        if not _buffer_stored_through(job.buffer_marker):
            job.save(update_fields=["status", "updated_at"])
            return DeletionStep(False, 0)
        job.phase = "drop_dataset" if job.kind == DeletionKind.DATASET and job.phase == "wait_buffer" else "delete_rows"
    if job.phase == "drop_dataset":
        # Gone from queries at once; points accepted meanwhile get a fresh dataset on their next write,
        # and those already buffered for this id are stored, then deleted below.
        Dataset.objects.filter(pk=job.dataset_id_value).delete()
        job.buffer_marker = _buffer_marker()
        job.phase = "wait_buffer_2"
        job.save(update_fields=["status", "phase", "buffer_marker", "updated_at"])
        return DeletionStep(False, 0)
    if job.phase == "delete_rows":
        deleted, done = _delete_batches(job, governance_settings.DELETION_BATCHES_PER_RUN)
        job.deleted_rows += deleted
        if not done:
            job.save(update_fields=["status", "deleted_rows", "partitions_done_through", "updated_at"])
            return DeletionStep(False, deleted)
        job.phase = "rollups"
    if job.phase == "rollups":
        dataset = Dataset.objects.filter(pk=job.dataset_id_value).first()
        with transaction.atomic():
            rollups.rollups_rebuild(
                dataset_id=job.dataset_id_value, labels=dataset.labels if dataset else None, now=timezone.now()
            )
        job.phase = "done"
        job.status = DeletionStatus.DONE
        job.finished_at = timezone.now()
        job.save(update_fields=["status", "phase", "deleted_rows", "partitions_done_through", "finished_at", "updated_at"])
        audit_record(
            project=job.project,
            project_slug=job.project_slug,
            action=AuditAction.DATA_DELETE_DONE,
            target=job.dataset_name,
            details={"job": job.id, "kind": job.kind, "column": job.column, "deleted_rows": job.deleted_rows},
        )
        return DeletionStep(True, deleted)
    raise RuntimeError(f"deletion job {job.id} in unknown phase {job.phase!r}")


def deletion_fail(*, job: DeletionJob, error: BaseException) -> None:
    job.status = DeletionStatus.FAILED
    job.error = f"{type(error).__name__}: {error}"
    job.save(update_fields=["status", "error", "updated_at"])
    logger.error("deletion job %s failed: %s", job.id, job.error)
