"""Headless Chromium uses the SQL explorer: run a query, see the chart, save it, download CSV, see an error's position."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from projects.models import Role
from tests.factories import MembershipFactory, UserFactory
from tests.support.browser import ARTIFACTS, BROWSER_MARKS
from tests.tracking.sql.conftest import LoadedProject, SeedData

HOURLY = "SELECT toStartOfHour(timestamp) AS hour, count() AS points\nFROM weather\nGROUP BY hour\nORDER BY hour"

pytestmark = BROWSER_MARKS


def test_run_chart_save_download_and_error_position(
    live_server, browser, loaded: LoadedProject, seed_data: SeedData  # noqa: F811 (the fixture imported above)
) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    MembershipFactory(project=loaded.project, user=UserFactory(username="owner"), role=Role.OWNER)
    base = live_server.url
    page = browser.new_page(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    problems: list[str] = []
    page.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
    page.goto(f"{base}/accounts/login/")
    page.fill("#id_username", "owner")
    page.fill("#id_password", "correct-horse-battery")
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/projects/")

    page.goto(f"{base}/projects/{loaded.project.slug}/sql/")
    page.fill("#sql-editor", HOURLY)
    page.click("#run")
    page.wait_for_selector("#result-chart[data-drawn]")
    hours = page.locator("#result tbody tr").count()
    assert hours > 1
    assert int(page.get_attribute("#result-chart", "data-drawn")) == hours
    assert page.locator("#result thead th").all_inner_texts()[0].startswith("hour")
    page.screenshot(path=str(ARTIFACTS / "sql-explorer.png"), full_page=True)

    with page.expect_download() as download_info:
        page.click("#download-csv")
    rows = list(csv.reader(io.StringIO(Path(download_info.value.path()).read_text())))
    assert rows[0] == ["hour", "points"]
    assert len(rows) == hours + 1
    assert [row[1] for row in rows[1:]] == page.locator("#result tbody tr td:nth-child(2)").all_inner_texts()
    assert sum(int(row[1]) for row in rows[1:]) == len(seed_data.weather)

    page.fill("#save-name", "Points per hour")
    page.click("#save-form button[type=submit]")
    page.wait_for_selector("#saved-queries button[data-name='Points per hour']")
    assert "toStartOfHour" in page.locator("#history").inner_text()

    page.fill("#sql-editor", "SELECT\n  nosuch\nFROM weather")
    page.click("#run")
    page.wait_for_selector("#error:not([hidden])")
    assert "Unknown column nosuch (line 2, column 3)" in page.inner_text("#error")
    assert page.evaluate("document.getElementById('sql-editor').selectionStart") == len("SELECT\n  ")

    page.click("#saved-queries button[data-name='Points per hour']")
    assert page.input_value("#sql-editor") == HOURLY
    # The refused query's 422 is the one failed request Chromium reports; nothing else may fail.
    assert [p for p in problems if "status of 422" not in p] == []
    assert len(problems) == 1
