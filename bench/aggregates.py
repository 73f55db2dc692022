"""Bounded aggregate state (issue 14): the former array_agg forms against the shipped ones.

On a 300-row table shaped like bench/fairness.py's dataset, under the SQL sandbox's
session settings (work_mem 32MB, JIT off, a 10 s statement timeout):

1. cost: each aggregate over a self-join (90,000 rows), old and new forms, median of
   ``--repeat`` runs; the aggregate's own cost is its time minus a ``count(*)`` of the same
   join, printed per input row, with the new/old ratio;
2. memory: the attack suite's hostile shapes over a triple self-join, old and new, each on
   a fresh connection: the backend's peak private RSS (RssAnon, sampled every 50 ms) and
   how it ended; at 27M rows under the product's 10 s limit, then at 1M rows under 60 s,
   where the old sort-based forms reach their array phase.

    .venv/bin/python -m bench.aggregates [--repeat 5] [--skip-memory]

The new forms are the translator's own (``tracking.sql.functions``, the gate of
``tracking.sql.compiler.Compiler.aggregate_gate``); the old ones are what it emitted before.
Runs on the bench database (bench/env.py), or DATABASE_URL with FAIRNESS_USE_ENV=1.
"""

import argparse
import json
import statistics
import threading
import time

from bench.fairness import _env

TABLE = "bench_aggregates_web"
X2 = "(a.blob4 || b.blob4)"
X3 = "(a.blob4 || b.blob4 || c.blob4)"
K2 = "(a.double1 + b.double1)"
N2 = "(a.double1 * b.double1)::float8"
N3 = "(a.double1 * b.double1 * c.double1)::float8"


def _old_quantile_exact(level: float, x: str) -> str:
    position = f"(floor({level!r}::float8 * count({x})::float8)::bigint + 1)"
    return f"coalesce((array_agg({x} ORDER BY {x}) FILTER (WHERE {x} IS NOT NULL))[{position}], 'NaN'::float8)"


def _new_quantile_exact(level: float, x: str) -> str:
    from tracking.sql.functions import _exact_pick, _exact_sorted

    return f"coalesce({_exact_sorted(x, [level])}[{_exact_pick(level, x, 1)}], 'NaN'::float8)"


def _gate(source: str, inputs: list[str]) -> str:
    """The compiler's own gate over ``source``, its budget parameter bound to the default."""
    from tracking.conf import tracking_settings
    from tracking.sql.compiler import AGGREGATE_BUDGET_PARAM, Compiler
    from tracking.sql.ir import Scope

    where = Compiler(datasets=[], bound={}).aggregate_gate(Scope(sources=[], ctes={}, array_inputs=inputs), f" FROM {source}", "")
    return where.replace(f"%({AGGREGATE_BUDGET_PARAM})s", str(tracking_settings.SQL_MAX_AGGREGATE_BYTES))


def _cases(source: str, x: str, k: str, n: str) -> dict[str, tuple[str, str]]:
    """name -> (old statement, new statement) over ``source``."""
    top_k = f"meaux_ch.top_k(array_agg({x}), NULL::float8[], 10000)"
    return {
        "argMax": (
            f"SELECT (array_agg({x} ORDER BY {k} DESC))[1] FROM {source}",
            f"SELECT meaux_ch.first_of({x} ORDER BY {k} DESC NULLS LAST) FROM {source}",
        ),
        "any": (f"SELECT (array_agg({x}))[1] FROM {source}", f"SELECT meaux_ch.first_of({x}) FROM {source}"),
        "anyLast": (f"SELECT (array_agg({x}))[count(*)] FROM {source}", f"SELECT meaux_ch.last_of({x}) FROM {source}"),
        "quantileExact": (
            f"SELECT {_old_quantile_exact(0.5, n)} FROM {source}",
            f"SELECT {_new_quantile_exact(0.5, n)} FROM {source}",
        ),
        "topK(10000)": (
            f"SELECT cardinality({top_k}) FROM {source}",
            f"SELECT cardinality({top_k}) FROM {source}{_gate(source, [x])}",
        ),
        "groupArray": (
            f"SELECT cardinality(array_agg({x})) FROM {source}",
            f"SELECT cardinality(array_agg({x})) FROM {source}{_gate(source, [x])}",
        ),
    }


def _session(conn) -> None:
    conn.execute("SET work_mem = '32MB'")
    conn.execute("SET jit = off")
    conn.execute("SET statement_timeout = 10000")


def _load(conn) -> None:
    conn.execute(f"DROP TABLE IF EXISTS {TABLE}")
    conn.execute(
        f"CREATE UNLOGGED TABLE {TABLE} AS SELECT '/path/' || (n % 37) AS blob1, "
        f"'payload-' || lpad(n::text, 6, '0') || '-' || repeat('x', 40) AS blob4, n::float8 AS double1 "
        "FROM generate_series(0, 299) AS n"
    )
    conn.execute(f"ANALYZE {TABLE}")


