"""What maintaining the rollups and projections costs ingest: the product's worker against one that skips them.

Issue 11 asks for stored/s at batch 1000 of at least half the COPY ceiling (one psycopg
connection doing binary COPY and nothing else) with every default projection maintained. This
measures the same load (``bench.ingest.load_run``: 4 keep-alive connections, 1,000 points a
request) against two stacks, alternated, each on its own fresh start:

- ``product``: ``make run``'s worker, whose drain COPYs the points, stages them, writes the
  projections' rows and upserts the rollups' minute tier and day totals in the same transaction.
- ``bare``: ``bench.bare_worker``, the same worker with ``rollups_stage``, ``rollups_apply_staged``
  and ``projections_apply`` replaced by nothing. Web, Redis, the ledger and the COPY are the
  product's. What it stores has no reports and no projections: it is a measurement, not a mode.

The ceiling is measured after every pair, in the same run, and the ratios use its median. The
difference between the two stacks' CPU per 1,000 points is what maintenance costs; the bare
stack's ratio is the most any maintenance can leave.

Run: ``python -m bench.maintenance`` (``--rounds``, ``--points``; ``--no-docs`` leaves
docs/benchmarks.md alone). Its own database, ``meauxcloud_bench_maintenance``; results in
var/bench/maintenance.json and the "What maintenance costs ingest" section of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import statistics
from dataclasses import asdict

from bench.env import OUT, Stack, django_setup, docs_update, free_port, report_stamp

DATABASE = "meauxcloud_bench_maintenance"
WORKERS = {"product": "celery", "bare": "bench.bare_worker"}
BATCH = 1000
WARM_UP = 100_000
TARGET = 0.5


def run(*, rounds: int, points: int) -> dict[str, object]:
    from bench import ingest

    env = django_setup(DATABASE)
    credentials = ingest.setup([*WORKERS, "ceiling"])
    payloads = ingest.bodies(BATCH, 60, seed=12)
    loads: dict[str, list[dict[str, object]]] = {variant: [] for variant in WORKERS}
    ceilings: list[float] = []
    for round_number in range(rounds):
        # Alternated, so that neither always runs on the fuller table or the warmer machine.
        order = list(WORKERS) if round_number % 2 == 0 else list(reversed(WORKERS))
        for variant in order:
            stack = Stack(port=free_port(), worker_module=WORKERS[variant])
            stack.start(env)
            try:
                # Warmed up as bench.ingest's batch-1000 run is (after its batch-250 run): fresh
                # processes spend their first seconds connecting and importing.
                ingest.load_run(stack, credentials, dataset=variant, batch=BATCH, connections=4, points=WARM_UP,
                                payloads=payloads)
                load = ingest.load_run(stack, credentials, dataset=variant, batch=BATCH, connections=4, points=points,
                                       payloads=payloads)
            finally:
                stack.stop()
            loads[variant].append(asdict(load))
            print(f"round {round_number + 1} {variant}: {load.stored_per_s:,.0f} stored/s, "
                  f"CPU per 1,000 points {load.cpu_ms_per_1k_points}", flush=True)
        ceilings.append(ingest.ceiling(payloads * 3, dataset_id=credentials.dataset_ids["ceiling"])["rows_per_s"])
        print(f"round {round_number + 1} COPY ceiling: {ceilings[-1]:,.0f} rows/s", flush=True)
    ceiling = statistics.median(ceilings)
    summary = {}
    for variant, runs in loads.items():
        stored = statistics.median(float(load["stored_per_s"]) for load in runs)
        cpu = {name: round(statistics.median(float(load["cpu_ms_per_1k_points"][name]) for load in runs), 1)
               for name in runs[0]["cpu_ms_per_1k_points"]}
        summary[variant] = {"stored_per_s": stored, "vs_ceiling": stored / ceiling, "cpu_ms_per_1k_points": cpu,
                            "cpu_ms_per_1k_total": round(sum(cpu.values()), 1)}
    return {**report_stamp(), "rounds": rounds, "points": points, "batch": BATCH, "ceilings": ceilings,
            "ceiling": ceiling, "loads": loads, "summary": summary}


def markdown(results: dict) -> str:
    summary = results["summary"]
    names = list(summary["product"]["cpu_ms_per_1k_points"])
    lines = [
        "## What maintenance costs ingest (`python -m bench.maintenance`)",
        "",
        f"Measured {results['when']} on {results['machine']}: {results['rounds']} rounds of {results['points']:,} points "
        f"at batch {results['batch']} over 4 connections per stack, the two stacks alternated, each started fresh and warmed up with {WARM_UP:,} points; "
        f"COPY ceiling after each pair: {', '.join(f'{value:,.0f}' for value in results['ceilings'])} rows/s "
        f"(median **{results['ceiling']:,.0f}**). `bare` is the product with the drain's `rollups_stage`, "
        "`rollups_apply_staged` and `projections_apply` replaced by nothing (`bench.bare_worker`): web, Redis, ledger and COPY unchanged.",
        "",
        "| worker | stored/s (median) | ÷ COPY ceiling | " + " | ".join(names) + " | CPU per 1,000 points |",
        "|---|---|---|" + "---|" * len(names) + "---|",
    ]
    for variant, figures in summary.items():
        cpu = figures["cpu_ms_per_1k_points"]
        lines.append(
            f"| {variant} | {figures['stored_per_s']:,.0f} | **{figures['vs_ceiling']:.0%}** | "
            + " | ".join(f"{cpu[name]} ms" for name in names)
            + f" | {figures['cpu_ms_per_1k_total']} ms |"
        )
    product, bare = summary["product"], summary["bare"]
    cost = round(product["cpu_ms_per_1k_total"] - bare["cpu_ms_per_1k_total"], 1)
    lines += [
        "",
        f"Maintaining the rollups and projections cost **{cost} ms of CPU per 1,000 points** here "
        f"({product['cpu_ms_per_1k_total']} against {bare['cpu_ms_per_1k_total']}). With none at all the pipeline "
        f"stored {bare['vs_ceiling']:.0%} of the ceiling, against the target's {TARGET:.0%}.",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--points", type=int, default=400_000)
    parser.add_argument("--no-docs", action="store_true", help="do not rewrite docs/benchmarks.md")
    args = parser.parse_args()
    results = run(rounds=args.rounds, points=args.points)
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "maintenance.json").write_text(json.dumps(results, indent=2))
    print(markdown(results))
    if not args.no_docs:
        docs_update("maintenance", markdown(results))


if __name__ == "__main__":
    main()
