"""The operator's console in headless Chromium: index panel, project list, project page, a key issued, suspend and resume."""

from __future__ import annotations

import urllib.error
import urllib.request
from datetime import timedelta

import orjson
from django.utils import timezone

from tests.factories import DatasetFactory, ProjectFactory, UserFactory
from tests.support.browser import ARTIFACTS, BROWSER_MARKS
from tests.tracking.reports.helpers import Point, points_store
from tracking.services import storage_estimate_refresh

pytestmark = BROWSER_MARKS


def ingest(base_url: str, key: str) -> tuple[int, dict]:
    request = urllib.request.Request(
        f"{base_url}/api/v1/datasets/api/datapoints",
        data=orjson.dumps([{"blobs": ["GET", "/x", "200"]}]),
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, orjson.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, orjson.loads(error.read())


def test_an_operator_reads_the_list_issues_a_key_and_suspends_a_project(live_server, browser, partitions):
    UserFactory(username="root", is_staff=True, is_superuser=True)
    project = ProjectFactory(slug="acme-shop")
    dataset = DatasetFactory(project=project, name="api")
    now = timezone.now()
    points_store(dataset, [Point(now - timedelta(minutes=m), ["GET", "/x", "503" if m % 4 == 0 else "200"], [10.0, 1, 0]) for m in range(8)])
    storage_estimate_refresh()
    base = live_server.url

    page = browser.new_page(viewport={"width": 1400, "height": 900})
    page.goto(f"{base}/admin/login/")
    page.fill("#id_username", "root")
    page.fill("#id_password", "correct-horse-battery")
    page.click("input[type=submit]")
    page.wait_for_selector("#pipeline-panel")
    assert page.text_content("#pipeline-workers").startswith("no heartbeat")

    page.goto(f"{base}/admin/projects/project/?q=acme")
    assert page.text_content("tr:has-text('acme-shop') td.field-requests") == "8"
    assert page.text_content("tr:has-text('acme-shop') td.field-errors_5xx") == "2"
    assert page.text_content("tr:has-text('acme-shop') td.field-errors_5xx_share") == "25.0%"
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=ARTIFACTS / "admin-project-list.png", full_page=True)

    page.click("a:text('acme-shop')")
    page.wait_for_selector("td.field-points_30d")
    assert page.text_content("td.field-points_30d").strip() == "8"
    page.click("#issue-key")
    page.fill("#id_name", "browser key")
    page.check("input[name=scopes][value=write]")
    page.click("#issue-key-submit")
    secret = page.text_content("#issued-secret")
    assert secret.startswith("mc_")
    assert ingest(base, secret)[0] == 202

    page.goto(f"{base}/admin/projects/project/{project.pk}/change/")
    page.click("#suspend-project")
    page.fill("#id_reason", "unpaid invoice")
    page.click("#suspend-submit")
    page.wait_for_selector("#resume-project")
    status, body = ingest(base, secret)
    assert (status, body["code"]) == (403, "project_suspended")

    page.click("#resume-project")
    page.wait_for_selector("#suspend-project")
    assert ingest(base, secret)[0] == 202
    page.screenshot(path=ARTIFACTS / "admin-project-page.png", full_page=True)
