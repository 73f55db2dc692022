"""``make bench`` / ``make bench-quick``: every benchmark in one run, then docs/benchmarks.md and its chart.

Quick (< 3 min): ingest at both batch sizes, the COPY ceiling, visibility, footprint, and
the SQL queries (bench/queries.py) at 100k points; its tables go to var/bench/benchmarks-quick.md. Full
(< 30 min): bigger ingest runs, the SQL queries at 1M and 10M points, index and
partition alternatives, plus the middleware, OTLP, reports, alerts, admin and maintenance benchmarks when their
scripts are present; it rewrites only its sections of docs/benchmarks.md (between the
``bench:ingest`` and ``bench:queries`` markers) and the chart. The Middleware, OTLP, Reports and Alerts sections belong
to their own scripts.
"""

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from bench.env import OUT, ROOT, docs_update

CHART = ROOT / "docs" / "benchmarks-ingest-queries.png"
INGEST_TARGET, VISIBILITY_TARGET_S, CHDB_TARGET = 0.5, 1.0, 2.0
SQL_TIMEOUT_MS = 10_000  # the SQL API's default statement timeout (settings.SQL_STATEMENT_TIMEOUT_MS)


def _machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{os.cpu_count()} cores ({cpu}), {memory:.0f} GiB RAM, {platform.system()} {platform.release()}, Python {platform.python_version()}"


def _postgres_version() -> str:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        return cursor.fetchone()[0]


