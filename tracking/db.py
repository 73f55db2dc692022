"""Raw SQL of the tracking app: the partitioned points table and its upkeep.

Every statement here keeps ``dataset_id`` in its key and filter, so the same schema can
be distributed by dataset later (docs/scaling.md).
"""

from collections.abc import Iterable, Sequence
from datetime import date, datetime, timedelta
from typing import cast

from django.db import ProgrammingError, connection
from django.db.backends.postgresql.base import DatabaseWrapper as PostgresConnection
from psycopg import sql
from psycopg.errors import Diagnostic, UndefinedTable

from tracking.columns import BLOB_COLUMNS, COPY_HEAD_COLUMNS, DOUBLE_COLUMNS, blob_read_sql

TABLE = "tracking_datapoint"
PARTITION_PREFIX = f"{TABLE}_p"
#: ``LIKE`` pattern of the partitions' names (``_`` is a wildcard there, so it is escaped).
_PARTITION_LIKE = PARTITION_PREFIX.replace("_", r"\_") + "%"


def datapoint_table_sql() -> str:
    """DDL of the points table, partitioned by day on ``timestamp``.

    Unset blobs and doubles are NULL rather than '' and 0: a NULL costs one bit, a
    float8 eight bytes, and most points set only a few of their 40 slots. The SQL
    engine reads NULL back as ClickHouse's defaults.
    """
    blobs = ",\n".join(f"    {name} text" for name in BLOB_COLUMNS)
    doubles = ",\n".join(f"    {name} double precision" for name in DOUBLE_COLUMNS)
    return f"""
CREATE TABLE {TABLE} (
    dataset_id bigint NOT NULL,
    "timestamp" timestamptz NOT NULL,
    _sample_interval integer NOT NULL DEFAULT 1 CHECK (_sample_interval >= 1),
    index1 text NOT NULL DEFAULT '',
{blobs},
{doubles},
    dedup_id text
) PARTITION BY RANGE ("timestamp");
CREATE INDEX {TABLE}_dataset_ts ON {TABLE} (dataset_id, "timestamp");
"""


#: A dataset's points by their first blob, then time: every seed layout puts the kind of event
#: in blob1 ('error', 'ai-usage', the request's method), and dashboards filter short windows on
#: it (the seed's error rate over the last hour read its ~18,000 points at 10M to keep ~550).
FIRST_BLOB_INDEX = f"{TABLE}_dataset_blob1_ts"
FIRST_BLOB_COLUMNS = f'dataset_id, ({blob_read_sql("blob1")}), "timestamp"'


def first_blob_index_build() -> None:
    """Build ``FIRST_BLOB_INDEX`` without blocking ingest; resumable.

    The parent's index is created ``ON ONLY`` (invalid, and cloned into every partition created
    from then on), each existing partition's index ``CONCURRENTLY`` and attached; the attach that
    leaves no partition without one makes PostgreSQL mark the parent's valid. A partition whose
    build was interrupted is left with an invalid index, dropped and built again on the next run;
    one dropped meanwhile (retention) is passed over. Must run outside a transaction.
    """
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE INDEX IF NOT EXISTS {FIRST_BLOB_INDEX} ON ONLY {TABLE} ({FIRST_BLOB_COLUMNS})")
        cursor.execute(
            """
            SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
            WHERE i.inhparent = %s::regclass AND NOT EXISTS (
                SELECT 1 FROM pg_inherits x JOIN pg_index n ON n.indexrelid = x.inhrelid
                WHERE x.inhparent = %s::regclass AND n.indrelid = c.oid
            ) ORDER BY c.relname
            """,
            [TABLE, FIRST_BLOB_INDEX],
        )
        for (partition,) in cursor.fetchall():
            index = sql.Identifier(f"{partition}_blob1_ts")
            cursor.execute(sql.SQL("DROP INDEX CONCURRENTLY IF EXISTS {}").format(index))
            try:
                cursor.execute(
                    sql.SQL("CREATE INDEX CONCURRENTLY {} ON {} ({})").format(index, sql.Identifier(partition), sql.SQL(FIRST_BLOB_COLUMNS))
                )
            except ProgrammingError as error:
                if not isinstance(error.__cause__, UndefinedTable):
                    raise
                continue
            cursor.execute(sql.SQL("ALTER INDEX {} ATTACH PARTITION {}").format(sql.Identifier(FIRST_BLOB_INDEX), index))


