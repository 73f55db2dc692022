"""Headless Chromium logs in and opens every report page: charts drawn with data, no console errors.

Screenshots land in test-artifacts/ (git-ignored). Needs Debian's /usr/bin/chromium and the
pinned ``playwright`` Python package; Playwright's own browser downloads are never used.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from projects.models import Role
from tests.factories import DatasetFactory, MembershipFactory, ProjectFactory, UserFactory
from tests.support.browser import ARTIFACTS, BROWSER_MARKS
from tests.tracking.reports.conftest import mixed_points
from tests.tracking.reports.helpers import Point, points_store

PAGES = ["", "usage/", "costs/", "errors/", "ai/", "realtime/"]

pytestmark = BROWSER_MARKS


@pytest.fixture
def owner_with_data(db):
    user = UserFactory(username="owner")
    project = ProjectFactory(slug="shop", name="Shop")
    MembershipFactory(project=project, user=user, role=Role.OWNER)
    dataset = DatasetFactory(project=project, name="meauxcloud_analytics")
    now = timezone.now()
    live = [Point(now - timedelta(seconds=5 + i), ["GET", "/live", "500" if i % 7 == 0 else "200"], [20.0 + i, 1, 300]) for i in range(90)]
    points_store(dataset, mixed_points(now=now - timedelta(minutes=2), count=1500, days=1) + live, batch=500)
    empty = ProjectFactory(slug="empty", name="Empty")
    MembershipFactory(project=empty, user=user, role=Role.VIEWER)
    return user, project


def _log_in(page, base: str) -> None:
    page.goto(f"{base}/accounts/login/")
    page.fill("#id_username", "owner")
    page.fill("#id_password", "correct-horse-battery")
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/projects/")


def test_every_report_page_draws_its_charts_without_console_errors(live_server, browser, owner_with_data):
    ARTIFACTS.mkdir(exist_ok=True)
    base = live_server.url
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    problems: list[str] = []
    page.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: problems.append(str(error)))

    _log_in(page, base)
    page.screenshot(path=ARTIFACTS / "projects.png", full_page=True)
    drawn: dict[str, list[int]] = {}
    for path in PAGES:
        page.goto(f"{base}/projects/shop/{path}")
        charts = page.locator(".chart[data-chart]")
        page.wait_for_function("[...document.querySelectorAll('.chart[data-chart]')].every(c => c.dataset.drawn)")
        drawn[path or "overview/"] = [int(charts.nth(i).get_attribute("data-drawn")) for i in range(charts.count())]
        assert page.locator(".chart canvas").count() == charts.count()
        page.screenshot(path=ARTIFACTS / f"report-{(path or 'overview/').strip('/')}.png", full_page=True)

    assert problems == []
    assert {name: len(counts) for name, counts in drawn.items()} == {
        "overview/": 4,
        "usage/": 2,
        "costs/": 1,
        "errors/": 2,
        "ai/": 2,
        "realtime/": 2,
    }
    assert all(count > 0 for counts in drawn.values() for count in counts), drawn


def test_realtime_page_refreshes_itself(live_server, browser, owner_with_data):
    page = browser.new_page()
    _log_in(page, live_server.url)
    page.goto(f"{live_server.url}/projects/shop/realtime/")
    first = page.text_content("#realtime-updated")

    page.wait_for_function(f"document.querySelector('#realtime-updated').textContent !== {first!r}", timeout=12_000)

    assert int(page.text_content("[data-total=requests]").replace(",", "")) >= 90


def test_empty_project_shows_first_steps_and_owner_sees_a_new_key_once(live_server, browser, owner_with_data):
    ARTIFACTS.mkdir(exist_ok=True)
    page = browser.new_page(viewport={"width": 420, "height": 900})
    _log_in(page, live_server.url)

    page.goto(f"{live_server.url}/projects/empty/")
    page.screenshot(path=ARTIFACTS / "first-steps-mobile.png", full_page=True)
    assert page.locator("#first-steps-title").text_content() == "Send your first data point"
    assert "curl -X POST" in page.locator(".first-steps").text_content()

    page.goto(f"{live_server.url}/projects/shop/settings/")
    page.fill("#id_name", "ci")
    page.click("text=Create key")
    secret = page.text_content("#new-key-secret")
    page.screenshot(path=ARTIFACTS / "settings.png", full_page=True)
    page.goto(f"{live_server.url}/projects/shop/settings/")

    assert secret.startswith("mc_")
    assert page.locator("#new-key-secret").count() == 0
    assert secret not in page.content()
