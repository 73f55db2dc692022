"""Ingest end to end over HTTP, the raw COPY ceiling, visibility latency and footprint.

Everything is measured in one run on the same machine, because the machine is shared and
noisy: the headline is a ratio (stored/s ÷ the COPY ceiling of the same rows), not an
absolute speed. The load generator is bounded (a fixed duration and request cap) and
talks to loopback only.

Run alone: ``python -m bench.ingest --quick`` (results in var/bench/ingest.json).
"""

import argparse
import http.client
import json
import os
import statistics
import threading
import time
import uuid
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime

import msgspec

from bench import data
from bench.env import OUT, RssSampler, Stack, database_url, django_setup, free_port, migrate, redis_reset

PROJECT = "bench"


@dataclass
class LoadResult:
    batch: int
    connections: int
    seconds: float
    requests: int
    acked_points: int
    rejected_503: int
    errors: int
    ack_per_s: float
    stored_per_s: float
    drain_lag_s: float
    request_p50_ms: float
    request_p99_ms: float
    cpu_ms_per_1k_points: dict[str, float]


@dataclass
class Credentials:
    project: str
    write_key: str
    read_key: str
    dataset_ids: dict[str, int] = field(default_factory=dict)


def setup_keys() -> Credentials:
    """The bench project with a fresh write key and read key."""
    from projects.models import Project, Scope
    from projects.services import api_key_create, project_create

    project = Project.objects.filter(slug=PROJECT).first() or project_create(slug=PROJECT, name="bench")
    write = api_key_create(project=project, name="bench write", scopes=[Scope.WRITE])
    read = api_key_create(project=project, name="bench read", scopes=[Scope.READ])
    return Credentials(project=project.slug, write_key=write.secret, read_key=read.secret)


def setup(datasets: list[str]) -> Credentials:
    """Keys and datasets on an empty points table and stream: the bench database's points are scratch."""
    from django.db import connection

    from projects.models import Project
    from tracking.rollups.db import EPOCH_SQL, WATERMARK_TABLE
    from tracking.services import dataset_get_or_create, partitions_ensure

    migrate()
    redis_reset()
    with connection.cursor() as cursor:
        cursor.execute("SELECT tablename FROM pg_tables WHERE tablename LIKE 'tracking_rollup%%'")
        rollups = [row[0] for row in cursor.fetchall()]
        cursor.execute(f"TRUNCATE {', '.join(['tracking_datapoint', 'tracking_ingestedentry', *rollups])}")
        # With no points left, the coarse tiers' watermark may start where beat keeps it (a
        # couple of minutes back), so live points go to the minute tier only; the stack's beat
        # moves it on during the run, as on a live installation.
        cursor.execute(f"UPDATE {WATERMARK_TABLE} SET coarse_until = date_bin(INTERVAL '1 minute', now() - INTERVAL '2 minutes', {EPOCH_SQL})")
    credentials = setup_keys()
    partitions_ensure(today=datetime.now(UTC).date())
    project = Project.objects.get(slug=PROJECT)
    for name in datasets:
        credentials.dataset_ids[name] = dataset_get_or_create(project=project, name=name).id
    return credentials


def bodies(batch: int, count: int, *, seed: int) -> list[bytes]:
    """Request bodies of ``batch`` live points each (no timestamp: the server stamps them, as AE does)."""
    points = data.generate(batch * count, now=datetime.now(UTC), seed=seed)
    encoded = []
    live = data.api_points(points)
    for point in live:
        del point["timestamp"]
    for start in range(0, len(live), batch):
        encoded.append(msgspec.json.encode(live[start : start + batch]))
    return encoded