def _timed(conn, sql: str) -> tuple[float, object]:
    started = time.perf_counter()
    value = conn.execute(sql).fetchone()[0]
    return (time.perf_counter() - started) * 1000, value


def _cost(conn, repeat: int) -> dict[str, dict[str, float]]:
    source = f"{TABLE} a, {TABLE} b"
    rows = 300 * 300
    baseline = statistics.median(_timed(conn, f"SELECT count(*) FROM {source}")[0] for _ in range(repeat))
    print(f"count(*) of the self-join ({rows} rows): {baseline:.1f} ms", flush=True)
    figures = {}
    for name, (old, new) in _cases(source, X2, K2, N2).items():
        old_ms, old_value = zip(*(_timed(conn, old) for _ in range(repeat)), strict=True)
        new_ms, new_value = zip(*(_timed(conn, new) for _ in range(repeat)), strict=True)
        if name not in ("any", "anyLast", "argMax") and old_value[0] != new_value[0]:
            raise SystemExit(f"{name}: old form answered {old_value[0]!r}, new form {new_value[0]!r}")
        old_us = (statistics.median(old_ms) - baseline) * 1000 / rows
        new_us = (statistics.median(new_ms) - baseline) * 1000 / rows
        figures[name] = {
            "old_ms": round(statistics.median(old_ms), 1), "new_ms": round(statistics.median(new_ms), 1),
            "old_us_per_row": round(old_us, 3), "new_us_per_row": round(new_us, 3),
            "new_over_old": round(statistics.median(new_ms) / statistics.median(old_ms), 2),
        }
        print(name, figures[name], flush=True)
    return figures


def _rss_peak(pid: int, stop: threading.Event, peak: list[int]) -> None:
    while not stop.is_set():
        try:
            with open(f"/proc/{pid}/status") as status:
                anon = next(line for line in status if line.startswith("RssAnon:"))
            peak[0] = max(peak[0], int(anon.split()[1]) * 1024)
        except (OSError, StopIteration):
            pass
        stop.wait(0.05)


def _memory(points: int, timeout_ms: int, c_points: int | None = None) -> dict[str, dict[str, object]]:
    """Each statement on a fresh connection: a backend keeps the heap it grew, so a reused one would carry peaks over."""
    import psycopg

    from bench.env import database_url

    table = f"(SELECT * FROM {TABLE} LIMIT {points})"
    source = f"{table} a, {table} b, (SELECT * FROM {TABLE} LIMIT {c_points or points}) c"
    figures: dict[str, dict[str, object]] = {}
    for name, (old, new) in _cases(source, X3, "c.double1", N3).items():
        if name in ("any", "anyLast"):
            continue
        for form, sql in (("old", old), ("new", new)):
            conn = psycopg.connect(database_url(), autocommit=True)
            _session(conn)
            conn.execute(f"SET statement_timeout = {timeout_ms}")
            pid = conn.execute("SELECT pg_backend_pid()").fetchone()[0]
            stop, peak = threading.Event(), [0]
            sampler = threading.Thread(target=_rss_peak, args=(pid, stop, peak), daemon=True)
            sampler.start()
            started = time.perf_counter()
            try:
                conn.execute(sql).fetchone()
                outcome = "answered"
            except psycopg.errors.QueryCanceled:
                outcome = "time limit"
            except psycopg.Error as error:
                outcome = f"refused ({error.sqlstate})"
            elapsed = time.perf_counter() - started
            stop.set()
            sampler.join()
            conn.close()
            figures[f"{name} {form}"] = {"outcome": outcome, "s": round(elapsed, 1), "peak_anon_rss_mb": round(peak[0] / 2**20, 1)}
            print(name, form, figures[f"{name} {form}"], flush=True)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--skip-memory", action="store_true")
    args = parser.parse_args()

    import psycopg

    from bench.env import database_url

    _env()
    from django.core.management import call_command

    call_command("migrate", "--no-input", verbosity=0)
    results: dict[str, object] = {}
    with psycopg.connect(database_url(), autocommit=True) as conn:
        _session(conn)
        _load(conn)
        results["cost_self_join_90000_rows"] = _cost(conn, args.repeat)
        if not args.skip_memory:
            print("triple self-join of 300 rows (27M), the attack suite's shape, 10 s limit", flush=True)
            results["memory_triple_join_27m_rows_10s"] = _memory(300, 10_000)
            print("triple self-join of 100 rows (1M), 60 s limit: the old forms run to their end", flush=True)
            results["memory_triple_join_1m_rows_60s"] = _memory(100, 60_000)
            print("300 x 300 x 3 rows (270,000 values, ~54 MB accounted): just under the default budget", flush=True)
            results["memory_at_the_budget"] = _memory(300, 60_000, c_points=3)
        conn.execute(f"DROP TABLE {TABLE}")
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
