"""Raw SQL of the reports: named, parameterised reads of the rollup tiers and raw points.

Every statement filters on ``dataset_id`` first, which leads the primary key of each rollup
tier and the index of the points table. How a point is classified is defined once, in
``tracking.rollups.db.classified_sql``, and read here through ``raw_piece_sql``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from django.db import connection, transaction

from tracking.rollups.db import ALL_TABLES, EPOCH_SQL, hours_then_minutes_sql, raw_piece_params, raw_piece_sql
from tracking.rollups.layout import DERIVED_KINDS, HISTOGRAM_KINDS, LATENCY_BOUNDS, Kind, Layout


@dataclass(frozen=True)
class Piece:
    """A time range read from one source: a rollup tier or the raw points.

    A tier piece reads the buckets from ``start`` up to ``end``; a coarse tier's bucket that
    holds the watermark holds only its points before it. ``sign`` -1 subtracts the piece's
    sums (``window.window_pieces_signed``, for rankings only).
    """

    source: str
    start: datetime
    end: datetime
    sign: int = 1


GROUPS = ("t", "kind", "k1", "k2")

#: Enough for one hash table of 10,000+ paths' sums without spilling to disk. Each sort or hash
#: node of a statement may use this much (a hash twice as much, ``hash_mem_multiplier`` 2), and a
#: request runs one statement at a time, so a report's memory stays a small multiple of it.
READ_WORK_MEM = "32MB"


@contextmanager
def report_reading() -> Iterator[None]:
    """Run a report's reads in one transaction with settings that suit them.

    JIT off: at 10M points the path ranking's estimated cost crosses ``jit_above_cost``, and
    compiling it took 42 ms on top of an 82 ms read (docs/benchmarks.md). No parallel workers:
    on a busy server, starting and merging two workers cost more than the ~100,000 rows they
    share. ``READ_WORK_MEM``: the per-path hash aggregate spilled to disk at the default 4MB.
    REPEATABLE READ: a report ranks its paths in one statement and reads the top ones' figures
    in the next; one snapshot keeps a drain, a deletion or a prune between them from making
    the two disagree (a ranked path with no figures). Inside an outer transaction (tests),
    that transaction's snapshot rules.
    """
    outermost = not connection.in_atomic_block
    with transaction.atomic(), connection.cursor() as cursor:
        if outermost:
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        cursor.execute(
            "SELECT set_config('jit', 'off', true), set_config('max_parallel_workers_per_gather', '0', true), "
            "set_config('work_mem', %s, true)",
            [READ_WORK_MEM],
        )
        yield


def tier_kinds(*, kinds: Sequence[int], group_by: Sequence[str], keys: Sequence[str] | None) -> list[int]:
    """The kinds a tier read of ``kinds`` reads: requests not told apart by path come from the
    STATUS rows (raw pieces yield REQUEST rows, which sum alike); ``layout.DERIVED_KINDS``."""
    by_status = "k1" not in group_by and keys is None
    return [int(Kind.STATUS) if by_status and kind == Kind.REQUEST else int(kind) for kind in kinds]


def tier_readable(*, kinds: Sequence[int], group_by: Sequence[str], keys: Sequence[str] | None) -> bool:
    """Whether the tiers hold what the read needs: everything but requests per path and status."""
    return Kind.REQUEST not in tier_kinds(kinds=kinds, group_by=group_by, keys=keys)


def _pieces_sql(
    *,
    dataset_id: int,
    layout: Layout,
    pieces: Sequence[Piece],
    kinds: list[int],
    group_by: Sequence[str],
    keys: list[str] | None,
    nonzero: str | None = None,
) -> tuple[str, list[Any]]:
    """The pieces' rows as one ``UNION ALL`` of ``ts, kind, k1, k2, n, s1, s2, s3``.

    ``nonzero`` (a measure) leaves out the tier rows where it is 0, tested inside each piece:
    PostgreSQL pushes an outer test into a subtracted piece as ``-s2 <> 0``, which the partial
    index on ``s2 <> 0`` (``rollups.db._path_5xx_indexes``) does not serve.
    """
    stored = tier_kinds(kinds=kinds, group_by=group_by, keys=keys)
    selects: list[str] = []
    params: list[Any] = []
    for piece in pieces:
        negate = "" if piece.sign > 0 else "-"
        measures = ", ".join(f"{negate}{measure} AS {measure}" for measure in ("n", "s1", "s2", "s3"))
        if piece.source == "raw":
            sql, names = raw_piece_sql(layout, kinds=kinds, keyed=keys is not None)
            selects.append(f"SELECT ts, kind, k1, k2, {measures} FROM ({sql}) AS r")
            params += raw_piece_params(
                names,
                {
                    "dataset": dataset_id,
                    "start": piece.start,
                    "end": piece.end,
                    "kinds": [kind for kind in kinds if kind not in HISTOGRAM_KINDS],
                    "keys": keys,
                    "bounds": list(LATENCY_BOUNDS),
                    "histograms": [kind for kind in kinds if kind in HISTOGRAM_KINDS],
                },
            )
            continue
        table = ALL_TABLES[piece.source]
        where = "dataset_id = %s AND bucket >= %s AND bucket < %s AND kind = ANY(%s)" + (" AND k1 = ANY(%s)" if keys is not None else "")
        where += f" AND {nonzero} <> 0" if nonzero else ""
        where_params = [dataset_id, piece.start, piece.end] + ([keys] if keys is not None else [])
        plain = [kind for kind in stored if kind not in HISTOGRAM_KINDS]
        # Per-path histograms are kept in the PATH rows.
        histograms = [int(Kind.PATH) if kind == Kind.LATENCY else kind for kind in stored if kind in HISTOGRAM_KINDS]
        if plain:
            selects.append(
                f"SELECT bucket AS ts, CASE kind WHEN {int(Kind.STATUS)} THEN {int(Kind.REQUEST)} ELSE kind END AS kind, "
                f"k1, k2, {measures} FROM {table} WHERE {where}"
            )
            params += [*where_params[:3], plain, *where_params[3:]]
        if histograms:
            selects.append(
                f"SELECT bucket AS ts, CASE kind WHEN {int(Kind.PATH)} THEN {int(Kind.LATENCY)} ELSE kind END AS kind, "
                f"k1, u.bin::text AS k2, {negate}u.count AS n, 0 AS s1, 0 AS s2, 0 AS s3 FROM {table} "
                f"CROSS JOIN LATERAL unnest(bins, counts) AS u(bin, count) WHERE {where}"
            )
            params += [*where_params[:3], histograms, *where_params[3:]]
    return " UNION ALL ".join(selects), params


def rollup_aggregate(
    *,
    dataset_id: int,
    layout: Layout,
    pieces: Sequence[Piece],
    kinds: Sequence[int],
    group_by: Sequence[str],
    step: timedelta | None = None,
    keys: Sequence[str] | None = None,
) -> list[tuple]:
    """Sum ``n, s1, s2, s3`` over the pieces, grouped by ``group_by`` (from ``GROUPS``).

    Tier pieces only for reads the tiers answer (``tier_readable``).

    ``t`` groups by ``step``-wide buckets aligned to the epoch; every piece's source must be
    at most that fine. ``keys`` restricts ``k1`` (e.g. to the top paths). Histogram rows come
    out one per bin, the bin number in ``k2``, whether read raw or from a tier's arrays.
    """
    if not pieces:
        return []
    if any(group not in GROUPS for group in group_by):
        raise ValueError(f"unknown grouping in {group_by!r}")
    kinds = [int(kind) for kind in kinds]
    union, params = _pieces_sql(
        dataset_id=dataset_id, layout=layout, pieces=pieces, kinds=kinds, group_by=group_by, keys=list(keys) if keys is not None else None
    )
    outer = []
    outer_params: list[Any] = []
    for group in group_by:
        if group == "t":
            if step is None:
                raise ValueError("grouping by time needs a step")
            outer.append(f"date_bin(%s::interval, ts, {EPOCH_SQL}) AS t")
            outer_params.append(step)
        else:
            outer.append(group)
    # Histograms only count; summing their zero measures would be wasted numeric work.
    sums = ["0", "0", "0"] if set(kinds) <= HISTOGRAM_KINDS else ["sum(s1)", "sum(s2)", "sum(s3)"]
    select_list = ", ".join(outer + ["sum(n)", *sums])
    group_sql = f" GROUP BY {', '.join(str(i) for i in range(1, len(group_by) + 1))}" if group_by else ""
    sql = f"SELECT {select_list} FROM ({union}) AS u{group_sql}"
    with connection.cursor() as cursor:
        cursor.execute(sql, outer_params + params)
        rows = cursor.fetchall()
    if not group_by and rows and rows[0][0] is None:
        return []
    return rows


def rollup_top_keys(
    *, dataset_id: int, layout: Layout, pieces: Sequence[Piece], kind: int, rank: Literal["n", "s2"], limit: int
) -> list[str]:
    """The ``limit`` keys (``k1``) of ``kind`` with the largest sum of ``rank`` over the pieces.

    Ties go by key in code-point order, as Python sorts strings; keys whose sum is 0 are left
    out. A table of the top 20 of 10,000 paths then sums one integer per path in PostgreSQL,
    and only those 20 paths' measures and histograms are read (``keys`` of
    ``rollup_aggregate``), instead of every path's decimals and arrays.
    """
    if not pieces:
        return []
    union, params = _pieces_sql(
        dataset_id=dataset_id, layout=layout, pieces=pieces, kinds=[int(kind)], group_by=["k1"], keys=None, nonzero=rank
    )
    # Rows adding 0 cannot change a key's rank: skipping them spares most rows when ranking by 5xx.
    sql = (
        f"SELECT k1 FROM ({union}) AS u WHERE {rank} <> 0 GROUP BY k1 HAVING sum({rank}) <> 0 "
        f'ORDER BY sum({rank}) DESC, k1 COLLATE "C" LIMIT %s'
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, limit])
        return [row[0] for row in cursor.fetchall()]


def tier_bucket_rows(*, dataset_id: int, kind: int, samples: dict[str, list[datetime]]) -> dict[str, float]:
    """Rows of ``kind`` a bucket of each tier holds, on average over some of its buckets
    (``samples``: a tier's bucket starts).

    Counted in the primary keys, which lead with (dataset, kind, bucket): index-only, about
    40,000 entries for 10,000 paths.
    """
    selects = []
    params: list[Any] = []
    for tier, buckets in samples.items():
        selects.append(f"SELECT %s::text, count(*)::float8 / %s FROM {ALL_TABLES[tier]} WHERE dataset_id = %s AND kind = %s AND bucket = ANY(%s)")
        params += [tier, len(buckets), dataset_id, kind, buckets]
    with connection.cursor() as cursor:
        cursor.execute(" UNION ALL ".join(selects), params)
        return dict(cursor.fetchall())


def metrics_realtime(*, dataset_id: int, since: datetime) -> tuple[int, float, int]:
    """The seed's /metrics/realtime query, unset doubles and blobs read as 0 and ''."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT count(*), coalesce(avg(coalesce(double1, 0)), 0),
                   count(*) FILTER (WHERE blob3 LIKE '5%%')
            FROM tracking_datapoint WHERE dataset_id = %s AND "timestamp" > %s
            """,
            [dataset_id, since],
        )
        total, average, errors = cursor.fetchone()
        return int(total), float(average), int(errors)


def dataset_volumes(*, since: datetime) -> list[tuple[int, int]]:
    """Weighted points per dataset since a moment, from the hour and minute tiers (for the staff overview)."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            SELECT dataset_id, sum(n) FROM {hours_then_minutes_sql("bucket >= %(since)s")} AS r
            WHERE NOT (kind = ANY(%(derived)s)) GROUP BY dataset_id ORDER BY 2 DESC
            """,
            {"since": since, "derived": sorted(int(kind) for kind in DERIVED_KINDS)},
        )
        return [(row[0], int(row[1])) for row in cursor.fetchall()]


def project_totals(*, since: datetime) -> list[tuple[int, int, int, int, object]]:
    """Per project since a moment: requests, 5xx requests, error events and cost (hour and minute tiers)."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            SELECT d.project_id,
                sum(r.n) FILTER (WHERE r.kind = %(status)s),
                sum(r.n) FILTER (WHERE r.kind = %(status)s AND r.k2 LIKE '5%%'),
                sum(r.n) FILTER (WHERE r.kind = %(error)s),
                sum(r.s1) FILTER (WHERE r.kind = %(cost)s)
            FROM {hours_then_minutes_sql("bucket >= %(since)s")} AS r JOIN tracking_dataset AS d ON d.id = r.dataset_id
            GROUP BY d.project_id
            """,
            {"status": int(Kind.STATUS), "error": int(Kind.ERROR), "cost": int(Kind.COST), "since": since},
        )
        return [(row[0], int(row[1] or 0), int(row[2] or 0), int(row[3] or 0), row[4] or 0) for row in cursor.fetchall()]