def first_blob_index_drop() -> None:
    with connection.cursor() as cursor:
        cursor.execute(f"DROP INDEX IF EXISTS {FIRST_BLOB_INDEX}")


def partition_name(day: date) -> str:
    return f"{PARTITION_PREFIX}{day:%Y%m%d}"


def partition_day(name: str) -> date:
    return datetime.strptime(name.removeprefix(PARTITION_PREFIX), "%Y%m%d").date()


def partition_list() -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT c.relname FROM pg_inherits i
            JOIN pg_class c ON c.oid = i.inhrelid
            JOIN pg_class p ON p.oid = i.inhparent
            WHERE p.relname = %s ORDER BY c.relname
            """,
            [TABLE],
        )
        return [row[0] for row in cursor.fetchall()]


def partition_create(day: date) -> None:
    """Create one day's partition; concurrent creators are serialised by an advisory lock."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [TABLE])
        cursor.execute(
            sql.SQL(
                "CREATE TABLE IF NOT EXISTS {} PARTITION OF {} FOR VALUES FROM ({}) TO ({})"
            ).format(
                sql.Identifier(partition_name(day)),
                sql.Identifier(TABLE),
                sql.Literal(f"{day.isoformat()} 00:00:00+00"),
                sql.Literal(f"{(day + timedelta(days=1)).isoformat()} 00:00:00+00"),
            )
        )


def partition_drop(name: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(sql.Identifier(name)))


def datapoint_copy(*, rows: Iterable[Sequence[object]], blob_count: int, double_count: int) -> None:
    """COPY rows ``(dataset_id, timestamp, index1, dedup_id, blob1.., double1..)``.

    Only the blob and double columns some row of the batch uses are sent; the rest
    default to NULL, which keeps COPY's per-row work proportional to the data. Binary
    format: timestamps and doubles travel as 8 bytes instead of being printed by Python
    and parsed by PostgreSQL, which halves the COPY's cost (docs/benchmarks.md).
    """
    columns = [*COPY_HEAD_COLUMNS, *BLOB_COLUMNS[:blob_count], *DOUBLE_COLUMNS[:double_count]]
    types = ["int8", "timestamptz", "text", "text"] + ["text"] * blob_count + ["float8"] * double_count
    statement = sql.SQL("COPY {} ({}) FROM STDIN (FORMAT BINARY)").format(
        sql.Identifier(TABLE), sql.SQL(", ").join(map(sql.Identifier, columns))
    )
    with connection.cursor() as cursor:
        with cursor.cursor.copy(statement) as copy:
            copy.set_types(types)
            for row in rows:
                copy.write_row(row)


def ledger_find(*, entry_ids: list[str]) -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT entry_id FROM tracking_ingestedentry WHERE entry_id = ANY(%s)", [entry_ids])
        return {row[0] for row in cursor.fetchall()}


def ledger_record(*, entries: list[tuple[str, int]]) -> None:
    with connection.cursor() as cursor:
        cursor.executemany(
            "INSERT INTO tracking_ingestedentry (entry_id, points, created_at) VALUES (%s, %s, now())",
            entries,
        )


def ledger_prune(*, before: datetime, limit: int) -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            """
            DELETE FROM tracking_ingestedentry WHERE entry_id IN (
                SELECT entry_id FROM tracking_ingestedentry WHERE created_at < %s LIMIT %s
            )
            """,
            [before, limit],
        )
        return cursor.rowcount


def dataset_touch(*, dataset_ids: list[int], at: datetime) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            """
            UPDATE tracking_dataset SET last_write_at = %s
            WHERE id = ANY(%s) AND (last_write_at IS NULL OR last_write_at < %s)
            """,
            [at, dataset_ids, at],
        )


