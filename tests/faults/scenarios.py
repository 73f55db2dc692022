"""The faults, and one run of load + fault + drain + check.

Each fault gets a fresh Redis, its own project and dataset, fresh web and worker
processes, and the harness' PostgreSQL cluster. The fault is injected while the load
runs; afterwards the harness waits for the backlog to drain and checks the ledger.
"""

import errno
import os
import signal
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import redis

from tests.faults.load import LoadGenerator, Verdict, check, projection_mismatches, rollup_mismatches, stored_ids
from tests.faults.stack import PrivatePostgres, PrivateRedis, Stack, group_rss_bytes, process_rss_bytes, wait_until

STREAM_KEY = "meauxcloud:ingest"


@dataclass(frozen=True)
class Size:
    points: int
    batch: int
    threads: int
    duration: float
    outage: float
    marks: tuple[float, ...]  # shares of the load at which worker faults strike


SHORT = Size(points=6_000, batch=100, threads=4, duration=6.0, outage=2.0, marks=(0.2, 0.5))
LONG = Size(points=100_000, batch=500, threads=4, duration=40.0, outage=8.0, marks=(0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8))


@dataclass
class Observations:
    notes: list[str] = field(default_factory=list)
    figures: dict[str, object] = field(default_factory=dict)
    health_during_fault: dict | None = None
    health_status_during_fault: int | None = None

    def note(self, text: str) -> None:
        self.notes.append(text)


@dataclass(frozen=True)
class Fault:
    name: str
    description: str
    inject: Callable[[Stack, LoadGenerator, Size, Observations], None]
    settings: dict[str, str] = field(default_factory=dict)
    #: ``rest`` posts JSON points; ``otlp`` exports protobuf server spans to the OTLP receiver.
    protocol: str = "rest"
    #: Set-up that must be finished before the load starts (slow DDL would otherwise outlast a short load).
    prepare: Callable[[Stack, Size], None] | None = None


def _wait_progress(load: LoadGenerator, fraction: float, timeout: float = 120) -> None:
    wait_until(lambda: load.progress() >= fraction, timeout=timeout, interval=0.05)


def _at_progress(load: LoadGenerator, size: Size, action: Callable[[], None]) -> int:
    """Run ``action`` each time the accepted share of the load passes one of the size's marks."""
    for mark in size.marks:
        _wait_progress(load, mark)
        action()
    return len(size.marks)


def worker_kill9(stack: Stack, load: LoadGenerator, size: Size, seen: Observations) -> None:
    def kill() -> None:
        stack.worker.signal(signal.SIGKILL)
        stack.worker_start()

    seen.note(f"worker killed -9 {_at_progress(load, size, kill)} times during the load")


def worker_sigterm(stack: Stack, load: LoadGenerator, size: Size, seen: Observations) -> None:
    def term() -> None:
        stack.worker.signal(signal.SIGTERM)
        stack.worker_start()

    seen.note(f"worker stopped with SIGTERM {_at_progress(load, size, term)} times")


def redis_kill9(stack: Stack, load: LoadGenerator, size: Size, seen: Observations) -> None:
    _wait_progress(load, 0.3)
    stack.redis.kill()
    time.sleep(size.outage)
    seen.health_status_during_fault, seen.health_during_fault = stack.healthz()
    stack.redis.start()
    seen.note(f"redis killed -9 at 30% and restarted from its AOF after {size.outage:g}s")


def postgres_stop(stack: Stack, load: LoadGenerator, size: Size, seen: Observations) -> None:
    _wait_progress(load, 0.2)
    full_before = load.ledger.statuses["503 buffer_full"]
    stack.postgres.stop("immediate")
    started = time.monotonic()
    wait_until(lambda: load.ledger.statuses["503 buffer_full"] > full_before, timeout=120)
    seen.health_status_during_fault, seen.health_during_fault = stack.healthz()
    time.sleep(max(0.0, size.outage - (time.monotonic() - started)))
    stack.postgres.start()
    seen.note(f"postgres stopped (immediate) at 20% for {time.monotonic() - started:.1f}s, until ingest hit its high-water mark")


def postgres_read_only(stack: Stack, load: LoadGenerator, size: Size, seen: Observations) -> None:
    _wait_progress(load, 0.2)
    stack.postgres.read_only(True)
    time.sleep(size.outage)
    seen.health_status_during_fault, seen.health_during_fault = stack.healthz()
    stack.postgres.read_only(False)
    seen.note(f"postgres read-only (default_transaction_read_only) at 20% for {size.outage:g}s")


