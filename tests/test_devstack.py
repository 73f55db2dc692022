"""The newcomer path on a fresh copy of the repository, with real embedded PostgreSQL and Redis.

`make run` (``python -m meauxcloud.devstack run``) with no URLs set; `manage.py` from a
second terminal finds its services; Ctrl-C (SIGINT to the terminal's process group) leaves
no process of the clone behind; a run after its database was dropped and recreated
bootstraps again, with a generated password that starts with "-"; `make stop` cleans up
after a run killed with SIGKILL.
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import unquote, urlsplit

import psycopg
import pytest

from tests.clients.toolchain import free_port

ROOT = Path(__file__).resolve().parents[1]
WEB_PORT = free_port()
REDIS_PORT = free_port()

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not Path("/proc/self/cwd").exists(), reason="finds processes through /proc"),
]


def _copy_repository(target: Path) -> Path:
    """What a fresh clone holds: the tracked (and new, not ignored) files, no var/ and no .venv."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT, check=True, capture_output=True,
    ).stdout.decode().split("\0")
    for name in filter(None, listed):
        source = ROOT / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
    return target


def _terminal_env(**extra: str) -> dict[str, str]:
    """A newcomer's shell: no URLs, no secret, no env file."""
    unset = {"DATABASE_URL", "REDIS_URL", "SECRET_KEY", "CACHE_URL", "CELERY_BROKER_URL", "TRACKING_STREAM_KEY"}
    env = {name: value for name, value in os.environ.items() if name not in unset}
    return {**env, "ENV_FILE": os.devnull, "PYTHONUNBUFFERED": "1", **extra}


