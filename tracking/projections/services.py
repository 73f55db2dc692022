"""Writes of projections: create, drop, backfill, and keeping them equal to the raw points.

A projection's rows change in the transaction that changes the points they summarise: the
drain appends the staged batch's groups (``projections_apply``), point deletions and
retention recompute the buckets they touched from the points left
(``projections_points_deleted``), and a dropped day partition takes its buckets along
(``projections_day_dropped``). ``tracking.projections.db`` explains the lock that makes a
backfill exact while drains run.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from projects.governance.audit import audit_record
from projects.governance.models import AuditAction
from tracking.conf import tracking_settings
from tracking.models import (
    DATASET_NAME_RE,
    PROJECTION_DIMENSIONS,
    PROJECTION_DOUBLES,
    PROJECTION_MAX_DIMENSIONS,
    Dataset,
    Projection,
    ProjectionGrain,
    ProjectionState,
)
from tracking.projections import db
from tracking.projections.selectors import ingest_idle, projection_specs

#: How much time one backfill step recomputes: one day of raw points, under the dataset's lock.
BACKFILL_CHUNK = timedelta(days=1)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class ProjectionDefinition:
    name: str
    dimensions: tuple[str, ...]
    doubles: tuple[str, ...]
    grain: int = ProjectionGrain.HOUR


#: Every new dataset gets these (docs/sql.md): the seed's dashboard queries group and filter on
#: blob1..blob3 and aggregate double1..double3 (bench/queries.py SEED_QUERIES). In ``dashboard``
#: ``blob3`` comes first because the first dimension leads an index and the long-window seed
#: queries filter on it (``blob3 = 'cost'``); the others read a day or less.
#:
#: ``blob3`` is also where the seed's layouts keep status, user id or error path, so
#: ``dashboard`` has a row per hour for each (status, method, path) seen, and its index leads
#: with ``blob3``. ``blob1_blob2`` leaves ``blob3`` out and leads with ``blob1``: the queries that
#: group and filter on the first two blobs only (requests by path for a method, requests per
#: hour) read fewer rows (at 10M points the seed's requests by path reads 23,824 where
#: ``dashboard`` scans 88,685). The planner tries the narrowest ready projection first, so it
#: answers them and ``dashboard`` the rest, as a ClickHouse table keeps a narrow projection
#: beside a wide one. ``blob1_blob2_day`` keeps ``blob1_blob2``'s rows per day, its coarse tier
#: (``tracking.sql.planner``): a window longer than a day reads its whole days from it, so the
#: seed's requests by path at 10M points read 11,385 rows instead of 23,314. ``blob1_blob2_6h``
#: keeps them per six hours, the tier between: a day the window's edge cuts is read from its
#: whole six hours, and hour rows only around the edge. At 10M points, 2,000 paths, a GET path
#: is in 1,006 hours' rows of 2,000 a day but 1,839 of six hours, so without it an edge in the
#: middle of yesterday read up to 13 hours of rows (13,000) where the six hours read 4,700.
#: The drain groups both from ``dashboard``'s rows of the batch, as it does ``blob1_blob2``.
DEFAULT_PROJECTIONS: tuple[ProjectionDefinition, ...] = (
    ProjectionDefinition(
        name="dashboard", dimensions=("blob3", "blob1", "blob2"), doubles=("double1", "double2", "double3")
    ),
    ProjectionDefinition(
        name="blob1_blob2", dimensions=("blob1", "blob2"), doubles=("double1", "double2", "double3")
    ),
    ProjectionDefinition(
        name="blob1_blob2_day",
        dimensions=("blob1", "blob2"),
        doubles=("double1", "double2", "double3"),
        grain=ProjectionGrain.DAY,
    ),
    ProjectionDefinition(
        name="blob1_blob2_6h",
        dimensions=("blob1", "blob2"),
        doubles=("double1", "double2", "double3"),
        grain=ProjectionGrain.SIX_HOURS,
    ),
)


class ProjectionInvalid(ValidationError):
    """A refused projection. Its message reads ``"<field>: <reason>"``, so the API and the page name the field."""

    @property
    def field(self) -> str:
        return str(self.message).partition(": ")[0]

    @property
    def reason(self) -> str:
        return str(self.message).partition(": ")[2]


class ProjectionNameTaken(ProjectionInvalid):
    """The dataset already has a projection of that name: a conflict rather than bad input."""


def floor_to(moment: datetime, seconds: int) -> datetime:
    whole = int((moment - EPOCH).total_seconds() // seconds) * seconds
    return EPOCH + timedelta(seconds=whole)


def _validate(*, name: str, dimensions: Sequence[str], doubles: Sequence[str], grain: int) -> None:
    if not DATASET_NAME_RE.fullmatch(name):
        raise ProjectionInvalid("name: letters, digits and underscores, starting with a letter or underscore; 64 at most")
    if len(dimensions) > PROJECTION_MAX_DIMENSIONS:
        raise ProjectionInvalid(f"dimensions: at most {PROJECTION_MAX_DIMENSIONS} columns")
    for column in dimensions:
        if column not in PROJECTION_DIMENSIONS:
            raise ProjectionInvalid(f"dimensions: {column!r} is not index1 or blob1..blob20")
    if len(set(dimensions)) != len(dimensions):
        raise ProjectionInvalid("dimensions: a column is listed twice")
    for column in doubles:
        if column not in PROJECTION_DOUBLES:
            raise ProjectionInvalid(f"doubles: {column!r} is not double1..double20")
    if len(set(doubles)) != len(doubles):
        raise ProjectionInvalid("doubles: a column is listed twice")
    if grain not in ProjectionGrain.values:
        raise ProjectionInvalid(f"grain: one of {', '.join(str(value) for value in ProjectionGrain.values)} seconds")


def projection_create(
    *, dataset: Dataset, name: str, dimensions: Sequence[str], doubles: Sequence[str], grain: int = ProjectionGrain.HOUR
) -> Projection:
    """Add a projection; ready at once for a dataset without points, else ``backfilling``.

    Takes the dataset's lock exclusively, so every drain either committed before (its points
    are backfilled) or reads the new projection and maintains it from its first batch.
    Raises ``ProjectionInvalid`` naming the field, also for a name already taken.
    """
    _validate(name=name, dimensions=dimensions, doubles=doubles, grain=grain)
    try:
        with transaction.atomic():
            db.dataset_lock(dataset_id=dataset.id)
            extent = db.points_extent(dataset_id=dataset.id)
            projection = Projection(dataset=dataset, name=name, dimensions=list(dimensions), doubles=list(doubles), grain=grain)
            if extent is None:
                projection.state = ProjectionState.READY
                projection.ready_at = timezone.now()
            else:
                projection.backfill_from = projection.backfill_cursor = floor_to(extent[0], int(BACKFILL_CHUNK.total_seconds()))
                projection.backfill_until = extent[1]
            projection.save()
    except IntegrityError:
        raise ProjectionNameTaken(f"name: the dataset already has a projection named {name}") from None
    return projection


def projection_add(
    *, dataset: Dataset, name: str, dimensions: Sequence[str], doubles: Sequence[str], grain: int = ProjectionGrain.HOUR
) -> Projection:
    """An owner's new projection (dataset page, API): created, and once committed a worker
    starts its backfill (``tracking.projection_backfill``, by id); beat resumes it after that."""
    projection = projection_create(dataset=dataset, name=name, dimensions=dimensions, doubles=doubles, grain=grain)
    audit_record(
        project=dataset.project,
        action=AuditAction.PROJECTION_CHANGE,
        target=f"{dataset.name}.{name}",
        details={"added": {"dimensions": list(dimensions), "doubles": list(doubles), "grain": grain}},
    )
    if projection.state == ProjectionState.BACKFILLING:
        from tracking.projections.tasks import projection_backfill

        transaction.on_commit(lambda: projection_backfill.apply_async((projection.id,), queue=tracking_settings.DRAIN_QUEUE))
    return projection


def projections_defaults_ensure(*, dataset: Dataset) -> list[Projection]:
    """Create the default projections the dataset lacks (by name); returns those created."""
    existing = set(Projection.objects.filter(dataset=dataset).values_list("name", flat=True))
    return [
        projection_create(
            dataset=dataset,
            name=definition.name,
            dimensions=definition.dimensions,
            doubles=definition.doubles,
            grain=definition.grain,
        )
        for definition in DEFAULT_PROJECTIONS
        if definition.name not in existing
    ]


def projection_reset(*, projection: Projection) -> Projection:
    """Forget a projection's rows and backfill it again from raw points, e.g. after a bulk load
    that wrote points without the drain (``tracking.reports.demo``, the benchmarks)."""
    with transaction.atomic():
        db.dataset_lock(dataset_id=projection.dataset_id)
        db.projection_rows_delete(projection_id=projection.id)
        extent = db.points_extent(dataset_id=projection.dataset_id)
        if extent is None:
            projection.state, projection.ready_at = ProjectionState.READY, timezone.now()
            projection.backfill_from = projection.backfill_cursor = projection.backfill_until = None
        else:
            projection.state, projection.ready_at = ProjectionState.BACKFILLING, None
            projection.backfill_from = projection.backfill_cursor = floor_to(extent[0], int(BACKFILL_CHUNK.total_seconds()))
            projection.backfill_until = extent[1]
        projection.save(update_fields=["state", "ready_at", "backfill_from", "backfill_cursor", "backfill_until"])
    return projection


def projections_rebuild(*, dataset_id: int) -> None:
    """Reset and backfill every projection of a dataset to completion (unbounded: for loads and commands)."""
    for projection in Projection.objects.filter(dataset_id=dataset_id).order_by("id"):
        projection_reset(projection=projection)
        projection_backfill(projection_id=projection.id)


def projection_drop(*, projection: Projection) -> None:
    """Delete a projection and its rows (the rows go in ``tracking.signals``, for cascades too)."""
    with transaction.atomic():
        dataset = projection.dataset
        audit_record(
            project=dataset.project, action=AuditAction.PROJECTION_CHANGE, target=f"{dataset.name}.{projection.name}",
            details={"dropped": {"dimensions": projection.dimensions, "doubles": projection.doubles, "grain": projection.grain}},
        )
        projection.delete()


def projection_backfill_step(*, projection_id: int, chunk: timedelta = BACKFILL_CHUNK) -> bool:
    """Recompute the next chunk of a backfilling projection from raw points; True once it is ready.

    Bounded (one chunk of time) and resumable (the cursor moves in the same transaction as the
    rows), and exact while drains run: the dataset's lock is held exclusively, so no drain adds
    to the chunk between the delete and the insert. Idempotent for a ready or deleted projection.
    """
    with transaction.atomic():
        projection = Projection.objects.filter(pk=projection_id).first()
        if projection is None:
            return True
        db.dataset_lock(dataset_id=projection.dataset_id)
        projection = Projection.objects.select_for_update().filter(pk=projection_id).first()
        if projection is None or projection.state == ProjectionState.READY:
            return True
        assert projection.backfill_cursor is not None and projection.backfill_until is not None
        start = projection.backfill_cursor
        end = start + chunk
        db.projection_recompute(spec=_spec(projection), start=start, end=end)
        projection.backfill_cursor = end
        if end > projection.backfill_until:
            projection.state = ProjectionState.READY
            projection.ready_at = timezone.now()
        projection.save(update_fields=["backfill_cursor", "state", "ready_at"])
        return projection.state == ProjectionState.READY


def projection_backfill(*, projection_id: int, max_steps: int | None = None) -> bool:
    """Run backfill steps until ready (or ``max_steps``); True when ready.

    A projection this call made ready has its rows analyzed and measured at once: queries use it
    from then on, and the rows a backfill writes in one go (4.3M for the two defaults over 10M
    points) would otherwise be planned from the statistics of before until the next refresh, and
    its cuts sized by a quarter until the next measure (``projections_measure``).
    """
    backfilling_grain = (
        Projection.objects.filter(pk=projection_id, state=ProjectionState.BACKFILLING).values_list("grain", flat=True).first()
    )
    steps = 0
    while max_steps is None or steps < max_steps:
        if projection_backfill_step(projection_id=projection_id):
            if backfilling_grain is not None:
                db.rows_analyze()
                projection_measure(projection_id=projection_id, grain=backfilling_grain, now=timezone.now())
            return True
        steps += 1
    return False


def _spec(projection: Projection) -> db.Spec:
    return db.Spec(
        id=projection.id,
        dataset_id=projection.dataset_id,
        grain=projection.grain,
        dimensions=tuple(projection.dimensions),
        doubles=tuple(projection.doubles),
    )


def projections_lock_for_batch(*, dataset_ids: Iterable[int]) -> list[db.Spec]:
    """The drain's first step: lock the batch's datasets (shared) and read their projections."""
    ids = sorted(set(dataset_ids))
    if not ids:
        return []
    db.datasets_lock_shared(dataset_ids=ids)
    return projection_specs(dataset_ids=ids)


def projections_columns(*, specs: Iterable[db.Spec]) -> set[str]:
    """The point columns the stage must carry for ``projections_apply``."""
    columns: set[str] = set()
    for spec in specs:
        columns.update(spec.dimensions)
        columns.update(spec.doubles)
    return columns


def projections_apply(*, specs: Iterable[db.Spec]) -> None:
    """Append the staged batch to each projection; inside the drain's transaction, after staging.

    A projection whose rows can be grouped from a wider one's (``db.derivable``: the dataset's
    ``blob1_blob2`` from its ``dashboard``) is, in the wider one's statement: the widest of a
    dataset's projections go first and take every later one they can.
    """
    sources: list[tuple[db.Spec, list[db.Spec]]] = []
    for spec in sorted(specs, key=lambda s: (-len(s.dimensions), -len(s.doubles), s.grain, s.id)):
        source = next((entry for entry in sources if db.derivable(spec, source=entry[0])), None)
        if source is None:
            sources.append((spec, []))
        else:
            source[1].append(spec)
    for spec, derived in sources:
        db.projection_apply_staged(spec=spec, derived=derived)


def projections_points_deleted(*, dataset_id: int, timestamps: Iterable[datetime]) -> None:
    """Points of these timestamps were deleted in this transaction: recompute their buckets.

    Takes the dataset's lock exclusively (until commit), like a backfill step.
    """
    moments = list(timestamps)
    if not moments:
        return
    db.dataset_lock(dataset_id=dataset_id)
    for spec in projection_specs(dataset_ids=[dataset_id]):
        db.projection_recompute_buckets(spec=spec, buckets=sorted({floor_to(m, spec.grain) for m in moments}))


def projections_days_lock() -> None:
    """First in the transaction that drops a day partition (``projections_day_dropped`` after it): compaction
    stays out until it commits (``db.days_lock``)."""
    db.days_lock()


def projections_day_dropped(*, day_start: datetime) -> int:
    """A day partition of points was dropped: every projection's buckets of that UTC day go too."""
    return db.rows_delete_between(start=day_start, end=day_start + timedelta(days=1))


