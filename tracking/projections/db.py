"""Raw SQL of projections: the rows table, its maintenance from staged and raw points, and the locks.

All projections share one append-only table, ``tracking_projection_row``: per projection,
bucket and dimension values, mergeable partial aggregates. A drain appends one row per
group of its batch; readers sum the rows of a key (the SQL they run groups anyway), and
``projection_compact`` merges them later, as ClickHouse's SummingMergeTree does: every
append also notes its buckets in ``tracking_projection_dirty``, so compaction visits exactly
the buckets drains wrote to, however old their points (a history load, a late client). Exact
because every sum is ``numeric``: ``x::text::numeric`` is the shortest round-trip decimal
of a float8, and adding such decimals in any order gives the same digits.

Dimension values sit in positional columns ``d1..d4`` and doubles in ``s1..s20`` (sum),
``w1..w20`` (sum of ``_sample_interval * x``), ``lo1..lo20``/``hi1..hi20`` (min/max), in the
order of the projection's ``dimensions`` and ``doubles``. Column names interpolated into SQL
come from those validated lists only.

Consistency with raw points rests on one advisory lock per dataset: a drain holds it shared
from before it reads the dataset's projections until it commits; a backfill chunk, a
deletion batch, a compaction and ``projection_create`` hold it exclusively. So a chunk
recomputed from raw points never races a drain adding to it, and a drain never misses a
projection created while it ran. A second lock keeps compaction and a dropped day apart
(``days_lock``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import connection

from tracking.models import PROJECTION_DOUBLES, PROJECTION_MAX_DIMENSIONS

TABLE = "tracking_projection_row"
DIRTY_TABLE = "tracking_projection_dirty"
EPOCH_SQL = "TIMESTAMPTZ '1970-01-01 00:00:00+00'"
STAGE_TABLE = "tracking_rollup_stage"
TS = '"timestamp"'
_LOCK_NAMESPACE = "tracking.projections"
_DAYS_LOCK_NAMESPACE = "tracking.projections.days"
_NAME_RE = re.compile(r"^(index1|blob([1-9]|1[0-9]|20)|double([1-9]|1[0-9]|20))$")
MAX_DOUBLES = len(PROJECTION_DOUBLES)


@dataclass(frozen=True)
class Spec:
    """What the SQL of one projection needs: its id, dataset, grain (seconds) and column lists."""

    id: int
    dataset_id: int
    grain: int
    dimensions: tuple[str, ...]
    doubles: tuple[str, ...]
    name: str = ""
    #: Rows a bucket held on average when last measured (``bucket_measure``); None before.
    #: Not part of a projection's identity: the planner only sizes its cuts from it.
    bucket_rows: float | None = field(default=None, compare=False)
    #: Points a bucket stood for on average (``bucket_measure``); None before.
    bucket_points: float | None = field(default=None, compare=False)


def _name(column: str) -> str:
    if not _NAME_RE.match(column):
        raise ValueError(f"not a data column: {column!r}")
    return column


def rows_table_sql() -> str:
    """DDL of the rows table. No foreign key (like the points table): Django's test flush
    truncates only the tables it knows. Deleting a projection deletes its rows (``tracking.signals``)."""
    dims = ",\n".join(f"    d{i} text" for i in range(1, PROJECTION_MAX_DIMENSIONS + 1))
    measures = ",\n".join(
        f"    s{i} numeric,\n    w{i} numeric,\n    lo{i} double precision,\n    hi{i} double precision"
        for i in range(1, MAX_DOUBLES + 1)
    )
    return f"""
CREATE TABLE {TABLE} (
    projection_id bigint NOT NULL,
    dataset_id bigint NOT NULL,
    bucket timestamptz NOT NULL,
{dims},
    n bigint NOT NULL CHECK (n > 0),
    si bigint NOT NULL CHECK (si >= n),
{measures}
);
CREATE INDEX {TABLE}_bucket ON {TABLE} (projection_id, bucket);
GRANT SELECT ON {TABLE} TO meaux_sql_reader;
ALTER TABLE {TABLE} ENABLE ROW LEVEL SECURITY;
CREATE POLICY meaux_sql_project_datasets ON {TABLE} FOR SELECT TO meaux_sql_reader
  USING (dataset_id = ANY (ARRAY(SELECT unnest(string_to_array(
    coalesce(nullif(current_setting('meaux_sql.dataset_ids', true), ''), '0'), ','))::bigint)));
