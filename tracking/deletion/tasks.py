"""Celery tasks of data deletion: thin, idempotent, taking only ids.

Found by the worker through ``app.autodiscover_tasks([..., "tracking.deletion"])`` (meauxcloud/celery.py).
"""

from celery import shared_task
from django.db import DatabaseError, close_old_connections, connection

from meauxcloud.database import database_unavailable
from projects.governance.models import DeletionJob, DeletionStatus
from tracking.deletion import db
from tracking.deletion.services import deletion_advance, deletion_fail


@shared_task(name="tracking.deletion_advance", ignore_result=True)
def deletion_advance_task(job_id: int) -> None:
    """One bounded slice of a deletion; reschedules itself until the job is done."""
    close_old_connections()
    if not db.deletion_lock_try(job_id=job_id):
        return  # another worker is on it
    try:
        job = DeletionJob.objects.filter(pk=job_id).first()
        if job is None:
            return
        try:
            step = deletion_advance(job=job)
        except Exception as error:  # a database outage leaves the job to deletion_resume_task
            if not database_unavailable(error):
                deletion_fail(job=job, error=error)
            raise
    finally:
        try:
            db.deletion_lock_release(job_id=job_id)
        except DatabaseError:
            connection.close()  # closing the session frees its advisory locks
    if not step.finished:
        deletion_advance_task.apply_async((job_id,), countdown=1)


@shared_task(name="tracking.deletion_resume", ignore_result=True)
def deletion_resume_task() -> int:
    """Re-queue unfinished jobs, e.g. after a worker died between two slices."""
    close_old_connections()
    job_ids = list(
        DeletionJob.objects.filter(status__in=[DeletionStatus.PENDING, DeletionStatus.RUNNING]).values_list("id", flat=True)
    )
    for job_id in job_ids:
        deletion_advance_task.delay(job_id)
    return len(job_ids)