def datapoint_delete_batch(
    *,
    partition: str,
    dataset_id: int,
    limit: int,
    before: datetime | None = None,
    column: str = "",
    value: str = "",
    touched: set[datetime] | None = None,
) -> int:
    """Delete up to ``limit`` of a dataset's rows in one partition: all of them, those older than
    ``before`` (retention), or those where ``column = value`` (a deletion job's filter).
    ``touched`` collects the minutes (UTC, floored) of the deleted points, for the projections
    to recompute (``tracking.projections.services.projections_points_deleted``).

    Bounded by ``ctid`` so one statement holds its row locks briefly and never blocks the
    COPYs of ingest, which only insert.
    """
    conditions: list[sql.Composable] = [sql.SQL("dataset_id = %s")]
    params: list[datetime | int | str] = [dataset_id]
    if before is not None:
        conditions.append(sql.SQL('"timestamp" < %s'))
        params.append(before)
    if column:
        if column != "index1" and column not in BLOB_COLUMNS:
            raise ValueError(f"cannot filter on {column!r}")
        conditions.append(sql.SQL("{} = %s").format(sql.Identifier(column)))
        params.append(value)
    params.append(limit)
    statement = sql.SQL(
        """
        DELETE FROM {table} WHERE ctid IN (
            SELECT ctid FROM {table} WHERE {conditions} LIMIT %s
        ) {returning}
        """
    ).format(
        table=sql.Identifier(partition),
        conditions=sql.SQL(" AND ").join(conditions),
        returning=sql.SQL("RETURNING date_bin('1 minute', \"timestamp\", TIMESTAMPTZ '1970-01-01 00:00:00+00')" if touched is not None else ""),
    )
    with connection.cursor() as cursor:
        cursor.execute(statement, params)
        if touched is not None:
            touched.update(row[0] for row in cursor.fetchall())
        return int(cursor.rowcount)


def datapoint_count(*, dataset_id: int) -> int:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM {TABLE} WHERE dataset_id = %s", [dataset_id])
        return cursor.fetchone()[0]


#: Tables besides the partitions whose statistics the product keeps fresh: the rollup tiers and
#: the projections' rows (appended by every drain, read by the SQL planner).
ROLLUP_TABLES = (
    "tracking_rollup_minute", "tracking_rollup_hour", "tracking_rollup_day", "tracking_rollup_week", "tracking_rollup_weeks4",
    "tracking_projection_row",
)
#: Vacuumed as well, never analyzed: compaction deletes the notes drains append
#: (``tracking.projections.db.dirty_table_sql``), and the plans that read them never change.
VACUUMED_TABLES = (*ROLLUP_TABLES, "tracking_projection_dirty")


def statistics_stale(*, min_changes: int, fraction: float, parent_fraction: float, limit: int) -> list[str]:
    """Tables whose planner statistics lag their contents: the parent first, then the most stale.

    A partition or rollup tier is stale, as autovacuum would judge it, when the rows changed
    since its last ANALYZE reach ``min_changes`` and ``fraction`` of its size. The partitioned
    parent has no change counter (PostgreSQL does not track one, and autovacuum never
    analyzes it), so it is stale when its partitions' live rows differ from the row count its
    last ANALYZE saw by ``parent_fraction`` of it, or it was never analyzed. It is also listed
    when more partitions are stale than one run analyzes (``limit``) and they are at least half
    of those holding rows: its ANALYZE analyzes every partition, so it then costs about what
    theirs would, in one statement instead of a run per ``limit`` partitions (a load through
    the API spread over 30 days left every day stale at once, and with 4 a run the queries
    after it met 289,133 rows not yet analyzed).
    """
    with connection.cursor() as cursor:
        cursor.execute(
            """
            WITH leaves AS (
                SELECT s.relname::text AS name, s.n_mod_since_analyze::float8 AS changed,
                       greatest(c.reltuples, 0)::float8 AS size, s.n_live_tup,
                       s.n_mod_since_analyze >= greatest(%(min)s, %(fraction)s * greatest(c.reltuples, 0)) AS stale
                FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid
                WHERE s.schemaname = current_schema()
                  AND (s.relname LIKE %(prefix)s OR s.relname = ANY(%(rollups)s))
            ),
            parent AS (
                SELECT %(table)s::text AS name,
                       abs(coalesce((SELECT sum(n_live_tup) FROM leaves WHERE name LIKE %(prefix)s), 0)
                           - greatest(c.reltuples, 0))::float8 AS changed,
                       greatest(c.reltuples, 0)::float8 AS size,
                       c.reltuples < 0 AS never
                FROM pg_class c WHERE c.oid = to_regclass(%(table)s)
            )
            SELECT name FROM (
                SELECT name, changed, size FROM leaves WHERE stale
                UNION ALL
                SELECT name, greatest(changed, %(min)s), size FROM parent
                WHERE changed >= greatest(%(min)s, %(parent_fraction)s * size) OR (never AND changed > 0)
                   OR (SELECT count(*) FILTER (WHERE stale) > %(limit)s
                              AND count(*) FILTER (WHERE stale) >= 0.5 * count(*) FILTER (WHERE n_live_tup > 0)
                       FROM leaves WHERE name LIKE %(prefix)s)
            ) AS stale
            ORDER BY name = %(table)s DESC, changed / greatest(size, 1) DESC, name
            LIMIT %(limit)s
            """,
            {
                "prefix": _PARTITION_LIKE,
                "rollups": list(ROLLUP_TABLES),
                "table": TABLE,
                "min": min_changes,
                "fraction": fraction,
                "parent_fraction": parent_fraction,
                "limit": limit,
            },
        )
        return [row[0] for row in cursor.fetchall()]


