"""After a real OTel-instrumented app exports to us, a member sees its numbers on the report pages (headless Chromium).

The app is configured by nothing but ``OTEL_EXPORTER_OTLP_ENDPOINT`` and ``OTEL_EXPORTER_OTLP_HEADERS``.
"""

from __future__ import annotations

import math
import signal

from projects.models import Role
from tests.factories import MembershipFactory, UserFactory
from tests.support.browser import ARTIFACTS, BROWSER_MARKS, browser_login
from tests.support.processes import process_kill, wait_until, worker_start
from tests.tracking.otlp.app_runner import REQUESTS, durations, run_instrumented_app, stored

pytestmark = BROWSER_MARKS


def test_overview_and_errors_pages_show_the_instrumented_apps_requests(
    client, live_server, browser, project, write_key, read_key, partitions, tmp_path, celery_queue
):
    owner = UserFactory(username="otel-owner")
    MembershipFactory(project=project, user=owner, role=Role.OWNER)
    worker = worker_start(queue=celery_queue, log_path=tmp_path / "worker.log", beat=False)
    try:
        statuses = run_instrumented_app(live_server.url, write_key, "otel", "http/protobuf")
        # 40 request points, and one error point for each 500: from its span and from its ERROR log.
        assert wait_until(lambda: stored("otel") == len(REQUESTS) + 12, timeout=60)
    finally:
        process_kill(worker, signal.SIGTERM)
    api = client.get("/api/v1/reports/overview?dataset=otel&range=1h", HTTP_AUTHORIZATION=f"Bearer {read_key}").json()

    page = browser.new_page(viewport={"width": 1280, "height": 900})
    browser_login(page, live_server.url, "otel-owner")
    page.goto(f"{live_server.url}/projects/{project.slug}/?dataset=otel&range=1h")
    page.wait_for_function("[...document.querySelectorAll('.chart[data-chart]')].every(c => c.dataset.drawn)")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=ARTIFACTS / "otlp-overview.png", full_page=True)
    overview = {key: page.text_content(f"[data-total={key}]")
                for key in ("requests", "errors_5xx", "error_rate", "error_events", "p95_ms")}
    page.goto(f"{live_server.url}/projects/{project.slug}/errors/?dataset=otel&range=1h")
    errors = {key: page.text_content(f"[data-total={key}]") for key in ("errors_5xx", "errors_4xx", "error_events")}

    assert (len(statuses), statuses.count(500), statuses.count(404)) == (40, 6, 4)
    assert {key: overview[key] for key in ("requests", "errors_5xx", "error_rate", "error_events")} == {
        "requests": "40", "errors_5xx": "6", "error_rate": "15.00%", "error_events": "12"}
    observed = durations("otel")
    exact_p95 = observed[math.ceil(0.95 * len(observed)) - 1]
    assert exact_p95 <= api["totals"]["p95_ms"] <= exact_p95 * 1.05
    assert overview["p95_ms"] == f"{api['totals']['p95_ms']:,.1f} ms"
    assert errors == {"errors_5xx": "6", "errors_4xx": "4", "error_events": "12"}