"""


def dirty_table_sql() -> str:
    """DDL of the buckets drains appended to since their last compaction, seeded with every bucket
    that has rows (any may be fragmented). Append-only, without a unique key: two drains of one
    dataset noting the same current bucket must not wait for each other's commit, as
    ``ON CONFLICT`` would make them. Compaction removes a bucket's notes once it has merged it."""
    return f"""
CREATE TABLE {DIRTY_TABLE} (projection_id bigint NOT NULL, bucket timestamptz NOT NULL);
CREATE INDEX {DIRTY_TABLE}_bucket ON {DIRTY_TABLE} (projection_id, bucket);
INSERT INTO {DIRTY_TABLE} (projection_id, bucket) SELECT DISTINCT projection_id, bucket FROM {TABLE};
"""


def dirty_table_drop_sql() -> str:
    return f"DROP TABLE IF EXISTS {DIRTY_TABLE};"


#: The columns of the rows table that queries only aggregate, never filter, group or join on.
MEASURE_COLUMNS = ("n", "si", *(f"{kind}{i}" for i in range(1, MAX_DOUBLES + 1) for kind in ("s", "w", "lo", "hi")))


def measures_statistics_sql(target: int) -> str:
    """ANALYZE collects no statistics for the measures (``target`` 0): no estimate reads them, and
    sorting the sample's exact ``numeric`` sums for 82 columns was most of an ANALYZE of the rows
    (0.52 s of it for 856k rows, 0.21-0.24 s for the keys alone), which drains run as a load grows."""
    columns = ", ".join(f"ALTER COLUMN {column} SET STATISTICS {target}" for column in MEASURE_COLUMNS)
    return f"ALTER TABLE {TABLE} {columns};"


def first_dimension_index_sql() -> str:
    """Queries filter on a dimension's value (``blob3 = 'cost'``): the first dimension leads an
    index, so a projection lists the dimension its queries filter on most first. At 1M points
    (bench.queries' data, EXPLAIN ANALYZE) the seed's 30-day cost trend read 495k rows through
    the bucket index to keep 19k; through this one it reads the 19k (7-day cost: 519 → 49 ms)."""
    return f"CREATE INDEX {TABLE}_first_dimension ON {TABLE} (projection_id, d1, bucket);"


def rows_table_drop_sql() -> str:
    return f"DROP TABLE IF EXISTS {TABLE};"


def bucket_sql(grain: int, moment: str) -> str:
    return f"date_bin(INTERVAL '{int(grain)} seconds', {moment}, {EPOCH_SQL})"


def _row_columns(spec: Spec) -> list[str]:
    columns = ["projection_id", "dataset_id", "bucket"]
    columns += [f"d{i}" for i in range(1, len(spec.dimensions) + 1)]
    columns += ["n", "si"]
    for i in range(1, len(spec.doubles) + 1):
        columns += [f"s{i}", f"w{i}", f"lo{i}", f"hi{i}"]
    return columns


def point_measures_sql(spec: Spec, *, unit_interval: bool = False) -> list[str]:
    """Per point, the values a row of ``spec`` aggregates, in ``_row_columns`` order after the
    dimensions: the SQL engine's raw reading of a dataset (``coalesce(x, 0)``, ``_sample_interval``
    as bigint) and the float8 product it computes for ``_sample_interval * x``.

    ``unit_interval``: every point of the source has ``_sample_interval = 1`` (the drain's stage),
    so the product is ``x`` itself (``1.0 * x`` is exact in float8) and is spelled as the plain
    sum is: PostgreSQL then computes the identical aggregates once, one decimal conversion per
    double instead of two."""
    parts = ["1::bigint", "_sample_interval::bigint"]
    for double in spec.doubles:
        x = f"coalesce({_name(double)}, 0)"
        plain = f"({x})::text::numeric"
        parts += [plain, plain if unit_interval else f"((_sample_interval::bigint)::float8 * ({x})::float8)::text::numeric", x, x]
    return parts


def _aggregate_select(spec: Spec, source: str, *, unit_interval: bool = False) -> str:
    """Rows of ``spec`` grouped from points of ``source`` (a FROM clause naming ``dataset_id``,
    ``timestamp``, ``_sample_interval`` and the columns)."""
    dims = [f"coalesce({_name(d)}, '')" if d != "index1" else "coalesce(index1, '')" for d in spec.dimensions]
    measures = point_measures_sql(spec, unit_interval=unit_interval)[2:]
    folds = ("sum", "sum", "min", "max")
    aggregates = ["count(*)", "sum(_sample_interval)"] + [f"{folds[i % 4]}({m})" for i, m in enumerate(measures)]
    return (
        f"SELECT {int(spec.id)}, {int(spec.dataset_id)}, {bucket_sql(spec.grain, TS)}"
        f"{''.join(', ' + d for d in dims)}, {', '.join(aggregates)} FROM {source} GROUP BY {_key_positions(spec)}"
    )


