"""Raw SQL of reports and rollups: named, parameterised functions and nothing else.

Every statement filters on ``dataset_id`` first, which leads the primary key of each rollup
tier and the index of the points table. Column names interpolated into SQL come only from
``Layout``, whose fields are validated ``blobN``/``doubleN`` names.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from django.db import connection
from django.db.backends.utils import CursorWrapper
from psycopg import sql as pgsql

from tracking.columns import BLOB_COLUMNS, DOUBLE_COLUMNS
from tracking.rollups.layout import (
    CLASSIFIED_KINDS,
    COARSE_TIERS,
    COST_MARKER,
    DERIVED_KINDS,
    HISTOGRAM_KINDS,
    HTTP_METHODS,
    LATENCY_BOUNDS,
    MARKERS,
    TIERS,
    Kind,
    Layout,
)

TIER_TABLES = {"minute": "tracking_rollup_minute", "hour": "tracking_rollup_hour", "day": "tracking_rollup_day"}
#: The week tiers (``layout.COARSE_TIERS``); apart from TIER_TABLES, which old migrations iterate.
COARSE_TABLES = {"weeks4": "tracking_rollup_weeks4", "week": "tracking_rollup_week"}
ALL_TABLES = TIER_TABLES | COARSE_TABLES
#: Each tier's grain as ``date_bin`` takes it, from the layout's tiers, so the two cannot drift.
GRAIN_SQL = {name: f"{int(grain.total_seconds())} seconds" for name, grain in TIERS + COARSE_TIERS}
EPOCH_SQL = "TIMESTAMPTZ '1970-01-01 00:00:00+00'"
_COLUMN_RE = re.compile(r"^(blob|double)([1-9]|1[0-9]|20)$")
_STAGE_COLUMN_RE = re.compile(r"^(index1|(blob|double)([1-9]|1[0-9]|20))$")


def _tier_table_sql(table: str, *, histograms: bool) -> str:
    arrays = "\n    bins smallint[],\n    counts bigint[]," if histograms else ""
    return f"""
