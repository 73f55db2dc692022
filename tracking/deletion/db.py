"""Raw SQL of data deletion beyond the points table's own batched delete (``tracking.db.datapoint_delete_batch``)."""

from django.db import connection

# The key predates the move from projects/governance: a worker of the previous release and
# one of this release must still exclude each other from the same job.
_LOCK_NAMESPACE = "governance.deletion"


def deletion_lock_try(*, job_id: int) -> bool:
    """A session-level advisory lock: one worker per job, and freed by PostgreSQL if that worker dies."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(hashtext(%s), %s)", [_LOCK_NAMESPACE, job_id])
        return bool(cursor.fetchone()[0])


def deletion_lock_release(*, job_id: int) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_unlock(hashtext(%s), %s)", [_LOCK_NAMESPACE, job_id])
