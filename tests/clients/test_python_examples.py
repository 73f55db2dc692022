"""examples/python, run as a user would, against the real app."""

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from datetime import UTC, datetime
from typing import Any

import pytest

from tests.clients.support import drain_until_stored
from tests.clients.toolchain import ROOT, free_port, port_open

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

EXAMPLES = ROOT / "examples" / "python"


def _stats(accepted: int) -> str:
    return (
        f"Stats(queued=0, in_flight=0, accepted={accepted}, duplicates=0, rejected=0, invalid=0, "
        "dropped=0, retries=0, batches=1)\n"
    )


def _start_as_from_a_terminal(args: list[str], **kwargs: Any) -> subprocess.Popen[bytes]:
    """Start ``args`` with Ctrl-C at its default, as a terminal starts a program.

    A suite run from a background job (``make test &``, a CI script's ``nohup ... &``) inherits
    SIGINT ignored, POSIX's rule for background jobs without job control; a child inherits that
    too, Python then never raises KeyboardInterrupt, and Flask's server ignored the SIGINT below
    for good. A handler set in this process is reset to the default in the child at exec.
    """
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        return subprocess.Popen(args, **kwargs)
    finally:
        signal.signal(signal.SIGINT, previous)


def _serve_once(script: str, env: dict[str, str], stop: int) -> None:
    """Start a server example, request its home page, stop it the way its server expects."""
    port = free_port()
    process = _start_as_from_a_terminal([sys.executable, str(EXAMPLES / script)], env={**env, "PORT": str(port)}, cwd=ROOT)
    try:
        deadline = time.monotonic() + 30
        while not port_open(port):
            assert process.poll() is None and time.monotonic() < deadline
            time.sleep(0.1)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10) as response:
            assert response.read() == b"MeauxCLOUD"
    finally:
        process.send_signal(stop)
        assert process.wait(timeout=30) in (0, -stop)


def test_every_python_example_runs_and_the_queries_read_back_what_they_wrote(
    live_server, project, write_key, read_key, partitions
):
    env = {
        **os.environ,
        "MEAUXCLOUD_URL": live_server.url,
        "MEAUXCLOUD_PROJECT": project.slug,
        "MEAUXCLOUD_WRITE_KEY": write_key,
        "MEAUXCLOUD_READ_KEY": read_key,
        "ENVIRONMENT": "test",
    }

    def run(script: str) -> str:
        result = subprocess.run(
            [sys.executable, str(EXAMPLES / script)], env=env, cwd=ROOT, capture_output=True, text=True, timeout=60
        )
        assert result.returncode == 0, result.stderr
        return result.stdout

    outputs = [run(script) for script in ("basic_event.py", "track_requests.py", "track_costs.py", "track_errors.py")]
    _serve_once("app_starlette.py", env, signal.SIGTERM)
    _serve_once("app_flask.py", env, signal.SIGINT)
    rows = drain_until_stored(project, "meauxcloud_analytics", 13, columns="blob1, blob2, blob3, index1")
    answers = dict(line.split(": ", 1) for line in run("query_analytics.py").splitlines())

    assert outputs == [_stats(1), _stats(3), _stats(6), _stats(1)]
    assert len(rows) == 13
    assert sorted((row[0], row[1], row[2]) for row in rows if row[1] == "/") == [("GET", "/", "200")] * 2
    by_path = [(row["path"], row["request_count"]) for row in json.loads(answers["requests by path"])]
    assert by_path[:2] == [("/", 2), ("/healthz", 2)] or by_path[:2] == [("/healthz", 2), ("/", 2)]
    assert by_path[2:] == [("/no-such-page", 1)]
    assert json.loads(answers["cost by project"]) == [
        {"project_id": "proj-2", "cost_type": "time", "total_cost": 1.5},
        {"project_id": "proj-1", "cost_type": "ai", "total_cost": 0.25},
        {"project_id": "proj-1", "cost_type": "compute", "total_cost": 0.04},
    ]
    assert json.loads(answers["error rate"]) == [{"error_type": "KeyError", "error_count": "1"}]
    (realtime,) = json.loads(answers["realtime"])
    server_errors = sum(1 for row in rows if (row[2] or "").startswith("5"))
    assert (realtime["total_requests"], realtime["error_count"]) == ("13", str(server_errors))
    today = datetime.now(UTC).strftime("%Y-%m-%d 00:00:00")
    assert sorted(json.loads(answers["cost trends"]), key=lambda row: row["cost_type"]) == [
        {"date": today, "cost_type": "ai", "total_cost": 0.25},
        {"date": today, "cost_type": "compute", "total_cost": 0.04},
        {"date": today, "cost_type": "time", "total_cost": 1.5},
    ]