def _fill(directory: Path) -> Path:
    """Write zeros into ``directory`` until its filesystem says ENOSPC; returns the filler file."""
    filler = directory / "filler"
    descriptor = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        for chunk in (1 << 20, 4096):
            zeros = bytes(chunk)
            try:
                while True:
                    os.write(descriptor, zeros)
            except OSError as error:
                if error.errno != errno.ENOSPC:
                    raise
    finally:
        os.close(descriptor)
    return filler


def _small_disk(stack: Stack) -> Path:
    return stack.base / "small-disk"


def datapoints_on_small_disk(stack: Stack, size: Size) -> None:
    """Move the datapoints to the small tmpfs before the load: moving every partition under load took
    long enough that a short load was all stored before the fill, and no drain ever waited on the disk."""
    # Room for the whole load and little more, so that filling it takes well under the load's duration.
    stack.postgres.datapoints_on_small_disk(_small_disk(stack), megabytes=max(32, size.points // 500))


def disk_full(stack: Stack, load: LoadGenerator, size: Size, seen: Observations) -> None:
    disk = _small_disk(stack)
    log_offset = stack.postgres.log.stat().st_size
    _wait_progress(load, 0.2)
    filler = _fill(disk)
    started = time.monotonic()
    enospc = wait_until(
        lambda: b"No space left on device" in stack.postgres.log.read_bytes()[log_offset:], timeout=60, interval=0.2
    )
    time.sleep(max(0.0, size.outage - (time.monotonic() - started)))
    seen.health_status_during_fault, seen.health_during_fault = stack.healthz()
    errors = stack.postgres.log.read_bytes()[log_offset:].count(b"No space left on device")
    filler.unlink()
    seen.note(
        f"datapoints' tmpfs filled at 20% for {time.monotonic() - started:.1f}s; "
        f"the drain {'hit ENOSPC' if enospc else 'never hit ENOSPC'} ({errors} errors in PostgreSQL's log), then space was freed"
    )


#: Seconds between worker kills in the soak; the soak's length is its Size's duration.
SOAK_KILL_EVERY = 60.0
SOAK_RATE = 500  # points per second


def soak_size(seconds: float) -> Size:
    """A steady load of SOAK_RATE points/s in batches of 100 for ``seconds``."""
    return Size(points=int(SOAK_RATE * seconds), batch=100, threads=4, duration=seconds, outage=2.0, marks=())


def _memory(stack: Stack) -> dict[str, int]:
    with redis.Redis.from_url(stack.redis.url) as client:
        used = int(client.info("memory")["used_memory"])
    return {
        "web_rss": group_rss_bytes(stack.web.process.pid),
        "worker_rss": group_rss_bytes(stack.worker.process.pid),
        "redis_rss": process_rss_bytes(stack.redis.process.pid),
        "redis_used_memory": used,
    }


def soak(stack: Stack, load: LoadGenerator, size: Size, seen: Observations) -> None:
    """Steady ingest, a SQL query every second and a worker kill -9 every SOAK_KILL_EVERY seconds."""
    queries: Counter = Counter()
    done = threading.Event()

    def query_loop() -> None:
        while not done.wait(1.0):
            request = urllib.request.Request(
                f"{stack.url}/client/v4/accounts/{stack.project_slug}/analytics_engine/sql",
                data=b"SELECT index1, count() AS n, sum(double1) AS s FROM faults GROUP BY index1 ORDER BY n DESC LIMIT 5",
                headers={"Authorization": f"Bearer {stack.read_key}"}, method="POST",
            )
            try:
                with urllib.request.urlopen(request, timeout=30) as response:
                    queries[str(response.status)] += 1
            except urllib.error.HTTPError as error:
                queries[str(error.code)] += 1
            except OSError as error:
                queries[type(error).__name__] += 1

    _wait_progress(load, 0.02)
    started = time.monotonic()
    before = _memory(stack)
    querier = threading.Thread(target=query_loop, daemon=True)
    querier.start()
    kills = 0
    while load.progress() < 0.98 and time.monotonic() - started < size.duration * 2:
        time.sleep(min(SOAK_KILL_EVERY, max(1.0, size.duration / 10)))
        if load.progress() >= 0.98:
            break
        stack.worker.signal(signal.SIGKILL)
        stack.worker_start()
        kills += 1
    time.sleep(5)  # let the restarted worker settle before the second measurement
    after = _memory(stack)
    done.set()
    querier.join()
    seen.figures.update(
        soak_seconds=round(time.monotonic() - started, 1), worker_kills=kills, sql_answers=dict(queries),
        memory_start=before, memory_end=after,
    )
    seen.note(f"soak of {time.monotonic() - started:.0f}s: {kills} worker kills, {sum(queries.values())} SQL queries")


def web_restart(stack: Stack, load: LoadGenerator, size: Size, seen: Observations) -> None:
    _wait_progress(load, 0.3)
    stack.web.signal(signal.SIGKILL)
    stack.web_start()
    seen.note("gunicorn (master and workers) killed -9 at 30% and started again")


FAULTS = {
    fault.name: fault
    for fault in [
        Fault("worker_kill9", "kill -9 of the Celery worker (and its children) mid-flush, repeatedly", worker_kill9),
        Fault("worker_sigterm", "SIGTERM (warm shutdown) of the Celery worker, repeatedly", worker_sigterm),
        Fault("redis_kill9", "kill -9 of Redis (AOF everysec) and restart", redis_kill9),
        Fault("postgres_stop", "PostgreSQL stopped in immediate mode, then started", postgres_stop,
              settings={"TRACKING_BUFFER_HIGH_WATER": "20"}),
        Fault("postgres_read_only", "PostgreSQL switched to read-only, then back", postgres_read_only),
        Fault("web_restart", "gunicorn killed -9 mid-load and started again", web_restart),
        Fault("disk_full", "PostgreSQL's datapoints tablespace (a tmpfs) full mid-load, then freed", disk_full,
              prepare=datapoints_on_small_disk),
        Fault("soak", "steady ingest + SQL queries + a worker kill -9 every minute, measuring memory", soak),
        Fault("otlp_worker_kill9", "kill -9 of the Celery worker, repeatedly, under OTLP/HTTP span exports", worker_kill9,
              protocol="otlp"),
    ]
}


@dataclass
class FaultReport:
    fault: str
    description: str
    verdict: Verdict
    load_seconds: float
    drain_seconds: float
    statuses: dict[str, int]
    retry_after_seen: int
    observations: Observations

    def as_dict(self) -> dict[str, object]:
        return {
            "fault": self.fault, "description": self.description, **self.verdict.summary(),
            "load_seconds": round(self.load_seconds, 1), "drain_seconds": round(self.drain_seconds, 1),
            "statuses": dict(self.statuses), "retry_after_seen": self.retry_after_seen,
            "health_status_during_fault": self.observations.health_status_during_fault,
            "health_during_fault": self.observations.health_during_fault,
            "notes": self.observations.notes, **self.observations.figures,
        }


def _backlog(client: redis.Redis) -> int:
    return client.xlen(STREAM_KEY)


def fault_run(*, postgres: PrivatePostgres, base: Path, fault: Fault, size: Size) -> FaultReport:
    run_dir = base / fault.name
    run_dir.mkdir()
    private_redis = PrivateRedis(run_dir)
    private_redis.start()
    stack = Stack(base=run_dir, postgres=postgres, redis=private_redis, settings=fault.settings)
    try:
        slug = f"{fault.name.replace('_', '-')}-{uuid.uuid4().hex[:6]}"
        key = stack.project_create(slug)
        stack.web_start()
        stack.worker_start(wait=True)  # a load before the worker consumes would fill the buffer at once
        load = LoadGenerator(
            port=stack.web_port, key=key, dataset="faults", run_id=uuid.uuid4().hex[:10], points=size.points,
            batch=size.batch, threads=size.threads, duration=size.duration,
            deadline=time.monotonic() + size.duration + 30 * size.outage + 120, protocol=fault.protocol,
        )
        if fault.prepare is not None:
            fault.prepare(stack, size)
        seen = Observations()
        outcome: dict[str, object] = {}
        loader = threading.Thread(target=lambda: outcome.update(result=load.run()), daemon=True)
        loader.start()
        fault.inject(stack, load, size, seen)
        loader.join()
        result = outcome["result"]
        client = redis.Redis.from_url(private_redis.url)
        id_column = "blob2" if fault.protocol == "otlp" else "blob1"  # an OTLP span's route is its point id
        drain_started = time.monotonic()
        stored = stored_ids(postgres.url, project_slug=slug, dataset="faults", id_column=id_column)
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            if _backlog(client) == 0:
                time.sleep(2.0)  # a late redelivery would land within this
                again = stored_ids(postgres.url, project_slug=slug, dataset="faults", id_column=id_column)
                if again == stored and _backlog(client) == 0:
                    break
                stored = again
                continue
            time.sleep(0.5)
            stored = stored_ids(postgres.url, project_slug=slug, dataset="faults", id_column=id_column)
        drain_seconds = time.monotonic() - drain_started
        verdict = check(
            result.ledger, stored,
            projection_mismatches=projection_mismatches(postgres.url, project_slug=slug, dataset="faults"),
            rollup_mismatches=rollup_mismatches(postgres.url, project_slug=slug, dataset="faults"),
        )
        return FaultReport(
            fault.name, fault.description, verdict, result.seconds, drain_seconds,
            dict(result.ledger.statuses), result.ledger.retry_after_seen, seen,
        )
    finally:
        stack.close()
        private_redis.stop()
