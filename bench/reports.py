"""Report endpoints over 10 million points spread over 90 days: the median of 30 calls each.

The points are generated inside PostgreSQL (``tracking.reports.demo``) into a database of
this benchmark's own (``meauxcloud_bench_reports``), once: later runs reuse them. Before
measuring, a few thousand fresh points go through the real write path (COPY plus the
rollup hook in one transaction), so realtime has live data. Calls go through Django's
test client, so the figures include authentication, serializers and JSON rendering but
no network.

Run: ``python -m bench.reports`` (``--points``, ``--paths`` and ``--days`` to change the volume,
the number of distinct request paths and the span; ``--rebuild`` keeps the points and rebuilds
their rollups, after a change of their layout). Results go to
var/bench/reports.json and the "Reports" section of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import time
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from bench.env import OUT, django_setup, docs_update, migrate, report_stamp

if TYPE_CHECKING:
    from tracking.models import Dataset

DATABASE = os.environ.get("BENCH_REPORTS_DATABASE", "meauxcloud_bench_reports")
PROJECT = "bench-reports"
DATASET = "meauxcloud_analytics"
DAYS = 90
PATHS = 10_000
CALLS = 10
ROUNDS = 3
TARGET_MS = 150
FRESH_POINTS = 20_000
SETUP_FILE = OUT / "reports-setup.json"

ENDPOINTS = [
    ("overview, 30 days", "/api/v1/reports/overview?range=30d"),
    ("usage, 30 days", "/api/v1/reports/usage?range=30d"),
    ("costs, 30 days", "/api/v1/reports/costs?range=30d"),
    ("errors, 30 days", "/api/v1/reports/errors?range=30d"),
    ("ai, 30 days", "/api/v1/reports/ai?range=30d"),
    ("overview, 24 hours", "/api/v1/reports/overview?range=24h"),
    ("usage, 7 days", "/api/v1/reports/usage?range=7d"),
    ("errors, 90 days", "/api/v1/reports/errors?range=90d"),
    ("realtime", "/api/v1/reports/realtime"),
    ("/metrics/realtime", "/metrics/realtime"),
    ("/metrics/costs", "/metrics/costs"),
    ("CSV top paths, 30 days", "/api/v1/reports/usage/tables/top_paths.csv?range=30d"),
]


def _stored_points(dataset_id: int) -> int:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT coalesce(sum(n), 0) FROM tracking_rollup_day WHERE dataset_id = %s AND kind NOT IN (10, 11, 13)", [dataset_id]
        )
        return int(cursor.fetchone()[0])


def _data_ensure(points: int, *, paths: int, days: int, rebuild: bool) -> dict[str, object]:
    """Generate the points unless a previous run left exactly that shape; returns timings."""
    from django.db import connection, transaction
    from django.utils import timezone

    from projects.models import Project
    from projects.services import project_create
    from tracking.models import Dataset
    from tracking.reports.demo import datapoints_generate
    from tracking.rollups.services import rollups_rebuild
    from tracking.services import dataset_get_or_create

    project = Project.objects.filter(slug=PROJECT).first() or project_create(slug=PROJECT)
    dataset = dataset_get_or_create(project=project, name=DATASET)
    shape = {"points": points, "paths": paths, "days": days}
    previous = json.loads(SETUP_FILE.read_text()) if SETUP_FILE.exists() else {}
    if previous.get("shape") == shape and rebuild:
        return previous | _rollups_rebuild(dataset)
    if previous.get("shape") == shape and _stored_points(dataset.id) >= points:
        return previous
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM tracking_datapoint WHERE dataset_id = %s", [dataset.id])
    now = timezone.now()
    started = time.perf_counter()
    datapoints_generate(dataset=dataset, points=points, end=now, days=days, paths=paths)
    generated = time.perf_counter() - started
    started = time.perf_counter()
    with transaction.atomic():
        _watermark_advance(now)
        rollups_rebuild(dataset_id=dataset.id, labels=dataset.labels, now=now)
    rebuilt = time.perf_counter() - started
    _tiers_cluster()
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE tracking_datapoint")
    Dataset.objects.filter(pk=dataset.pk).update(last_write_at=now)
    setup = {"shape": shape, "generate_s": round(generated, 1), "rollup_rebuild_s": round(rebuilt, 1)}
    SETUP_FILE.parent.mkdir(parents=True, exist_ok=True)
    SETUP_FILE.write_text(json.dumps(setup))
    return setup


def _rollups_rebuild(dataset: Dataset) -> dict[str, float]:
    """Rebuild the rollups of points a previous run generated."""
    from django.db import connection, transaction
    from django.utils import timezone

    from tracking.rollups.services import rollups_rebuild

    started = time.perf_counter()
    with transaction.atomic():
        _watermark_advance(timezone.now())
        rollups_rebuild(dataset_id=dataset.id, labels=dataset.labels, now=timezone.now())
    rebuilt = time.perf_counter() - started
    _tiers_cluster()
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    return {"rollup_rebuild_s": round(rebuilt, 1)}


def _watermark_advance(now: datetime) -> None:
    """Bring the coarse tiers' watermark to where beat keeps it (a couple of minutes back), so the
    rebuild fills them through today and reports read them as on a live installation."""
    from tracking.rollups.services import rollups_coarse_advance

    rollups_coarse_advance(now=now, max_hours=24 * 366)


def _tiers_cluster() -> None:
    """Put the tiers' rows back in key order, as a first build writes them.

    A rebuild over rows a previous run left fills the pages they freed (fillfactor 70) out of
    key order, and a range read then touches one heap page per row: at 10M points errors over
    90 days took 205 ms instead of 105 (docs/benchmarks.md). Without this, a run's figures
    would depend on what the database held before.
    """
    from django.db import connection

    from tracking.rollups.db import ALL_TABLES

    with connection.cursor() as cursor:
        for table in ALL_TABLES.values():
            cursor.execute(f"CLUSTER {table} USING {table}_pkey")
            cursor.execute(f"ANALYZE {table}")


def _fresh_points(count: int) -> dict[str, float]:
    """Write one drain batch of the last ten minutes the way the drain does: COPY and rollups, one transaction."""
    from django.db import transaction
    from django.utils import timezone

    from tracking import db
    from tracking.models import Dataset
    from tracking.rollups import services as rollups

    dataset = Dataset.objects.get(project__slug=PROJECT, name=DATASET)
    now = timezone.now()
    rng = random.Random(5)
    rows = []
    for i in range(count):
        moment = now - timedelta(seconds=rng.uniform(0, 600))
        status = rng.choice(["200", "200", "200", "404", "500"])
        rows.append([dataset.id, moment, f"fresh-{i}", None, rng.choice(["GET", "POST"]), rng.choice(["/", "/api/users"]), status, "production", rng.uniform(5, 300), 1.0, 1024.0])
    db.partition_create(now.date())
    with transaction.atomic():
        started = time.perf_counter()
        db.datapoint_copy(rows=rows, blob_count=4, double_count=3)
        copied = time.perf_counter()
        rollups.rollups_apply(rows=rows, blob_count=4, double_count=3)
        rolled = time.perf_counter()
    Dataset.objects.filter(pk=dataset.pk).update(last_write_at=now)
    return {"copy_ms": round((copied - started) * 1000, 1), "rollups_ms": round((rolled - copied) * 1000, 1)}


def _statistics_settle() -> list[str]:
    """Run the statistics refresh until it finds nothing to do, as beat's does within minutes of a
    rebuild or a load on a live installation: ANALYZE what changed, and VACUUM what a rebuild
    only inserted, so the Errors report's ranking reads its index alone (``tracking.db.vacuum_due``)."""
    from tracking.services import statistics_refresh

    done: list[str] = []
    for _ in range(20):
        tables = statistics_refresh()
        if not tables:
            break
        done += tables
    print(f"statistics refresh: {', '.join(done) or 'nothing to do'}", flush=True)
    return done