CREATE TABLE {table} (
    dataset_id bigint NOT NULL,
    bucket timestamptz NOT NULL,
    kind smallint NOT NULL,
    k1 text NOT NULL,
    k2 text NOT NULL,
    n bigint NOT NULL,
    s1 numeric NOT NULL,
    s2 numeric NOT NULL,
    s3 numeric NOT NULL,{arrays}
    PRIMARY KEY (dataset_id, kind, bucket, k1, k2)
) WITH (fillfactor = 70);"""


def rollup_tables_sql() -> str:
    """DDL of the three rollup tiers; identical shape so one query can UNION them.

    No foreign key to tracking_dataset, like the points table: Django's test flush
    truncates only the tables it knows, and a reference from here would block it.
    Deleting a dataset deletes its rollups explicitly.
    """
    return "\n".join(_tier_table_sql(table, histograms=False) for table in TIER_TABLES.values())


def coarse_tables_sql() -> str:
    """DDL of the week tiers: the shape of the others with the histogram arrays."""
    return "\n".join(_tier_table_sql(table, histograms=True) for table in COARSE_TABLES.values())


#: The tiers whose per-path rows are read for a report's top paths; the minute tier is read for
#: at most the last hour, where its primary key's range serves.
PATH_INDEXED_TIERS = ("hour", "day", "week", "weeks4")


def _path_indexes() -> dict[str, str]:
    """An index per tier on the ``PATH`` rows by path, then bucket: name to definition.

    A report ranks its paths first and then reads the measures and histograms of only its
    top 20 or 50 (``reports.db.rollup_top_keys``). The primary key, (dataset, kind, bucket,
    k1, k2), orders the bucket before the path, so finding 20 paths in a week of buckets meant
    walking every path's entry of that week once per path; this index finds each in a few
    pages. Updates of a row can stay HOT (no indexed column changes); only a path's first row
    in a bucket adds an entry.
    """
    return {
        f"{ALL_TABLES[tier]}_path": f"ON {ALL_TABLES[tier]} (dataset_id, k1, bucket) WHERE kind = {int(Kind.PATH)}"
        for tier in PATH_INDEXED_TIERS
    }


def _path_5xx_indexes() -> dict[str, str]:
    """An index per tier on the ``PATH`` rows with 5xx requests by bucket, holding the path and its
    5xx count: name to definition.

    Ranking paths by 5xx (``reports.db.rollup_top_keys``, the Errors report) sums ``s2`` of every
    path row of the range, and a path row carries its latency histogram: over 90 days at 10M
    points and 10,000 paths the ranking read 180,861 rows of 140-430 bytes to keep the 35% with
    5xx (63-122 ms of the report's 100-153 ms), where these indexes take 29 MB next to the
    tiers' 1.8 GB. This index holds those rows alone, so the ranking is an
    index-only scan where the refresh keeps the visibility map current (``db.vacuum_due``). The
    drain's upserts write the minute tier, which has none, and these tiers only for points older
    than the watermark; beat's advance into them adds an entry for a path's first 5xx row in a
    bucket, and an update that changes ``s2`` is no longer HOT.
    """
    return {
        f"{ALL_TABLES[tier]}_path_5xx": f"ON {ALL_TABLES[tier]} (dataset_id, bucket) INCLUDE (k1, s2) "
        f"WHERE kind = {int(Kind.PATH)} AND s2 <> 0"
        for tier in PATH_INDEXED_TIERS
    }


def _indexes_build(indexes: dict[str, str]) -> None:
    """CREATE INDEX CONCURRENTLY IF NOT EXISTS each name with its definition, first dropping an invalid index of
    that name.

    ``CONCURRENTLY``: on a live installation a plain CREATE INDEX would hold off the drain's
    upserts for as long as the build takes. A concurrent build that fails (cancelled, out of
    disk, a deadlock) leaves an invalid index of that name, which PostgreSQL keeps up to date
    but never reads, and ``IF NOT EXISTS`` would take it for done: the migration run again
    would pass and leave the reports without their index for good. Must run outside a
    transaction.
    """
    with connection.cursor() as cursor:
        for name, definition in indexes.items():
            cursor.execute("SELECT NOT indisvalid FROM pg_index WHERE indexrelid = to_regclass(%s)", [name])
            row = cursor.fetchone()
            if row is not None and row[0]:
                cursor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {name}")
            cursor.execute(f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {name} {definition}")


def _indexes_drop(names: Iterable[str]) -> None:
    with connection.cursor() as cursor:
        for name in names:
            cursor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {name}")


def path_indexes_build() -> None:
    _indexes_build(_path_indexes())


def path_indexes_drop() -> None:
    _indexes_drop(_path_indexes())


def path_5xx_indexes_build() -> None:
    _indexes_build(_path_5xx_indexes())


def path_5xx_indexes_drop() -> None:
    _indexes_drop(_path_5xx_indexes())


def rollup_tables_drop_sql() -> str:
    return "\n".join(f"DROP TABLE IF EXISTS {table};" for table in TIER_TABLES.values())


DAY_TOTALS_TABLE = "tracking_dataset_day"
#: A status counts as 5xx as ``reports.selectors.status_class`` counts it.
FIVE_XX_SQL = "k2 ~ '^5[0-9][0-9]$'"


def day_totals_table_sql() -> str:
    """One row per dataset and UTC day: the figures the admin's project list sorts by.

    Kept with the rollups (same transaction, same rebuilds), so they equal the day tier's
    sums; the admin then reads ~30 rows per dataset instead of the day tier's thousands.
    ``project_id`` is copied (a dataset never changes project) so a project's figures are
    an index range scan.
    """
    return f"""
CREATE TABLE {DAY_TOTALS_TABLE} (
    dataset_id bigint NOT NULL,
    day date NOT NULL,
    project_id bigint NOT NULL,
    points bigint NOT NULL,
    requests bigint NOT NULL,
    errors_5xx bigint NOT NULL,
    cost_usd numeric NOT NULL,
    ai_tokens numeric NOT NULL,
    PRIMARY KEY (dataset_id, day)
);
CREATE INDEX tracking_dataset_day_project ON {DAY_TOTALS_TABLE} (project_id, day) INCLUDE (points, requests, errors_5xx, cost_usd, ai_tokens);"""


def _day_totals_select(source: str, where: str) -> str:
    """Day totals grouped from rollup-shaped rows (``dataset_id, bucket, kind, k2, n, s1``): classified
    points (requests as ``REQUEST``) or tier rows (requests as ``STATUS``)."""
    derived = ", ".join(str(int(kind)) for kind in sorted(DERIVED_KINDS))
    requests = f"{int(Kind.REQUEST)}, {int(Kind.STATUS)}"
    return f"""
        SELECT r.dataset_id, (r.bucket AT TIME ZONE 'UTC')::date AS day, d.project_id,
            sum(r.n) AS points, coalesce(sum(r.n) FILTER (WHERE r.kind IN ({requests})), 0) AS requests,
            coalesce(sum(r.n) FILTER (WHERE r.kind IN ({requests}) AND {FIVE_XX_SQL}), 0) AS errors_5xx,
            coalesce(sum(r.s1) FILTER (WHERE r.kind = {int(Kind.COST)}), 0) AS cost_usd,
            coalesce(sum(r.s1) FILTER (WHERE r.kind = {int(Kind.AI)}), 0) AS ai_tokens
        FROM {source} AS r JOIN tracking_dataset AS d ON d.id = r.dataset_id
        WHERE r.kind NOT IN ({derived}){where}
        GROUP BY 1, 2, 3 ORDER BY 1, 2"""


def day_totals_backfill_sql() -> str:
    return f"INSERT INTO {DAY_TOTALS_TABLE} {_day_totals_select(TIER_TABLES['day'], '')};"


PROJECT_DAY_TABLE = "tracking_project_day"
_FIGURES = "points, requests, errors_5xx, cost_usd, ai_tokens"
_FIGURE_SUMS = "sum(points), sum(requests), sum(errors_5xx), sum(cost_usd), sum(ai_tokens)"
_FIGURE_ADD = ", ".join(f"{name} = t.{name} + EXCLUDED.{name}" for name in _FIGURES.split(", "))


def project_day_table_sql() -> str:
    """The day totals summed per project: half the rows or fewer for the admin's list to add up
    (a project has one or more datasets). Kept in the same statements as the dataset rows."""
    return f"""
CREATE TABLE {PROJECT_DAY_TABLE} (
    project_id bigint NOT NULL,
    day date NOT NULL,
    points bigint NOT NULL,
    requests bigint NOT NULL,
    errors_5xx bigint NOT NULL,
    cost_usd numeric NOT NULL,
    ai_tokens numeric NOT NULL,
    PRIMARY KEY (project_id, day)
);
CREATE INDEX tracking_project_day_day ON {PROJECT_DAY_TABLE} (day) INCLUDE (project_id, {_FIGURES});"""


def _project_days_recompute(cursor: CursorWrapper, *, project_ids: list[int]) -> None:
    """Replace the projects' rows with the sums of their datasets' rows."""
    cursor.execute(f"DELETE FROM {PROJECT_DAY_TABLE} WHERE project_id = ANY(%s)", [project_ids])
    cursor.execute(
        f"INSERT INTO {PROJECT_DAY_TABLE} SELECT project_id, day, {_FIGURE_SUMS} FROM {DAY_TOTALS_TABLE} "
        "WHERE project_id = ANY(%s) GROUP BY 1, 2 ORDER BY 1, 2",
        [project_ids],
    )


def project_day_backfill_sql() -> str:
    return f"INSERT INTO {PROJECT_DAY_TABLE} SELECT project_id, day, {_FIGURE_SUMS} FROM {DAY_TOTALS_TABLE} GROUP BY 1, 2;"


def _column(name: str) -> str:
    if not _COLUMN_RE.match(name):
        raise ValueError(f"not a data column: {name!r}")
    return name


WATERMARK_TABLE = "tracking_coarse_watermark"
#: The coarse tiers: built from the minute tier behind the watermark, not upserted by every drain.
COARSE_TIER_NAMES = ("hour", "day", "week", "weeks4")


_WATERMARK_ALIGNED = f"coarse_until = date_bin(INTERVAL '1 minute', coarse_until, {EPOCH_SQL})"


def watermark_minute_sql() -> str:
    """The watermark moves by minutes since the hour tier is folded in too (it moved by hours)."""
    return (
        f"ALTER TABLE {WATERMARK_TABLE} DROP CONSTRAINT IF EXISTS {WATERMARK_TABLE}_coarse_until_check, "
        f"DROP CONSTRAINT IF EXISTS {WATERMARK_TABLE}_minute, ADD CONSTRAINT {WATERMARK_TABLE}_minute CHECK ({_WATERMARK_ALIGNED});"
    )


def watermark_table_sql(partition_prefix: str) -> str:
    """DDL of the coarse tiers' watermark: one row, the moment before which the hour, day and week
    tiers hold every point (``rollup_coarse_advance``).

    It starts past every point stored so far (the end of the newest day partition, or the next
    hour), because the drain has so far added every point to every tier.
    """
    return f"""
CREATE TABLE {WATERMARK_TABLE} (
    id smallint PRIMARY KEY CHECK (id = 1),
    coarse_until timestamptz NOT NULL CONSTRAINT {WATERMARK_TABLE}_minute CHECK ({_WATERMARK_ALIGNED})
);
INSERT INTO {WATERMARK_TABLE} (id, coarse_until)
SELECT 1, greatest(
    date_bin(INTERVAL '1 hour', now(), {EPOCH_SQL}) + INTERVAL '1 hour',
    (SELECT max((right(c.relname, 8)::date + 1)::timestamp AT TIME ZONE 'UTC')
     FROM pg_inherits AS i JOIN pg_class AS c ON c.oid = i.inhrelid
     WHERE i.inhparent = 'tracking_datapoint'::regclass AND c.relname ~ '^{partition_prefix}[0-9]{{8}}$')
);"""


def hours_then_minutes_sql(where: str) -> str:
    """Every point once, as rollup-shaped rows (``dataset_id, bucket, kind, k2, n, s1``): the hour
    tier's before the coarse watermark, the minute tier's from it (the hour tier gets those minutes
    only as the watermark passes them). ``where`` filters both tiers: its placeholders appear twice."""
    columns = "dataset_id, bucket, kind, k2, n, s1"
    watermark = f"(SELECT coarse_until FROM {WATERMARK_TABLE})"
    return (
        f"(SELECT {columns} FROM {TIER_TABLES['hour']} WHERE {where} AND bucket < {watermark} "
        f"UNION ALL SELECT {columns} FROM {TIER_TABLES['minute']} WHERE {where} AND bucket >= {watermark})"
    )


def watermark_read(*, lock: bool) -> datetime:
    """The coarse tiers' watermark; ``lock`` holds it shared until commit, so it cannot move while a
    drain or rebuild decides which of its points the coarse tiers get."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT coarse_until FROM {WATERMARK_TABLE} WHERE id = 1{' FOR SHARE' if lock else ''}")
        return cursor.fetchone()[0]


