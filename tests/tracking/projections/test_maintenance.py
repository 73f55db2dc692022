"""Projections stay equal to their raw points: through the drain, backfills, deletions and retention."""

import importlib
import threading
from collections import Counter
from datetime import UTC, datetime, timedelta
from itertools import chain, repeat

import pytest
from django.apps import apps as django_apps
from django.db import connection, transaction

from tests.factories import DatasetFactory
from tests.tracking.helpers import post_points
from tests.tracking.projections.support import raw_rows, rows_of
from tests.tracking.sql.support import Point, partitions_for, points_insert
from tracking.models import Dataset, Projection, ProjectionState
from tracking.projections import db as projection_db
from tracking.projections import services as projection_services
from tracking.projections import tasks as projection_tasks
from tracking.projections.selectors import projection_specs
from tracking.projections.services import (
    ProjectionInvalid,
    projection_backfill,
    projection_backfill_step,
    projection_create,
    projection_drop,
    projections_compact,
    projections_compact_idle,
    projections_day_dropped,
    projections_days_lock,
    projections_measure,
    projections_points_deleted,
)
from tracking.services import buffer_drain, retention_apply

pytestmark = pytest.mark.django_db(transaction=True)


def drain() -> int:
    return buffer_drain(time_budget=5, block_ms=10).points


def test_a_dataset_made_by_ingest_gets_the_ready_default_projection_and_the_drain_keeps_it(client, write_key, partitions):
    now = datetime.now(UTC)
    body = [
        {"blobs": ["GET", f"/p{i % 3}", "200"], "doubles": [i * 0.1, 1, 0.3], "timestamp": (now - timedelta(minutes=i * 7)).isoformat()}
        for i in range(40)
    ]
    post_points(client, write_key, "requests", body)
    post_points(client, write_key, "requests", body[:5])
    assert drain() == 45

    projections = list(Projection.objects.filter(dataset__name="requests").order_by("name"))
    assert [(p.name, p.state, p.dimensions, p.doubles) for p in projections] == [
        ("blob1_blob2", ProjectionState.READY, ["blob1", "blob2"], ["double1", "double2", "double3"]),
        ("blob1_blob2_6h", ProjectionState.READY, ["blob1", "blob2"], ["double1", "double2", "double3"]),
        ("blob1_blob2_day", ProjectionState.READY, ["blob1", "blob2"], ["double1", "double2", "double3"]),
        ("dashboard", ProjectionState.READY, ["blob3", "blob1", "blob2"], ["double1", "double2", "double3"]),
    ]
    assert [projection.grain for projection in projections] == [3600, 21600, 86400, 3600]
    *narrow_tiers, dashboard = projections
    assert rows_of(dashboard) == raw_rows(dashboard)
    assert sum(row[4] for row in rows_of(dashboard)) == 45
    for projection in narrow_tiers:
        assert rows_of(projection) == raw_rows(projection)
        assert sum(row[3] for row in rows_of(projection)) == 45


def test_projections_grouped_from_a_wider_ones_rows_in_the_drain_equal_their_raw_points(client, write_key, partitions):
    post_points(client, write_key, "requests", [{"blobs": ["GET", "/", "200"], "doubles": [1.0]}])
    assert drain() == 1
    dataset = Dataset.objects.get(name="requests")
    custom = [
        projection_create(dataset=dataset, name="by_day", dimensions=["blob2"], doubles=["double2"], grain=86400),
        projection_create(dataset=dataset, name="by_minute", dimensions=["blob1"], doubles=["double1"], grain=60),
        projection_create(dataset=dataset, name="by_index", dimensions=["index1", "blob1"], doubles=["double1"]),
    ]
    for projection in custom:
        projection_backfill(projection_id=projection.id)
    names = dict(Projection.objects.filter(dataset=dataset).values_list("id", "name"))
    named = {names[spec.id]: spec for spec in projection_specs(dataset_ids=[dataset.id])}
    assert [name for name in sorted(named) if projection_db.derivable(named[name], source=named["dashboard"])] == [
        "blob1_blob2", "blob1_blob2_6h", "blob1_blob2_day", "by_day", "dashboard"
    ]
    now = datetime.now(UTC)
    body = [
        {
            "blobs": ["GET" if i % 3 else "POST", f"/p{i % 7}", str(200 + i % 4)],
            "doubles": [i * 0.1, 1e-7 * i, -3.5 + i],
            "indexes": [f"u{i % 5}"],
            "timestamp": (now - timedelta(minutes=i * 37)).isoformat(),
        }
        for i in range(120)
    ]
    assert post_points(client, write_key, "requests", body).json() == {"accepted": 120, "rejected": 0, "errors": []}
    assert drain() == 120

    for projection in Projection.objects.filter(dataset=dataset).order_by("name"):
        assert rows_of(projection) == raw_rows(projection), projection.name
        assert sum(row[len(projection.dimensions) + 1] for row in rows_of(projection)) == 121


