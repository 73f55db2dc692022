"""Profiles of the ingest hot paths in one process, on the bench database and stream.

Three stages, each timed and profiled with pyinstrument: the ingest view (Django request
through DRF to the buffer), the buffer append alone, and the drain (read, COPY, rollups,
ledger, ack). ``--stage drain --no-profile`` times without the profiler's overhead, for
before/after figures in commit messages; ``--statements`` adds the drain's time per SQL
statement (and per COPY), per 1,000 points: the client waits on each, so it is close to
the PostgreSQL backend's time, which is where a drain spends most of it.

    python -m bench.profile --stage all --points 100000
    python -m bench.profile --stage drain --points 40000 --no-profile --statements
"""

import argparse
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path
from typing import Any

from bench.env import OUT, django_setup


def _view_stage(payloads: list[bytes], key: str) -> float:
    from django.test import Client

    client = Client()
    started = time.perf_counter()
    for body in payloads:
        response = client.post("/api/v1/datasets/profile/datapoints", data=body, content_type="application/json",
                               HTTP_AUTHORIZATION=f"Bearer {key}")
        assert response.status_code == 202, response.content
    return time.perf_counter() - started


def _append_stage(payloads: list[bytes], dataset_id: int) -> float:
    from django.utils import timezone

    from tracking.ingest import buffer
    from tracking.ingest import decode as ingest
    from tracking.models import Dataset
    from tracking.services import dataset_time_window

    window = dataset_time_window(dataset=Dataset.objects.get(pk=dataset_id), now=timezone.now())
    batches = [ingest.batch_validate(body, ndjson=False, window=window)[1] for body in payloads]
    started = time.perf_counter()
    for batch in batches:
        buffer.buffer_append(dataset_id=dataset_id, rows=batch.rows)
    return time.perf_counter() - started


def _drain_stage() -> tuple[float, int]:
    from tracking import services

    started = time.perf_counter()
    result = services.buffer_drain(time_budget=600, block_ms=10)
    return time.perf_counter() - started, result.points


@contextmanager
def _statement_times() -> Iterator[dict[str, list[float]]]:
    """Seconds and count per statement (its first 90 characters) run meanwhile, COPYs included
    (psycopg's ``Cursor.copy``, which Django's execute wrapper does not see)."""
    import psycopg
    from django.db import connection

    times: dict[str, list[float]] = defaultdict(lambda: [0.0, 0])

    def add(text: str, started: float) -> None:
        entry = times[" ".join(text.split())[:90]]
        entry[0] += time.perf_counter() - started
        entry[1] += 1

    def wrapper(execute: Callable[..., Any], sql: str, params: Any, many: bool, context: dict[str, Any]) -> Any:
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            add(str(sql), started)

    copy = psycopg.Cursor.copy

    @contextmanager
    def timed_copy(cursor: Any, statement: Any, *args: Any, **kwargs: Any) -> Iterator[Any]:
        started = time.perf_counter()
        with copy(cursor, statement, *args, **kwargs) as writer:
            yield writer
        add(statement.as_string(cursor) if hasattr(statement, "as_string") else str(statement), started)

    psycopg.Cursor.copy = timed_copy  # type: ignore[assignment]
    try:
        with connection.execute_wrapper(wrapper):
            yield times
    finally:
        psycopg.Cursor.copy = copy  # type: ignore[method-assign]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stage", choices=["view", "append", "drain", "all"], default="all")
    parser.add_argument("--points", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=250)
    parser.add_argument("--no-profile", action="store_true")
    parser.add_argument("--statements", action="store_true", help="the drain's time per SQL statement, per 1,000 points")
    parser.add_argument("--skip-rollups", action="store_true",
                        help="diagnostic only: drain without the rollups' upsert (rollups_apply_staged), to size its share of the drain")
    args = parser.parse_args()
    django_setup()
    if args.skip_rollups:
        from tracking.rollups import services as rollups

        rollups.rollups_apply_staged = lambda **kwargs: None
    from bench.ingest import _postgres_cpu, bodies, setup
    from tracking.ingest.buffer import buffer_depth

    credentials = setup(["profile"])
    payloads = bodies(args.batch, args.points // args.batch, seed=21)
    stages = ["view", "append", "drain"] if args.stage == "all" else [args.stage]
    for stage in stages:
        if stage == "drain" and buffer_depth() == 0:
            _append_stage(payloads, credentials.dataset_ids["profile"])
        profiler = None
        if not args.no_profile:
            from pyinstrument import Profiler

            profiler = Profiler(interval=0.0005)
            profiler.start()
        if stage == "view":
            seconds, points = _view_stage(payloads, credentials.write_key), args.points
        elif stage == "append":
            seconds, points = _append_stage(payloads, credentials.dataset_ids["profile"]), args.points
        else:
            postgres_before = _postgres_cpu()
            timing: AbstractContextManager[dict[str, list[float]]] = _statement_times() if args.statements else nullcontext({})
            with timing as times:
                seconds, points = _drain_stage()
            postgres_ms = (_postgres_cpu() - postgres_before) * 1e6 / max(points, 1)
            print(f"  PostgreSQL backend CPU: {postgres_ms:.1f} ms per 1,000 points", flush=True)
            for text, (spent, count) in sorted(times.items(), key=lambda item: -item[1][0])[:12]:
                print(f"  {spent * 1e6 / max(points, 1):6.2f} ms per 1,000 points, {count:4d}x  {text}", flush=True)
        print(f"{stage}: {points} points in {seconds:.2f}s = {points / seconds:,.0f} points/s", flush=True)
        if profiler:
            profiler.stop()
            path = Path(OUT) / f"profile-{stage}.txt"
            path.write_text(profiler.output_text(unicode=False, color=False, show_all=False))
            print(f"  profile -> {path}")
        if stage in ("view", "append"):
            _drain_stage()  # keep the buffer empty for the next stage


if __name__ == "__main__":
    main()