#: A dataset holding this share of a partition's rows is in any ANALYZE's sample hundreds of
#: times, so its id is among the partition's most common values once analyzed.
UNSEEN_DATASET_SHARE = 0.01
#: Datasets of a partition checked per refresh, the newest (highest ids) first.
UNSEEN_DATASETS_CHECKED = 100


def partitions_with_unseen_datasets(*, min_changes: int, limit: int) -> list[str]:
    """Point partitions changed since their last ANALYZE that hold a dataset their statistics
    do not list among the most common values, with at least ``min_changes`` rows and
    ``UNSEEN_DATASET_SHARE`` of the partition: stale for what queries ask, whatever
    ``statistics_stale``'s fraction says.

    Every query filters on one dataset, and a partition whose last ANALYZE did not see one
    estimates a handful of rows for it: 25,000 points of a new dataset in a 300,000-row
    partition were estimated as 22 (EXPLAIN), and 8% of the partition is under the 10% that
    makes the partition stale. Bounded: the ``UNSEEN_DATASETS_CHECKED`` newest datasets of a
    partition (one index probe each; new tenants have the highest ids), and an unlisted one's
    rows counted up to the threshold. Once analyzed, a dataset of that share is among the most
    common values (at most 100 datasets can each hold 1%), so no partition is found again for
    the same dataset.
    """
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT s.relname::text, coalesce(st.most_common_vals::text::bigint[], '{}'),
                   greatest(%(min)s, ceil(%(share)s * greatest(c.reltuples, 0)))::bigint
            FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid
            JOIN pg_stats st ON st.schemaname = s.schemaname AND st.tablename = s.relname AND st.attname = 'dataset_id'
            WHERE s.schemaname = current_schema() AND s.relname LIKE %(prefix)s AND s.n_mod_since_analyze >= %(min)s
            ORDER BY s.n_mod_since_analyze DESC, s.relname
            """,
            {"prefix": _PARTITION_LIKE, "min": min_changes, "share": UNSEEN_DATASET_SHARE},
        )
        candidates = cursor.fetchall()
        found: list[str] = []
        for name, known, threshold in candidates:
            if len(found) >= limit:
                break
            cursor.execute(
                sql.SQL(
                    """
                    WITH RECURSIVE ids (id, n) AS (
                        (SELECT dataset_id, 1 FROM {table} ORDER BY dataset_id DESC LIMIT 1)
                        UNION ALL
                        SELECT (SELECT dataset_id FROM {table} WHERE dataset_id < ids.id ORDER BY dataset_id DESC LIMIT 1), n + 1
                        FROM ids WHERE ids.id IS NOT NULL AND n < %(checked)s
                    )
                    SELECT EXISTS (
                        SELECT 1 FROM ids WHERE ids.id IS NOT NULL AND ids.id <> ALL(%(known)s)
                          AND (SELECT count(*) FROM (SELECT 1 FROM {table} WHERE dataset_id = ids.id LIMIT %(rows)s) AS r) >= %(rows)s
                    )
                    """
                ).format(table=sql.Identifier(name)),
                {"known": known, "rows": threshold, "checked": UNSEEN_DATASETS_CHECKED},
            )
            if cursor.fetchone()[0]:
                found.append(name)
        return found


def vacuum_due(*, min_dead: int, fraction: float, limit: int) -> list[str]:
    """Partitions and ``VACUUMED_TABLES`` with dead rows that autovacuum will not reclaim, the most
    bloated first: every table when the server runs without autovacuum (this machine's does),
    or one whose ``autovacuum_enabled`` storage parameter is off.

    Drains upsert the rollup tiers, compaction and deletions delete projection rows, their
    notes and points: without a VACUUM their dead rows stay in every scan and index forever. Due, as
    autovacuum would judge it, when the dead rows reach ``min_dead`` and ``fraction`` of the size,
    and one of ``VACUUMED_TABLES`` also when the rows inserted since its last VACUUM do
    (autovacuum's insert threshold): the Errors report ranks paths by an index-only scan of the tiers
    (``rollups.db.path_5xx_indexes_build``), which reads the rows of pages no VACUUM has marked
    all-visible from the table as well, and a rebuild or a new week writes rows no update follows.
    Ranked by that same count over the size, so a tier due by its inserted rows is not put after
    every partition with a few dead ones.
    """
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT name FROM (
                SELECT s.relname::text AS name, c.reltuples, c.reloptions,
                       greatest(s.n_dead_tup, CASE WHEN s.relname = ANY(%(rollups)s) THEN s.n_ins_since_vacuum ELSE 0 END) AS due
                FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid
                WHERE s.schemaname = current_schema() AND (s.relname LIKE %(prefix)s OR s.relname = ANY(%(rollups)s))
            ) AS t
            WHERE NOT (current_setting('autovacuum')::bool AND coalesce(
                  (SELECT o.option_value::bool FROM pg_options_to_table(t.reloptions) AS o
                   WHERE o.option_name = 'autovacuum_enabled'), true))
              AND t.due >= greatest(%(min)s, %(fraction)s * greatest(t.reltuples, 0))
            ORDER BY t.due / greatest(t.reltuples, 1) DESC, t.name
            LIMIT %(limit)s
            """,
            {
                "prefix": _PARTITION_LIKE,
                "rollups": list(VACUUMED_TABLES),
                "min": min_dead,
                "fraction": fraction,
                "limit": limit,
            },
        )
        return [row[0] for row in cursor.fetchall()]


def relation_vacuum(name: str) -> None:
    """Reclaims the dead rows (statistics are ``statistics_stale``'s business). Outside a transaction
    only (PostgreSQL refuses VACUUM in one); it never blocks reads or writes.

    ``INDEX_CLEANUP ON``: by default VACUUM skips the indexes when few pages hold dead rows and
    leaves them counted, so a table due by its count would stay due and be vacuumed again and again."""
    with connection.cursor() as cursor:
        cursor.execute(sql.SQL("VACUUM (INDEX_CLEANUP ON) {}").format(sql.Identifier(name)))


def statistics_publish() -> None:
    """Make this session's row counts visible to other sessions now rather than within ~10 s.

    PostgreSQL 15+ batches a backend's table counters; the statistics refresher, in another
    session, decides from them what to analyze right after a drain.
    """
    if cast(PostgresConnection, connection).pg_version >= 150000:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_stat_force_next_flush()")


def relation_analyze(name: str, *, skip_locked: bool = False) -> bool:
    """``skip_locked``: skip the table (or every partition of the parent) rather than wait for a
    conflicting lock, such as an operator's VACUUM of it. False when it was skipped: PostgreSQL
    only warns (SQLSTATE 55P03), so the warning is what tells."""
    statement = "ANALYZE (SKIP_LOCKED) {}" if skip_locked else "ANALYZE {}"
    skipped = False

    def warned(diagnostic: Diagnostic) -> None:
        nonlocal skipped
        skipped = skipped or diagnostic.sqlstate == "55P03"

    with connection.cursor() as cursor:
        raw = cursor.cursor.connection
        raw.add_notice_handler(warned)
        try:
            cursor.execute(sql.SQL(statement).format(sql.Identifier(name)))
        finally:
            raw.remove_notice_handler(warned)
    return not skipped


# Arbitrary advisory-lock keys. ANALYZE and VACUUM have one each: a refresher's VACUUM of a
# bloated tier can take minutes, and under a single lock every drain and beat run in that time
# skipped its ANALYZEs, so the queries after a bulk load were planned from no statistics.
ANALYZE_LOCK = 0x6D656175_78737461
VACUUM_LOCK = 0x6D656175_76616375


def statistics_lock_take(key: int, *, wait: bool = False) -> bool:
    """A session-level advisory lock; ``wait`` blocks until it is free instead of giving up."""
    with connection.cursor() as cursor:
        if wait:
            cursor.execute("SELECT pg_advisory_lock(%s)", [key])
            return True
        cursor.execute("SELECT pg_try_advisory_lock(%s)", [key])
        return bool(cursor.fetchone()[0])


def statistics_lock_release(key: int) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_unlock(%s)", [key])


STORAGE_VIEW = "tracking_dataset_storage"


def storage_view_sql() -> str:
    """Per dataset, the bytes of each day partition (with its indexes) times the dataset's
    share of that day's points (``tracking_dataset_day``); an estimate, refreshed hourly."""
    return f"""
CREATE MATERIALIZED VIEW {STORAGE_VIEW} AS
WITH parts AS (
    SELECT to_date(substr(c.relname, {len(PARTITION_PREFIX) + 1}), 'YYYYMMDD') AS day, pg_total_relation_size(c.oid) AS bytes
    FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_class p ON p.oid = i.inhparent
    WHERE p.relname = '{TABLE}' AND c.relname ~ '^{PARTITION_PREFIX}[0-9]{{8}}$'
), days AS (
    SELECT day, sum(points) AS points FROM tracking_dataset_day GROUP BY day
)
SELECT t.dataset_id, t.project_id, round(sum(p.bytes::numeric * t.points / d.points))::bigint AS bytes,
       now() AS refreshed_at
FROM tracking_dataset_day t JOIN days d USING (day) JOIN parts p USING (day)
WHERE d.points > 0
GROUP BY t.dataset_id, t.project_id;
CREATE UNIQUE INDEX {STORAGE_VIEW}_dataset ON {STORAGE_VIEW} (dataset_id);
CREATE INDEX {STORAGE_VIEW}_project ON {STORAGE_VIEW} (project_id) INCLUDE (bytes);
"""


def storage_refresh() -> None:
    """CONCURRENTLY: the admin keeps reading the previous figures while this runs."""
    with connection.cursor() as cursor:
        cursor.execute(f"REFRESH MATERIALIZED VIEW CONCURRENTLY {STORAGE_VIEW}")


FIGURES_VIEW = "tracking_project_figures"
#: The days before today that project figures cover (and today): the reports' "30d" window.
FIGURE_DAYS = 30


def figures_view_sql() -> str:
    """Every project's figures of the last 30 UTC days, in one row per project (a plain view).

    Aggregates the project day totals (31 rows per project), the storage estimate and counts
    once for all projects and joins them: a fixed cost however the list is sorted, where
    a subquery per row and figure was evaluated for every project before sorting.
    ``CURRENT_DATE`` is UTC: Django's connections run in UTC.
    """
    return f"""
CREATE OR REPLACE VIEW {FIGURES_VIEW} AS
SELECT p.id AS project_id,
    coalesce(t.points, 0) AS points, coalesce(t.requests, 0) AS requests, coalesce(t.errors_5xx, 0) AS errors_5xx,
    t.errors_5xx::float8 / nullif(t.requests, 0) AS errors_5xx_share,
    coalesce(t.cost_usd, 0) AS cost_usd, coalesce(t.ai_tokens, 0) AS ai_tokens,
    s.bytes AS storage_bytes, coalesce(d.datasets, 0) AS datasets, d.last_write, coalesce(m.members, 0) AS members
FROM projects_project AS p
LEFT JOIN (
    SELECT project_id, sum(points) AS points, sum(requests) AS requests, sum(errors_5xx) AS errors_5xx,
        sum(cost_usd) AS cost_usd, sum(ai_tokens) AS ai_tokens
    FROM tracking_project_day WHERE day >= CURRENT_DATE - {FIGURE_DAYS} GROUP BY project_id
) AS t ON t.project_id = p.id
LEFT JOIN (SELECT project_id, sum(bytes)::bigint AS bytes FROM {STORAGE_VIEW} GROUP BY project_id) AS s ON s.project_id = p.id
LEFT JOIN (
    SELECT project_id, count(*) AS datasets, max(last_write_at) AS last_write FROM tracking_dataset GROUP BY project_id
) AS d ON d.project_id = p.id
LEFT JOIN (SELECT project_id, count(*) AS members FROM projects_membership GROUP BY project_id) AS m ON m.project_id = p.id;
"""
