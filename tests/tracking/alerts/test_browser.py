"""Headless Chromium: an owner creates a webhook channel and a budget on the alerts page, sees the
budget's chart drawn with data, and sends a test webhook that a real receiver verifies."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from projects.models import Role
from tests.factories import DatasetFactory, MembershipFactory, ProjectFactory, UserFactory
from tests.support.browser import ARTIFACTS, BROWSER_MARKS
from tests.support.receivers import WebhookReceiver
from tests.tracking.reports.helpers import Point, points_store
from tracking.alerts.services import delivery_send_due

pytestmark = BROWSER_MARKS


def test_create_a_budget_see_its_chart_and_send_a_test_webhook(live_server, browser, partitions, settings):  # noqa: F811
    settings.ALERTS_ALLOW_PRIVATE_URLS = True
    receiver = WebhookReceiver()
    user = UserFactory(username="owner")
    project = ProjectFactory(slug="shop", name="Shop")
    MembershipFactory(project=project, user=user, role=Role.OWNER)
    dataset = DatasetFactory(project=project, name="costs")
    points_store(dataset, [Point(timezone.now() - timedelta(minutes=m + 1), ["proj-a", "llm", "cost"], [2.5, 1]) for m in range(8)])
    ARTIFACTS.mkdir(exist_ok=True)
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    problems: list[str] = []
    page.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: problems.append(str(error)))
    base = live_server.url
    try:
        page.goto(f"{base}/accounts/login/")
        page.fill("#id_username", "owner")
        page.fill("#id_password", "correct-horse-battery")
        page.click("button[type=submit]")
        page.wait_for_url(f"{base}/projects/")
        page.goto(f"{base}/projects/shop/")
        page.click("nav.tabs >> text=Alerts")
        page.wait_for_url(f"{base}/projects/shop/alerts/")

        page.select_option("form[aria-label='Add a channel'] select[name=kind]", "webhook")
        page.fill("form[aria-label='Add a channel'] input[name=url]", receiver.url)
        page.click("text=Add channel")
        receiver.secret = page.text_content("#new-channel-secret").strip()

        form = "form[aria-label='Create a budget']"
        page.fill(f"{form} input[name=name]", "monthly")
        page.fill(f"{form} input[name=dataset]", "costs")
        page.fill(f"{form} input[name=amount_usd]", "40")
        page.check(f"{form} input[name=channels]")
        page.click("text=Create budget")
        page.wait_for_selector("[data-chart^=budget-][data-drawn]")
        drawn = int(page.get_attribute("[data-chart^=budget-]", "data-drawn"))
        spent = page.text_content("[data-budget-spent]")
        page.screenshot(path=ARTIFACTS / "alerts.png", full_page=True)

        page.click("text=Send test")
        page.wait_for_selector("text=Test notification queued")
        assert delivery_send_due() == 1
        page.reload()
        status = page.text_content("[data-delivery-status]")
    finally:
        receiver.close()

    assert problems == []
    assert drawn > 0 and spent == "$20.00"
    assert page.locator("canvas").count() == 1
    assert status.startswith("webhook") and "sent after 1 attempt" in status
    (got,) = receiver.received
    assert got.signature_ok and got.body["type"] == "channel.test" and got.body["project"] == "shop"
