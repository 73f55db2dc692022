"""Demo and benchmark data: every event kind of the seed's schema, generated inside PostgreSQL.

Generating in SQL writes about a million points in a few seconds, where the ingest path
would take minutes; the rollups are then rebuilt from the raw points, so reports over demo
data are as exact as over ingested data.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, cast

from django.db import connection, transaction
from django.utils import timezone

from projects.models import Project
from tracking import db
from tracking.models import Dataset
from tracking.rollups.services import rollups_rebuild
from tracking.services import dataset_get_or_create

CHUNK = 1_000_000

_INSERT = """
INSERT INTO tracking_datapoint (dataset_id, "timestamp", index1, blob1, blob2, blob3, blob4, double1, double2, double3)
SELECT %(dataset)s, ts, 'ray-' || i,
    CASE WHEN r < 0.80 THEN (ARRAY['GET', 'GET', 'GET', 'GET', 'POST', 'POST', 'PUT', 'DELETE'])[1 + floor(r1 * 8)::int]
         WHEN r < 0.86 THEN (ARRAY['web', 'api', 'batch'])[1 + floor(r1 * 3)::int]
         WHEN r < 0.90 THEN 'ai-usage' WHEN r < 0.94 THEN 'error' WHEN r < 0.97 THEN 'user-event' ELSE 'resource' END,
    CASE WHEN r < 0.80 AND %(paths)s::int IS NOT NULL THEN '/api/items/' || floor(r5 * %(paths)s::int)::int
         WHEN r < 0.80 THEN (ARRAY['/', '/api/users', '/api/orders', '/api/orders/checkout', '/api/search', '/login',
                                   '/static/app.js', '/health', '/api/ai/chat', '/api/reports', '/docs', '/api/upload'])[1 + floor(r2 * 12)::int]
         WHEN r < 0.86 THEN (ARRAY['time', 'ai', 'compute'])[1 + floor(r2 * 3)::int]
         WHEN r < 0.90 THEN (ARRAY['gpt-4o', 'claude-3-5-sonnet', 'llama-3.1-8b'])[1 + floor(r2 * 3)::int]
         WHEN r < 0.94 THEN (ARRAY['TypeError', 'Timeout', 'DatabaseError', 'ValidationError'])[1 + floor(r2 * 4)::int]
         WHEN r < 0.97 THEN (ARRAY['login', 'signup', 'checkout', 'logout'])[1 + floor(r2 * 4)::int]
         ELSE (ARRAY['cpu_ms', 'kv_reads', 'r2_bytes', 'd1_rows'])[1 + floor(r2 * 4)::int] END,
    CASE WHEN r < 0.80 THEN CASE WHEN r3 < 0.86 THEN '200' WHEN r3 < 0.90 THEN '201' WHEN r3 < 0.93 THEN '304'
                                 WHEN r3 < 0.975 THEN '404' WHEN r3 < 0.993 THEN '500' ELSE '503' END
         WHEN r < 0.86 THEN 'cost' WHEN r < 0.90 THEN 'tokens'
         WHEN r < 0.94 THEN (ARRAY['/api/orders', '/api/search', '/api/ai/chat', '/login'])[1 + floor(r3 * 4)::int]
         WHEN r < 0.97 THEN 'user-' || floor(r3 * 500)::int
         ELSE (ARRAY['web', 'api', 'batch'])[1 + floor(r3 * 3)::int] END,
    CASE WHEN r < 0.80 THEN 'production' END,
    CASE WHEN r < 0.80 THEN round((8 + 5 * floor(r2 * 12) + 600 * r4 ^ 4)::numeric, 2)::float8
         WHEN r < 0.86 THEN round((r4 * 0.05)::numeric, 6)::float8
         WHEN r < 0.90 THEN floor(50 + r4 * 3000)
         WHEN r < 0.97 THEN 1
         ELSE round((r4 * 100)::numeric, 3)::float8 END,
    CASE WHEN r < 0.80 THEN 1
         WHEN r < 0.86 THEN 1
         WHEN r < 0.90 THEN round((floor(50 + r4 * 3000) * (ARRAY[0.00001, 0.000015, 0.0000002])[1 + floor(r2 * 3)::int])::numeric, 8)::float8
         WHEN r < 0.94 THEN NULL
         WHEN r < 0.97 THEN NULL
         ELSE 1 END,
    CASE WHEN r < 0.80 THEN floor(200 + r3 * 40000) WHEN r < 0.90 AND r >= 0.86 THEN 1 END
FROM (
    SELECT i, %(end)s - random() * %(span)s AS ts, random() AS r, random() AS r1, random() AS r2, random() AS r3, random() AS r4, random() AS r5
    FROM generate_series(%(first)s, %(last)s) AS i
) AS g
"""


def datapoints_generate(
    *, dataset: Dataset, points: int, end: datetime, days: float, seed: float = 0.42, paths: int | None = None
) -> int:
    """Insert ``points`` demo points spread evenly over ``days`` days before ``end``.

    Requests go to twelve fixed paths, or with ``paths`` to that many distinct paths drawn
    uniformly (``/api/items/0`` ...), the worst case for per-path tables.
    """
    start_day = (end - timedelta(days=days)).date()
    day = start_day
    while day <= end.date():
        with transaction.atomic():
            db.partition_create(day)
        day += timedelta(days=1)
    written = 0
    with connection.cursor() as cursor:
        cursor.execute("SELECT setseed(%s)", [seed])
        while written < points:
            last = min(points, written + CHUNK)
            cursor.execute(
                _INSERT,
                cast(dict[str, Any], {"dataset": dataset.id, "end": end, "span": timedelta(days=days), "first": written + 1, "last": last, "paths": paths}),
            )
            written = last
        cursor.execute("UPDATE tracking_dataset SET last_write_at = %s WHERE id = %s", [end, dataset.id])
    return written


def reports_demo_generate(
    *, project: Project, dataset_name: str = "meauxcloud_analytics", days: float = 30, points: int = 200_000
) -> Dataset:
    """Fill a dataset with ``points`` points over the last ``days`` days and build its rollups."""
    dataset = dataset_get_or_create(project=project, name=dataset_name)
    now = timezone.now()
    datapoints_generate(dataset=dataset, points=points, end=now, days=days)
    with transaction.atomic():
        rollups_rebuild(dataset_id=dataset.id, labels=dataset.labels, now=now)
    dataset.refresh_from_db()
    return dataset