def derivable(spec: Spec, *, source: Spec) -> bool:
    """Whether ``spec``'s rows of a batch can be grouped from ``source``'s rows of it, exactly:
    the same dataset, a subset of its dimensions and doubles, and a grain that is a multiple of
    its grain (both are binned from the epoch, so a coarse bucket is a union of fine ones).
    Sums of ``numeric`` partial sums, minimums of minimums and maximums of maximums are what
    grouping the points would give."""
    return (
        spec.dataset_id == source.dataset_id
        and set(spec.dimensions) <= set(source.dimensions)
        and set(spec.doubles) <= set(source.doubles)
        and spec.grain % source.grain == 0
    )


def _key_positions(spec: Spec) -> str:
    """Bucket and dimensions, as positions of a row select: the order rows are written in."""
    return ", ".join(str(i) for i in range(3, 4 + len(spec.dimensions)))


def _derived_select(spec: Spec, *, source: Spec, rows: str) -> str:
    """Rows of ``spec`` grouped from ``rows``, a relation of ``source``'s row columns."""
    dims = [f"d{source.dimensions.index(d) + 1}" for d in spec.dimensions]
    measures = ["sum(n)", "sum(si)"]
    for double in spec.doubles:
        i = source.doubles.index(double) + 1
        measures += [f"sum(s{i})", f"sum(w{i})", f"min(lo{i})", f"max(hi{i})"]
    return (
        f"SELECT {int(spec.id)}, {int(spec.dataset_id)}, {bucket_sql(spec.grain, 'bucket')}"
        f"{''.join(', ' + d for d in dims)}, {', '.join(measures)} FROM {rows} GROUP BY {_key_positions(spec)}"
    )


def projection_apply_staged(*, spec: Spec, derived: Sequence[Spec] = ()) -> None:
    """Append the staged batch's points of ``spec``'s dataset as partial rows (the drain's part),
    and those of the ``derived`` projections (each ``derivable`` from ``spec``) grouped from
    ``spec``'s few rows instead of every point again: one statement, one decimal conversion
    per double and point for all of them. The same statement notes the buckets it appended to
    (``dirty_table_sql``).

    Staged points are unsampled: the drain stores none with a ``_sample_interval`` (the column's
    default, 1, as in the stage table). Grouped by hashing (``enable_sort`` off for the
    statement): the stage has no statistics, so the planner, expecting a handful of rows for
    one dataset, would sort every point by its text keys. The rows are then written in key
    order, as the sorted grouping wrote them: at 1M points loaded through the API (fresh
    databases, one run each) the 30-day cost trend read hashed-order rows in 30.3 ms and
    key-ordered ones in 21.2 ms. Without JIT: the sorts it must still do cost the planner's
    penalty for a disabled plan type, far over ``jit_above_cost``, and compiling took 400 ms."""
    if not all(derivable(child, source=spec) for child in derived):
        raise ValueError("a derived projection is not derivable from its source")
    columns = _row_columns(spec)
    select = _aggregate_select(spec, f"{STAGE_TABLE} WHERE dataset_id = {int(spec.dataset_id)}", unit_interval=True)
    inserts = [
        f"d{n} AS (INSERT INTO {TABLE} ({', '.join(_row_columns(child))}) "
        f"{_derived_select(child, source=spec, rows='base')} ORDER BY {_key_positions(child)})"
        for n, child in enumerate(derived, start=1)
    ]
    noted = " UNION ".join(
        [f"SELECT {int(spec.id)}, bucket FROM base"]
        + [f"SELECT {int(child.id)}, {bucket_sql(child.grain, 'bucket')} FROM base" for child in derived]
    )
    inserts.append(f"noted AS (INSERT INTO {DIRTY_TABLE} (projection_id, bucket) {noted})")
    with_clause = f"WITH base ({', '.join(columns)}) AS MATERIALIZED ({select}){''.join(', ' + i for i in inserts)} "
    with connection.cursor() as cursor:
        cursor.execute(
            f"SET LOCAL enable_sort = off; SET LOCAL jit = off; "
            f"{with_clause}INSERT INTO {TABLE} ({', '.join(columns)}) SELECT * FROM base ORDER BY {_key_positions(spec)}; "
            "RESET enable_sort; RESET jit"
        )