STAGE_TABLE = "tracking_rollup_stage"


def classified_sql(layout: Layout, *, staged: bool = False, every_dataset: bool = False) -> str:
    """Points as rollup rows: the one definition of how a point is classified and measured.

    Reads one dataset's points over a time range (placeholders: dataset id, start inclusive,
    end exclusive) or, ``staged``, the batch being written (placeholder: dataset ids, none
    with ``every_dataset``: then the planner, seeing no filter, estimates the batch's size
    from the table and groups by hashing rather than sorting).
    Yields ``dataset_id, ts, kind, k1, k2, n, s1, s2, s3, dur`` per point; ``dur`` is the
    request duration, for latency bins.
    """
    method, path, status = _column(layout.method), _column(layout.path), _column(layout.status)
    duration, count, size = _column(layout.duration_ms), _column(layout.count), _column(layout.size_bytes)
    columns = sorted({"blob1", "blob2", "blob3", "double1", "double2", "double3", method, path, status, duration, count, size})
    markers = " ".join(f"WHEN blob1 = '{marker}' THEN {int(kind)}" for marker, kind in MARKERS.items())
    methods = ", ".join(f"'{name}'" for name in HTTP_METHODS)
    request = int(Kind.REQUEST)
    # A double becomes the shortest decimal that reads back as it (``x::text::numeric``, as the SQL
    # engine's sums): exact, and 0.15 µs a conversion where ``x::numeric`` (15 significant
    # digits, so 0.1 + 0.2 read 0.3) took 0.44, three per point in the drain. Staged points all
    # have ``_sample_interval = 1`` (the stage's default) and ``x * 1`` is ``x``, digits and
    # scale: three numeric products per point saved too.
    weight = "" if staged else " * si"
    if staged:
        source = STAGE_TABLE if every_dataset else f"{STAGE_TABLE} WHERE dataset_id = ANY(%s)"
    else:
        source = 'tracking_datapoint WHERE dataset_id = %s AND "timestamp" >= %s AND "timestamp" < %s'
    return f"""
SELECT dataset_id, ts, kind,
    CASE kind WHEN {request} THEN coalesce({path}, '') WHEN {int(Kind.COST)} THEN coalesce(blob1, '')
        WHEN {int(Kind.OTHER)} THEN '' ELSE coalesce(blob2, '') END AS k1,
    CASE kind WHEN {request} THEN coalesce({status}, '') WHEN {int(Kind.COST)} THEN coalesce(blob2, '')
        WHEN {int(Kind.ERROR)} THEN coalesce(blob3, '') WHEN {int(Kind.RESOURCE)} THEN coalesce(blob3, '')
        ELSE '' END AS k2,
    si::bigint AS n,
    coalesce(CASE WHEN kind = {request} THEN {duration} ELSE double1 END, 0)::text::numeric{weight} AS s1,
    coalesce(CASE WHEN kind = {request} THEN {count} ELSE double2 END, 0)::text::numeric{weight} AS s2,
    coalesce(CASE WHEN kind = {request} THEN {size} ELSE double3 END, 0)::text::numeric{weight} AS s3,
    CASE WHEN kind = {request} THEN {duration} END AS dur
FROM (
    SELECT dataset_id, "timestamp" AS ts, _sample_interval AS si, {", ".join(columns)},
        CASE WHEN blob3 = '{COST_MARKER}' THEN {int(Kind.COST)} {markers}
            WHEN {method} IN ({methods}) THEN {request} ELSE {int(Kind.OTHER)} END AS kind
    FROM {source}
) AS p
"""