def _measure() -> list[dict[str, object]]:
    """Three rounds over all endpoints, 10 calls each per round, so a burst of load from
    other work on this shared machine lands on a few samples of every endpoint, not on all
    samples of one."""
    from django.test import Client

    from projects.models import Project
    from projects.services import api_key_create

    project = Project.objects.get(slug=PROJECT)
    key = api_key_create(project=project, name="bench", scopes=["read"]).secret
    client = Client(HTTP_AUTHORIZATION=f"Bearer {key}")
    timings: dict[str, list[float]] = {name: [] for name, _ in ENDPOINTS}
    for _name, url in ENDPOINTS:
        response = client.get(url)
        if response.status_code != 200:
            raise SystemExit(f"{url} answered {response.status_code}: {response.content[:300]!r}")
    for _ in range(ROUNDS):
        for name, url in ENDPOINTS:
            for _ in range(CALLS):
                started = time.perf_counter()
                client.get(url)
                timings[name].append((time.perf_counter() - started) * 1000)
    results = []
    for name, url in ENDPOINTS:
        samples = sorted(timings[name])
        median = statistics.median(samples)
        results.append(
            {
                "endpoint": name,
                "url": url,
                "median_ms": round(median, 1),
                "p90_ms": round(samples[int(len(samples) * 0.9) - 1], 1),
                "met": median <= TARGET_MS,
            }
        )
        print(f"{name:28} median {results[-1]['median_ms']:7.1f} ms  p90 {results[-1]['p90_ms']:7.1f} ms")
    return results


