"""The seed's five dashboard queries through our SQL API, against chdb and DuckDB over the same rows.

One point set (``bench.data``) is written once as TSV and loaded into all three engines:
PostgreSQL through COPY into the real partitioned table (then the report rollups are
rebuilt and the table analysed, as after any load), chdb into a MergeTree table ordered
by timestamp, DuckDB into a native table. Each query runs once to warm up, then five
times; the median is reported with the ratio ours ÷ theirs, measured in the same run and
interleaved per query so machine noise hits all three alike.

Our time is the full HTTP round trip of ``POST /api/v1/sql`` (parse, translate, sandboxed
execution, JSON rendering); theirs is in-process execution with results fetched, so the
comparison is conservative for us.

Run alone: ``python -m bench.queries --points 1000000`` (results in var/bench/queries-<n>.json).
"""

import argparse
import json
import statistics
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import msgspec

from bench import data, ingest
from bench.env import OUT, Stack, database_url, django_setup, free_port, migrate

PROJECT = "bench"
RUNS = 5

# The seed's queries as written in analytics-engine-setup.md; {table} is the dataset.
SEED_QUERIES: dict[str, str] = {
    "requests by path (24 h)": """
        SELECT blob2 AS path, SUM(double2) AS request_count, AVG(double1) AS avg_duration_ms
        FROM {table}
        WHERE timestamp > NOW() - INTERVAL '24' HOUR AND blob1 = 'GET'
        GROUP BY path ORDER BY request_count DESC LIMIT 10""",
    "cost by project (7 d)": """
        SELECT blob1 AS project_id, blob2 AS cost_type, SUM(double1) AS total_cost
        FROM {table}
        WHERE timestamp > NOW() - INTERVAL '7' DAY AND blob3 = 'cost'
        GROUP BY project_id, cost_type ORDER BY total_cost DESC""",
    "error rate (1 h)": """
        SELECT blob2 AS error_type, COUNT(*) AS error_count
        FROM {table}
        WHERE timestamp > NOW() - INTERVAL '1' HOUR AND blob1 = 'error'
        GROUP BY error_type ORDER BY error_count DESC""",
    "realtime (5 min)": """
        SELECT COUNT(*) AS total_requests, AVG(double1) AS avg_response_time,
               SUM(CASE WHEN blob3 LIKE '5%' THEN 1 ELSE 0 END) AS error_count
        FROM {table}
        WHERE timestamp > NOW() - INTERVAL '5' MINUTE""",
    "cost trends (30 d)": """
        SELECT DATE_TRUNC('day', timestamp) AS date, blob2 AS cost_type, SUM(double1) AS total_cost
        FROM {table}
        WHERE timestamp > NOW() - INTERVAL '30' DAY AND blob3 = 'cost'
        GROUP BY date, cost_type ORDER BY date DESC""",
}


def _median_ms(run: Callable[[], object]) -> tuple[float, object]:
    result = run()  # warm-up
    times = []
    for _ in range(RUNS):
        started = time.perf_counter()
        result = run()
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000, result


def pg_load(tsv: Path, *, dataset: str, now: datetime, days: int, rollups: bool, copy: bool = True) -> dict[str, float]:
    """COPY the TSV into a fresh dataset (or only make the fresh dataset, ``copy=False``), ANALYZE; returns the timings.

    The SQL engine reads raw points only, so report rollups are rebuilt only when asked
    (they cost more than the COPY itself; bench/reports.py benchmarks the reports).
    """
    import psycopg
    from django.db import connection

    from projects.models import Project
    from projects.services import project_create
    from tracking import db
    from tracking.models import Dataset
    from tracking.rollups.services import rollups_rebuild
    from tracking.services import dataset_get_or_create

    project = Project.objects.filter(slug=PROJECT).first() or project_create(slug=PROJECT, name="bench")
    old = Dataset.objects.filter(project=project, name=dataset).first()
    if old is not None:
        with connection.cursor() as cursor:
            cursor.execute("DELETE FROM tracking_datapoint WHERE dataset_id = %s", [old.id])
        old.delete()
    target = dataset_get_or_create(project=project, name=dataset)
    existing = set(db.partition_list())
    for offset in range(days + 2):
        day = (now - timedelta(days=offset)).date()
        if db.partition_name(day) not in existing:
            db.partition_create(day)
    timings = {}
    if not copy:
        return timings
    started = time.perf_counter()
    with psycopg.connect(database_url()) as conn:
        data.pg_copy(tsv, dataset_id=target.id, conn=conn)
    timings["copy_s"] = round(time.perf_counter() - started, 1)
    if rollups:
        started = time.perf_counter()
        rollups_rebuild(dataset_id=target.id, labels=None, now=datetime.now(UTC))
        timings["rollups_s"] = round(time.perf_counter() - started, 1)
    return timings | analyze()