def raw_piece_sql(layout: Layout, *, kinds: Sequence[int], keyed: bool, staged: bool = False) -> tuple[str, list[str]]:
    """Points as rollup rows of the asked kinds, latency histograms included when asked for.

    Returns the SQL and the names of its parameters in order, for ``raw_piece_params``.
    """
    source = ["datasets"] if staged else ["dataset", "start", "end"]
    key_filter = " AND k1 = ANY(%s)" if keyed else ""
    columns = "dataset_id, ts, kind, k1, k2, n, s1, s2, s3"
    sql = f"SELECT {columns} FROM ({classified_sql(layout, staged=staged)}) AS c WHERE kind = ANY(%s){key_filter}"
    names = [*source, "kinds"] + (["keys"] if keyed else [])
    if Kind.PATH in kinds:
        sql += (
            f" UNION ALL SELECT dataset_id, ts, {int(Kind.PATH)}, k1, '', n, s1, CASE WHEN {FIVE_XX_SQL} THEN n ELSE 0 END, s3"
            f" FROM ({classified_sql(layout, staged=staged)}) AS c WHERE kind = {int(Kind.REQUEST)}{key_filter}"
        )
        names += [*source] + (["keys"] if keyed else [])
    if HISTOGRAM_KINDS & set(kinds):
        # One scan yields both histograms: per path (LATENCY) and over all paths (LATENCY_ALL).
        # Per-path bins are the all-paths bins merged in pairs (PATH_LATENCY_BOUNDS).
        latency = int(Kind.LATENCY)
        sql += (
            f" UNION ALL SELECT dataset_id, ts, h.kind, CASE WHEN h.kind = {latency} THEN k1 ELSE '' END,"
            f" (CASE WHEN h.kind = {latency} THEN wb / 2 ELSE wb END)::text, n, 0, 0, 0"
            f" FROM (SELECT c.*, width_bucket(dur, %s::float8[]) AS wb FROM ({classified_sql(layout, staged=staged)}) AS c"
            f" WHERE c.kind = {int(Kind.REQUEST)} AND dur IS NOT NULL) AS c CROSS JOIN unnest(%s::smallint[]) AS h(kind)"
            f"{f' WHERE h.kind = {latency} AND k1 = ANY(%s)' if keyed else ''}"
        )
        names += ["bounds", *source, "histograms"] + (["keys"] if keyed else [])
    return sql, names


