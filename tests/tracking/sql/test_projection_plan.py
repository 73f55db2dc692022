"""The shape of the plan PostgreSQL makes of a projection's source (``ProjectionPlan.source_sql``).

The answers are proven equal to the raw scan elsewhere (test_projection_differential.py); this
checks what made the seed's requests by path twice as fast at 10M points, in the plan the
reader role gets under row-level security: the projection's rows are read by the append
itself (no subquery scan per row), through the projection's index, and their filter holds no
per-row time expression (the ragged buckets are computed once).
"""

import datetime as dt
import json
import random
import re

from django.db import connection

from tests.factories import DatasetFactory, ProjectFactory
from tests.tracking.sql.support import Point, partitions_for, plan_nodes, points_insert, project_translation
from tracking import db as tracking_db
from tracking.projections.services import projection_backfill, projection_create
from tracking.sql.schema import DATASET_IDS_SETTING, ROLE

S1 = (
    "SELECT blob2 AS path, SUM(double2) AS request_count, AVG(double1) AS avg_duration_ms FROM web "
    "WHERE timestamp > NOW() - INTERVAL '24' HOUR AND blob1 = 'GET' GROUP BY path ORDER BY request_count DESC LIMIT 10"
)


def _pair_projection_project():
    """A project whose dataset ``web`` has 200 points over the last two days and a ready (method, path) projection."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT date_trunc('second', transaction_timestamp())")
        now = cursor.fetchone()[0]
    project = ProjectFactory()
    dataset = DatasetFactory(project=project, name="web")
    rng = random.Random(3)
    points = [
        Point(now - dt.timedelta(minutes=rng.randint(0, 2880)), "", [rng.choice(["GET", "POST"]), f"/p{rng.randrange(9)}"], [1.5, 1.0])
        for _ in range(200)
    ]
    partitions_for(points)
    points_insert(dataset=dataset, points=points)
    projection = projection_create(dataset=dataset, name="pair", dimensions=["blob1", "blob2"], doubles=["double1", "double2"])
    assert projection_backfill(projection_id=projection.id) is True
    return project, dataset


def test_a_projection_read_is_flattened_into_the_append_and_its_ragged_buckets_computed_once(db, sql_partitions):
    project, dataset = _pair_projection_project()
    translation, _ = project_translation(project, S1)
    assert translation.plan == "projection=pair"

    with connection.cursor() as cursor:
        cursor.execute("SELECT set_config(%s, %s, true), set_config('enable_seqscan', 'off', true)", [DATASET_IDS_SETTING, str(dataset.id)])
        cursor.execute(f"SET LOCAL ROLE {ROLE}")
        cursor.execute("EXPLAIN (FORMAT JSON) " + translation.sql, translation.params)
        plan = cursor.fetchone()[0]
        cursor.execute("RESET ROLE")
    nodes = list(plan_nodes((json.loads(plan) if isinstance(plan, str) else plan)[0]["Plan"]))

    rows = [(node, parent) for node, parent in nodes if node.get("Relation Name") == "tracking_projection_row"]
    assert len(rows) == 1
    node, parent = rows[0]
    assert parent["Node Type"] == "Append"
    # An index scan, or a bitmap heap scan whose recheck repeats its bitmap index scan's condition:
    # which one depends on the rows' statistics at the time.
    condition = node.get("Index Cond") or node["Recheck Cond"]
    assert "projection_id = " in condition
    assert "date_bin" not in condition + node.get("Filter", "")


def _partitions_planned(translation) -> int:
    """Day partitions in the plan: those the executor scans and those it removed at start-up (``NOW()``)."""
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN " + translation.sql, translation.params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    removed = sum(int(found) for found in re.findall(r"Subplans Removed: (\d+)", plan))
    return len(set(re.findall(r"\bon (tracking_datapoint_p\d{8})\b", plan))) + removed


def test_the_raw_edge_of_a_now_window_plans_only_the_partitions_from_its_time_floor(db, sql_partitions):
    """S1's ragged bucket is read raw; with the window's time floor as a constant PostgreSQL plans the day
    partitions from the floor on, not every partition for the executor to remove."""
    project, _ = _pair_projection_project()
    translation, clock = project_translation(project, S1)

    assert translation.plan == "projection=pair"
    floor = tracking_db.partition_name((clock - dt.timedelta(hours=24, days=1)).date())
    partitions = tracking_db.partition_list()
    assert _partitions_planned(translation) == len([name for name in partitions if name >= floor]) < len(partitions)


def test_a_subquery_reading_the_dataset_without_a_floor_leaves_the_shared_raw_edge_unbounded(db, sql_partitions):
    """Every read of the dataset shares the raw edge arm, the subquery's 30-day edge too: no floor (the only
    time constant a translation binds) bounds it."""
    project, _ = _pair_projection_project()
    translation, _ = project_translation(
        project,
        "SELECT blob2, sum(double2) FROM web WHERE timestamp > NOW() - INTERVAL '24' HOUR AND blob1 IN "
        "(SELECT blob1 FROM web WHERE timestamp > NOW() - INTERVAL '30' DAY GROUP BY blob1) GROUP BY blob2",
    )

    assert translation.plan == "projection=pair"
    assert [value for value in translation.params.values() if isinstance(value, dt.datetime)] == []