def clone_processes(clone: Path) -> list[str]:
    """Every live process working in the clone or naming it on its command line."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        try:
            cwd = os.readlink(proc / "cwd")
            command = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
        except OSError:
            continue
        if cwd.startswith(str(clone)) or str(clone) in command:
            found.append(f"{proc.name} {command}")
    return found


def _group_exists(group: int, *, settle: float = 0) -> bool:
    """Whether any process of the group exists; ``settle``: seconds to let exited ones be reaped."""
    deadline = time.monotonic() + settle
    while True:
        try:
            os.killpg(group, 0)
        except ProcessLookupError:
            return False
        if time.monotonic() >= deadline:
            return True
        time.sleep(0.2)


def _group_listing(group: int) -> list[str]:
    """The members of a process group (state, cwd, command), for a failure message."""
    found = []
    for proc in Path("/proc").iterdir():
        try:
            stat = (proc / "stat").read_text().rsplit(")", 1)[1].split()
            if not proc.name.isdigit() or int(stat[2]) != group:
                continue
            command = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            found.append(f"{proc.name} {stat[0]} cwd={os.readlink(proc / 'cwd')} {command}")
        except (OSError, IndexError, ValueError):
            continue
    return found


class Run:
    """`make run` in a terminal of its own: a new session, so Ctrl-C can be sent to its process group."""

    def __init__(self, clone: Path, env: dict[str, str]) -> None:
        self.clone = clone
        self.log = clone / f"run-{time.monotonic_ns()}.log"
        with self.log.open("wb") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "meauxcloud.devstack", "run"],
                cwd=clone, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
            )

    def wait_ready(self, timeout: float = 150) -> None:
        deadline = time.monotonic() + timeout
        while "is running at" not in self.log.read_text():
            assert self.process.poll() is None, self.log.read_text()[-3000:]
            assert time.monotonic() < deadline, self.log.read_text()[-3000:]
            time.sleep(0.5)

    def ctrl_c(self, timeout: float = 60) -> int:
        os.killpg(self.process.pid, signal.SIGINT)
        return self.process.wait(timeout=timeout)


def manage(clone: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=clone, env=_terminal_env(), capture_output=True, text=True,
        timeout=120,
    )


def _ingest(key: str, dataset: str) -> dict[str, object]:
    request = urllib.request.Request(
        f"http://127.0.0.1:{WEB_PORT}/api/v1/datasets/{dataset}/datapoints",
        data=json.dumps([{"blobs": ["newcomer"], "doubles": [1.0]}]).encode(),
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.status == 202
        return json.loads(response.read())


@pytest.fixture(scope="module")
def clone() -> Iterator[Path]:
    # Not under pytest's basetemp: as root, pgserver runs PostgreSQL as another user and opens
    # the path to it, and a concurrent pytest session resets that directory to 0700.
    clone = _copy_repository(Path(tempfile.mkdtemp(prefix="meauxcloud-clone-")))
    (clone / "var").mkdir()
    (clone / "var" / "redis.port").write_text(str(REDIS_PORT))  # the embedded Redis keeps a recorded port
    yield clone
    subprocess.run([sys.executable, "-m", "meauxcloud.devstack", "stop"], cwd=clone, env=_terminal_env(), timeout=120)
    assert clone_processes(clone) == []
    shutil.rmtree(clone)


@pytest.fixture(scope="module")
def run_env() -> dict[str, str]:
    return _terminal_env(
        PORT=str(WEB_PORT), WEB_CONCURRENCY="1", WORKER_CONCURRENCY="1",
        # A drain in progress delays the worker's warm shutdown by up to its budget.
        TRACKING_DRAIN_TIME_BUDGET_SECONDS="2",
    )


def test_second_terminal_command_uses_make_runs_services_and_ctrl_c_stops_everything(clone, run_env):
    run = Run(clone, run_env)
    try:
        run.wait_ready()
        state = json.loads((clone / "var" / "run.json").read_text())

        created = manage(clone, "create_project", "foo", "--json")

        assert created.returncode == 0, created.stderr
        keys = json.loads(created.stdout)
        again = subprocess.run(
            [sys.executable, "-m", "meauxcloud.devstack", "run"], cwd=clone, env=run_env,
            capture_output=True, text=True, timeout=120,
        )
        assert (again.returncode, again.stderr) == (1, f"`make run` is already running in {clone} (pid {state['pid']}).\n")
        assert keys["project"] == "foo"
        # The key made in the second terminal authenticates at the web server of `make run`.
        assert _ingest(keys["write_key"], "newcomer") == {"accepted": 1, "rejected": 0, "errors": []}
        running = {line.split()[0] for line in clone_processes(clone)}
        servers = [(clone / "var" / name).read_text().split()[0] for name in ("postgres/postmaster.pid", "redis/redis.pid")]
        assert set(servers) <= running
    finally:
        exit_code = run.ctrl_c()

    assert exit_code == 0, run.log.read_text()[-3000:]
    assert not _group_exists(run.process.pid, settle=10)
    assert not _group_exists(state["group"], settle=10), _group_listing(state["group"])
    assert clone_processes(clone) == []
    assert not (clone / "var" / "run.json").exists()


def test_manage_py_with_nothing_running_says_what_to_do(clone):
    result = manage(clone, "create_project", "bar", "--json")

    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith("DATABASE_URL and REDIS_URL are not set, and no `make run` is running in ")
    assert "Start `make run` in another terminal" in result.stderr


def test_a_command_without_make_run_alive_does_not_borrow_the_dev_stacks_secret(clone):
    """Production settings in a checkout where `make run` once ran still refuse a missing SECRET_KEY."""
    key_file = clone / "var" / "secret_key"
    if not key_file.exists():
        key_file.write_text("dev-stack-secret")
    env = _terminal_env(DATABASE_URL="postgres://postgres@127.0.0.1:1/none", REDIS_URL="redis://127.0.0.1:1/0", DEBUG="0")

    result = subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=clone, env=env, capture_output=True, text=True, timeout=120
    )

    assert result.returncode == 1
    assert "SECRET_KEY is not set" in result.stderr


def _recreate_run_database(clone: Path) -> None:
    """DROP and CREATE the database of `make run`, on the embedded server (started for it)."""
    exports = subprocess.run(
        [sys.executable, "-m", "meauxcloud.devstack", "env"], cwd=clone, env=_terminal_env(),
        check=True, capture_output=True, text=True, timeout=120,
    ).stdout
    url = next(line.split("=", 1)[1] for line in exports.splitlines() if line.startswith("export DATABASE_URL="))
    socket_dir = unquote(urlsplit(url).netloc.rpartition("@")[2])
    with psycopg.connect(host=socket_dir, user="postgres", dbname="postgres", autocommit=True) as conn:
        conn.execute("DROP DATABASE meauxcloud WITH (FORCE)")
        conn.execute("CREATE DATABASE meauxcloud")


def test_run_after_its_database_was_recreated_with_a_dash_password_then_stop_after_kill_9(clone, run_env, tmp_path):
    before = json.loads((clone / "var" / "credentials.json").read_text())
    _recreate_run_database(clone)
    # Every generated token starts with "-", as one in 64 of them does.
    (tmp_path / "sitecustomize.py").write_text(
        "import secrets\n_generate = secrets.token_urlsafe\n"
        "secrets.token_urlsafe = lambda nbytes=None: '-' + _generate(nbytes)[1:]\n"
    )
    run = Run(clone, {**run_env, "PYTHONPATH": str(tmp_path)})
    try:
        run.wait_ready()
        state = json.loads((clone / "var" / "run.json").read_text())
        credentials = json.loads((clone / "var" / "credentials.json").read_text())
        signs_in = manage(
            clone, "shell", "--verbosity=0", "-c",
            "import json; from django.conf import settings; from django.contrib.auth import authenticate; "
            "c = json.load(open('var/credentials.json')); "
            "print(authenticate(username=c['username'], password=c['password']) is not None, "
            "settings.SESSION_COOKIE_SECURE, settings.ALERTS_ALLOW_PRIVATE_URLS)",
        )

        assert credentials["password"].startswith("-") and credentials["password"] != before["password"]
        assert credentials["write_key"] != before["write_key"]
        assert f"password {credentials['password']}" in run.log.read_text()
        # Signed in, with the settings `make run` gives its own processes.
        assert signs_in.stdout.strip() == "True False True", signs_in.stderr
        assert _ingest(credentials["write_key"], "newcomer")["accepted"] == 1
    finally:
        os.kill(run.process.pid, signal.SIGKILL)
        run.process.wait(timeout=10)
    assert _group_exists(state["group"])
    assert clone_processes(clone) != []
    orphaned = manage(clone, "create_project", "baz", "--json")
    assert orphaned.returncode == 1
    assert orphaned.stderr.endswith("`make stop` stops what it left running.\n")

    stopped = subprocess.run(
        [sys.executable, "-m", "meauxcloud.devstack", "stop"], cwd=clone, env=_terminal_env(),
        capture_output=True, text=True, timeout=120,
    )

    assert stopped.stdout.strip() == "Stopped web, worker and beat, postgres, redis."
    assert not _group_exists(state["group"], settle=10), _group_listing(state["group"])
    assert clone_processes(clone) == []


def test_make_test_stops_the_embedded_servers_it_started(clone):
    result = subprocess.run(
        [sys.executable, "-m", "meauxcloud.devstack", "exec", "--database", "meauxcloud_test", "--",
         sys.executable, "-c", "import os; print(os.environ['DATABASE_URL'], os.environ['REDIS_URL'])"],
        cwd=clone, env=_terminal_env(), capture_output=True, text=True, timeout=120,
    )

    assert result.returncode == 0, result.stderr
    database_url, redis_url = result.stdout.split()
    assert database_url.startswith("postgres://postgres@%2F") and database_url.endswith("/meauxcloud_test")
    assert redis_url == f"redis://127.0.0.1:{REDIS_PORT}/0"
    assert clone_processes(clone) == []


def test_a_benchmark_run_alone_stops_the_embedded_servers_it_started_even_when_it_fails(clone):
    """`python -m bench.queries` and the other benchmarks also run alone (docs/benchmarks.md), outside `make bench`'s
    `devstack exec`: the servers their environment had to start go when they exit, as after `devstack exec`."""
    result = subprocess.run(
        [sys.executable, "-c", "from bench.env import django_setup; django_setup(); raise SystemExit('failed on purpose')"],
        cwd=clone, env=_terminal_env(), capture_output=True, text=True, timeout=120,
    )

    assert result.returncode == 1, result.stderr
    assert "failed on purpose" in result.stderr
    assert clone_processes(clone) == []
