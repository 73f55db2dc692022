"""examples/workers: the seed's TypeScript, unchanged, built by run.sh and served by workerd."""

import json
import os
import re
import signal
import subprocess
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.clients.support import drain_until_stored
from tests.clients.toolchain import ROOT, WORKERS_EXAMPLE, free_port, node_missing, port_open

pytestmark = [
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(node_missing() is not None, reason=node_missing() or ""),
]

SEED = ROOT.parent / "shared" / "seed" / "analytics-engine-setup.md"
COLUMNS = "index1, blob1, blob2, blob3, blob4, blob5, double1, double2, double3"


def _seed_blocks() -> list[str]:
    return [body for _, body in re.findall(r"```(\w+)\n(.*?)```", SEED.read_text(), re.S)]


@pytest.mark.skipif(not SEED.exists(), reason=f"the seed document is not at {SEED}")
def test_the_seed_files_are_the_seeds_code_with_only_the_base_url_changed():
    blocks = _seed_blocks()
    source = WORKERS_EXAMPLE / "src"
    assert (source / "lib" / "tracking.ts").read_text() == "\n".join(blocks[2:6])
    assert (source / "index.ts").read_text() == blocks[6]
    assert (source / "middleware" / "analytics.ts").read_text() == blocks[7]
    assert (source / "lib" / "analytics-query.ts").read_text() == blocks[8].replace(
        "https://api.cloudflare.com", "http://127.0.0.1:8000"
    )
    assert (source / "routes" / "analytics.ts").read_text() == blocks[9]


def _get(port: int, path: str) -> bytes:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=20) as response:
        return response.read()


def test_the_seed_worker_writes_into_the_project_and_queries_it_back(
    live_server, project, write_key, read_key, partitions, tmp_path: Path
):
    port = free_port()
    env = {
        **os.environ,
        "MEAUXCLOUD_PROJECT": project.slug,
        "MEAUXCLOUD_WRITE_KEY": write_key,
        "MEAUXCLOUD_READ_KEY": read_key,
        "MEAUXCLOUD_ADDRESS": live_server.url.removeprefix("http://"),
        "PORT": str(port),
        "ENVIRONMENT": "test",
    }
    log = tmp_path / "run.log"
    process = subprocess.Popen(
        ["bash", str(WORKERS_EXAMPLE / "run.sh")], env=env, stdout=log.open("ab"), stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 300
        while not port_open(port):
            assert process.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.2)
        pages = [_get(port, path) for path in ("/", "/", "/fixed", "/fixed", "/demo/basic", "/demo/helpers")]
        drain_until_stored(project, "meauxcloud_analytics", 7, columns=COLUMNS)
        # The seed middleware's two-index points would arrive by now; none may.
        rows = drain_until_stored(project, "meauxcloud_analytics", 8, columns=COLUMNS, timeout=2)
        by_path = json.loads(_get(port, "/demo/requests-by-path"))
        cost = json.loads(_get(port, "/demo/cost-by-project"))
        errors = json.loads(_get(port, "/demo/error-rate"))
        realtime = json.loads(_get(port, "/metrics/realtime"))
        costs = json.loads(_get(port, "/metrics/costs"))
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=20)

    assert pages == [b"MeauxCLOUD", b"MeauxCLOUD", b"MeauxCLOUD", b"MeauxCLOUD", b"basic event written", b"helpers written"]
    fixed = [row for row in rows if row[2] == "/fixed"]
    assert [row[:6] + row[7:] for row in fixed] == [("unknown", "GET", "/fixed", "200", "test", "Python-urllib/3.11", 1.0, None)] * 2
    assert sorted(row for row in rows if row[2] != "/fixed") == sorted([
        ("user-123", "user-login", "google-oauth", None, None, None, 1.0, None, None),
        ("proj-1", "proj-1", "ai", "cost", None, None, 0.25, 1.0, None),
        ("llama-3-8b", "ai-usage", "llama-3-8b", "tokens", None, None, 1200.0, 0.002, 1.0),
        ("TypeError", "error", "TypeError", "/api/chat", None, None, 1.0, None, None),
        ("unknown", "GET", "/demo/helpers", "200", None, None, rows_duration(rows), 1.0, None),
    ])
    assert [(row["path"], row["request_count"]) for row in by_path["data"]] == [("/fixed", 2), ("/demo/helpers", 1)]
    assert cost["data"] == [{"project_id": "proj-1", "cost_type": "ai", "total_cost": 0.25}]
    # COUNT(*) is a UInt64, which ClickHouse's JSON (and so WAE's) quotes.
    assert errors["data"] == [{"error_type": "TypeError", "error_count": "1"}]
    assert realtime["data"] == [
        {"total_requests": "7", "avg_response_time": pytest.approx(sum(row[6] for row in rows) / 7), "error_count": "0"}
    ]
    today = datetime.now(UTC).strftime("%Y-%m-%d 00:00:00")
    assert costs["data"] == [{"date": today, "cost_type": "ai", "total_cost": 0.25}]


def rows_duration(rows: list[tuple]) -> float:
    """trackRequest's duration is whatever workerd's clock said; take it from the stored row."""
    return next(row[6] for row in rows if row[2] == "/demo/helpers")
