"""Private PostgreSQL, Redis, web and worker processes the fault harness may break at will.

Nothing here touches the machine's shared PostgreSQL (5432) or Redis (6379): the harness
starts its own servers on free loopback ports under a temporary directory, so killing
or stopping them harms no one else. PostgreSQL runs from Debian's binaries as the
``postgres`` user (it refuses to run as root); Redis is Debian's ``redis-server`` with
AOF on and ``noeviction``, the configuration ``tracking/checks.py`` demands.
"""

import json
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PG_BIN = Path("/usr/lib/postgresql/15/bin")
REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"
DATABASE = "faults"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_until(condition: Callable[[], bool], *, timeout: float, interval: float = 0.1) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if condition():
                return True
        except Exception:
            pass
        time.sleep(interval)
    return False


def _as_postgres() -> list[str]:
    """PostgreSQL refuses root; drop to the postgres user when we are root."""
    return ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []


class PrivatePostgres:
    """A throw-away PostgreSQL 15 cluster on its own port, stoppable in immediate mode."""

    def __init__(self, base: Path) -> None:
        self.data = base / "pgdata"
        self.log = base / "postgres.log"
        self.port = free_port()
        self.url = f"postgres://postgres@127.0.0.1:{self.port}/{DATABASE}"
        self.mounts: list[Path] = []

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return subprocess.run(_as_postgres() + list(args), check=check, capture_output=True, text=True)

    def init(self) -> None:
        self.data.mkdir(parents=True)
        if os.geteuid() == 0:
            postgres = pwd.getpwnam("postgres")
            for path in (self.data.parent, self.data):
                os.chown(path, postgres.pw_uid, postgres.pw_gid)
        self._run(str(PG_BIN / "initdb"), "-D", str(self.data), "-U", "postgres", "-A", "trust", "--no-sync")
        with (self.data / "postgresql.conf").open("a") as conf:
            conf.write(
                f"port = {self.port}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = ''\n"
                "fsync = on\nmax_connections = 100\nshared_buffers = 128MB\n"
            )
        self.start()
        self.psql(f"CREATE DATABASE {DATABASE}", database="postgres")

    def start(self) -> None:
        self._run(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-l", str(self.log), "-w", "start")

    def stop(self, mode: str = "immediate") -> None:
        self._run(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop", check=False)

    def psql(self, statement: str, *, database: str = DATABASE) -> str:
        """One statement in its own session; that session is never read-only, so it can undo the fault."""
        result = subprocess.run(
            ["psql", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "-d", database,
             "-v", "ON_ERROR_STOP=1", "-Atc", statement],
            check=True, capture_output=True, text=True,
            env={**os.environ, "PGOPTIONS": "-c default_transaction_read_only=off"},
        )
        return result.stdout.strip()

    def close(self) -> None:
        """Stop the cluster, then unmount the small disks it was given."""
        self.stop("fast")
        for mount in reversed(self.mounts):
            subprocess.run(["umount", str(mount)], check=False, capture_output=True)
        self.mounts.clear()

    def datapoints_on_small_disk(self, mount: Path, *, megabytes: int) -> None:
        """Move every datapoint partition (and its indexes) to a tablespace on a tmpfs of its own.

        Needs root (``mount``). Only the datapoints live there; the WAL and the ingest ledger
        stay on the cluster's disk, as with a dedicated data volume that fills up.
        """
        mount.mkdir(parents=True)
        subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={megabytes}m,mode=0700", "tmpfs", str(mount)],
                       check=True, capture_output=True, text=True)
        self.mounts.append(mount)
        postgres = pwd.getpwnam("postgres")
        os.chown(mount, postgres.pw_uid, postgres.pw_gid)
        self.psql(f"CREATE TABLESPACE small_disk LOCATION '{mount}'")
        self.psql("ALTER TABLE tracking_datapoint SET TABLESPACE small_disk")
        partitions = self.psql(
            "SELECT c.oid::regclass FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "WHERE i.inhparent = 'tracking_datapoint'::regclass"
        ).split()
        for partition in partitions:
            self.psql(f"ALTER TABLE {partition} SET TABLESPACE small_disk")
            for index in self.psql(f"SELECT indexrelid::regclass FROM pg_index WHERE indrelid = '{partition}'::regclass").split():
                self.psql(f"ALTER INDEX {index} SET TABLESPACE small_disk")

    def read_only(self, on: bool) -> None:
        """Flip the whole server to read-only as a failover or full disk would, without restarting it."""
        self.psql(f"ALTER SYSTEM SET default_transaction_read_only = {'on' if on else 'off'}")
        self.psql("SELECT pg_reload_conf()")


class PrivateRedis:
    """Redis with AOF (everysec) and noeviction on its own port; kill -9 and restart keep its data dir."""

    def __init__(self, base: Path) -> None:
        self.dir = base / "redis"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.dir),
             "--appendonly", "yes", "--appendfsync", "everysec", "--save", "",
             "--maxmemory-policy", "noeviction", "--logfile", str(self.dir / "redis.log")],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        if not wait_until(self.ping, timeout=20):
            raise RuntimeError(f"redis on {self.port} did not start")

    def ping(self) -> bool:
        with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as conn:
            conn.sendall(b"PING\r\n")
            return conn.recv(16).startswith(b"+PONG")

    def kill(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()


@dataclass
class Role:
    """One supervised process group (gunicorn master + workers, or celery parent + children)."""

    name: str
    command: list[str]
    env: dict[str, str]
    log: Path
    process: subprocess.Popen | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            self.command, cwd=ROOT, env=self.env, stdout=self.log.open("ab"), stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def signal(self, sig: int, *, wait: float = 30) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        try:
            os.killpg(self.process.pid, sig)
        except ProcessLookupError:
            return
        try:
            self.process.wait(timeout=wait)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)
        if sig != signal.SIGKILL:
            # The group's leader is gone, but a child may outlive it (after a warm shutdown, a
            # Celery worker's embedded beat was left running with init as its parent, past the suite).
            try:
                os.killpg(self.process.pid, signal.SIGKILL)
            except ProcessLookupError:
                return
        _reap_group(self.process.pid)


