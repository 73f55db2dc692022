"""The points' index on (dataset, blob1, time): a filter on blob1 reads it inside the sandbox, and its build resumes."""

import datetime as dt

import pytest
from django.db import IntegrityError, connection, transaction

from tests.factories import DatasetFactory, ProjectFactory
from tests.tracking.sql.support import Point, points_insert
from tracking import db as tracking_db
from tracking.sql.catalog import catalog_read
from tracking.sql.schema import DATASET_IDS_SETTING, ROLE
from tracking.sql.translate import sql_parse, sql_translate


def _sandbox_plan(sql: str, *, project_id: int, dataset_id: int) -> str:
    """EXPLAIN of the raw scan as the sandbox runs it: the restricted role, under row-level security."""
    catalog = catalog_read(project_id=project_id)
    translation = sql_translate(statement=sql_parse(sql=sql), datasets=catalog.datasets, now=catalog.clock)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT set_config(%s, %s, true)", [DATASET_IDS_SETTING, str(dataset_id)])
        cursor.execute(f"SET LOCAL ROLE {ROLE}")
        cursor.execute("EXPLAIN " + translation.sql, translation.params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
        transaction.set_rollback(True)
    return plan


@pytest.mark.django_db
def test_a_filter_on_blob1_is_an_index_condition_under_row_level_security() -> None:
    """PostgreSQL applies the RLS policy first and lets a user's filter into an index condition only when it
    cannot leak rows; ``coalesce(blob1, '')`` counted as leaky and the filter was applied to every point
    of the window, the CASE the engine reads blobs through does not."""
    project = ProjectFactory()
    dataset = DatasetFactory(project=project, name="events")
    with connection.cursor() as cursor:
        cursor.execute("SELECT now()")
        now = cursor.fetchone()[0]
    points = [Point(now - dt.timedelta(seconds=s), "i", ["GET" if s % 100 else "error", f"/p{s % 7}"], [1.0])
              for s in range(1, 3000)]
    points += [Point(now - dt.timedelta(seconds=s, milliseconds=500), "i", [], [1.0]) for s in range(1, 500)]
    points_insert(dataset=dataset, points=points)
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {tracking_db.TABLE}")

    plan = _sandbox_plan(
        "SELECT blob2, count() FROM events WHERE timestamp > NOW() - INTERVAL '1' HOUR AND blob1 = 'error' GROUP BY blob2",
        project_id=project.id, dataset_id=dataset.id,
    )

    conditions = [line for line in plan.splitlines() if "Index Cond" in line]
    assert any("CASE WHEN (blob1 IS NULL) THEN ''::text ELSE blob1 END = " in line for line in conditions), plan


@pytest.mark.django_db(transaction=True)
def test_the_index_build_resumes_after_an_interrupted_partition_and_leaves_the_parent_valid() -> None:
    """A CREATE INDEX CONCURRENTLY that fails leaves an invalid index behind; the next build replaces it."""
    now = dt.datetime.now(dt.UTC)
    dataset = DatasetFactory(project=ProjectFactory(), name="events")
    points_insert(dataset=dataset, points=[Point(now, "i", ["a"], [1.0]), Point(now, "i", ["b"], [1.0])])
    partition = tracking_db.partition_name(now.date())
    tracking_db.first_blob_index_drop()
    try:
        with pytest.raises(IntegrityError), connection.cursor() as cursor:
            # Fails on the two points of one dataset, leaving an invalid index of that name.
            cursor.execute(f"CREATE UNIQUE INDEX CONCURRENTLY {partition}_blob1_ts ON {partition} (dataset_id)")
        assert _valid(f"{partition}_blob1_ts") is False

        tracking_db.first_blob_index_build()
    finally:
        tracking_db.first_blob_index_build()  # a failed assertion must not leave the next tests without it

    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT (SELECT count(*) FROM pg_inherits WHERE inhparent = %s::regclass),
                   (SELECT count(*) FROM pg_inherits WHERE inhparent = %s::regclass),
                   pg_get_indexdef(%s::regclass)
            """,
            [tracking_db.FIRST_BLOB_INDEX, tracking_db.TABLE, f"{partition}_blob1_ts"],
        )
        attached, partitions, definition = cursor.fetchone()
    assert (_valid(tracking_db.FIRST_BLOB_INDEX), _valid(f"{partition}_blob1_ts"), attached) == (True, True, partitions)
    assert " ".join(definition.split()).endswith("""(dataset_id, ( CASE WHEN (blob1 IS NULL) THEN ''::text ELSE blob1 END), "timestamp")""")


def _valid(index: str) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT indisvalid FROM pg_index WHERE indexrelid = %s::regclass", [index])
        return cursor.fetchone()[0]
