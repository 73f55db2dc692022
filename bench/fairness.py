"""Fair sharing and bounded memory under hostile SQL (issue 14), against a real stack.

Starts gunicorn (2 workers x 4 threads, as ``make run``) and a Celery worker on the bench
database, loads one small dataset, then:

1. the attack suite's memory shapes, one at a time: peak RSS of the web workers and of the
   query's PostgreSQL backend while each runs (sampled every 50 ms), and its answer;
2. saturation: ``--flooders`` threads send heavy self-join queries back to back for
   ``--seconds``; meanwhile ``/healthz`` and a one-point ingest are timed. Their medians
   are printed next to the same measurements on the idle stack (the baseline of this run),
   with how many queries got 200, 422 (time limit) and 429 (``sql_pool_busy`` and the
   project's concurrency quota).

    .venv/bin/python -m bench.fairness [--points 300] [--flooders 12] [--seconds 20]

The database and Redis are the bench's own (bench/env.py), or DATABASE_URL/REDIS_URL when
FAIRNESS_USE_ENV=1 (a scratch database; nothing but the bench's keys is touched).
"""

import argparse
import json
import os
import statistics
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from datetime import UTC, datetime

from bench.env import RssSampler, Stack, free_port

ATTACKS = {
    "triple_self_join_rows": "SELECT a.blob4, b.blob4, c.blob4 FROM web a, web b, web c",
    "wide_concat_self_join": "SELECT concat(a.blob4, b.blob4, a.blob1, b.blob1, a.blob2, b.blob2, a.blob3, b.blob3) AS s "
    "FROM web a, web b",
    "topk_10000_triple_join": "SELECT topK(10000)(concat(a.blob4, b.blob4, c.blob4)) AS t FROM web a, web b, web c",
    "self_join_count": "SELECT count() AS n FROM web a, web b, web c WHERE a.blob1 <> c.blob2",
    "group_array_like_argmax": "SELECT argMax(concat(a.blob4, b.blob4), c.double1) AS m FROM web a, web b, web c",
    "group_array_triple_join": "SELECT groupArray(concat(a.blob4, b.blob4, c.blob4)) AS g FROM web a, web b, web c",
    "quantile_exact_triple_join": "SELECT quantileExact(0.5)(a.double1 * b.double1 * c.double1) AS q FROM web a, web b, web c",
}
FLOOD = ATTACKS["self_join_count"]


def _env() -> dict[str, str]:
    if os.environ.get("FAIRNESS_USE_ENV") == "1":
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "meauxcloud.settings")
        os.environ.update(TRACKING_STREAM_KEY="meauxcloud:bench:fairness", CELERY_TASK_DEFAULT_QUEUE="bench",
                          TRACKING_CHECK_REDIS="0", DEBUG="0", PYTHONUNBUFFERED="1")
        import django

        django.setup()
        return dict(os.environ)
    from bench.env import django_setup

    return django_setup()


def _load(points: int, projects: int) -> tuple[list[str], str]:
    """``projects`` projects with one dataset ``web`` of ``points`` points; returns (read keys, a write key)."""
    from django.core.management import call_command
    from django.utils import timezone

    from projects.models import Scope
    from projects.services import api_key_create, project_create
    from tracking.ingest.buffer import buffer_ensure_group
    from tracking.ingest.decode import PointRow, ValidatedBatch, epoch_us
    from tracking.services import buffer_drain, datapoints_accept, dataset_get_or_create, partitions_ensure

    call_command("migrate", "--no-input", verbosity=0)
    partitions_ensure(today=timezone.now().date())
    buffer_ensure_group()
    read_keys, write_key = [], ""
    stamp = int(time.time())
    for number in range(projects):
        project = project_create(slug=f"fairness-{stamp}-{number}")
        dataset = dataset_get_or_create(project=project, name="web")
        now_us = epoch_us(datetime.now(UTC))
        batch = ValidatedBatch()
        for n in range(points):
            blobs = [f"/path/{n % 37}", f"GET-{n % 5}", f"agent-{n % 11}", f"payload-{n:06d}-" + "x" * 40]
            batch.rows.append(PointRow(now_us - n * 1_000_000, f"k{n % 7}", blobs, [float(n)], f"fair-{stamp}-{number}-{n}"))
        datapoints_accept(dataset=dataset, batch=batch)
        buffer_drain(time_budget=30, block_ms=10)
        read_keys.append(api_key_create(project=project, name="read", scopes=[Scope.READ]).secret)
        write_key = write_key or api_key_create(project=project, name="write", scopes=[Scope.WRITE]).secret
    return read_keys, write_key