def raw_piece_params(names: list[str], values: dict[str, Any]) -> list[Any]:
    return [values[name] for name in names]


def dataset_labels(*, dataset_ids: list[int]) -> list[tuple[int, dict]]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT id, labels FROM tracking_dataset WHERE id = ANY(%s)", [dataset_ids])
        # Django hands jsonb to JSONField as text, so raw cursors see text too.
        return [(row[0], json.loads(row[1]) if isinstance(row[1], str) else row[1] or {}) for row in cursor.fetchall()]


def _stage_table_sql() -> str:
    blobs = ", ".join(f"{name} text" for name in BLOB_COLUMNS)
    doubles = ", ".join(f"{name} double precision" for name in DOUBLE_COLUMNS)
    return (
        f"CREATE TEMP TABLE IF NOT EXISTS {STAGE_TABLE} (dataset_id bigint NOT NULL, \"timestamp\" timestamptz NOT NULL, "
        f"_sample_interval integer NOT NULL DEFAULT 1, index1 text, {blobs}, {doubles}) ON COMMIT DELETE ROWS"
    )


def rollup_stage(*, rows: Iterable[Sequence[object]], columns: Sequence[str]) -> None:
    """COPY a batch's ``(dataset_id, timestamp, *columns)`` into this transaction's stage table.

    Binary COPY: four times faster than text for a 20,000-point batch, since no double is
    printed and parsed again.
    """
    for name in columns:
        if not _STAGE_COLUMN_RE.match(name):
            raise ValueError(f"not a data column: {name!r}")
    names = ["dataset_id", "timestamp", *columns]
    types = ["int8", "timestamptz", *("float8" if name.startswith("double") else "text" for name in columns)]
    statement = pgsql.SQL("COPY {} ({}) FROM STDIN (FORMAT BINARY)").format(
        pgsql.Identifier(STAGE_TABLE), pgsql.SQL(", ").join(map(pgsql.Identifier, names))
    )
    with connection.cursor() as cursor:
        cursor.execute(_stage_table_sql())
        # ON COMMIT empties the stage only at the outermost commit; a batch written inside a
        # caller's transaction (a savepoint) must not see the previous batch's points.
        cursor.execute(f"TRUNCATE {STAGE_TABLE}")
        with cursor.cursor.copy(statement) as copy:
            copy.set_types(types)
            for row in rows:
                copy.write_row(row)


TIER_COLUMNS = "dataset_id, bucket, kind, k1, k2, n, s1, s2, s3, bins, counts"
_HISTOGRAMS = ", ".join(str(int(kind)) for kind in sorted(HISTOGRAM_KINDS))
_DERIVED = ", ".join(str(int(kind)) for kind in sorted(DERIVED_KINDS))