def analyze() -> dict[str, float]:
    """Fresh planner statistics after a bulk load, as autovacuum would gather soon after."""
    from django.db import connection

    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE tracking_datapoint")
    return {"analyze_s": round(time.perf_counter() - started, 1)}


class Ours:
    """The SQL API over HTTP, with a read key of the bench project."""

    def __init__(self, port: int, key: str) -> None:
        from bench.ingest import Client

        self.client = Client(port)
        self.headers = {"Authorization": f"Bearer {key}"}

    def __call__(self, query: str) -> list[dict[str, object]]:
        status, body = self.client.post("/api/v1/sql", (query + " FORMAT JSON").encode(), self.headers)
        if status != 200:
            try:
                detail = json.loads(body)["detail"]
            except (ValueError, KeyError, TypeError):
                detail = body[:200].decode(errors="replace")
            raise RuntimeError(f"SQL API answered {status}: {detail}")
        return json.loads(body)["data"]


def report_times(ours: "Ours", dataset: str) -> list[dict[str, object]]:
    """Every report endpoint of bench/reports.py over HTTP on this dataset (its rollups were built by the drain)."""
    from bench.reports import ENDPOINTS, TARGET_MS

    out = []
    for label, path in ENDPOINTS:
        url = f"{path}{'&' if '?' in path else '?'}dataset={dataset}"

        def call(url: str = url) -> None:
            status, body = ours.client.post(url, None, ours.headers, method="GET")
            if status != 200:
                raise RuntimeError(f"{url} answered {status}: {body[:200]!r}")

        ms, _ = _median_ms(call)
        out.append({"endpoint": label, "median_ms": round(ms, 1), "met": ms <= TARGET_MS})
        print(json.dumps(out[-1]), flush=True)
    return out


class Chdb:
    """chdb (embedded ClickHouse) with the points in a MergeTree table, blobs/doubles defaulting as in AE."""

    def __init__(self, tsv: Path) -> None:
        from chdb import session

        self.session = session.Session()
        blobs = ", ".join(f"blob{i} String" for i in range(1, 5))
        doubles = ", ".join(f"double{i} Float64" for i in range(1, 4))
        self.session.query("CREATE DATABASE IF NOT EXISTS bench")
        self.session.query("DROP TABLE IF EXISTS bench.points")
        self.session.query(
            f"CREATE TABLE bench.points (timestamp DateTime64(6, 'UTC'), index1 String, {blobs}, {doubles}) "
            "ENGINE = MergeTree ORDER BY timestamp"
        )
        started = time.perf_counter()
        self.session.query(
            f"INSERT INTO bench.points SELECT * FROM file('{tsv}', TSV, "
            f"'timestamp DateTime64(6, \\'UTC\\'), index1 String, {blobs}, {doubles}')"
        )
        self.load_s = round(time.perf_counter() - started, 1)

    def __call__(self, query: str) -> object:
        return self.session.query(query, "JSONCompact").bytes()

    def close(self) -> None:
        self.session.close()


class Duck:
    """DuckDB with the points in a native table (timestamps as UTC TIMESTAMPTZ)."""

    def __init__(self, tsv: Path) -> None:
        import duckdb

        self.conn = duckdb.connect()
        self.conn.execute("SET TimeZone = 'UTC'")
        columns = {"timestamp": "TIMESTAMPTZ", "index1": "VARCHAR"}
        columns |= {f"blob{i}": "VARCHAR" for i in range(1, 5)} | {f"double{i}": "DOUBLE" for i in range(1, 4)}
        started = time.perf_counter()
        self.conn.execute(
            f"CREATE OR REPLACE TABLE points AS SELECT * FROM read_csv('{tsv}', delim='\t', header=false, "
            f"nullstr='\\N', quote='', escape='', columns={columns!r})"
        )
        self.load_s = round(time.perf_counter() - started, 1)

    def __call__(self, query: str) -> object:
        return self.conn.execute(query).fetchall()

    def close(self) -> None:
        self.conn.close()