def projection_recompute(*, spec: Spec, start: datetime, end: datetime) -> int:
    """Replace ``spec``'s rows of buckets in [start, end) (grain-aligned) by rows computed from raw points."""
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {TABLE} WHERE projection_id = %s AND bucket >= %s AND bucket < %s", [spec.id, start, end])
        cursor.execute(
            f"INSERT INTO {TABLE} ({', '.join(_row_columns(spec))}) "
            + _aggregate_select(
                spec, 'tracking_datapoint WHERE dataset_id = %s AND "timestamp" >= %s AND "timestamp" < %s'
            )
            + " ORDER BY 3",
            [spec.dataset_id, start, end],
        )
        return int(cursor.rowcount)


def projection_recompute_buckets(*, spec: Spec, buckets: Sequence[datetime]) -> None:
    """Replace the rows of these buckets (starts, grain-aligned) by rows computed from raw points."""
    if not buckets:
        return
    starts = sorted(set(buckets))
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {TABLE} WHERE projection_id = %s AND bucket = ANY(%s)", [spec.id, starts])
        cursor.execute(
            f"INSERT INTO {TABLE} ({', '.join(_row_columns(spec))}) "
            + _aggregate_select(
                spec,
                'tracking_datapoint WHERE dataset_id = %s AND "timestamp" >= %s AND "timestamp" < %s '
                f"AND {bucket_sql(spec.grain, TS)} = ANY(%s)",
            )
            + " ORDER BY 3",
            [spec.dataset_id, starts[0], starts[-1] + timedelta(seconds=spec.grain), starts],
        )


def projection_compact(*, spec: Spec, start: datetime, end: datetime) -> int:
    """Merge the partial rows of buckets in [start, end) into one row per key; returns rows removed."""
    columns = _row_columns(spec)
    key_count = 3 + len(spec.dimensions)
    merged = columns[:key_count] + ["sum(n)", "sum(si)"]
    for i in range(1, len(spec.doubles) + 1):
        merged += [f"sum(s{i})", f"sum(w{i})", f"min(lo{i})", f"max(hi{i})"]
    keys = ", ".join(columns[:key_count])
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            WITH gone AS (
                DELETE FROM {TABLE} WHERE projection_id = %s AND bucket >= %s AND bucket < %s RETURNING *
            ), merged AS (
                INSERT INTO {TABLE} ({', '.join(columns)})
                SELECT {', '.join(merged)} FROM gone GROUP BY {keys} ORDER BY bucket
                RETURNING 1
            )
            SELECT (SELECT count(*) FROM gone) - (SELECT count(*) FROM merged)
            """,
            [spec.id, start, end],
        )
        return int(cursor.fetchone()[0])


def projection_rows_delete(*, projection_id: int) -> int:
    """A projection's rows and its notes (``dirty_table_sql``); returns the rows removed."""
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {DIRTY_TABLE} WHERE projection_id = %s", [projection_id])
        cursor.execute(f"DELETE FROM {TABLE} WHERE projection_id = %s", [projection_id])
        return int(cursor.rowcount)


def rows_delete_between(*, start: datetime, end: datetime) -> int:
    """Rows of every projection in [start, end): a day partition of points was dropped."""
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {TABLE} WHERE bucket >= %s AND bucket < %s", [start, end])
        return int(cursor.rowcount)


def rows_analyze() -> None:
    """Planner statistics of every projection's rows, skipped while another session holds a conflicting lock."""
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE (SKIP_LOCKED) {TABLE}")