def projections_compact(*, before: datetime, max_buckets: int = 200) -> int:
    """Merge the partial rows drains appended, for the noted buckets that start before ``before``, the oldest first.

    Every bucket a drain appended to is noted (``db.dirty_table_sql``), whatever its age, and
    forgotten once merged, so a bucket of a history load is merged as surely as the last hour.
    A note of a bucket already one row per key costs one read. Bounded (``max_buckets`` per
    call) and exact: sums and extremes merge without loss, and the dataset's lock keeps drains,
    backfills and deletions of that dataset out meanwhile, so a drain's notes are forgotten
    only with its rows merged. Oldest first, so that this run, which beat makes whatever ingest is
    doing, always gets through a backlog: the buckets still being written, noted again by every
    drain, would otherwise take its places run after run. Returns the rows removed.
    """
    removed, merged = _compact(db.dirty_buckets(before=before, limit=max_buckets, coarse_first=False))
    _measure(merged)
    return removed


def projections_compact_idle(*, quiet: timedelta, seconds: float, batch: int = 200) -> int:
    """Catch up with a burst once ingest has gone quiet: merge every noted bucket, however recent, the coarsest
    grain and the newest bucket first (``db.dirty_buckets``), a batch at a time for up to ``seconds``, while
    no drain has written for ``quiet`` (``ingest_idle``).

    A drain holds its datasets' lock (shared) for its whole transaction, and merging a bucket takes it
    exclusively, so merging during a load stalls the load's drains, and the load fragments what was merged
    again. ``projections_compact`` merges a bounded batch of buckets that began over an hour ago every 10 minutes,
    which left a 1M-point history loaded through the API fragmented for hours (docs/benchmarks.md: its day
    tier held 210,387 rows for 110,494 keys); merged after the load, its 1,594 noted buckets took 17.5 s.
    Checked again before each bucket, so a drain that starts meanwhile waits for one bucket's merge at most.
    Returns the rows removed.
    """
    deadline = time.monotonic() + seconds

    def proceed() -> bool:
        return time.monotonic() < deadline and ingest_idle(for_at_least=quiet)

    removed = 0
    merged: set[int] = set()
    while proceed():
        noted = db.dirty_buckets(before=timezone.now(), limit=batch, coarse_first=True)
        if not noted:
            break
        batch_removed, batch_merged = _compact(noted, proceed=proceed)
        removed += batch_removed
        merged |= batch_merged
    _measure(merged)
    return removed