def _reap_group(pgid: int) -> None:
    """SIGKILL of a group can leave children briefly alive; wait until none is."""
    def gone() -> bool:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return True
        return False

    wait_until(gone, timeout=10)


@dataclass
class Stack:
    """PostgreSQL + Redis + gunicorn + one Celery worker (with beat) for one fault run."""

    base: Path
    postgres: PrivatePostgres
    redis: PrivateRedis
    settings: dict[str, str] = field(default_factory=dict)
    web_port: int = field(default_factory=free_port)
    secret_key: str = field(default_factory=lambda: secrets.token_urlsafe(40))
    web: Role | None = None
    worker: Role | None = None
    read_key: str = ""
    project_slug: str = ""

    @property
    def env(self) -> dict[str, str]:
        env = {key: value for key, value in os.environ.items() if not key.startswith(("TRACKING_", "CELERY_"))}
        env.update(
            DATABASE_URL=self.postgres.url,
            REDIS_URL=self.redis.url,
            SECRET_KEY=self.secret_key,
            DEBUG="0",
            ALLOWED_HOSTS="127.0.0.1,localhost",
            TRACKING_CHECK_REDIS="1",
            TRACKING_CLAIM_IDLE_MS="1000",
            DB_CONN_MAX_AGE="60",
            PYTHONUNBUFFERED="1",
            **self.settings,
        )
        return env

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.web_port}"

    def manage(self, *args: str) -> str:
        result = subprocess.run(
            [sys.executable, "manage.py", *args], cwd=ROOT, env=self.env, check=True, capture_output=True, text=True
        )
        return result.stdout

    def project_create(self, slug: str) -> str:
        """A project and its write key; returns the secret."""
        created = json.loads(self.manage("create_project", slug, "--json"))
        self.project_slug, self.read_key = slug, created["read_key"]
        return created["write_key"]

    def web_start(self) -> None:
        self.web = Role(
            "web",
            [sys.executable, "-m", "gunicorn", "meauxcloud.wsgi", "--bind", f"127.0.0.1:{self.web_port}",
             "--workers", "2", "--threads", "4", "--graceful-timeout", "10", "--timeout", "60"],
            self.env,
            self.base / "web.log",
        )
        self.web.start()
        if not wait_until(lambda: self._http_ok("/healthz"), timeout=60):
            raise RuntimeError(f"gunicorn did not come up; see {self.base / 'web.log'}")

    def _http_ok(self, path: str) -> bool:
        try:
            with urllib.request.urlopen(self.url + path, timeout=2) as response:
                return response.status < 500
        except urllib.error.HTTPError as error:
            return error.code < 600
        except OSError:
            return False

    def worker_start(self, *, wait: bool = False) -> None:
        """Start the worker; with ``wait``, return once Celery says it is ready to consume."""
        log = self.base / "worker.log"
        offset = log.stat().st_size if log.exists() else 0
        self.worker = Role(
            "worker",
            [sys.executable, "-m", "celery", "-A", "meauxcloud", "worker", "-c", "2", "-l", "info",
             "-B", "-s", str(self.base / "celerybeat-schedule")],
            self.env,
            log,
        )
        self.worker.start()
        if wait and not wait_until(lambda: b" ready." in log.read_bytes()[offset:], timeout=60):
            raise RuntimeError(f"the Celery worker did not become ready; see {log}")

    def healthz(self) -> tuple[int, dict]:
        try:
            with urllib.request.urlopen(self.url + "/healthz", timeout=5) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read() or b"{}")

    def close(self) -> None:
        for role in (self.web, self.worker):
            if role is not None:
                role.signal(signal.SIGKILL)


def group_rss_bytes(pgid: int) -> int:
    """Resident memory of every process in a process group (gunicorn master + workers, celery + children)."""
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid:  # fields after the name: state, ppid, pgrp, ...; rss is the 22nd
            total += int(fields[21]) * os.sysconf("SC_PAGE_SIZE")
    return total


def process_rss_bytes(pid: int) -> int:
    return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def stack_base() -> Path:
    base = Path(tempfile.mkdtemp(prefix="meauxcloud-faults-"))
    base.chmod(0o755)
    return base
