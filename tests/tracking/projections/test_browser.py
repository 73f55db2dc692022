"""Headless Chromium: an owner adds a projection on the dataset's page, a real worker backfills it
while the page follows its progress without a reload, and the owner drops it."""

from __future__ import annotations

import signal

from projects.models import Role
from tests.factories import MembershipFactory, UserFactory
from tests.support.browser import ARTIFACTS, BROWSER_MARKS, browser_login
from tests.support.processes import process_kill, worker_start
from tracking.models import Dataset, Projection, ProjectionState

pytestmark = BROWSER_MARKS


def test_add_a_projection_watch_it_backfill_and_drop_it(live_server, browser, project, dataset: Dataset, stored: int, tmp_path, celery_queue) -> None:
    MembershipFactory(project=project, user=UserFactory(username="owner"), role=Role.OWNER)
    ARTIFACTS.mkdir(exist_ok=True)
    page = browser.new_page(viewport={"width": 1280, "height": 1000})
    problems: list[str] = []
    page.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: problems.append(str(error)))
    base = live_server.url
    worker = None
    try:
        browser_login(page, base, "owner")
        page.goto(f"{base}/projects/{project.slug}/settings/")
        page.click("a[aria-label='Projections of web']")
        page.wait_for_url(f"{base}/projects/{project.slug}/settings/datasets/{dataset.id}/#projections-title")

        form = "form[aria-label='Add a projection']"
        page.fill(f"{form} input[name=name]", "by_path")
        page.check(f"{form} input[name=dimensions][value=blob2]")
        page.check(f"{form} input[name=doubles][value=double1]")
        page.select_option(f"{form} select[name=grain]", "3600")
        page.click("text=Add projection")
        page.wait_for_selector("text=Projection by_path added; backfilling from the stored points.")
        row = "tr[data-projection=by_path]"
        added = {"text": page.text_content(row), "state": page.text_content(f"{row} [data-state]").strip(),
                 "progress": page.text_content(f"{row} [data-progress]").strip()}

        # The backfill task is queued; the worker that takes it starts now, and the page follows it without a reload.
        worker = worker_start(queue=celery_queue, log_path=tmp_path / "worker.log", beat=False)
        page.wait_for_selector(f"{row}[data-state-value=ready]", timeout=60_000)
        ready = {
            "state": page.text_content(f"{row} [data-state]").strip(),
            "progress": page.text_content(f"{row} [data-progress]").strip(),
            "bar": page.eval_on_selector(f"{row} progress", "bar => bar.value"),
            "polls": int(page.get_attribute("#projections", "data-live")),
        }
        page.screenshot(path=ARTIFACTS / "projections.png", full_page=True)
        stored_state = Projection.objects.get(dataset=dataset, name="by_path").state

        page.click("button[aria-label='Drop projection by_path']")
        page.wait_for_selector("text=Projection by_path dropped")
        empty = page.text_content("#projections tbody")
    finally:
        if worker is not None:
            process_kill(worker, signal.SIGTERM)

    assert problems == []
    assert "blob2 (path)" in added["text"] and "double1" in added["text"]
    assert (added["state"], added["progress"]) == ("Backfilling", "0%")
    assert ready == {"state": "Ready", "progress": "100%", "bar": 100, "polls": ready["polls"]} and ready["polls"] >= 1
    assert stored_state == ProjectionState.READY
    assert "No projections" in empty
    assert not Projection.objects.filter(dataset=dataset).exists()