def _compact(noted: list[tuple[int, datetime]], *, proceed: Callable[[], bool] | None = None) -> tuple[int, set[int]]:
    """Merge and forget each noted bucket in its own transaction, while ``proceed`` says to go on; returns the
    rows removed and the projections that lost some."""
    specs = {p.id: _spec(p) for p in Projection.objects.filter(id__in={projection_id for projection_id, _ in noted})}
    merged: set[int] = set()
    removed = 0
    for projection_id, bucket in noted:
        if proceed is not None and not proceed():
            break
        spec = specs.get(projection_id)
        with transaction.atomic():
            if spec is not None:
                db.days_lock_shared()
                db.dataset_lock(dataset_id=spec.dataset_id)
                if db.bucket_fragmented(spec=spec, bucket=bucket):
                    removed += db.projection_compact(spec=spec, start=bucket, end=bucket + timedelta(seconds=spec.grain))
                    merged.add(projection_id)
            db.dirty_forget(projection_id=projection_id, bucket=bucket)
    return removed, merged


def _measure(merged: set[int]) -> None:
    """Measure again, once per compaction run, the ready projections it merged rows of. Their measure, taken while
    their buckets held partial rows, overstates the rows per bucket that the SQL planner weighs its cuts with
    (``projections_measure``). The points they stand for do not change; they are measured too because a
    dataset loaded through the API has them from beat's hourly measure otherwise (the drain's refresh counts
    rows only)."""
    now = timezone.now()
    for projection in Projection.objects.filter(id__in=merged, state=ProjectionState.READY).only("id", "grain"):
        projection_measure(projection_id=projection.id, grain=projection.grain, now=now)