def rows_prune_orphans() -> int:
    """Rows whose projection is gone (a delete that bypassed the ORM's signals)."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"DELETE FROM {TABLE} AS r WHERE NOT EXISTS (SELECT 1 FROM tracking_projection AS p WHERE p.id = r.projection_id)"
        )
        return int(cursor.rowcount)


def dirty_buckets(*, before: datetime, limit: int, coarse_first: bool) -> list[tuple[int, datetime]]:
    """Up to ``limit`` noted (projection id, bucket) pairs with buckets starting before ``before``: the oldest first,
    or with ``coarse_first`` the coarsest grain first and in it the newest bucket first (a coarse bucket is read
    by every long window and merging it removes the most rows per statement; dashboards read recent time most).
    Notes of a projection that is gone are left to ``dirty_prune_orphans``."""
    order = "p.grain DESC, d.bucket DESC, d.projection_id" if coarse_first else "d.bucket, d.projection_id"
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT d.projection_id, d.bucket "
            f"FROM (SELECT DISTINCT projection_id, bucket FROM {DIRTY_TABLE} WHERE bucket < %s) AS d "
            f"JOIN tracking_projection AS p ON p.id = d.projection_id ORDER BY {order} LIMIT %s",
            [before, limit],
        )
        return [(int(row[0]), row[1]) for row in cursor.fetchall()]


def dirty_forget(*, projection_id: int, bucket: datetime) -> None:
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {DIRTY_TABLE} WHERE projection_id = %s AND bucket = %s", [projection_id, bucket])


def dirty_prune_orphans() -> int:
    """Notes of projections that are gone."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"DELETE FROM {DIRTY_TABLE} AS d WHERE NOT EXISTS (SELECT 1 FROM tracking_projection AS p WHERE p.id = d.projection_id)"
        )
        return int(cursor.rowcount)


def bucket_fragmented(*, spec: Spec, bucket: datetime) -> bool:
    """Whether a bucket holds more rows than keys: only then does compacting it shrink anything."""
    dims = ", ".join(f"d{i}" for i in range(1, len(spec.dimensions) + 1))
    distinct = f"count(DISTINCT ({dims}))" if dims else "1"
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT count(*) > {distinct} FROM {TABLE} WHERE projection_id = %s AND bucket = %s", [spec.id, bucket]
        )
        return bool(cursor.fetchone()[0])


def bucket_measure(*, projection_id: int, buckets: Sequence[datetime], points: bool) -> tuple[float, float | None]:
    """The rows a projection holds in each of ``buckets`` on average, and with ``points`` the points they stand
    for (the sum of their counts), in one pass. The rows alone are counted in the ``(projection_id, bucket)``
    index, about 10,000 entries for the bench's 10,000 paths; the points read the rows themselves."""
    measures = "count(*)::float8 / %(buckets)s" + (", coalesce(sum(n), 0)::float8 / %(buckets)s" if points else "")
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {measures} FROM {TABLE} WHERE projection_id = %(projection)s AND bucket = ANY(%(starts)s)",
            {"buckets": len(buckets), "projection": projection_id, "starts": list(buckets)},
        )
        measured = cursor.fetchone()
    return float(measured[0]), float(measured[1]) if points else None


def points_extent(*, dataset_id: int) -> tuple[datetime, datetime] | None:
    """The oldest and newest stored point of a dataset (two index probes)."""
    with connection.cursor() as cursor:
        cursor.execute(
            'SELECT (SELECT min("timestamp") FROM tracking_datapoint WHERE dataset_id = %s), '
            '(SELECT max("timestamp") FROM tracking_datapoint WHERE dataset_id = %s)',
            [dataset_id, dataset_id],
        )
        low, high = cursor.fetchone()
    return None if low is None else (low, high)


def datasets_lock_shared(*, dataset_ids: Sequence[int]) -> None:
    """The drain's side of the lock, until commit; in id order, so two drains never deadlock."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_advisory_xact_lock_shared(hashtext(%s), (id %% 2147483647)::int) FROM unnest(%s::bigint[]) AS id ORDER BY id",
            [_LOCK_NAMESPACE, sorted(dataset_ids)],
        )


def days_lock_shared() -> None:
    """A compaction's side of the dropped-day lock (``days_lock``), shared until commit. Taken before the dataset's
    lock: retention holds this one while it drops a partition, which waits for the drains writing points, and
    a drain may be waiting for the dataset's lock; a compaction holding that one while it waited here would
    close the circle."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock_shared(hashtext(%s), 0)", [_DAYS_LOCK_NAMESPACE])


def days_lock() -> None:
    """Retention's side, exclusively until commit, taken before it drops a day partition. A compaction rewrites a
    bucket's rows in one statement; a DELETE of the day's rows running beside it skips the rows it removed
    and cannot see the merged rows it put back, which then outlive their points."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(hashtext(%s), 0)", [_DAYS_LOCK_NAMESPACE])


def dataset_lock(*, dataset_id: int) -> None:
    """Exclusive, until commit: no drain of this dataset adds to its projections meanwhile."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(hashtext(%s), (%s::bigint %% 2147483647)::int)", [_LOCK_NAMESPACE, dataset_id])
