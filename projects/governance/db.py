"""Raw SQL of data deletion: bounded deletes on one partition at a time."""

from django.db import connection
from psycopg import sql

from projects.governance.models import FILTER_COLUMNS


def datapoint_delete_batch(*, partition: str, dataset_id: int, limit: int, column: str = "", value: str = "") -> int:
    """Delete up to ``limit`` of a dataset's rows in one partition, optionally only where ``column = value``.

    Bounded by ``ctid`` so one statement holds its row locks briefly and never blocks the
    COPYs of ingest, which only insert.
    """
    condition = sql.SQL("")
    params: list[object] = [dataset_id]
    if column:
        if column not in FILTER_COLUMNS:
            raise ValueError(f"cannot filter on {column!r}")
        condition = sql.SQL(" AND {} = %s").format(sql.Identifier(column))
        params.append(value)
    params.append(limit)
    statement = sql.SQL(
        """
        DELETE FROM {table} WHERE ctid IN (
            SELECT ctid FROM {table} WHERE dataset_id = %s{condition} LIMIT %s
        )
        """
    ).format(table=sql.Identifier(partition), condition=condition)
    with connection.cursor() as cursor:
        cursor.execute(statement, params)
        return cursor.rowcount


def deletion_lock_try(*, job_id: int) -> bool:
    """A session-level advisory lock: one worker per job, and freed by PostgreSQL if that worker dies."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(hashtext('governance.deletion'), %s)", [job_id])
        return cursor.fetchone()[0]


def deletion_lock_release(*, job_id: int) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_unlock(hashtext('governance.deletion'), %s)", [job_id])
