"""The benchmark's own database, Redis DB, stream and queue, and the processes under test.

Benchmarks must not disturb other engineers' tests on the same machine, so they get a
database of their own (``meauxcloud_bench``, or ``BENCH_DATABASE``), Redis database 15 (or
``BENCH_REDIS_DB``), their own stream key and
Celery queue. The URLs come from the environment (or ``.env``) as for ``make run``;
without them the embedded PostgreSQL/Redis of ``make run`` are used, so ``make
bench-quick`` works on a fresh clone after ``make run``'s set-up.
"""

import atexit
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "var" / "bench"
DOC = ROOT / "docs" / "benchmarks.md"
# Overridable so that two benchmarks on one machine do not truncate each other's tables.
BENCH_DB = os.environ.get("BENCH_DATABASE", "meauxcloud_bench")
BENCH_REDIS_DB = int(os.environ.get("BENCH_REDIS_DB", "15"))
STREAM_KEY = "meauxcloud:bench:ingest"
QUEUE = "bench"
PYTHON = sys.executable


def _with_database(url: str, database: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{database}"))


def _postgres_database_ensure(url: str) -> None:
    import psycopg

    admin_url = _with_database(url, "postgres")
    name = urlsplit(url).path.lstrip("/")
    with psycopg.connect(_libpq(admin_url), autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')


def _libpq(url: str) -> str:
    """psycopg takes URLs but not a socket directory as the host part; Django's env parser does."""
    parts = urlsplit(url)
    if parts.hostname is None and "%2F" in parts.netloc:
        from urllib.parse import unquote

        user, _, host = parts.netloc.rpartition("@")
        return f"dbname={parts.path.lstrip('/')} user={user or 'postgres'} host={unquote(host)}"
    return url


def bench_environment(database: str = BENCH_DB) -> dict[str, str]:
    """Variables for every bench process: the bench database, Redis DB 15, own stream and queue.

    A benchmark whose data outlives its runs names a database of its own, so that the
    others' truncations do not make it generate its data again.
    """
    import environ

    from meauxcloud import devstack

    environ.Env.read_env(ROOT / ".env", overwrite=False)
    env = dict(os.environ)
    running = devstack.embedded_running()
    env.update(devstack.environment(database=database))
    started = devstack.embedded_running() - running
    if started:
        # Run alone, not under `make bench`'s `devstack exec`: the embedded servers this process had to start stop
        # when it exits, as `devstack exec` stops them (a script that failed left both running).
        atexit.register(devstack.embedded_stop, started)
    env["DATABASE_URL"] = _with_database(env["DATABASE_URL"], database)
    _postgres_database_ensure(env["DATABASE_URL"])
    redis_parts = urlsplit(env["REDIS_URL"])
    env["REDIS_URL"] = urlunsplit(redis_parts._replace(path=f"/{BENCH_REDIS_DB}"))
    env.pop("CELERY_BROKER_URL", None)
    env.pop("CACHE_URL", None)
    env.update(
        DJANGO_SETTINGS_MODULE="meauxcloud.settings",
        TRACKING_STREAM_KEY=STREAM_KEY,
        CELERY_TASK_DEFAULT_QUEUE=QUEUE,
        TRACKING_CHECK_REDIS="0",
        DEBUG="0",
        PYTHONUNBUFFERED="1",
    )
    return env


def django_setup(database: str = BENCH_DB) -> dict[str, str]:
    """Point this process at the bench database and start Django; returns the environment."""
    env = bench_environment(database)
    os.environ.update(env)
    import django

    django.setup()
    return env


def database_url() -> str:
    return _libpq(os.environ["DATABASE_URL"])


def migrate() -> None:
    from django.core.management import call_command

    call_command("migrate", "--no-input", verbosity=0)


def report_stamp() -> dict[str, str]:
    """When and under what load the figures were taken: the machine is shared, so the ratio is what counts."""
    return {
        "when": datetime.now(tz=UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{os.cpu_count()} CPUs (load average {os.getloadavg()[0]:.1f} when measuring)",
    }


def docs_update(name: str, section: str, *, at_top: bool = False, doc: Path = DOC) -> None:
    """Rewrite one benchmark's section of docs/benchmarks.md, between its ``bench:<name>`` markers.

    Each script owns only its marked section, so a rerun leaves the other scripts' figures
    and the hand-written text as they are. A section not there yet is appended, or put right
    under the title with ``at_top``.
    """
    start, end = f"<!-- bench:{name}:start -->", f"<!-- bench:{name}:end -->"
    block = f"{start}\n{section}\n{end}"
    text = doc.read_text() if doc.exists() else "# Benchmarks\n"
    if start in text and end in text:
        before, rest = text.split(start, 1)
        text = before + block + rest.split(end, 1)[1]
    elif at_top:
        title_end = text.find("\n") + 1 if text.startswith("# ") else 0
        text = text[:title_end] + "\n" + block + "\n" + text[title_end:]
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    doc.parent.mkdir(parents=True, exist_ok=True)
    doc.write_text(text)


def redis_reset() -> None:
    """Start from an empty stream, queue and dedup marks: only bench DB 15 is flushed."""
    from meauxcloud.redis import redis_client
    from tracking.ingest.buffer import buffer_ensure_group

    redis_client().flushdb()
    buffer_ensure_group()


@dataclass
class Stack:
    """gunicorn, a Celery worker with beat, as ``make run`` starts them, on the bench env."""

    port: int
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)
    web_workers: int = 2
    web_threads: int = 4
    worker_concurrency: int = 2
    #: The module run as the worker: ``celery``, or ``bench.bare_worker`` (``bench.maintenance``).
    worker_module: str = "celery"

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, env: dict[str, str]) -> None:
        OUT.mkdir(parents=True, exist_ok=True)
        # Beat's schedule only keeps last-run times, and a stack stopped while beat wrote it left
        # it truncated: the next stack's beat died on "pickle data was truncated", so no heartbeat
        # ran and /healthz never became healthy (bench.otlp in the full run of 2026-12-05 09:31).
        for schedule in OUT.glob("celerybeat-schedule*"):
            schedule.unlink()
        commands = {
            "web": [PYTHON, "-m", "gunicorn", "meauxcloud.wsgi", "--bind", f"127.0.0.1:{self.port}",
                    "--workers", str(self.web_workers), "--threads", str(self.web_threads)],
            "worker": [PYTHON, "-m", self.worker_module, "-A", "meauxcloud", "worker", "-Q", QUEUE, "-l", "warning",
                       "-c", str(self.worker_concurrency), "-B", "-s", str(OUT / "celerybeat-schedule")],
        }
        for name, command in commands.items():
            log = (OUT / f"{name}.log").open("ab")
            self.processes[name] = subprocess.Popen(
                command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        try:
            self._wait_ready()
        except BaseException:
            # Callers stop a stack that started; one that never became healthy would outlive the benchmark.
            self.stop()
            raise

    def _wait_ready(self) -> None:
        import http.client

        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                conn.request("GET", "/healthz")
                status = conn.getresponse().status
                conn.close()
                if status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.3)
        raise RuntimeError("the bench stack did not become healthy in 60 s; see var/bench/*.log")

    def pids(self, name: str) -> list[int]:
        """The process and its children (gunicorn and prefork workers are process trees)."""
        import psutil

        process = self.processes.get(name)
        if process is None or process.poll() is not None:
            return []
        root = psutil.Process(process.pid)
        return [root.pid] + [child.pid for child in root.children(recursive=True)]

    def cpu_seconds(self) -> dict[str, float]:
        """User + system CPU seconds used so far by each role's process tree."""
        import psutil

        totals: dict[str, float] = {}
        for name in self.processes:
            total = 0.0
            for pid in self.pids(name):
                try:
                    times = psutil.Process(pid).cpu_times()
                except psutil.Error:
                    continue
                total += times.user + times.system
            totals[name] = total
        return totals

    def stop(self) -> None:
        for process in self.processes.values():
            try:
                os.killpg(process.pid, signal.SIGTERM)
            except ProcessLookupError:
                continue
        for process in self.processes.values():
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)
        self.processes.clear()


class RssSampler:
    """Peak resident memory of each role's process tree, sampled while a load runs."""

    def __init__(self, stack: Stack, interval: float = 0.25) -> None:
        self.stack = stack
        self.interval = interval
        self.peak_total: dict[str, int] = {}
        self.peak_single: dict[str, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        import psutil

        while not self._stop.is_set():
            for name in self.stack.processes:
                sizes = []
                for pid in self.stack.pids(name):
                    try:
                        sizes.append(psutil.Process(pid).memory_info().rss)
                    except psutil.Error:
                        continue
                if sizes:
                    self.peak_total[name] = max(self.peak_total.get(name, 0), sum(sizes))
                    self.peak_single[name] = max(self.peak_single.get(name, 0), max(sizes))
            self._stop.wait(self.interval)

    def __enter__(self) -> "RssSampler":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