def _request(url: str, *, key: str = "", body: bytes | None = None, content_type: str = "text/plain",
             timeout: float = 60) -> tuple[int, bytes, float]:
    request = urllib.request.Request(url, data=body, method="POST" if body is not None else "GET")
    if key:
        request.add_header("Authorization", f"Bearer {key}")
    if body is not None:
        request.add_header("Content-Type", content_type)
    started = time.perf_counter()
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read(), (time.perf_counter() - started) * 1000
    except urllib.error.HTTPError as error:
        return error.code, error.read(), (time.perf_counter() - started) * 1000


def _backend_rss_peak(database: str, stop: threading.Event, peaks: list[int]) -> None:
    """Peak private (anonymous) resident memory of any PostgreSQL backend of the bench database.

    RssAnon, not RSS: RSS also counts the shared buffers a backend touched, which are not its own.
    """
    import psycopg

    from bench.env import database_url

    with psycopg.connect(database_url(), autocommit=True) as conn:
        while not stop.is_set():
            pids = [row[0] for row in conn.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()", [database]
            )]
            for pid in pids:
                try:
                    with open(f"/proc/{pid}/status") as status:
                        anon = next(line for line in status if line.startswith("RssAnon:"))
                except (OSError, StopIteration):
                    continue
                peaks[0] = max(peaks[0], int(anon.split()[1]) * 1024)
            stop.wait(0.05)


def _probe(base: str, write_key: str, samples: int, pause: float) -> dict[str, list[float]]:
    """Sequential /healthz and one-point ingest timings."""
    health, ingest = [], []
    point = json.dumps({"blobs": ["probe"], "doubles": [1.0]}).encode()
    for _ in range(samples):
        health.append(_request(f"{base}/healthz", timeout=30)[2])
        status, _, elapsed = _request(f"{base}/api/v1/datasets/probe/datapoints", key=write_key, body=point,
                                      content_type="application/json", timeout=30)
        ingest.append(elapsed if status == 202 else float("nan"))
        time.sleep(pause)
    return {"healthz_ms": health, "ingest_ms": ingest}