def compact_sql(source: str, grain: str, *, grouped: bool = False) -> str:
    """Tier rows of one grain, in key order, from expanded rollup rows.

    ``source`` yields ``dataset_id, ts, kind, k1, k2, n, s1, s2, s3``: classified points
    (``raw_piece_sql``) or a finer tier's rows (``expanded_tier_sql``), a histogram row carrying
    its bin number in ``k2``. Out come the sums per key and bucket; ``STATUS`` and ``PATH`` rows
    from the requests (``layout.DERIVED_KINDS``), a path's latency histogram in its ``PATH``
    row's ``bins`` (ascending) and ``counts``; and one ``LATENCY_ALL`` row per bucket. 10,000
    paths cost 10,000 rows per bucket, not one per path and status plus one per path and bin.

    ``grouped``: ``source`` already has one row per key and bucket of ``grain`` (the drain's
    minutes for the minute tier), so grouping it again would only cost a hash of every row.
    """
    request, status, path = int(Kind.REQUEST), int(Kind.STATUS), int(Kind.PATH)
    if grouped:
        rows = f"SELECT dataset_id, ts AS bucket, kind, k1, k2, n, s1, s2, s3 FROM ({source}) AS s"
    else:
        rows = f"""SELECT dataset_id, date_bin(INTERVAL '{grain}', ts, {EPOCH_SQL}) AS bucket, kind, k1, k2,
                       sum(n) AS n, sum(s1) AS s1, sum(s2) AS s2, sum(s3) AS s3
                FROM ({source}) AS s GROUP BY 1, 2, 3, 4, 5"""
    return f"""
        SELECT * FROM (
            WITH e AS MATERIALIZED ({rows}),
            latency AS (
                SELECT dataset_id, bucket, k1, array_agg(k2::smallint ORDER BY k2::smallint) AS bins,
                       array_agg(n::bigint ORDER BY k2::smallint) AS counts
                FROM e WHERE kind = {int(Kind.LATENCY)} GROUP BY 1, 2, 3
            ),
            paths AS (
                SELECT dataset_id, bucket, k1, sum(n)::bigint AS n, sum(s1) AS s1, sum(s2) AS s2, sum(s3) AS s3
                FROM (
                    SELECT dataset_id, bucket, k1, n, s1, CASE WHEN {FIVE_XX_SQL} THEN n ELSE 0 END AS s2, s3
                    FROM e WHERE kind = {request}
                    UNION ALL
                    SELECT dataset_id, bucket, k1, n, s1, s2, s3 FROM e WHERE kind = {path}
                ) AS p GROUP BY 1, 2, 3
            )
            SELECT dataset_id, bucket, kind, k1, k2, n::bigint, s1, s2, s3, NULL::smallint[], NULL::bigint[]
            FROM e WHERE kind NOT IN ({_HISTOGRAMS}, {request}, {status}, {path})
            UNION ALL
            SELECT dataset_id, bucket, {status}, '', k2, sum(n)::bigint, sum(s1), sum(s2), sum(s3), NULL, NULL
            FROM e WHERE kind IN ({request}, {status}) GROUP BY 1, 2, 5
            UNION ALL
            SELECT p.dataset_id, p.bucket, {path}, p.k1, '', p.n, p.s1, p.s2, p.s3, l.bins, l.counts
            FROM paths AS p LEFT JOIN latency AS l USING (dataset_id, bucket, k1)
            UNION ALL
            SELECT dataset_id, bucket, kind, '', '', sum(n)::bigint, 0, 0, 0,
                   array_agg(k2::smallint ORDER BY k2::smallint), array_agg(n::bigint ORDER BY k2::smallint)
            FROM e WHERE kind = {int(Kind.LATENCY_ALL)} GROUP BY 1, 2, 3
        ) AS t ORDER BY 1, 3, 2, 4, 5"""


def expanded_tier_sql(table: str, where: str) -> str:
    """A tier's rows as ``compact_sql`` reads them: histograms one row per bin (per-path ones
    from the ``PATH`` rows, as ``LATENCY``). ``where``'s placeholders appear twice."""
    return f"""
        SELECT dataset_id, bucket AS ts, kind, k1, k2, n, s1, s2, s3 FROM {table}
        WHERE {where} AND kind NOT IN ({_HISTOGRAMS})
        UNION ALL
        SELECT dataset_id, bucket, CASE kind WHEN {int(Kind.PATH)} THEN {int(Kind.LATENCY)} ELSE kind END,
               k1, u.bin::text, u.count, 0, 0, 0
        FROM {table} CROSS JOIN LATERAL unnest(bins, counts) AS u(bin, count)
        WHERE {where} AND kind IN ({int(Kind.PATH)}, {int(Kind.LATENCY_ALL)})"""


#: Adding a batch's histogram to a stored one: the union of their bins, counts added per bin.
_MERGE_BINS = (
    "bins = CASE WHEN r.bins IS NULL AND EXCLUDED.bins IS NULL THEN NULL ELSE "
    "(SELECT array_agg(DISTINCT b ORDER BY b) FROM unnest(r.bins || EXCLUDED.bins) AS b) END, "
    "counts = CASE WHEN r.bins IS NULL AND EXCLUDED.bins IS NULL THEN NULL ELSE "
    "(SELECT array_agg(c ORDER BY b) FROM (SELECT b, sum(c)::bigint AS c "
    "FROM unnest(r.bins || EXCLUDED.bins, r.counts || EXCLUDED.counts) AS u(b, c) GROUP BY b) AS m) END"
)


def _upsert_sql(tier: str, expanded: str, *, grouped: bool = False) -> str:
    """Add compacted rollup rows (``compact_sql`` of ``expanded``) to a tier, in key order."""
    keys = "dataset_id, kind, bucket, k1, k2"
    update = f"n = r.n + EXCLUDED.n, s1 = r.s1 + EXCLUDED.s1, s2 = r.s2 + EXCLUDED.s2, s3 = r.s3 + EXCLUDED.s3, {_MERGE_BINS}"
    return f"""
        INSERT INTO {ALL_TABLES[tier]} AS r ({TIER_COLUMNS})
        {compact_sql(expanded, GRAIN_SQL[tier], grouped=grouped)}
        ON CONFLICT ({keys}) DO UPDATE SET {update}"""