def _footprint() -> dict[str, object]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT relname, pg_total_relation_size(oid), reltuples::bigint FROM pg_class
            WHERE relname IN ('tracking_rollup_minute', 'tracking_rollup_hour', 'tracking_rollup_day',
                              'tracking_rollup_week', 'tracking_rollup_weeks4')
            """
        )
        return {name: {"mb": round(size / 2**20, 1), "rows": rows} for name, size, rows in cursor.fetchall()}


def _markdown(report: dict[str, object]) -> str:
    lines = [
        "## Reports",
        "",
        f"`python -m bench.reports` on {report['machine']}, {report['when']}: {report['points']:,} points over "
        f"{report['days']} days in one dataset ({report['paths']:,} distinct request paths, drawn uniformly), every report endpoint called {ROUNDS} × {CALLS} times (three rounds over all "
        f"endpoints) after one warm-up call "
        f"(Django test client: authentication, selectors, serializers and JSON, no network). Target: median ≤ {TARGET_MS} ms.",
        "",
        "| endpoint | median ms | p90 ms | median ≤ 150 ms |",
        "|---|---:|---:|:-:|",
    ]
    for row in report["results"]:
        lines.append(f"| {row['endpoint']} | {row['median_ms']} | {row['p90_ms']} | {'yes' if row['met'] else 'no'} |")
    fresh = report["fresh_write"]
    lines += [
        "",
        f"Rollup cost on the write path: one drain batch of {FRESH_POINTS:,} request points took "
        f"{fresh['copy_ms']} ms to COPY and {fresh['rollups_ms']} ms more for `rollups_apply` "
        "(stage the report columns, classify and group per minute, upsert the minute tier and the day totals; the coarser tiers follow behind the watermark), in the same transaction.",
    ]
    if report.get("setup"):
        setup = report["setup"]
        lines.append(
            f"Generating the points took {setup['generate_s']} s and rebuilding all rollups from them "
            f"{setup['rollup_rebuild_s']} s (only needed for bulk loads and label changes)"
            + (f"; {setup['note']}." if setup.get("note") else ".")
        )
    lines.append(
        "Why it is fast: reports read the rollup tiers (docs/reports.md), never the raw points; "
        "preset ranges start on a rollup grain, so only the newest partial minute is read raw; long "
        "ranges read 28- and 7-day blocks; requests are kept per status and per path (one row per path "
        "and bucket, its latency histogram in arrays), not per path and status and bin; rollup rows are "
        "stored in key order (`rollups_rebuild`) with room for HOT upserts, so a range read touches few "
        "pages. The rollups' write cost is the price: see the drain batch figure above."
    )
    footprint = report["footprint"]
    lines.append(
        "Rollup footprint: "
        + ", ".join(f"{name.removeprefix('tracking_rollup_')} {v['rows']:,} rows / {v['mb']} MB" for name, v in sorted(footprint.items()))
        + "."
    )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=10_000_000)
    parser.add_argument("--paths", type=int, default=PATHS, help="distinct request paths")
    parser.add_argument("--days", type=int, default=DAYS, help="days the points span")
    parser.add_argument("--rebuild", action="store_true", help="keep the generated points, rebuild their rollups")
    parser.add_argument("--no-docs", action="store_true", help="do not rewrite docs/benchmarks.md")
    args = parser.parse_args()
    django_setup(DATABASE)
    migrate()
    setup = _data_ensure(args.points, paths=args.paths, days=args.days, rebuild=args.rebuild)
    fresh = _fresh_points(FRESH_POINTS)
    refreshed = _statistics_settle()
    results = _measure()
    report = {
        **report_stamp(),
        "points": args.points,
        "paths": args.paths,
        "days": args.days,
        "setup": setup,
        "fresh_write": fresh,
        "refreshed": refreshed,
        "results": results,
        "footprint": _footprint(),
    }
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "reports.json").write_text(json.dumps(report, indent=2))
    if not args.no_docs:
        docs_update("reports", _markdown(report))
    missed = [row["endpoint"] for row in results if not row["met"]]
    print("all medians within target" if not missed else f"over target: {', '.join(missed)}")


if __name__ == "__main__":
    main()
