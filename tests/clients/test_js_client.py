"""The JavaScript client under Node's test runner and inside a real workerd, against the real app."""

import os
import shutil
import subprocess
import urllib.request
from decimal import Decimal

import pytest

from tests.clients.support import drain_until_stored
from tests.clients.toolchain import ROOT, free_port, node_missing, workerd_serving
from tracking.alerts.services import alerts_evaluate, budget_create

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(node_missing() is not None, reason=node_missing() or ""),
]

JS_CLIENT = ROOT / "clients" / "js"


def test_node_test_runner_passes_and_its_points_are_stored(live_server, project, write_key, read_key, partitions):
    budget_create(project=project, name="llm", dataset="js_client", period="month", amount_usd=Decimal(5))
    alerts_evaluate()
    result = subprocess.run(
        ["node", "--test", "test/"],
        cwd=JS_CLIENT,
        env={
            **os.environ, "MEAUXCLOUD_URL": live_server.url, "MEAUXCLOUD_KEY": write_key, "MEAUXCLOUD_DATASET": "js_client",
            "MEAUXCLOUD_READ_KEY": read_key, "MEAUXCLOUD_BUDGET": "llm",
        },
        capture_output=True,
        text=True,
        timeout=120,
    )
    rows = drain_until_stored(project, "js_client", 5, columns="index1, blob1, blob2, double1")

    assert result.returncode == 0, result.stdout + result.stderr
    assert "# pass 10" in result.stdout
    assert "# fail 0" in result.stdout
    assert sorted(rows) == [(f"js-{n}", "js", f"n{n}", float(n)) for n in range(5)]


WORKER = """
import { createDataset } from "./meauxcloud.js";

export default {
  async fetch(request, env, ctx) {
    const analytics = createDataset({
      url: env.BASE_URL, key: env.WRITE_KEY, dataset: "js_in_workerd", ctx,
      fetch: (url, init) => env.PLATFORM.fetch(url, init),
    });
    const path = new URL(request.url).pathname;
    analytics.writeDataPoint({ blobs: ["GET", path, "200"], doubles: [1.5, 1, 0], indexes: ["w" + path] });
    analytics.writeDataPoint({ blobs: ["second", path] });
    return new Response("ok");
  },
};
"""

CONFIG = """
using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [
    (name = "main", worker = (
      modules = [(name = "worker.js", esModule = embed "worker.js"), (name = "meauxcloud.js", esModule = embed "meauxcloud.js")],
      compatibilityDate = "2025-01-01",
      bindings = [
        (name = "BASE_URL", text = "%(base)s"),
        (name = "WRITE_KEY", fromEnvironment = "MEAUXCLOUD_WRITE_KEY"),
        (name = "PLATFORM", service = "meauxcloud")])),
    (name = "meauxcloud", external = (address = "%(address)s", http = ())),
  ],
  sockets = [(name = "http", address = "127.0.0.1:8787", http = (), service = "main")],
);
"""


@pytest.mark.slow
def test_the_same_module_batches_under_waituntil_in_workerd(live_server, project, write_key, partitions, tmp_path):
    (tmp_path / "worker.js").write_text(WORKER)
    shutil.copy(JS_CLIENT / "index.js", tmp_path / "meauxcloud.js")
    config = CONFIG % {"base": live_server.url, "address": live_server.url.removeprefix("http://")}
    (tmp_path / "config.capnp").write_text(config)
    port = free_port()

    with workerd_serving(tmp_path / "config.capnp", port=port, log=tmp_path / "workerd.log", env={"MEAUXCLOUD_WRITE_KEY": write_key}):
        for path in ("/a", "/b", "/c"):
            with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as response:
                assert response.read() == b"ok"
        rows = drain_until_stored(project, "js_in_workerd", 6, columns="index1, blob1, blob2, double1")

    assert sorted(rows, key=repr) == sorted(
        [(f"w{path}", "GET", path, 1.5) for path in ("/a", "/b", "/c")]
        + [("", "second", path, None) for path in ("/a", "/b", "/c")],
        key=repr,
    )