def test_a_projection_of_stored_points_backfills_in_resumable_steps(db, partitions):
    dataset = DatasetFactory()
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(days=3)
    points_insert(
        dataset=dataset,
        points=[
            Point(start + timedelta(hours=5 * i), f"i{i}", ["a" if i % 2 else "b", "x"], [0.1 * i, 1e-5], sample_interval=1 + i % 3)
            for i in range(15)
        ],
    )
    projection = projection_create(dataset=dataset, name="by_a", dimensions=["blob1"], doubles=["double1", "double2"])
    assert projection.state == ProjectionState.BACKFILLING

    assert projection_backfill_step(projection_id=projection.id) is False
    assert projection_backfill(projection_id=projection.id) is True
    projection.refresh_from_db()
    assert projection.state == ProjectionState.READY and projection.ready_at is not None
    assert rows_of(projection) == raw_rows(projection)


def _rows_planned_and_stored() -> tuple[float, int]:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT reltuples FROM pg_class WHERE oid = '{projection_db.TABLE}'::regclass")
        planned = cursor.fetchone()[0]
        cursor.execute(f"SELECT count(*) FROM {projection_db.TABLE}")
        return planned, cursor.fetchone()[0]


def test_a_backfill_that_makes_a_projection_ready_analyzes_its_rows(db, partitions):
    """Queries use the projection from then on: its rows are not planned from the statistics of before."""
    dataset = DatasetFactory()
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(days=2)
    points_insert(dataset=dataset, points=[Point(start + timedelta(minutes=7 * i), "", [f"k{i}"], [1.0]) for i in range(400)])
    projection = projection_create(dataset=dataset, name="by_key", dimensions=["blob1"], doubles=["double1"], grain=60)
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {projection_db.TABLE}")
    before, _ = _rows_planned_and_stored()

    assert projection_backfill(projection_id=projection.id) is True

    planned, stored = _rows_planned_and_stored()
    assert stored >= before + 400
    assert planned == stored


def test_deleted_points_and_retention_recompute_the_buckets_they_touched(db, partitions):
    dataset = DatasetFactory(retention_days=2)
    now = datetime.now(UTC)
    points = [Point(now - timedelta(hours=7 * i, minutes=i), "", ["k", f"v{i % 2}"], [float(i)]) for i in range(12)]
    points_insert(dataset=dataset, points=points)
    projection = projection_create(dataset=dataset, name="p", dimensions=["blob2"], doubles=["double1"])
    projection_backfill(projection_id=projection.id)

    with connection.cursor() as cursor:
        cursor.execute(
            'DELETE FROM tracking_datapoint WHERE dataset_id = %s AND double1 IN (1, 4) RETURNING "timestamp"', [dataset.id]
        )
        deleted = [row[0] for row in cursor.fetchall()]
    projections_points_deleted(dataset_id=dataset.id, timestamps=deleted)
    assert rows_of(projection) == raw_rows(projection)

    retention_apply(now=now)
    assert rows_of(projection) == raw_rows(projection)
    assert all(row[0] >= now - timedelta(days=3) for row in rows_of(projection))


def notes_of(projections: list[Projection]) -> list[tuple[str, datetime]]:
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT p.name, d.bucket FROM {projection_db.DIRTY_TABLE} AS d JOIN tracking_projection AS p ON p.id = d.projection_id "
            "WHERE d.projection_id = ANY(%s) ORDER BY 1, 2",
            [[projection.id for projection in projections]],
        )
        return cursor.fetchall()


