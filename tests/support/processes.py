"""Real worker processes for end-to-end tests, pointed at the test database and stream."""

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote

from django.conf import settings
from django.db import connection

ROOT = Path(__file__).resolve().parents[2]


def test_database_url() -> str:
    params = connection.settings_dict
    user = params.get("USER") or "postgres"
    password = f":{params['PASSWORD']}" if params.get("PASSWORD") else ""
    host = quote(params.get("HOST") or "127.0.0.1", safe="")
    port = params.get("PORT") or 5432
    return f"postgres://{user}{password}@{host}:{port}/{params['NAME']}"


def worker_env(*, queue: str, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        DATABASE_URL=test_database_url(),
        REDIS_URL=settings.REDIS_URL,
        TRACKING_STREAM_KEY=settings.TRACKING_STREAM_KEY,
        TRACKING_CHECK_REDIS="0",
        CELERY_TASK_DEFAULT_QUEUE=queue,
        PYTHONUNBUFFERED="1",
        **extra,
    )
    return env


def worker_start(*, queue: str, log_path: Path, beat: bool = True, **extra: str) -> subprocess.Popen:
    command = [sys.executable, "-m", "celery", "-A", "meauxcloud", "worker", "-Q", queue, "-c", "2", "-l", "info"]
    if beat:
        command += ["-B", "-s", str(log_path.with_suffix(".beat"))]
    return subprocess.Popen(
        command,
        cwd=ROOT,
        env=worker_env(queue=queue, **extra),
        stdout=log_path.open("ab"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def process_kill(process: subprocess.Popen, sig: int = signal.SIGKILL) -> None:
    """Signal the whole process group: a prefork worker is a parent and its children."""
    try:
        os.killpg(process.pid, sig)
    except ProcessLookupError:
        return
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


def wait_until(condition: Callable[[], bool], *, timeout: float, interval: float = 0.1) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(interval)
    return condition()
