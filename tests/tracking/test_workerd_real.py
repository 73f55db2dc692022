"""A real workerd, its ``analyticsEngine`` binding forwarded into a project (docs/workerd.md)."""

import shutil
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.clients.support import drain_until_stored
from tests.clients.toolchain import ROOT, free_port, node_missing, workerd_serving

pytestmark = [
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(node_missing() is not None, reason=node_missing() or ""),
]

WORKER = """
export default {
  async fetch(request, env) {
    const n = new URL(request.url).searchParams.get("n");
    env.ANALYTICS_ENGINE.writeDataPoint({
      blobs: ["GET", "/items/" + n, null, "h\\u00e9llo"],
      doubles: [Number(n) + 0.5, 1],
      indexes: ["req-" + n],
    });
    env.ANALYTICS_ENGINE.writeDataPoint({ blobs: ["refused by workerd"], indexes: ["a", "b"] });
    return new Response("ok " + n);
  },
};
"""

CONFIG = """
using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [
    (name = "main", worker = (
      modules = [(name = "worker.js", esModule = embed "worker.js")],
      compatibilityDate = "2025-01-01",
      bindings = [(name = "ANALYTICS_ENGINE", analyticsEngine = "workerd_events")])),
    (name = "workerd_events", worker = (
      modules = [(name = "forwarder.js", esModule = embed "forwarder.js")],
      compatibilityDate = "2025-01-01",
      bindings = [
        (name = "PLATFORM", service = "meauxcloud"),
        (name = "INGEST_URL", text = "%(base)s/api/v1/workerd/analytics-engine"),
        (name = "WRITE_KEY", fromEnvironment = "MEAUXCLOUD_WRITE_KEY")])),
    (name = "meauxcloud", external = (address = "%(address)s", http = ())),
  ],
  sockets = [(name = "http", address = "127.0.0.1:8787", http = (), service = "main")],
);
"""


def test_points_written_in_workerd_land_in_the_projects_dataset(live_server, project, write_key, partitions, tmp_path: Path):
    (tmp_path / "worker.js").write_text(WORKER)
    shutil.copy(ROOT / "clients" / "workerd" / "forwarder.js", tmp_path / "forwarder.js")
    address = live_server.url.removeprefix("http://")
    (tmp_path / "config.capnp").write_text(CONFIG % {"base": live_server.url, "address": address})
    port = free_port()
    started = datetime.now(UTC)

    with workerd_serving(
        tmp_path / "config.capnp", port=port, log=tmp_path / "workerd.log", env={"MEAUXCLOUD_WRITE_KEY": write_key}
    ):
        answers = []
        for n in range(5):
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/?n={n}", timeout=10) as response:
                answers.append(response.read().decode())
        rows = drain_until_stored(
            project, "workerd_events", 5, columns="index1, blob1, blob2, blob3, blob4, double1, double2, double3, timestamp"
        )

    assert answers == [f"ok {n}" for n in range(5)]
    assert sorted(row[:8] for row in rows) == [
        (f"req-{n}", "GET", f"/items/{n}", None, "h\u00e9llo", n + 0.5, 1.0, None) for n in range(5)
    ]
    assert all(started - timedelta(seconds=1) <= row[8] <= datetime.now(UTC) for row in rows)