def _median(values: list[float]) -> float:
    clean = [v for v in values if v == v]
    return round(statistics.median(clean), 1) if clean else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=300)
    parser.add_argument("--flooders", type=int, default=12)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--projects", type=int, default=4, help="tenants the flood comes from")
    parser.add_argument("--compare", action="store_true", help="flood again with the pool and quota lifted")
    args = parser.parse_args()

    import psutil
    from django.db import connection

    env = _env()
    read_keys, write_key = _load(args.points, args.projects)
    read_key = read_keys[0]
    database = connection.settings_dict["NAME"]
    connection.close()
    stack = Stack(port=args.port or free_port())
    stack.start(env)
    base = stack.base_url
    results: dict[str, object] = {"points": args.points, "flooders": args.flooders, "seconds": args.seconds}
    try:
        web_idle = max(psutil.Process(pid).memory_info().rss for pid in stack.pids("web"))
        results["web_worker_idle_rss_mb"] = round(web_idle / 2**20, 1)
        attacks = {}
        for name, sql in ATTACKS.items():
            stop, peak = threading.Event(), [0]
            sampler = threading.Thread(target=_backend_rss_peak, args=(database, stop, peak), daemon=True)
            with RssSampler(stack, interval=0.05) as web_rss:
                sampler.start()
                status, body, elapsed = _request(f"{base}/api/v1/sql", key=read_key, body=sql.encode())
                stop.set()
                sampler.join()
            detail = json.loads(body).get("detail", "") if status != 200 else f"{len(body)} bytes"
            attacks[name] = {
                "status": status, "answer": detail, "ms": round(elapsed),
                "web_worker_peak_rss_mb": round(web_rss.peak_single.get("web", 0) / 2**20, 1),
                "backend_peak_anon_rss_mb": round(peak[0] / 2**20, 1),
            }
            print(name, attacks[name], flush=True)
        results["attacks"] = attacks

        results["saturation"] = {"pool": _saturate(stack, read_keys, write_key, args)}
    finally:
        stack.stop()
    if args.compare:
        stack = Stack(port=args.port or free_port())
        stack.start({**env, "SQL_PROCESS_CONCURRENCY": "1000", "SQL_MAX_CONCURRENT": "1000",
                     "GOVERNANCE_DEFAULT_CONCURRENT_QUERIES": "-1"})
        try:
            results["saturation"]["no_pool"] = _saturate(stack, read_keys, write_key, args)
        finally:
            stack.stop()
    print(json.dumps(results, indent=2))


def _saturate(stack: Stack, read_keys: list[str], write_key: str, args: argparse.Namespace) -> dict[str, object]:
    """Flood the stack with heavy queries from every project while timing /healthz and ingest."""

    base = stack.base_url
    load_before = os.getloadavg()[0]
    idle = _probe(base, write_key, samples=30, pause=0.05)
    statuses: Counter[str] = Counter()
    stop_flood = threading.Event()

    def flood(key: str) -> None:
        while not stop_flood.is_set():
            status, body, _ = _request(f"{base}/api/v1/sql", key=key, body=FLOOD.encode(), timeout=60)
            code = json.loads(body).get("code", "") if status != 200 else ""
            statuses[f"{status} {code}".strip()] += 1
            if status == 429:
                time.sleep(0.05)

    flooders = [threading.Thread(target=flood, args=(read_keys[n % len(read_keys)],), daemon=True)
                for n in range(args.flooders)]
    loaded: dict[str, list[float]] = {"healthz_ms": [], "ingest_ms": []}
    with RssSampler(stack, interval=0.1) as flood_rss:
        for thread in flooders:
            thread.start()
        time.sleep(2)
        deadline = time.monotonic() + args.seconds
        while time.monotonic() < deadline:
            sample = _probe(base, write_key, samples=5, pause=0.1)
            for key in loaded:
                loaded[key] += sample[key]
        stop_flood.set()
        for thread in flooders:
            thread.join(timeout=70)
    figures = {
        "healthz_median_ms": {"idle": _median(idle["healthz_ms"]), "saturated": _median(loaded["healthz_ms"])},
        "healthz_max_ms": {"idle": round(max(idle["healthz_ms"])), "saturated": round(max(loaded["healthz_ms"]))},
        "ingest_median_ms": {"idle": _median(idle["ingest_ms"]), "saturated": _median(loaded["ingest_ms"])},
        "ingest_failed": sum(1 for v in loaded["ingest_ms"] if v != v),
        "samples": len(loaded["healthz_ms"]),
        "query_answers": dict(statuses),
        "web_worker_peak_rss_mb": round(flood_rss.peak_single.get("web", 0) / 2**20, 1),
        # The machine is shared: other sessions' load moves every figure above.
        "load_average_1min": {"before": round(load_before, 1), "after": round(os.getloadavg()[0], 1)},
    }
    print(json.dumps(figures), flush=True)
    return figures


if __name__ == "__main__":
    main()
