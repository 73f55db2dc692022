"""Index and partition alternatives for the points table, measured on the seed queries.

Each variant is a scratch copy of ``tracking_datapoint`` (same columns, partitioned by
day or by week, with one index choice) in the bench database, holding the same two
datasets of ``points`` points each (two tenants, so an index that cannot filter by
dataset pays for the neighbour's rows). The seed queries run as the SQL engine
translates them, directly on a connection (no HTTP, no sandbox), median of 5 after a
warm-up. Also reported: the COPY time with the index in place and the index size.

Run alone: ``python -m bench.indexes --points 1000000``.
"""

import argparse
import json
import statistics
import time
from datetime import UTC, date, datetime, timedelta

from bench import data
from bench.env import OUT, database_url, django_setup
from tracking.db import FIRST_BLOB_COLUMNS

_FIRST_BLOB = f"; CREATE INDEX ON {{t}} ({FIRST_BLOB_COLUMNS})"
VARIANTS = {
    "day, btree (dataset_id, timestamp) and (dataset_id, blob1, timestamp) [current]": (
        "day", 'CREATE INDEX ON {t} (dataset_id, "timestamp")' + _FIRST_BLOB
    ),
    "day, btree (dataset_id, timestamp)": ("day", 'CREATE INDEX ON {t} (dataset_id, "timestamp")'),
    "day, BRIN (timestamp)": ("day", 'CREATE INDEX ON {t} USING brin ("timestamp")'),
    "week, btree (dataset_id, timestamp)": ("week", 'CREATE INDEX ON {t} (dataset_id, "timestamp")'),
    "week, BRIN (timestamp)": ("week", 'CREATE INDEX ON {t} USING brin ("timestamp")'),
}
DATASET_ID = 1
NEIGHBOUR_ID = 2


def _ranges(grain: str, now: datetime, days: int) -> list[tuple[date, date]]:
    first = (now - timedelta(days=days + 1)).date()
    if grain == "week":
        first -= timedelta(days=first.weekday())
    step = timedelta(days=7 if grain == "week" else 1)
    out, start = [], first
    while start <= now.date() + timedelta(days=1):
        out.append((start, start + step))
        start += step
    return out


def _variant_create(conn: "object", table: str, grain: str, index_sql: str, now: datetime) -> None:
    from tracking.db import datapoint_table_sql

    ddl = datapoint_table_sql().replace("tracking_datapoint_dataset_ts", f"{table}_unused")
    ddl = ddl.split("CREATE INDEX")[0].replace("tracking_datapoint", table)
    conn.execute(f"DROP TABLE IF EXISTS {table}")
    conn.execute(ddl)
    for start, end in _ranges(grain, now, 30):
        conn.execute(
            f"CREATE TABLE {table}_p{start:%Y%m%d} PARTITION OF {table} "
            f"FOR VALUES FROM ('{start} 00:00:00+00') TO ('{end} 00:00:00+00')"
        )
    conn.execute(index_sql.format(t=table))


def _translated(points: int) -> dict[str, tuple[str, dict[str, object]]]:
    from bench.queries import SEED_QUERIES
    from tracking.sql.ir import DatasetRef
    from tracking.sql.translate import sql_parse, sql_translate

    refs = [DatasetRef(id=DATASET_ID, name="alt", labels={})]
    out = {}
    for query in SEED_QUERIES:
        translation = sql_translate(statement=sql_parse(sql=query.ae.format(table="alt")), datasets=refs, bound=None)
        out[query.name] = (translation.sql, translation.params)
    return out


def run(*, points: int) -> dict[str, object]:
    import psycopg

    django_setup()
    now = datetime.now(UTC)
    paths = []
    for dataset_id, seed in ((DATASET_ID, 7), (NEIGHBOUR_ID, 8)):
        path = data.DATA_DIR / f"indexes-{dataset_id}.tsv"
        data.tsv_write(data.generate(points, now=now, seed=seed), path)
        paths.append((dataset_id, path))
    queries = _translated(points)
    results = []
    with psycopg.connect(database_url(), autocommit=True) as conn:
        conn.execute("SET TimeZone = 'UTC'")
        for n, (label, (grain, index_sql)) in enumerate(VARIANTS.items()):
            table = f"bench_alt_{n}"
            _variant_create(conn, table, grain, index_sql, now)
            started = time.perf_counter()
            for dataset_id, path in paths:
                data.pg_copy(path, dataset_id=dataset_id, conn=conn, table=table)
            copy_s = time.perf_counter() - started
            conn.execute(f"VACUUM ANALYZE {table}")
            index_mb = float(conn.execute(
                "SELECT coalesce(sum(pg_indexes_size(inhrelid)), 0) FROM pg_inherits WHERE inhparent = %s::regclass",
                [table],
            ).fetchone()[0]) / 1e6
            row = {"variant": label, "copy_s": round(copy_s, 1), "index_mb": round(float(index_mb), 1), "queries": {}}
            for name, (sql, params) in queries.items():
                statement = sql.replace("public.tracking_datapoint", f"public.{table}")
                conn.execute(statement, params).fetchall()
                times = []
                for _ in range(5):
                    started = time.perf_counter()
                    conn.execute(statement, params).fetchall()
                    times.append(time.perf_counter() - started)
                row["queries"][name] = round(statistics.median(times) * 1000, 1)
            results.append(row)
            print(json.dumps(row), flush=True)
            conn.execute(f"DROP TABLE {table}")
    for _, path in paths:
        path.unlink()
    output = {"points_per_dataset": points, "variants": results, "markdown": markdown(points, results)}
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "indexes.json").write_text(json.dumps(output, indent=2))
    return output


def markdown(points: int, results: list[dict[str, object]]) -> str:
    names = list(results[0]["queries"]) if results else []
    lines = [
        f"Two datasets of {points:,} points each in a scratch copy of the table per variant; the seed queries as the "
        "SQL engine translates them, run directly (no HTTP), median of 5. `python -m bench.indexes`.",
        "",
        "| variant | COPY of both datasets | index size | " + " | ".join(names) + " |",
        "|---|---|---|" + "---|" * len(names),
    ]
    for row in results:
        lines.append(
            f"| {row['variant']} | {row['copy_s']} s | {row['index_mb']} MB | "
            + " | ".join(f"{row['queries'][name]} ms" for name in names) + " |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=1_000_000)
    args = parser.parse_args()
    print(run(points=args.points)["markdown"])


if __name__ == "__main__":
    main()