def rollup_apply_staged(*, layout: Layout, dataset_ids: list[int] | None, coarse_before: datetime | None) -> None:
    """Group the staged points of some datasets per minute and add them to the minute tier, and
    those before ``coarse_before`` (the watermark, when any is) to the hour, day and week tiers.

    One statement: points are classified once, grouped per minute (latency bins per path
    and minute first), then compacted at each tier's grain (``compact_sql``) and upserted,
    with the day totals. Rows go in key order, so two writers lock shared rollup rows in
    the same order and cannot deadlock. ``dataset_ids`` None means every staged point.
    The coarse tiers get the rest from the minute tier once the watermark passes it
    (``rollup_coarse_advance``): upserting five tiers per batch cost five times one, and a
    minute folded once holds the keys of many batches.
    """
    minute = f"date_bin(INTERVAL '{GRAIN_SQL['minute']}', ts, {EPOCH_SQL})"
    expanded = "SELECT dataset_id, bucket AS ts, kind, k1, k2, n, s1, s2, s3 FROM minutes"
    coarse = []
    if coarse_before is not None:
        coarse = [f"{tier} AS ({_upsert_sql(tier, expanded + ' WHERE bucket < %s')})," for tier in COARSE_TIER_NAMES]
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            WITH c AS MATERIALIZED ({classified_sql(layout, staged=True, every_dataset=dataset_ids is None)}),
            fine AS MATERIALIZED (
                -- No WHERE: the planner then expects as many rows as the stage holds and hashes
                -- them; only requests have a duration, the others form groups with a NULL bin.
                SELECT dataset_id, {minute} AS bucket, k1, width_bucket(dur, %s::float8[]) AS bin, sum(n) AS n
                FROM c GROUP BY 1, 2, 3, 4
            ),
            minutes AS MATERIALIZED (
                SELECT dataset_id, {minute} AS bucket, kind, k1, k2, sum(n) AS n, sum(s1) AS s1, sum(s2) AS s2, sum(s3) AS s3
                FROM c GROUP BY 1, 2, 3, 4, 5
                UNION ALL
                SELECT dataset_id, bucket, {int(Kind.LATENCY)}, k1, (bin / 2)::text, sum(n), 0, 0, 0
                FROM fine WHERE bin IS NOT NULL GROUP BY 1, 2, 4, 5
                UNION ALL
                SELECT dataset_id, bucket, {int(Kind.LATENCY_ALL)}, '', bin::text, sum(n), 0, 0, 0
                FROM fine WHERE bin IS NOT NULL GROUP BY 1, 2, 5
            ),
            {"".join(coarse)}
            day_rows AS MATERIALIZED ({_day_totals_select("minutes", "")}),
            totals AS (
                INSERT INTO {DAY_TOTALS_TABLE} AS t SELECT * FROM day_rows
                ON CONFLICT (dataset_id, day) DO UPDATE SET {_FIGURE_ADD}
            ),
            project_totals AS (
                INSERT INTO {PROJECT_DAY_TABLE} AS t
                SELECT project_id, day, {_FIGURE_SUMS} FROM day_rows GROUP BY 1, 2 ORDER BY 1, 2
                ON CONFLICT (project_id, day) DO UPDATE SET {_FIGURE_ADD}
            )
            {_upsert_sql("minute", expanded, grouped=True)}
            """,
            ([] if dataset_ids is None else [dataset_ids]) + [list(LATENCY_BOUNDS)] + [coarse_before] * len(coarse),
        )


def rollup_coarse_advance(*, until: datetime, max_hours: int) -> datetime:
    """Move the watermark towards ``until`` (minute-aligned), at most ``max_hours`` at a time, adding
    the minute tier's rows it passes to the hour, day and week tiers; returns the watermark reached.

    Exact while drains run: the watermark row is locked first, so every drain that read the
    old watermark has committed (this statement's snapshot sees its minute rows, and it gave the
    coarse tiers only its points before the old watermark), and every later drain reads the
    new one and adds its points before it to the coarse tiers itself.
    """
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT coarse_until FROM {WATERMARK_TABLE} WHERE id = 1 FOR UPDATE")
        start = cursor.fetchone()[0]
        end = min(until, start + timedelta(hours=max_hours))
        if end <= start:
            return start
        minutes = expanded_tier_sql(TIER_TABLES["minute"], "bucket >= %s AND bucket < %s")
        for tier in COARSE_TIER_NAMES:
            cursor.execute(_upsert_sql(tier, minutes), [start, end, start, end])
        cursor.execute(f"UPDATE {WATERMARK_TABLE} SET coarse_until = %s WHERE id = 1", [end])
        return end


def _rebuild_from_raw(cursor: CursorWrapper, *, dataset_id: int, layout: Layout, table: str, grain: str, start: datetime, end: datetime) -> None:
    kinds = sorted(int(kind) for kind in CLASSIFIED_KINDS)
    sql, names = raw_piece_sql(layout, kinds=[*kinds, *HISTOGRAM_KINDS], keyed=False)
    params = raw_piece_params(
        names,
        {
            "dataset": dataset_id,
            "start": start,
            "end": end,
            "kinds": kinds,
            "bounds": list(LATENCY_BOUNDS),
            "histograms": sorted(int(kind) for kind in HISTOGRAM_KINDS),
        },
    )
    cursor.execute(f"INSERT INTO {table} ({TIER_COLUMNS}) {compact_sql(sql, grain)}", params)


def rollup_rebuild(*, dataset_id: int, layout: Layout, minute_from: datetime) -> None:
    """Replace a dataset's rollups with ones computed from its raw points (hour from the points
    before the watermark, then day and weeks from the hours, then minute).

    Rows are inserted in key order: a report's range read then touches few heap pages
    (three times faster than hash order on the 10-million-point benchmark).
    """
    far_past = datetime.fromisoformat("1970-01-01T00:00:00+00:00")
    far_future = datetime.fromisoformat("9999-01-01T00:00:00+00:00")
    with connection.cursor() as cursor:
        for table in ALL_TABLES.values():
            cursor.execute(f"DELETE FROM {table} WHERE dataset_id = %s", [dataset_id])
        # The coarse tiers hold the points before the watermark only (``rollup_coarse_advance``).
        coarse_until = watermark_read(lock=True)
        _rebuild_from_raw(
            cursor, dataset_id=dataset_id, layout=layout, table=TIER_TABLES["hour"], grain=GRAIN_SQL["hour"], start=far_past, end=coarse_until
        )
        for tier, finer in (("day", "hour"), ("week", "day"), ("weeks4", "day")):
            cursor.execute(
                f"INSERT INTO {ALL_TABLES[tier]} ({TIER_COLUMNS}) "
                f"{compact_sql(expanded_tier_sql(ALL_TABLES[finer], 'dataset_id = %s'), GRAIN_SQL[tier])}",
                [dataset_id, dataset_id],
            )
        _rebuild_from_raw(
            cursor, dataset_id=dataset_id, layout=layout, table=TIER_TABLES["minute"], grain=GRAIN_SQL["minute"],
            start=min(minute_from, coarse_until), end=far_future,
        )
        cursor.execute(
            f"SELECT project_id FROM tracking_dataset WHERE id = %s UNION SELECT project_id FROM {DAY_TOTALS_TABLE} WHERE dataset_id = %s",
            [dataset_id, dataset_id],
        )
        project_ids = [row[0] for row in cursor.fetchall()]
        cursor.execute(f"DELETE FROM {DAY_TOTALS_TABLE} WHERE dataset_id = %s", [dataset_id])
        cursor.execute(
            f"INSERT INTO {DAY_TOTALS_TABLE} {_day_totals_select(hours_then_minutes_sql('dataset_id = %s'), '')}",
            [dataset_id, dataset_id],
        )
        _project_days_recompute(cursor, project_ids=project_ids)
        for table in ALL_TABLES.values():
            cursor.execute(f"ANALYZE {table}")


def rollup_prune_minutes(*, before: datetime) -> int:
    """Delete minute rows before ``before`` and the watermark: the minutes after it are the only
    copy of their points in the tiers until ``rollup_coarse_advance`` folds them."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"DELETE FROM {TIER_TABLES['minute']} WHERE bucket < least(%s, (SELECT coarse_until FROM {WATERMARK_TABLE}))", [before]
        )
        return cursor.rowcount


