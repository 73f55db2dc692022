"""Pre-aggregated rollups of data points, exact because they change in the write transaction.

Reports never scan 10 million raw points: they read three rollup tiers (per minute, hour
and day) that ``rollups_apply`` updates in the same transaction that COPYs a batch into
``tracking_datapoint`` (see ``tracking.services._write_entries``). A batch committed is a
batch counted, once; a batch rolled back is counted nowhere. Sums are ``numeric`` built
from each double's 15-digit decimal form, exactly as PostgreSQL casts ``float8`` to
``numeric``, so adding partial sums in any order gives the same digits a raw
``SUM(double::numeric)`` gives. docs/reports.md explains the layout and its trade-offs.

A row of a rollup is ``(dataset, bucket, kind, k1, k2) -> n, s1, s2, s3`` where ``n`` is the
number of points weighted by ``_sample_interval`` and ``sN`` the weighted sums of the
kind's three measures. Latency histograms are rows of their own kind whose ``k2`` is a
fixed log-scale bin, so percentiles come from the same tables.
"""

from __future__ import annotations

import decimal
from collections.abc import Iterable, Sequence
from datetime import datetime
from decimal import Decimal

from tracking import reports_db
from tracking.reports_layout import (
    COST_MARKER,
    HTTP_METHODS,
    MARKERS,
    TIERS,
    Kind,
    Layout,
    exact,
    latency_bin,
    layout_from_labels,
    minute_tier_horizon,
)

_EXACT = decimal.Context(prec=200)


class _Accumulator:
    """Groups classified points of a batch into rollup rows, one dict per tier."""

    def __init__(self) -> None:
        self.tiers: dict[str, dict[tuple[int, datetime, int, str, str], list]] = {name: {} for name, _ in TIERS}

    def add(self, dataset_id: int, moment: datetime, kind: int, k1: str, k2: str, weight: int, sums: Sequence[Decimal]) -> None:
        minute = moment.replace(second=0, microsecond=0)
        buckets = {"minute": minute, "hour": minute.replace(minute=0), "day": minute.replace(hour=0, minute=0)}
        for name, bucket in buckets.items():
            key = (dataset_id, bucket, kind, k1, k2)
            row = self.tiers[name].get(key)
            if row is None:
                self.tiers[name][key] = [weight, *sums]
            else:
                row[0] += weight
                for i, value in enumerate(sums, start=1):
                    row[i] = _EXACT.add(row[i], value)


def _classify(blob: list, double: list, layout: Layout) -> tuple[int, str, str, list[float | None]]:
    """Kind, keys and measures of one point; mirrors ``reports_db.classified_sql`` exactly."""

    def b(column: str) -> str | None:
        return blob[int(column[4:]) - 1]

    def d(column: str) -> float | None:
        return double[int(column[6:]) - 1]

    if blob[2] == COST_MARKER:
        kind = Kind.COST
    elif blob[0] in MARKERS:
        kind = MARKERS[blob[0]]
    elif b(layout.method) in HTTP_METHODS:
        kind = Kind.REQUEST
    else:
        kind = Kind.OTHER
    if kind == Kind.REQUEST:
        measures = [d(layout.duration_ms), d(layout.count), d(layout.size_bytes)]
        return kind, b(layout.path) or "", b(layout.status) or "", measures
    measures = [double[0], double[1], double[2]]
    if kind == Kind.OTHER:
        return kind, "", "", measures
    if kind == Kind.COST:
        return kind, blob[0] or "", blob[1] or "", measures
    k2 = (blob[2] or "") if kind in (Kind.ERROR, Kind.RESOURCE) else ""
    return kind, blob[1] or "", k2, measures


def rollups_apply(*, rows: Iterable[Sequence[object]], blob_count: int, double_count: int) -> None:
    """Add a batch's points to every rollup tier; call inside the transaction that stores them.

    ``rows`` are the COPY rows of ``tracking.db.datapoint_copy``: ``dataset_id, timestamp,
    index1, dedup_id`` then ``blob_count`` blobs and ``double_count`` doubles. Stored points
    carry the column default ``_sample_interval = 1``, so each weighs 1 here. Upserts go in
    key order so concurrent writers lock rollup rows in the same order and never deadlock.
    """
    rows = list(rows)
    if not rows:
        return
    layouts = {
        dataset_id: layout_from_labels(labels)
        for dataset_id, labels in reports_db.dataset_labels(dataset_ids=sorted({int(row[0]) for row in rows}))
    }
    accumulator = _Accumulator()
    padding_b = [None] * (20 - blob_count)
    padding_d = [None] * (20 - double_count)
    for row in rows:
        dataset_id = int(row[0])
        moment: datetime = row[1]
        blob = list(row[4 : 4 + blob_count]) + padding_b
        double = list(row[4 + blob_count : 4 + blob_count + double_count]) + padding_d
        layout = layouts.get(dataset_id, Layout())
        kind, k1, k2, measures = _classify(blob, double, layout)
        sums = [exact(value) for value in measures]
        accumulator.add(dataset_id, moment, kind, k1, k2, 1, sums)
        if kind == Kind.REQUEST and measures[0] is not None:
            zero = Decimal(0)
            bin_text = str(latency_bin(measures[0]))
            accumulator.add(dataset_id, moment, Kind.LATENCY, k1, bin_text, 1, [zero, zero, zero])
            accumulator.add(dataset_id, moment, Kind.LATENCY_ALL, "", bin_text, 1, [zero, zero, zero])
    for name, grouped in accumulator.tiers.items():
        reports_db.rollup_upsert(
            tier=name, rows=[(*key, *values) for key, values in sorted(grouped.items(), key=lambda item: item[0])]
        )


def rollups_rebuild(*, dataset_id: int, labels: dict[str, str] | None, now: datetime) -> None:
    """Recompute a dataset's rollups from its raw points, e.g. after its labels changed.

    One transaction: readers see the old rollups until the new ones are complete. Costs a
    scan of the dataset's points (about 10 s per 10 million on two cores).
    """
    reports_db.rollup_rebuild(
        dataset_id=dataset_id,
        layout=layout_from_labels(labels),
        minute_from=minute_tier_horizon(now),
    )


def rollups_prune(*, now: datetime) -> int:
    """Drop minute rows past the minute tier's horizon; hour and day rows stay with retention."""
    return reports_db.rollup_prune_minutes(before=minute_tier_horizon(now))
