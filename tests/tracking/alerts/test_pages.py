"""The alerts page: members read it, owners and admins change budgets, rules and channels."""

from __future__ import annotations

from decimal import Decimal

import pytest

from projects.models import Role
from tests.factories import MembershipFactory, UserFactory
from tracking.alerts.models import AlertRule, Budget, Channel, Delivery

pytestmark = pytest.mark.django_db


def _client_as(client, project, role):
    user = UserFactory()
    MembershipFactory(project=project, user=user, role=role)
    client.force_login(user)
    return client


def test_an_owner_creates_a_budget_a_rule_and_a_channel_and_sends_a_test(client, project, settings):
    settings.ALERTS_ALLOW_PRIVATE_URLS = True
    _client_as(client, project, Role.OWNER)
    base = f"/projects/{project.slug}/alerts/"

    created = client.post(f"{base}channels/", {"kind": "webhook", "url": "http://127.0.0.1:8199/x"})
    channel = Channel.objects.get()
    assert created.status_code == 201 and channel.secret in created.content.decode()
    assert client.post(f"{base}budgets/", {
        "name": "llm", "dataset": "costs", "period": "rolling", "rolling_days": "7", "amount_usd": "25",
        "thresholds": "80, 50", "forecast": "on", "model": "gpt-4o", "channels": [channel.pk],
    }).status_code == 302
    assert client.post(f"{base}rules/", {
        "name": "slow", "dataset": "api", "metric": "p95_ms", "window_minutes": "10", "op": ">", "threshold": "250",
        "min_requests": "20", "channels": [channel.pk],
    }).status_code == 302
    assert client.post(f"{base}channels/{channel.pk}/test/").status_code == 302

    budget = Budget.objects.get()
    assert (budget.period, budget.rolling_days, budget.thresholds, budget.forecast, budget.model) == ("rolling", 7, [50, 80], True, "gpt-4o")
    assert AlertRule.objects.get().threshold == Decimal(250)
    assert Delivery.objects.get().event.type == "channel.test"
    page = client.get(base)
    assert page.status_code == 200
    assert b'data-chart="budget-' in page.content and b"channel.test" in page.content
    assert secret_not_shown_again(page, channel)


def secret_not_shown_again(page, channel) -> bool:
    return channel.secret not in page.content.decode()


@pytest.mark.parametrize("role", [Role.MEMBER, Role.VIEWER])
def test_members_and_viewers_read_but_cannot_change(client, project, role):
    Budget.objects.create(project=project, name="llm", dataset="costs", amount_usd=Decimal(10), thresholds=[50])
    _client_as(client, project, role)
    base = f"/projects/{project.slug}/alerts/"

    page = client.get(base)

    assert page.status_code == 200 and b"llm" in page.content and b"Create budget" not in page.content
    assert client.post(f"{base}budgets/", {"name": "x"}).status_code == 403
    assert client.post(f"{base}budget/{Budget.objects.get().pk}/delete/").status_code == 403


def test_a_bad_budget_form_names_the_field(client, project):
    _client_as(client, project, Role.ADMIN)

    response = client.post(f"/projects/{project.slug}/alerts/budgets/", {
        "name": "b", "dataset": "costs", "period": "rolling", "amount_usd": "10", "thresholds": "50, x",
    })

    assert response.status_code == 400
    assert b"Whole percentages" in response.content and b"needs its number of days" in response.content
    assert not Budget.objects.exists()


def test_strangers_get_404(client, project):
    client.force_login(UserFactory())

    assert client.get(f"/projects/{project.slug}/alerts/").status_code == 404


def test_overview_and_costs_show_each_budgets_status_from_the_last_evaluation(client, project):
    Budget.objects.create(
        project=project, name="llm", dataset="costs", amount_usd=Decimal(100), thresholds=[50, 80],
        spent_usd=Decimal("85.5"), forecast_usd=Decimal(120), crossed=[50, 80], period_key="2026-12",
    )
    _client_as(client, project, Role.VIEWER)

    for page in ("", "costs/"):
        content = client.get(f"/projects/{project.slug}/{page}").content.decode()
        assert 'data-budget="llm"' in content and "$85.50 of $100.00" in content and "crossed 50%, 80%" in content
    assert 'data-budget="llm"' not in client.get(f"/projects/{project.slug}/errors/").content.decode()