def rollup_prune_retention(*, now: datetime) -> int:
    """Delete hour and day rows older than any report may read: before the first whole UTC
    day that each dataset's retention keeps (``reports._Reader.oldest``)."""
    deleted = 0
    with connection.cursor() as cursor:
        for tier in ("hour", "day", *COARSE_TABLES):
            cursor.execute(
                f"""
                DELETE FROM {ALL_TABLES[tier]} AS r USING tracking_dataset AS d
                WHERE r.dataset_id = d.id
                  AND r.bucket < date_bin(INTERVAL '1 day', %s - make_interval(days => d.retention_days), {EPOCH_SQL})
                                 + INTERVAL '1 day'
                """,
                [now],
            )
            deleted += cursor.rowcount
        cursor.execute(
            f"""
            DELETE FROM {DAY_TOTALS_TABLE} AS t USING tracking_dataset AS d
            WHERE t.dataset_id = d.id AND t.day < ((%s - make_interval(days => d.retention_days)) AT TIME ZONE 'UTC')::date + 1
            RETURNING t.project_id
            """,
            [now],
        )
        touched = sorted({row[0] for row in cursor.fetchall()})
        if touched:
            _project_days_recompute(cursor, project_ids=touched)
    return deleted


def rollup_prune_orphans() -> int:
    """Delete rows of datasets that no longer exist. A deletion job removes a dataset's rollups
    itself; this catches rows a drain wrote for it meanwhile, or any deletion that bypassed the
    ORM. The retention prune joins the datasets and so would never reach them."""
    deleted = 0
    with connection.cursor() as cursor:
        for table in ALL_TABLES.values():
            cursor.execute(
                f"DELETE FROM {table} AS r WHERE NOT EXISTS (SELECT 1 FROM tracking_dataset AS d WHERE d.id = r.dataset_id)"
            )
            deleted += cursor.rowcount
        cursor.execute(
            f"DELETE FROM {DAY_TOTALS_TABLE} AS r WHERE NOT EXISTS (SELECT 1 FROM tracking_dataset AS d WHERE d.id = r.dataset_id) "
            "RETURNING r.project_id"
        )
        touched = sorted({row[0] for row in cursor.fetchall()})
        if touched:
            _project_days_recompute(cursor, project_ids=touched)
    return deleted