def ingest_load(stack: Stack, points: data.Points, *, dataset: str, write_key: str, batch: int = 1000,
                connections: int = 4) -> dict[str, float]:
    """Send every point once through ``POST /api/v1/datasets/{dataset}/datapoints``; wait until all are stored."""
    api = data.api_points(points)
    bodies = [msgspec.json.encode(api[start : start + batch]) for start in range(0, len(api), batch)]
    baseline = ingest.stored_points()
    stop = threading.Event()
    started = time.monotonic()
    senders = [
        ingest.Sender(stack.port, f"/api/v1/datasets/{dataset}/datapoints", write_key, bodies[n::connections],
                      stop=stop, deadline=started + 1800, max_requests=len(bodies[n::connections]))
        for n in range(connections)
    ]
    for sender in senders:
        sender.start()
    for sender in senders:
        sender.join()
    acked = sum(sender.acked for sender in senders)
    if acked != len(points):
        raise RuntimeError(f"the ingest API acknowledged {acked} of {len(points)} points")
    while ingest.stored_points() - baseline < acked and time.monotonic() - started < 1800:
        time.sleep(0.1)
    seconds = time.monotonic() - started
    return {"ingest_s": round(seconds, 1), "ingest_points_per_s": round(acked / seconds)}


def run(*, points: int, rollups: bool = False, via_ingest: bool = False) -> dict[str, object]:
    """Load ``points`` into the three engines and time the seed queries.

    ``via_ingest`` sends the points through the ingest API (the real write path, rollups
    included) instead of COPY; every engine still gets the very same rows.
    """
    env = django_setup()
    migrate()
    now = datetime.now(UTC)
    tsv = data.DATA_DIR / f"queries-{points}.tsv"
    started = time.perf_counter()
    generated = data.generate(points, now=now)
    tsv_bytes = data.tsv_write(generated, tsv)
    generate_s = round(time.perf_counter() - started, 1)
    dataset = f"analytics_{points}"
    credentials = ingest.setup_keys()
    stack = Stack(port=free_port())
    stack.start(env)
    try:
        if via_ingest:
            pg_timings = pg_load(tsv, dataset=dataset, now=now, days=30, rollups=False, copy=False)
            pg_timings |= ingest_load(stack, generated, dataset=dataset, write_key=credentials.write_key)
            pg_timings |= analyze()
        else:
            pg_timings = pg_load(tsv, dataset=dataset, now=now, days=30, rollups=rollups)
    except BaseException:
        stack.stop()
        raise
    del generated
    footprint = ingest.footprint(data.generate(20_000, now=now, seed=13))
    chdb_engine, duck_engine = Chdb(tsv), Duck(tsv)
    ours = Ours(stack.port, credentials.read_key)
    rows = []
    try:
        for name, template in SEED_QUERIES.items():
            try:
                our_ms, our_result = _median_ms(lambda template=template: ours(template.format(table=dataset)))
                error = None
            except RuntimeError as failure:  # e.g. the SQL API's statement timeout
                our_ms, our_result, error = float("nan"), [], str(failure)[:200]
            ch_ms, ch_result = _median_ms(lambda template=template: chdb_engine(template.format(table="bench.points")))
            duck_ms, _ = _median_ms(lambda template=template: duck_engine(template.format(table="points")))
            rows.append({
                "query": name, "ours_ms": round(our_ms, 1), "chdb_ms": round(ch_ms, 1), "duckdb_ms": round(duck_ms, 1),
                "vs_chdb": round(our_ms / ch_ms, 2), "vs_duckdb": round(our_ms / duck_ms, 2), "rows": len(our_result),
                "chdb_rows": json.loads(ch_result)["rows"], "error": error,
            })
            print(json.dumps(rows[-1]), flush=True)
        reports = report_times(ours, dataset) if via_ingest else []
    finally:
        stack.stop()
        chdb_engine.close()
        duck_engine.close()
    results = {
        "points": points, "tsv_mb": round(tsv_bytes / 1e6), "generate_s": generate_s, "pg_load": pg_timings,
        "footprint": footprint,
        "chdb_load_s": chdb_engine.load_s, "duckdb_load_s": duck_engine.load_s, "queries": rows,
        "reports": reports,
    }
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / f"queries-{points}.json").write_text(json.dumps(results, indent=2))
    tsv.unlink()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=1_000_000)
    parser.add_argument("--rollups", action="store_true", help="also rebuild the report rollups after a COPY load")
    parser.add_argument("--via-ingest", action="store_true", help="load through the ingest API instead of COPY")
    args = parser.parse_args()
    print(json.dumps(run(points=args.points, rollups=args.rollups, via_ingest=args.via_ingest), indent=2))


if __name__ == "__main__":
    main()