def row_count(projection: Projection) -> int:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM {projection_db.TABLE} WHERE projection_id = %s", [projection.id])
        return cursor.fetchone()[0]


@pytest.mark.parametrize("age", [timedelta(hours=5), timedelta(days=20)], ids=["hours", "weeks"])
def test_compaction_merges_the_partial_rows_of_every_bucket_drains_wrote_to_without_changing_a_sum(
    client, write_key, partitions, age
):
    # Notes that earlier transactional tests left (a flush empties only the models' tables) would take
    # the first of the call's 200 places.
    projection_db.dirty_prune_orphans()
    old = datetime.now(UTC) - age
    for i in range(4):
        post_points(client, write_key, "events", {"blobs": ["GET", "/a"], "doubles": [0.1 * (i + 1)], "timestamp": old.isoformat()})
        drain()
    projections = list(Projection.objects.filter(dataset__name="events").order_by("name"))
    assert len(projections) == 4  # the defaults
    assert [row_count(projection) for projection in projections] == [4, 4, 4, 4]
    bucket = old.replace(minute=0, second=0, microsecond=0)
    six_hours, day = bucket.replace(hour=bucket.hour // 6 * 6), bucket.replace(hour=0)
    assert notes_of(projections) == (
        [("blob1_blob2", bucket)] * 4 + [("blob1_blob2_6h", six_hours)] * 4 + [("blob1_blob2_day", day)] * 4 + [("dashboard", bucket)] * 4
    )
    before = [rows_of(projection) for projection in projections]

    assert projections_compact(before=day) == 0
    assert projections_compact(before=datetime.now(UTC)) == 4 * 3
    assert [row_count(projection) for projection in projections] == [1, 1, 1, 1]
    assert [rows_of(projection) for projection in projections] == before == [raw_rows(projection) for projection in projections]
    assert notes_of(projections) == []


def test_compaction_forgets_a_note_of_a_bucket_already_one_row_per_key_and_of_a_dropped_projection(client, write_key, partitions):
    old = datetime.now(UTC) - timedelta(hours=3)
    post_points(client, write_key, "events", [{"blobs": ["GET", f"/{i}"], "doubles": [i], "timestamp": old.isoformat()} for i in range(3)])
    drain()
    narrow, narrow_6h, narrow_day, dashboard = Projection.objects.filter(dataset__name="events").order_by("name")
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT ctid FROM {projection_db.TABLE} WHERE projection_id = %s ORDER BY ctid", [narrow.id])
        places = cursor.fetchall()
    projection_drop(projection=dashboard)

    assert projections_compact(before=datetime.now(UTC)) == 0
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT ctid FROM {projection_db.TABLE} WHERE projection_id = %s ORDER BY ctid", [narrow.id])
        assert cursor.fetchall() == places  # not rewritten
        cursor.execute(
            f"SELECT count(*) FROM {projection_db.DIRTY_TABLE} WHERE projection_id = ANY(%s)", [[narrow.id, narrow_6h.id, narrow_day.id, dashboard.id]]
        )
        assert cursor.fetchone()[0] == 0


def fragmented_at(client, write_key, moment: datetime) -> list[Projection]:
    """The "events" dataset's default projections, each with two partial rows of one key at ``moment`` (two drains),
    after the notes other transactional tests left are pruned (a flush empties only the models' tables)."""
    projection_db.dirty_prune_orphans()
    for i in range(2):
        post_points(client, write_key, "events", {"blobs": ["GET", "/a"], "doubles": [i], "timestamp": moment.isoformat()})
        drain()
    return list(Projection.objects.filter(dataset__name="events").order_by("name"))


def ingest_quiet_for(seconds: int) -> None:
    """As if the last drain had written ``seconds`` ago (``ingest_idle`` reads the ledger's newest entry)."""
    with connection.cursor() as cursor:
        cursor.execute("UPDATE tracking_ingestedentry SET created_at = created_at - make_interval(secs => %s)", [seconds])


def test_idle_compaction_takes_the_coarsest_grain_first_and_in_it_the_newest_bucket_and_beats_run_the_oldest_first(
    client, write_key, partitions
):
    projection_db.dirty_prune_orphans()
    now = datetime.now(UTC)
    # At 13:17 the points' hour, six hours and day start at three different moments; at the time of day the suite
    # runs they did not in its first hour after midnight UTC, and the tiers' notes tied on the bucket.
    today = now.replace(hour=0, minute=0, second=0, microsecond=0)
    older, newer = today - timedelta(days=5) + timedelta(hours=13, minutes=17), today - timedelta(days=1) + timedelta(hours=13, minutes=17)
    for moment in (older, newer):
        post_points(client, write_key, "events", {"blobs": ["GET", "/a"], "doubles": [1], "timestamp": moment.isoformat()})
        drain()
    narrow, narrow_6h, narrow_day, dashboard = Projection.objects.filter(dataset__name="events").order_by("name")
    hour_tiers = sorted([narrow, dashboard], key=lambda projection: projection.id)

    def starts(grain: int, moment: datetime) -> datetime:
        return datetime.fromtimestamp(moment.timestamp() // grain * grain, UTC)

    assert projection_db.dirty_buckets(before=now, limit=100, coarse_first=True) == [
        (narrow_day.id, starts(86400, newer)),
        (narrow_day.id, starts(86400, older)),
        (narrow_6h.id, starts(21600, newer)),
        (narrow_6h.id, starts(21600, older)),
        *[(projection.id, starts(3600, newer)) for projection in hour_tiers],
        *[(projection.id, starts(3600, older)) for projection in hour_tiers],
    ]
    assert projection_db.dirty_buckets(before=starts(86400, newer), limit=3, coarse_first=True) == [
        (narrow_day.id, starts(86400, older)),
        (narrow_6h.id, starts(21600, older)),
        (hour_tiers[0].id, starts(3600, older)),
    ]
    oldest_first = sorted(
        [(projection.id, starts(projection.grain, moment)) for projection in (narrow, narrow_6h, narrow_day, dashboard) for moment in (older, newer)],
        key=lambda note: (note[1], note[0]),
    )
    assert projection_db.dirty_buckets(before=now, limit=100, coarse_first=False) == oldest_first
    assert oldest_first[0] == (narrow_day.id, starts(86400, older))

    projections_compact(before=now, max_buckets=1)  # beat's 10-minute run
    assert projection_db.dirty_buckets(before=now, limit=100, coarse_first=False) == oldest_first[1:]


def test_idle_compaction_waits_for_ingest_to_go_quiet_then_merges_a_backlog_of_several_batches_however_recent(
    client, write_key, partitions
):
    projection_db.dirty_prune_orphans()
    now = datetime.now(UTC)
    moments = [now - timedelta(minutes=1), now - timedelta(days=2), now - timedelta(days=4)]
    for i in range(2):
        post_points(
            client, write_key, "events",
            [{"blobs": ["GET", f"/{j}"], "doubles": [i + j], "timestamp": moment.isoformat()} for j, moment in enumerate(moments)],
        )
        drain()
    projections = list(Projection.objects.filter(dataset__name="events").order_by("name"))
    noted = notes_of(projections)
    assert len(noted) == 2 * (3 + 3 + 3 + 3)  # two drains, three buckets in each of the four tiers
    assert [row_count(projection) for projection in projections] == [6, 6, 6, 6]
    before = [rows_of(projection) for projection in projections]

    quiet = timedelta(seconds=20)
    assert projections_compact_idle(quiet=quiet, seconds=30, batch=2) == 0  # the drains committed just now
    assert notes_of(projections) == noted

    ingest_quiet_for(21)
    assert projections_compact_idle(quiet=quiet, seconds=30, batch=2) == 4 * 3
    assert notes_of(projections) == []
    assert [row_count(projection) for projection in projections] == [3, 3, 3, 3]
    assert [rows_of(projection) for projection in projections] == before == [raw_rows(projection) for projection in projections]


def test_idle_compaction_stops_before_the_next_bucket_once_a_drain_commits(client, write_key, partitions, monkeypatch):
    projections = fragmented_at(client, write_key, datetime.now(UTC) - timedelta(days=2))
    answers = chain([True] * 3, repeat(False))  # the loop's check, then one before each bucket

    monkeypatch.setattr(projection_services, "ingest_idle", lambda *, for_at_least: next(answers))
    assert projections_compact_idle(quiet=timedelta(seconds=20), seconds=30) == 2
    assert [(name, count) for name, count in Counter(name for name, _ in notes_of(projections)).items()] == [
        ("blob1_blob2", 2), ("dashboard", 2)
    ]  # the day and six-hour buckets merged, the hour ones left for the next run


def test_compaction_measures_again_the_projections_it_merged_rows_of(client, write_key, partitions):
    """Eight sampled buckets of the two whole days before today (``measure_samples``); yesterday's 12:00 is one."""
    fragmented_at(client, write_key, datetime.now(UTC).replace(hour=12, minute=10, second=0, microsecond=0) - timedelta(days=1))
    projections_measure(now=datetime.now(UTC), due_before=datetime.now(UTC))

    def measures() -> list[tuple[str, float | None, float | None]]:
        return list(
            Projection.objects.filter(dataset__name="events").order_by("name").values_list("name", "bucket_rows", "bucket_points")
        )

    assert measures() == [
        ("blob1_blob2", 0.25, 0.25), ("blob1_blob2_6h", 0.25, 0.25), ("blob1_blob2_day", 1.0, 1.0), ("dashboard", 0.25, 0.25)
    ]
    ingest_quiet_for(21)

    assert projections_compact_idle(quiet=timedelta(seconds=20), seconds=30) == 4
    assert measures() == [
        ("blob1_blob2", 0.125, 0.25), ("blob1_blob2_6h", 0.125, 0.25), ("blob1_blob2_day", 0.5, 1.0), ("dashboard", 0.125, 0.25)
    ]


def test_a_compaction_waits_for_a_day_being_dropped_and_leaves_no_row_of_it(client, write_key, partitions):
    """Beside the DELETE of a dropped day's rows, a compaction's rewrite of one of its buckets would put back merged
    rows that DELETE cannot see: the compaction waits for the drop's transaction instead (``db.days_lock``)."""
    old = datetime.now(UTC) - timedelta(days=3)
    projections = fragmented_at(client, write_key, old)
    day = old.replace(hour=0, minute=0, second=0, microsecond=0)
    compacted: list[int] = []

    def compact() -> None:
        try:
            compacted.append(projections_compact(before=datetime.now(UTC)))
        finally:
            connection.close()

    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM {projection_db.TABLE} WHERE bucket >= %s AND bucket < %s", [day, day + timedelta(days=1)])
        of_the_day = cursor.fetchone()[0]  # other tests' datasets may have rows that day too
    assert [row_count(projection) for projection in projections] == [2, 2, 2, 2]

    with transaction.atomic():
        projections_days_lock()
        compaction = threading.Thread(target=compact)
        compaction.start()
        compaction.join(timeout=1.0)
        assert compaction.is_alive()  # waiting for the day's drop to commit
        assert projections_day_dropped(day_start=day) == of_the_day
    compaction.join(timeout=10)

    assert compacted == [0]
    assert [row_count(projection) for projection in projections] == [0, 0, 0, 0]
    assert notes_of(projections) == []


def test_a_projection_is_measured_when_its_backfill_ends_then_hourly_and_the_catalog_moves_with_it(db):
    """Rows per bucket averaged over eight sampled buckets of the two whole days before today (the day grain: the
    two days), empty ones counted; a measure that changes bumps the project's catalog version, which keys the
    SQL engine's kept translations."""
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    first, second = today - timedelta(days=2), today - timedelta(days=1)
    moments = [first + timedelta(minutes=10)] * 3 + [first + timedelta(hours=6, minutes=30), first + timedelta(hours=3)]
    moments += [second + timedelta(hours=12, minutes=5)] * 2 + [today + timedelta(minutes=5), first - timedelta(hours=1)]
    points = [Point(moment, "", [f"k{i}"], [1.0]) for i, moment in enumerate(moments)]
    partitions_for(points)
    dataset = DatasetFactory()
    points_insert(dataset=dataset, points=points)
    for name, grain in (("hourly", 3600), ("daily", 86400)):
        projection = projection_create(dataset=dataset, name=name, dimensions=["blob1"], doubles=["double1"], grain=grain)
        assert projection_backfill(projection_id=projection.id) is True
    projection_create(dataset=dataset, name="later", dimensions=["blob1"], doubles=[], grain=3600)

    def measures() -> list[tuple[str, float | None]]:
        return list(Projection.objects.filter(dataset=dataset).order_by("name").values_list("name", "bucket_rows"))

    # 5 keys on the first day and 2 on the second; 3 + 1 + 2 rows in the 8 hours at 00:00, 06:00, 12:00 and 18:00.
    assert measures() == [("daily", 3.5), ("hourly", 0.75), ("later", None)]

    late = [Point(second + timedelta(hours=18, minutes=20), "", [f"late{i}"], [1.0]) for i in range(2)]
    points_insert(dataset=dataset, points=late)
    projections_points_deleted(dataset_id=dataset.id, timestamps=[point.timestamp for point in late])  # their buckets recomputed
    Projection.objects.filter(dataset=dataset).update(measured_at=today)
    version = catalog_version(dataset.project_id)
    assert projections_measure(now=today + timedelta(minutes=59)) == 0
    assert projections_measure(now=today + timedelta(hours=1)) == 2
    assert measures() == [("daily", 4.5), ("hourly", 1.0), ("later", None)]
    assert catalog_version(dataset.project_id) > version
    version = catalog_version(dataset.project_id)
    assert projections_measure(now=today + timedelta(hours=2)) == 2
    assert catalog_version(dataset.project_id) == version  # the same measures: nothing to compile again


def test_a_measure_counts_the_points_a_buckets_rows_stand_for(db):
    """Rows merge a key's points, and the raw cut weighs a bucket's rows against its points (``raw_cut_reach``):
    two keys' six points at 00:00 and one at 12:00 of the first day, over the eight sampled hours."""
    first = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=2)
    points = [Point(first + timedelta(minutes=m), "", [f"k{m % 2}"], [1.0]) for m in range(6)]
    points.append(Point(first + timedelta(hours=12, minutes=1), "", ["k9"], [1.0]))
    partitions_for(points)
    dataset = DatasetFactory()
    points_insert(dataset=dataset, points=points)
    projection = projection_create(dataset=dataset, name="hourly", dimensions=["blob1"], doubles=["double1"], grain=3600)

    assert projection_backfill(projection_id=projection.id) is True

    assert list(Projection.objects.filter(id=projection.id).values_list("bucket_rows", "bucket_points")) == [(0.375, 0.875)]


def test_the_measuring_task_goes_on_batch_after_batch_until_no_projection_is_due(db, monkeypatch):
    dataset = DatasetFactory()
    made = [projection_create(dataset=dataset, name=f"p{i}", dimensions=["blob1"], doubles=[]) for i in range(3)]
    monkeypatch.setattr(projection_tasks, "MEASURE_BATCH", 1)

    assert projection_tasks.projections_measure() == 3
    assert [projection.bucket_rows for projection in Projection.objects.filter(id__in=[p.id for p in made])] == [0.0] * 3
    assert projection_tasks.projections_measure() == 0


def catalog_version(project_id: int) -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT public.meaux_sql_catalog_fingerprint(%s)", [project_id])
        return int(cursor.fetchone()[0])


def test_projection_input_is_checked_and_a_drop_takes_the_rows(db):
    dataset = DatasetFactory()
    with pytest.raises(ProjectionInvalid, match="dimensions: at most 4"):
        projection_create(dataset=dataset, name="wide", dimensions=["blob1", "blob2", "blob3", "blob4", "blob5"], doubles=[])
    with pytest.raises(ProjectionInvalid, match="doubles: 'blob1' is not"):
        projection_create(dataset=dataset, name="bad", dimensions=[], doubles=["blob1"])
    projection = projection_create(dataset=dataset, name="ok", dimensions=["index1"], doubles=[])
    with pytest.raises(ProjectionInvalid, match="already has a projection named ok"):
        projection_create(dataset=dataset, name="ok", dimensions=[], doubles=[])
    assert projection.state == ProjectionState.READY
    projection_drop(projection=projection)
    assert not Projection.objects.filter(pk=projection.pk).exists()
    assert Dataset.objects.filter(pk=dataset.pk).exists()


def test_the_migration_gives_existing_datasets_the_narrow_default_to_backfill_from_their_points(db, partitions):
    migration = importlib.import_module("tracking.migrations.0024_projection_default_blob1_blob2")
    stored, empty, own = DatasetFactory(), DatasetFactory(), DatasetFactory()
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(days=2, hours=3)
    points = [Point(start + timedelta(hours=3 * i), "", ["GET" if i % 2 else "error", f"/p{i % 3}", str(i)], [0.5 * i, 1.0, 0.1]) for i in range(14)]
    points_insert(dataset=stored, points=points)
    mine = projection_create(dataset=own, name="blob1_blob2", dimensions=["blob2"], doubles=["double1"])

    with connection.schema_editor() as editor:
        migration.default_projection_add(django_apps, editor)

    added = Projection.objects.get(dataset=stored, name="blob1_blob2")
    assert (added.dimensions, added.doubles, added.grain, added.state) == (
        ["blob1", "blob2"], ["double1", "double2", "double3"], 3600, ProjectionState.BACKFILLING,
    )
    assert added.backfill_from == added.backfill_cursor == start.replace(hour=0, minute=0, second=0)
    assert added.backfill_until == points[-1].timestamp
    assert Projection.objects.get(dataset=empty, name="blob1_blob2").state == ProjectionState.READY
    assert list(Projection.objects.filter(dataset=own).values_list("id", "dimensions")) == [(mine.id, ["blob2"])]

    assert projection_backfill(projection_id=added.id) is True
    assert rows_of(added) == raw_rows(added)


@pytest.mark.parametrize(
    ("module", "name", "grain"),
    [("0030_projection_default_blob1_blob2_day", "blob1_blob2_day", 86400), ("0036_projection_grain_six_hours", "blob1_blob2_6h", 21600)],
)
def test_the_migrations_give_existing_datasets_the_coarse_tiers_of_the_narrow_default_to_backfill(db, partitions, module, name, grain):
    migration = importlib.import_module(f"tracking.migrations.{module}")
    stored, empty = DatasetFactory(), DatasetFactory()
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(days=2, hours=3)
    points = [Point(start + timedelta(hours=3 * i), "", ["GET", f"/p{i % 3}"], [0.5 * i, 1.0, 0.1]) for i in range(14)]
    points_insert(dataset=stored, points=points)

    with connection.schema_editor() as editor:
        migration.default_projection_add(django_apps, editor)
        migration.default_projection_add(django_apps, editor)  # a second run adds nothing

    added = Projection.objects.get(dataset=stored, name=name)
    assert (added.dimensions, added.doubles, added.grain, added.state) == (
        ["blob1", "blob2"], ["double1", "double2", "double3"], grain, ProjectionState.BACKFILLING,
    )
    assert added.backfill_from == added.backfill_cursor == start.replace(hour=0, minute=0, second=0)
    assert Projection.objects.get(dataset=empty, name=name).state == ProjectionState.READY

    assert projection_backfill(projection_id=added.id) is True
    assert rows_of(added) == raw_rows(added)


def test_analyze_of_the_rows_samples_their_keys_and_skips_their_measures():
    """No estimate reads a measure (queries aggregate them, never filter or group on them), and their statistics
    were most of what an ANALYZE of the rows cost, which drains run as a load grows."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT attname, attstattarget FROM pg_attribute WHERE attrelid = %s::regclass AND attnum > 0 "
            "AND NOT attisdropped ORDER BY attnum",
            [projection_db.TABLE],
        )
        targets = dict(cursor.fetchall())

    assert {name for name, target in targets.items() if target == 0} == set(projection_db.MEASURE_COLUMNS)
    assert {name for name, target in targets.items() if target != 0} == {
        "projection_id", "dataset_id", "bucket", "d1", "d2", "d3", "d4"
    }
    assert len(projection_db.MEASURE_COLUMNS) == 2 + 4 * projection_db.MAX_DOUBLES == 82
