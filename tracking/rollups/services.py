"""Pre-aggregated rollups of data points, exact because they change in the write transaction.

Reports never scan 10 million raw points: they read rollup tiers (per minute, hour, day and
week). ``rollups_stage`` and ``rollups_apply_staged`` update the minute tier in the same transaction that COPYs a batch
into ``tracking_datapoint`` (see ``tracking.services._write_entries``), and the coarser tiers
too for points before the watermark; ``rollups_coarse_advance`` folds the minutes the
watermark passes into the coarser tiers in the transaction that moves it. A batch committed
is a batch counted, once; a batch rolled back is counted nowhere. docs/reports.md explains
the layout and its trade-offs.

A row of a rollup is ``(dataset, kind, bucket, k1, k2) -> n, s1, s2, s3`` where ``n`` is the
number of points weighted by ``_sample_interval`` and ``sN`` the weighted sums of the
kind's three measures, as ``numeric``: adding partial sums in any order gives the same
digits a raw ``SUM(double::text::numeric)`` gives, the SQL engine's exact sum. Latency
histograms are rows of their own kinds whose ``k2`` is a fixed log-scale bin, so percentiles
come from the same tables.

The batch is classified by the same SQL (``db.classified_sql``) that reads raw
points for the ragged ends of a report and rebuilds rollups, so the three can never
disagree about what a point is.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from operator import itemgetter
from typing import Any

from tracking.columns import BLOB_COLUMNS, COPY_HEAD_COLUMNS, DOUBLE_COLUMNS, INDEX_COLUMN
from tracking.rollups import db
from tracking.rollups.layout import MINUTE, Layout, floor_to, layout_from_labels, minute_tier_horizon

BASE_COLUMNS = ("blob1", "blob2", "blob3", "double1", "double2", "double3")


def _layout_columns(layout: Layout) -> set[str]:
    return {
        layout.method,
        layout.path,
        layout.status,
        layout.duration_ms,
        layout.count,
        layout.size_bytes,
    }


@dataclass(frozen=True)
class StagedBatch:
    """A batch in this transaction's stage (``rollups_stage``): its datasets by layout and its earliest point."""

    by_layout: dict[Layout, list[int]]
    earliest: datetime


def rollups_stage(
    *, rows: Iterable[Sequence[Any]], blob_count: int, double_count: int, also_stage: Iterable[str] = ()
) -> StagedBatch | None:
    """Stage a batch's points for the rollups; call inside the transaction that stores them. None for no rows.

    ``rows`` are the COPY rows of ``tracking.db.datapoint_copy``: ``dataset_id, timestamp,
    index1, dedup_id`` then ``blob_count`` blobs and ``double_count`` doubles. Only the
    columns reports read are staged (COPY into a temporary table), then grouped per minute
    in SQL (``rollups_apply_staged``). Stored points carry the column default ``_sample_interval = 1``,
    and so do staged ones. ``also_stage`` names more columns to stage, for the projections that read
    the stage too (``tracking.projections.services.projections_apply``).
    """
    rows = list(rows)
    if not rows:
        return None
    dataset_ids = sorted({int(row[0]) for row in rows})
    labels = dict(db.dataset_labels(dataset_ids=dataset_ids))
    by_layout: dict[Layout, list[int]] = defaultdict(list)
    for dataset_id in dataset_ids:
        by_layout[layout_from_labels(labels.get(dataset_id))].append(dataset_id)
    wanted = set(BASE_COLUMNS).union(*(_layout_columns(layout) for layout in by_layout), also_stage)
    head = len(COPY_HEAD_COLUMNS)
    positions = {INDEX_COLUMN: COPY_HEAD_COLUMNS.index(INDEX_COLUMN)}
    positions |= {name: head + i for i, name in enumerate(BLOB_COLUMNS[:blob_count])}
    positions |= {name: head + blob_count + i for i, name in enumerate(DOUBLE_COLUMNS[:double_count])}
    columns = sorted(column for column in wanted if column in positions)
    picks = [positions[column] for column in columns]
    # One C call per row (itemgetter), not a generator per row: this runs for every point.
    db.rollup_stage(rows=map(itemgetter(0, 1, *picks), rows), columns=columns)
    return StagedBatch(by_layout=dict(by_layout), earliest=min(row[1] for row in rows))


def rollups_apply_staged(*, staged: StagedBatch | None) -> None:
    """Add the staged batch to every rollup tier it reaches; the last maintenance of the drain's transaction.

    Its upsert locks the minute rows it adds to until the transaction commits, and a concurrent
    drain of the same dataset and minute waits there for that commit. Run last, it makes that drain
    wait for this one's commit only, not for its projections as well: with the projections after it,
    `bench.ingest`'s drains waited 70-155 ms at a time in this statement, behind another drain's
    projections (pg_stat_activity sampled every 20 ms, 239 waits in 150 s).
    """
    if staged is None:
        return
    watermark = db.watermark_read(lock=True)
    coarse_before = watermark if staged.earliest < watermark else None
    if len(staged.by_layout) == 1:
        db.rollup_apply_staged(layout=next(iter(staged.by_layout)), dataset_ids=None, coarse_before=coarse_before)
        return
    for layout, ids in staged.by_layout.items():
        db.rollup_apply_staged(layout=layout, dataset_ids=sorted(ids), coarse_before=coarse_before)


def rollups_apply(
    *, rows: Iterable[Sequence[Any]], blob_count: int, double_count: int, also_stage: Iterable[str] = ()
) -> None:
    """Stage a batch and add it to every rollup tier (``rollups_stage``, ``rollups_apply_staged``), for writers
    with nothing to do between the two."""
    rollups_apply_staged(staged=rollups_stage(rows=rows, blob_count=blob_count, double_count=double_count, also_stage=also_stage))


#: How far the watermark trails the clock. Live points reach the drain within seconds of the
#: stamp the server gave them; kept behind it, a drain's points are all after the watermark and
#: it upserts the minute tier alone, not all five.
COARSE_LAG = timedelta(minutes=2)


def rollups_coarse_advance(*, now: datetime, max_hours: int = 24) -> datetime:
    """Fold the minute tier's finished minutes (older than ``COARSE_LAG``) into the hour, day and
    week tiers, at most ``max_hours`` per call (bounded, resumable); returns the watermark
    reached. Call in a transaction; beat runs it every 30 seconds.

    Until then reports read those minutes from the minute tier (``tracking.reports.window``), so
    nothing they show waits for it.
    """
    return db.rollup_coarse_advance(until=floor_to(now - COARSE_LAG, MINUTE), max_hours=max_hours)


def rollups_rebuild(*, dataset_id: int, labels: dict[str, str] | None, now: datetime) -> None:
    """Recompute a dataset's rollups from its raw points, e.g. after its labels changed.

    Call inside a transaction: readers see the old rollups until the new ones are
    complete. Costs scans of the dataset's points (docs/benchmarks.md has the figure).
    """
    db.rollup_rebuild(
        dataset_id=dataset_id,
        layout=layout_from_labels(labels),
        minute_from=minute_tier_horizon(now),
    )


def rollups_prune(*, now: datetime) -> int:
    """Drop rows no report reads any more: minute rows past the minute tier's horizon, hour and
    day rows older than their dataset's retention, and rows of deleted datasets. Meant to run
    hourly, like retention."""
    return (
        db.rollup_prune_minutes(before=minute_tier_horizon(now))
        + db.rollup_prune_retention(now=now)
        + db.rollup_prune_orphans()
    )