class Client:
    """One keep-alive HTTP connection that reconnects once when the server has closed an idle one."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)

    def post(self, path: str, body: bytes | None, headers: dict[str, str], method: str = "POST") -> tuple[int, bytes]:
        status, payload, _ = self.request(path, body, headers, method)
        return status, payload

    def request(self, path: str, body: bytes | None, headers: dict[str, str],
                method: str = "POST") -> tuple[int, bytes, dict[str, str]]:
        """Status, body and the response headers (names lower-cased)."""
        for attempt in (0, 1):
            try:
                self.conn.request(method, path, body=body, headers=headers)
                response = self.conn.getresponse()
                return response.status, response.read(), {name.lower(): value for name, value in response.getheaders()}
            except (OSError, http.client.HTTPException):
                self.conn.close()
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def close(self) -> None:
        self.conn.close()


class Sender(threading.Thread):
    """One keep-alive connection posting bodies in a loop, optionally paced to an interval."""

    def __init__(self, port: int, path: str, key: str, payloads: list[bytes], *, stop: threading.Event,
                 deadline: float, max_requests: int, interval: float | None = None, offset: int = 0) -> None:
        super().__init__(daemon=True)
        self.port, self.path, self.payloads = port, path, payloads
        self.headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
        self.stop, self.deadline, self.max_requests, self.interval = stop, deadline, max_requests, interval
        self.offset = offset
        self.acked = self.requests = self.rejected = self.errors = 0
        self.latencies: list[float] = []

    def run(self) -> None:
        client = Client(self.port)
        next_at = time.monotonic()
        i = self.offset
        while not self.stop.is_set() and time.monotonic() < self.deadline and self.requests < self.max_requests:
            if self.interval is not None:
                pause = next_at - time.monotonic()
                if pause > 0:
                    time.sleep(pause)
                next_at += self.interval
            body = self.payloads[i % len(self.payloads)]
            i += 1
            started = time.perf_counter()
            try:
                status, payload = client.post(self.path, body, self.headers)
            except (OSError, http.client.HTTPException):
                self.errors += 1
                continue
            self.latencies.append(time.perf_counter() - started)
            self.requests += 1
            if status == 202:
                self.acked += json.loads(payload)["accepted"]
            elif status == 503:
                self.rejected += 1
                time.sleep(0.05)
            else:
                self.errors += 1
        client.close()


def stored_points() -> int:
    """Points committed so far, from the write ledger (cheap; the table's count is checked at the end)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT coalesce(sum(points), 0) FROM tracking_ingestedentry")
        return int(cursor.fetchone()[0])


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def load_run(stack: Stack, credentials: Credentials, *, dataset: str, batch: int, connections: int, points: int,
             payloads: list[bytes], seconds: float = 120) -> LoadResult:
    """Send ``points`` as fast as the connections go (at most ``seconds``); wait until every acknowledged one is stored.

    A fixed amount of work rather than a fixed time: the web side acknowledges faster
    than the drain stores, so a timed run would mostly measure how long the backlog is.
    """
    baseline = stored_points()
    stop = threading.Event()
    cpu_before = {**stack.cpu_seconds(), "postgres backends": _postgres_cpu(), "load generator": _own_cpu()}
    started = time.monotonic()
    senders = [
        Sender(stack.port, f"/api/v1/datasets/{dataset}/datapoints", credentials.write_key, payloads, stop=stop,
               deadline=started + seconds, max_requests=points // batch // connections, offset=n * 7)
        for n in range(connections)
    ]
    for sender in senders:
        sender.start()
    for sender in senders:
        sender.join()
    sent_s = time.monotonic() - started
    acked = sum(s.acked for s in senders)
    deadline = time.monotonic() + 180
    while stored_points() - baseline < acked and time.monotonic() < deadline:
        time.sleep(0.05)
    stored = stored_points() - baseline
    stored_s = time.monotonic() - started
    cpu_after = {**stack.cpu_seconds(), "postgres backends": _postgres_cpu(), "load generator": _own_cpu()}
    if stored < acked:
        raise RuntimeError(f"only {stored} of {acked} acknowledged points were stored within 180 s")
    latencies = [x for s in senders for x in s.latencies]
    return LoadResult(
        batch=batch, connections=connections, seconds=round(sent_s, 2), requests=sum(s.requests for s in senders),
        acked_points=acked, rejected_503=sum(s.rejected for s in senders), errors=sum(s.errors for s in senders),
        ack_per_s=acked / sent_s, stored_per_s=stored / stored_s, drain_lag_s=round(stored_s - sent_s, 2),
        request_p50_ms=_percentile(latencies, 0.5) * 1000, request_p99_ms=_percentile(latencies, 0.99) * 1000,
        cpu_ms_per_1k_points={
            name: round((cpu_after[name] - cpu_before.get(name, 0.0)) * 1e6 / max(acked, 1), 1) for name in cpu_after
        },
    )


def _postgres_cpu() -> float:
    """CPU seconds of the PostgreSQL backends serving this process's database (their titles name it).

    Backends of other databases (other engineers' tests) and PostgreSQL's own background
    processes (WAL writer, checkpointer) are left out, so this is a lower bound.
    """
    import psutil
    from django.db import connection

    database = connection.settings_dict["NAME"]
    total = 0.0
    for process in psutil.process_iter(["name", "cmdline"]):
        try:
            title = " ".join(process.info["cmdline"] or [])
            if title.startswith("postgres:") and f" {database} " in title:
                times = process.cpu_times()
                total += times.user + times.system
        except psutil.Error:
            continue
    return total


def _own_cpu() -> float:
    """CPU seconds of this process (the load generator's threads, plus the ledger polling)."""
    times = os.times()
    return times.user + times.system


def ceiling(payloads: list[bytes], *, dataset_id: int, batch_rows: int = 20_000) -> dict[str, float]:
    """psycopg COPY of the same rows into the same partitioned table: no HTTP, no buffer, no ledger, no rollups.

    Rows are shaped exactly as the drain writes them (``dataset_id, timestamp, index1,
    dedup_id, blobs…, doubles…``), in transactions of ``batch_rows`` like the drain's, in
    binary format (the fastest psycopg COPY, and the one the drain uses).
    """
    import psycopg

    from tracking import db
    from tracking.columns import BLOB_COLUMNS, DOUBLE_COLUMNS

    now = datetime.now(UTC)
    rows = []
    for body in payloads:
        for point in msgspec.json.decode(body):
            blobs = point["blobs"] + [None] * (4 - len(point["blobs"]))
            doubles = point["doubles"] + [None] * (3 - len(point["doubles"]))
            rows.append([dataset_id, now, point["indexes"][0], None, *blobs, *doubles])
    columns = ["dataset_id", '"timestamp"', "index1", "dedup_id", *BLOB_COLUMNS[:4], *DOUBLE_COLUMNS[:3]]
    statement = f"COPY {db.TABLE} ({', '.join(columns)}) FROM STDIN (FORMAT BINARY)"
    types = ["int8", "timestamptz", "text", "text"] + ["text"] * 4 + ["float8"] * 3
    with psycopg.connect(database_url()) as conn:
        started = time.perf_counter()
        for start in range(0, len(rows), batch_rows):
            with conn.transaction(), conn.cursor() as cursor, cursor.copy(statement) as copy:
                copy.set_types(types)
                for row in rows[start : start + batch_rows]:
                    copy.write_row(row)
        elapsed = time.perf_counter() - started
    return {"rows": len(rows), "seconds": round(elapsed, 3), "rows_per_s": len(rows) / elapsed}


class SqlProbe:
    """Asks whether a probe point is visible: through the SQL API when it is deployed, else a direct SQL query."""

    def __init__(self, stack: Stack, credentials: Credentials, dataset: str) -> None:
        import psycopg

        self.stack, self.credentials, self.dataset = stack, credentials, dataset
        self.dataset_id = credentials.dataset_ids[dataset]
        self.client = Client(stack.port)
        self.pg = psycopg.connect(database_url(), autocommit=True)
        self.via = "sql-api" if self._api_count("__none__") is not None else "direct-sql"

    def _api_count(self, marker: str) -> int | None:
        query = f"SELECT count() AS n FROM {self.dataset} WHERE index1 = '{marker}' FORMAT JSON"
        status, payload = self.client.post("/api/v1/sql", query.encode(),
                                           {"Authorization": f"Bearer {self.credentials.read_key}"})
        if status != 200:
            return None
        return int(json.loads(payload)["data"][0]["n"])

    def visible(self, marker: str) -> bool:
        if self.via == "sql-api":
            return bool(self._api_count(marker))
        row = self.pg.execute(
            "SELECT 1 FROM tracking_datapoint WHERE dataset_id = %s AND index1 = %s "
            "AND \"timestamp\" > now() - interval '1 hour' LIMIT 1",
            [self.dataset_id, marker],
        ).fetchone()
        return row is not None

    def close(self) -> None:
        self.client.close()
        self.pg.close()


def visibility(stack: Stack, credentials: Credentials, *, rate: float, seconds: float, payloads: list[bytes],
               batch: int, dataset: str) -> dict[str, object]:
    """p50/p99 from a probe's 202 to its point being returned, while background load runs at ``rate`` points/s."""
    connections = 2
    stop = threading.Event()
    started = time.monotonic()
    interval = batch * connections / rate
    senders = [
        Sender(stack.port, f"/api/v1/datasets/{dataset}/datapoints", credentials.write_key, payloads, stop=stop,
               deadline=started + seconds + 5, max_requests=1_000_000, interval=interval, offset=n * 11)
        for n in range(connections)
    ]
    for sender in senders:
        sender.start()
    probe = SqlProbe(stack, credentials, "probe")
    write = Client(stack.port)
    headers = {"Authorization": f"Bearer {credentials.write_key}", "Content-Type": "application/json"}
    latencies, timeouts = [], 0
    time.sleep(1.0)  # let the background load reach its pace
    while time.monotonic() - started < seconds:
        marker = f"probe-{uuid.uuid4().hex[:16]}"
        status, _ = write.post("/api/v1/datasets/probe/datapoints", msgspec.json.encode(
            {"blobs": ["GET", "/probe", "200"], "doubles": [1.0, 1.0], "indexes": [marker]}), headers)
        if status != 202:
            raise RuntimeError(f"probe write answered {status}")
        acked = time.perf_counter()
        while not probe.visible(marker):
            if time.perf_counter() - acked > 30:
                timeouts += 1
                break
            time.sleep(0.01)
        else:
            latencies.append(time.perf_counter() - acked)
        time.sleep(0.05)  # next probe soon: p99 needs ~100+ probes to mean more than the maximum
    stop.set()
    for sender in senders:
        sender.join()
    write.close()
    probe.close()
    achieved = sum(s.acked for s in senders) / (time.monotonic() - started)
    return {
        "via": probe.via, "target_points_per_s": round(rate), "achieved_points_per_s": round(achieved),
        "probes": len(latencies), "timeouts": timeouts,
        "p50_s": round(statistics.median(latencies), 3) if latencies else None,
        "p99_s": round(_percentile(latencies, 0.99), 3) if latencies else None,
        "max_s": round(max(latencies), 3) if latencies else None,
    }


def footprint(ndjson_points: data.Points) -> dict[str, float]:
    """PostgreSQL bytes (heap + TOAST + indexes of every partition) per million stored points, vs NDJSON."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT coalesce(sum(pg_relation_size(c.oid) + coalesce(pg_relation_size(c.reltoastrelid), 0)), 0),
                   coalesce(sum(pg_indexes_size(c.oid)), 0)
            FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
            WHERE i.inhparent = 'tracking_datapoint'::regclass
            """
        )
        heap, indexes = (int(value) for value in cursor.fetchone())
        cursor.execute("SELECT count(*) FROM tracking_datapoint")
        rows = cursor.fetchone()[0]
    ndjson_per_point = data.ndjson_bytes(ndjson_points) / len(ndjson_points)
    per_million = 1_000_000 / rows if rows else float("nan")
    return {
        "rows": rows,
        "heap_mb_per_million": heap * per_million / 1e6,
        "index_mb_per_million": indexes * per_million / 1e6,
        "total_mb_per_million": (heap + indexes) * per_million / 1e6,
        "ndjson_mb_per_million": ndjson_per_point * 1_000_000 / 1e6,
    }


def run(*, quick: bool) -> dict[str, object]:
    env = django_setup()
    points = 60_000 if quick else 400_000
    credentials = setup(["ingest_250", "ingest_1000", "probe", "ceiling", "steady"])
    payloads = {250: bodies(250, 200, seed=11), 1000: bodies(1000, 60, seed=12)}
    stack = Stack(port=free_port())
    stack.start(env)
    results: dict[str, object] = {"quick": quick, "started_at": datetime.now(UTC).isoformat(timespec="seconds")}
    try:
        with RssSampler(stack) as rss:
            loads = [
                load_run(stack, credentials, dataset=f"ingest_{batch}", batch=batch, connections=4, points=points,
                         payloads=payloads[batch])
                for batch in (250, 1000)
            ]
        results["loads"] = [asdict(load) for load in loads]
        print(json.dumps(results["loads"], indent=2), flush=True)
        results["rss_peak_mb"] = {name: round(value / 2**20) for name, value in rss.peak_total.items()}
        results["rss_peak_single_mb"] = {name: round(value / 2**20) for name, value in rss.peak_single.items()}
        best = max(load.stored_per_s for load in loads)
        results["visibility"] = visibility(stack, credentials, rate=best / 2, seconds=15 if quick else 45,
                                           payloads=payloads[250], batch=250, dataset="steady")
    finally:
        stack.stop()
    ceiling_payloads = payloads[1000] if quick else payloads[1000] * 3
    results["ceiling"] = ceiling(ceiling_payloads, dataset_id=credentials.dataset_ids["ceiling"])
    results["stored_vs_ceiling"] = {
        str(load["batch"]): load["stored_per_s"] / results["ceiling"]["rows_per_s"] for load in results["loads"]
    }
    results["footprint"] = footprint(data.generate(20_000, now=datetime.now(UTC), seed=13))
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "ingest.json").write_text(json.dumps(results, indent=2))
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    print(json.dumps(run(quick=args.quick), indent=2))


if __name__ == "__main__":
    main()