#: How often a ready projection's rows per bucket is measured again (``projections_measure``).
MEASURE_EVERY = timedelta(hours=1)
#: The whole days before today that a measure samples, and how many buckets it counts in them.
MEASURE_DAYS = 2
MEASURE_SAMPLES = 8


def measure_samples(*, grain: int, now: datetime) -> list[datetime]:
    """``MEASURE_SAMPLES`` buckets of ``grain`` spread evenly over the ``MEASURE_DAYS`` whole days before ``now``'s
    (fewer for a grain that coarse: the two days themselves). Whole days, so that every tier of a projection is
    measured over the same stretch of time and a ragged day, the one a planner's cut reads, is among them."""
    end = floor_to(now, ProjectionGrain.DAY)
    start = end - timedelta(days=MEASURE_DAYS)
    step = (end - start) / MEASURE_SAMPLES
    return sorted({floor_to(start + step * k, grain) for k in range(MEASURE_SAMPLES)})


def projections_measure(
    *, now: datetime, due_before: datetime | None = None, max_projections: int = 500, points: bool = True
) -> int:
    """Measure the rows per bucket of ready projections not measured since ``due_before`` (by default
    ``MEASURE_EVERY`` before ``now``), the longest unmeasured first; bounded per call and resumable, since each
    measure is saved as it is taken.

    The SQL planner sizes its cuts from these (``tracking.sql.planner.cut_reach``): how many rows a day holds
    against an hour decides how far into a day its edge may lie for the day row minus some hour rows to read
    fewer rows than the hours themselves. A measure that changes bumps the project's catalog version
    (``tracking.sql.schema.CATALOG_MEASURED_POINTS_SQL``). Returns how many were measured.

    ``points=False`` leaves the points the rows stand for (``bucket_points``, which size the raw cut:
    ``planner.raw_cut_reach``) as they were: counting rows reads the ``(projection_id, bucket)`` index,
    summing their counts reads the rows themselves, 5-22 ms a projection at 10M points where the count
    took 1-3 (cold). A drain waits for its statistics refresh, which measures up to ``REFRESH_MEASURES``
    projections, so it counts rows only; beat's measure and a backfill's end take both.
    """
    due = list(
        Projection.objects.filter(state=ProjectionState.READY)
        .exclude(measured_at__gt=now - MEASURE_EVERY if due_before is None else due_before)
        .order_by(F("measured_at").asc(nulls_first=True), "id")
        .only("id", "grain")[:max_projections]
    )
    for projection in due:
        projection_measure(projection_id=projection.id, grain=projection.grain, now=now, points=points)
    return len(due)


def projection_measure(*, projection_id: int, grain: int, now: datetime, points: bool = True) -> None:
    """Saved at once, so a run stopped midway keeps what it measured (``projections_measure``)."""
    rows, stood_for = db.bucket_measure(projection_id=projection_id, buckets=measure_samples(grain=grain, now=now), points=points)
    measured: dict[str, object] = {"bucket_rows": rows, "measured_at": now}
    if points:
        measured["bucket_points"] = stood_for
    Projection.objects.filter(id=projection_id).update(**measured)


def projections_prune() -> int:
    """Rows and notes of projections deleted around the ORM's signals; returns the rows removed."""
    db.dirty_prune_orphans()
    return db.rows_prune_orphans()