def _side_bench(module: str, args: list[str], timeout: int) -> dict[str, str]:
    """Another helper's bench script, run as they wrote it (it may update its own docs section)."""
    command = f"python -m bench.{module} {' '.join(args)}".strip()
    if not (ROOT / "bench" / f"{module}.py").exists():
        return {"command": command, "status": "not present", "output": ""}
    started = time.monotonic()
    try:
        result = subprocess.run([sys.executable, "-m", f"bench.{module}", *args], cwd=ROOT, timeout=timeout,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    except subprocess.TimeoutExpired:
        return {"command": command, "status": f"timed out after {timeout} s", "output": ""}
    print(result.stdout, flush=True)
    status = f"exited {result.returncode} after {time.monotonic() - started:.0f} s"
    return {"command": command, "status": status, "output": "\n".join(result.stdout.strip().splitlines()[-16:])}


def chart(results: dict[str, object], path: Path) -> None:
    """Left: ingest rates vs the COPY ceiling. Right: every query, ours ÷ chdb on both of our paths (log scale)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ingest = results["ingest"]
    fig, (left, right) = plt.subplots(1, 2, figsize=(15, 6), gridspec_kw={"width_ratios": [1, 2]})
    labels, acked, stored = [], [], []
    for load in ingest["loads"]:
        labels.append(f"batch {load['batch']}")
        acked.append(load["ack_per_s"])
        stored.append(load["stored_per_s"])
    xs = range(len(labels))
    left.bar([x - 0.2 for x in xs], acked, width=0.4, label="acknowledged (202)/s")
    left.bar([x + 0.2 for x in xs], stored, width=0.4, label="stored/s")
    left.axhline(ingest["ceiling"]["rows_per_s"], color="black", linestyle="--", label="COPY ceiling")
    left.axhline(ingest["ceiling"]["rows_per_s"] * INGEST_TARGET, color="grey", linestyle=":", label="target 50% of ceiling")
    left.set_xticks(list(xs), labels)
    left.set_ylabel("points per second")
    left.set_title("Ingest over HTTP, 4 connections")
    left.legend(fontsize=8)
    query_sets = results.get("queries", [])
    series = [("vs_chdb", "projection path"), ("raw_vs_chdb", "plan=raw")]
    width = 0.8 / max(1, len(series) * len(query_sets))
    names = [row["query"] for row in query_sets[0]["queries"]] if query_sets else []
    for n, query_set in enumerate(query_sets):
        for m, (key, route) in enumerate(series):
            offset = (len(series) * n + m) * width - 0.4 + width / 2
            # A failed query (the 10 s statement timeout) is drawn at the least ratio it proves.
            values = [row[key] if row[key] == row[key] else SQL_TIMEOUT_MS / row["chdb_ms"] for row in query_set["queries"]]
            bars = right.bar([i + offset for i in range(len(names))], values, width=width,
                             label=f"{query_set['points']:,} points, {route}")
            for bar, value in zip(bars, (row[key] for row in query_set["queries"])):
                if value != value:
                    bar.set_hatch("//")
    right.axhline(CHDB_TARGET, color="grey", linestyle=":", label="floor 2x chdb")
    right.axhline(1, color="black", linewidth=0.8, label="target 1x chdb")
    right.set_yscale("log")
    right.set_xticks(range(len(names)), [name.replace(" (", "\n(") for name in names], fontsize=6, rotation=90)
    right.set_ylabel("our time / chdb's time (log)")
    right.set_title("SQL queries via the Cloudflare-shaped endpoint, ÷ chdb")
    right.legend(fontsize=7, loc="upper left", ncol=2)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)


def _fmt(value: float) -> str:
    return f"{value:,.0f}"


def markdown(results: dict[str, object], *, chart_path: str) -> str:
    ingest = results["ingest"]
    ceiling = ingest["ceiling"]["rows_per_s"]
    lines = [
        f"## Ingest, visibility and footprint ({'quick' if results['quick'] else 'full'} run)",
        "",
        f"Measured {results['when']} on {results['machine']}, PostgreSQL {results['postgres']}; "
        "web (gunicorn, 2 workers x 4 threads), Celery worker (-c 2, beat), PostgreSQL, Redis and the load "
        "generator all on this machine. The machine is shared with other engineers' test runs, so read the "
        "ratios (measured in the same run), not the absolute rates.",
        "",
        "Commands: `make bench` (full, under 30 min; rewrites this section and the chart) or `make bench-quick` "
        "(under 3 min; writes var/bench/benchmarks-quick.md and leaves this section alone). They run "
        "`.venv/bin/python -m bench.run [--quick]` after installing bench/requirements.txt. Raw results: var/bench/*.json; "
        "`python -m bench.run --render` redraws this section from the last full run.",
        "",
        f"![ingest and query ratios]({chart_path})",
        "",
        "### Ingest (end to end over HTTP, 4 keep-alive connections, loopback)",
        "",
        "| batch | points | acknowledged/s | stored/s | stored ÷ COPY ceiling | drain lag after last 202 | request p50 / p99 | 503s |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for load in ingest["loads"]:
        lines.append(
            f"| {load['batch']} | {_fmt(load['acked_points'])} | {_fmt(load['ack_per_s'])} | {_fmt(load['stored_per_s'])} "
            f"| **{load['stored_per_s'] / ceiling:.0%}** | {load['drain_lag_s']} s | "
            f"{load['request_p50_ms']:.0f} / {load['request_p99_ms']:.0f} ms | {load['rejected_503']} |"
        )
    lines += [
        "",
        "CPU per 1,000 points during those runs (user + system of each process tree; for PostgreSQL only the backends "
        "serving the bench database, so background writers are left out; Redis not included): "
        + "; ".join(
            f"batch {load['batch']}: " + ", ".join(f"{name} {ms:.0f} ms" for name, ms in load["cpu_ms_per_1k_points"].items())
            for load in ingest["loads"] if load.get("cpu_ms_per_1k_points")
        )
        + ".",
    ]
    lines += [
        "",
        f"COPY ceiling in the same run: **{_fmt(ceiling)} rows/s** ({_fmt(ingest['ceiling']['rows'])} rows of the same "
        "points, one psycopg connection, binary `COPY ... FROM STDIN` with `write_row` as the drain does, 20,000 rows a "
        "transaction, straight into "
        "the partitioned `tracking_datapoint`). Target: stored ≥ 50% of the ceiling.",
        "",
        "### Visibility (202 to the point being returned by a query)",
        "",
    ]
    vis = ingest["visibility"]
    lines += [
        f"Background load {_fmt(vis['achieved_points_per_s'])} points/s (target {_fmt(vis['target_points_per_s'])}, "
        f"half the best stored rate above) in batches of 250 on 2 connections; one probe point at a time is written "
        f"and polled every 10 ms through {'the SQL API (`POST /api/v1/sql`)' if vis['via'] == 'sql-api' else 'a direct SQL query'}.",
        "",
        "| probes | p50 | p99 | max | timeouts (30 s) | target p99 |",
        "|---|---|---|---|---|---|",
        f"| {vis['probes']} | {vis['p50_s']} s | **{vis['p99_s']} s** | {vis['max_s']} s | {vis['timeouts']} | ≤ {VISIBILITY_TARGET_S} s |",
        "",
        "### Footprint",
        "",
        "| process tree | peak RSS (all processes) | largest single process |",
        "|---|---|---|",
    ]
    for name, total in ingest["rss_peak_mb"].items():
        lines.append(f"| {name} | {total} MiB | {ingest['rss_peak_single_mb'][name]} MiB |")
    lines += ["", "| points stored | heap + TOAST per 1M points | indexes per 1M | total per 1M | same points as NDJSON per 1M |",
              "|---|---|---|---|---|"]
    footprints = [("ingest run", ingest["footprint"])] + [
        (f"after the {query_set['points']:,}-point load", query_set["footprint"]) for query_set in results.get("queries", [])
    ]
    for label, fp in footprints:
        lines.append(
            f"| {_fmt(fp['rows'])} ({label}) | {fp['heap_mb_per_million']:.0f} MB | {fp['index_mb_per_million']:.0f} MB | "
            f"**{fp['total_mb_per_million']:.0f} MB** | {fp['ndjson_mb_per_million']:.0f} MB |"
        )
    for query_set in results.get("queries", []):
        if not query_set.get("reports"):
            continue
        lines += [
            "",
            f"### Report endpoints at {query_set['points']:,} points (rollups built by the drain)",
            "",
            "The endpoints of bench/reports.py with `dataset=` this set, over HTTP with the read key, median of 5 after "
            "a warm-up; the 10M figures are in the Reports section below. Target ≤ 150 ms.",
            "",
            "| endpoint | median | ≤ 150 ms |",
            "|---|---|---|",
        ]
        lines += [f"| {r['endpoint']} | {r['median_ms']} ms | {'yes' if r['met'] else '**no**'} |" for r in query_set["reports"]]
    if results.get("indexes"):
        lines += ["", "### Index and partition alternatives", "", results["indexes"]["markdown"]]
    for side in results.get("side", []):
        lines += ["", f"### `{side['command']}` in this run ({side['status']})", ""]
        if side["output"]:
            lines += ["```", side["output"], "```"]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--docs", action="store_true", help="let a quick run rewrite docs/benchmarks.md too")
    parser.add_argument("--render", action="store_true",
                        help="measure nothing: rewrite the docs section and chart from var/bench/run-full.json")
    args = parser.parse_args()
    if args.render:
        results = json.loads((OUT / "run-full.json").read_text())
        chart(results, CHART)
        docs_update("ingest", markdown(results, chart_path=CHART.name), at_top=True)
        from bench import queries

        docs_update("queries", queries.markdown(results["queries"]))
        return
    from bench import ingest, queries

    started = time.monotonic()
    results: dict[str, object] = {"quick": args.quick, "when": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
                                  "machine": _machine()}
    results["ingest"] = ingest.run(quick=args.quick)
    results["postgres"] = _postgres_version()
    sizes = [100_000] if args.quick else [1_000_000, 10_000_000]
    # Up to 1M points go through the ingest API (the real write path); 10M are COPYed into the same table.
    results["queries"] = [queries.run(points=points, via_ingest=points <= 1_000_000) for points in sizes]
    if not args.quick:
        from bench import indexes

        results["indexes"] = indexes.run(points=1_000_000)
    side = [_side_bench("middleware", ["--requests", "5000"] if args.quick else [], timeout=300)]
    # OTLP spans against the native path in one run; a quick run keeps the docs' full figures.
    side.append(_side_bench("otlp", ["--quick", "--no-docs"] if args.quick else [], timeout=900))
    if not args.quick:
        side.append(_side_bench("reports", ["--no-docs"], timeout=1200))  # its own section is its script's to write
        side.append(_side_bench("alerts", [], timeout=900))
        side.append(_side_bench("admin", [], timeout=900))  # writes its own "Admin" section
        side.append(_side_bench("maintenance", [], timeout=900))  # writes its own section
    results["side"] = side
    results["seconds"] = round(time.monotonic() - started)
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / f"run-{'quick' if args.quick else 'full'}.json").write_text(json.dumps(results, indent=2, default=str))
    if args.quick and not args.docs:
        # A quick run must not replace the full run's figures in the docs: it writes beside the raw results.
        chart(results, OUT / CHART.name)
        sections = [markdown(results, chart_path=CHART.name), queries.markdown(results["queries"])]
        (OUT / "benchmarks-quick.md").write_text("\n\n".join(sections) + "\n")
        where = "var/bench/benchmarks-quick.md"
    else:
        chart(results, CHART)
        docs_update("ingest", markdown(results, chart_path=CHART.name), at_top=True)
        docs_update("queries", queries.markdown(results["queries"]))
        where = "docs/benchmarks.md"
    print(f"bench {'quick' if args.quick else 'full'} done in {results['seconds']} s; results in {where}")


if __name__ == "__main__":
    main()
