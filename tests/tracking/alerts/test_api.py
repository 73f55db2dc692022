"""The management API: admin keys and owners/admins manage; read and write keys get 403."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.test import Client

from projects.governance.models import AuditEvent
from projects.models import Role
from tests.factories import MembershipFactory, UserFactory, key_for
from tracking.alerts.models import AlertEvent, Budget, Channel, Delivery
from tracking.alerts.services import alerts_evaluate

pytestmark = pytest.mark.django_db


def _call(client: Client, method: str, url: str, key: str | None = None, body: object = None):
    headers = {"HTTP_AUTHORIZATION": f"Bearer {key}"} if key else {}
    return getattr(client, method)(url, data=body, content_type="application/json", **headers)


@pytest.fixture
def admin_key(project) -> str:
    return key_for(project, "admin").secret


def test_the_contract_channels_budget_rule_and_status(client, project, admin_key, settings):
    settings.ALERTS_ALLOW_PRIVATE_URLS = True
    hook = _call(client, "post", "/api/v1/alerts/channels", admin_key, {"kind": "webhook", "url": "http://127.0.0.1:9/hook"})
    mail = _call(client, "post", "/api/v1/alerts/channels", admin_key, {"kind": "email", "to": ["a@example.com"]})
    assert (hook.status_code, mail.status_code) == (201, 201)
    assert len(hook.json()["secret"]) == 64 and sorted(mail.json()) == ["id"]

    budget = _call(client, "post", "/api/v1/budgets", admin_key, {
        "name": "llm", "dataset": "costs", "period": "month", "amount_usd": "100.00", "thresholds": [50, 80, 100],
        "forecast": True, "filters": {"model": "gpt-4o"}, "channels": [hook.json()["id"], mail.json()["id"]],
    })
    rolling = _call(client, "post", "/api/v1/budgets", admin_key, {
        "name": "week", "dataset": "costs", "period": {"rolling_days": 7}, "amount_usd": "5"
    })
    rule = _call(client, "post", "/api/v1/alerts/rules", admin_key, {
        "name": "5xx", "dataset": "api", "metric": "5xx_rate", "window_minutes": 5, "op": ">", "threshold": 0.2,
        "min_requests": 20, "channels": [hook.json()["id"]],
    })
    assert (budget.status_code, rolling.status_code, rule.status_code) == (201, 201, 201), (budget.json(), rule.json())

    status = _call(client, "get", f"/api/v1/budgets/{budget.json()['id']}/status", admin_key)
    assert status.status_code == 200
    assert {k: status.json()[k] for k in ("spent_usd", "remaining_usd", "percent", "forecast_usd", "crossed")} == {
        "spent_usd": "0.000000", "remaining_usd": "100.000000", "percent": 0.0, "forecast_usd": "0.000000", "crossed": []
    }
    listed = _call(client, "get", "/api/v1/budgets", admin_key).json()
    assert [(b["name"], b["period"], b["filters"]["model"], b["thresholds"]) for b in listed] == [
        ("llm", "month", "gpt-4o", [50, 80, 100]), ("week", {"rolling_days": 7}, "", [50, 80, 100])
    ]
    assert _call(client, "get", "/api/v1/alerts/rules", admin_key).json()[0]["state"] == "ok"
    assert AuditEvent.objects.filter(project=project, action="alerts.change").count() == 5


def test_read_and_write_keys_get_403_on_management_and_the_cached_status_needs_a_read_key(client, project, admin_key):
    for scopes in (["read"], ["write"], ["read", "write"]):
        key = key_for(project, *scopes).secret
        assert _call(client, "get", "/api/v1/budgets", key).status_code == 403
        assert _call(client, "post", "/api/v1/alerts/channels", key, {"kind": "email", "to": ["a@example.com"]}).status_code == 403
    Budget.objects.create(project=project, name="llm", dataset="costs", amount_usd=Decimal(10), thresholds=[50],
                          spent_usd=Decimal("12.5"), forecast_usd=Decimal(20))
    read_key = key_for(project, "read").secret

    cached = _call(client, "get", "/api/v1/budgets/status?scope=llm", read_key)

    assert cached.status_code == 200
    assert cached.json()["budgets"][0] | {"evaluated_at": None} == {
        "name": "llm", "amount_usd": "10.000000", "spent_usd": "12.500000", "remaining_usd": "0.000000",
        "exhausted": True, "forecast_usd": "20.000000", "evaluated_at": None,
    }
    assert _call(client, "get", "/api/v1/budgets/status?scope=nope", read_key).status_code == 404
    assert _call(client, "get", "/api/v1/budgets/status", admin_key).status_code == 403


@pytest.mark.parametrize(("role", "expected"), [(Role.OWNER, 200), (Role.ADMIN, 200), (Role.MEMBER, 403), (Role.VIEWER, 403)])
def test_sessions_of_owners_and_admins_manage_members_and_viewers_do_not(client, project, role, expected):
    user = UserFactory()
    MembershipFactory(project=project, user=user, role=role)
    client.force_login(user)

    assert client.get(f"/api/v1/budgets?project={project.slug}").status_code == expected


def test_another_projects_key_sees_nothing(client, project, admin_key):
    from tests.factories import ProjectFactory

    other = ProjectFactory()
    channel = Channel.objects.create(project=other, kind="email", to=["x@example.com"])

    deleted = _call(client, "delete", f"/api/v1/alerts/channels/{channel.pk}", admin_key)
    assert _call(client, "post", f"/api/v1/alerts/channels/{channel.pk}/test", admin_key).status_code == 404
    assert Channel.objects.filter(pk=channel.pk).exists()
    assert (deleted.status_code, deleted["Content-Type"]) == (404, "application/problem+json")
    assert deleted.json() == {
        "type": "https://meauxcloud.dev/problems/not_found", "title": "Not Found", "status": 404,
        "detail": "No such channel in this project.", "code": "not_found",
    }


@pytest.mark.parametrize(
    ("url", "fragment"),
    [
        ("http://127.0.0.1:8080/x", "loopback or private"),
        ("http://10.1.2.3/x", "loopback or private"),
        ("http://169.254.169.254/latest/meta-data", "loopback or private"),
        ("http://[::1]/x", "loopback or private"),
        ("http://localhost/x", "loopback or private"),
        ("ftp://example.com/x", "http:// or https://"),
    ],
)
def test_webhooks_to_private_networks_are_refused(client, admin_key, url, fragment):
    response = _call(client, "post", "/api/v1/alerts/channels", admin_key, {"kind": "webhook", "url": url})

    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"
    assert fragment in response.json()["detail"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"period": {"rolling_days": 0}}, "period"),
        ({"period": "year"}, "period"),
        ({"amount_usd": "0"}, "amount_usd"),
        ({"amount_usd": "1e30"}, "amount_usd"),
        ({"thresholds": []}, "thresholds"),
        ({"dataset": "no spaces"}, "dataset"),
        ({"channels": [999999]}, "channels"),
        ({"filters": {"model": "m", "cost_type": "t"}}, "filters"),
    ],
)
def test_bad_budgets_name_the_field(client, admin_key, body, field):
    base = {"name": "b", "dataset": "costs", "period": "month", "amount_usd": "10"}

    response = _call(client, "post", "/api/v1/budgets", admin_key, base | body)

    assert response.status_code == 400
    assert field in response.json()["errors"]


def test_send_test_goes_through_the_outbox(client, project, admin_key):
    channel = Channel.objects.create(project=project, kind="email", to=["ops@example.com"])

    response = _call(client, "post", f"/api/v1/alerts/channels/{channel.pk}/test", admin_key)

    assert response.status_code == 202
    delivery = Delivery.objects.get(pk=response.json()["id"])
    assert (delivery.event.type, delivery.status, delivery.channel) == ("channel.test", "pending", channel)
    assert alerts_evaluate().events == 0 and AlertEvent.objects.count() == 1


def test_staff_see_every_projects_budgets_rules_and_deliveries_in_admin(client, project, admin_user):
    channel = Channel.objects.create(project=project, kind="email", to=["ops@example.com"])
    Budget.objects.create(project=project, name="llm", dataset="costs", amount_usd=Decimal(10), thresholds=[50])
    from tracking.alerts.services import channel_test

    delivery = channel_test(channel=channel)
    client.force_login(admin_user)

    for path in ("budget", "alertrule", "channel", "alertevent", "delivery"):
        response = client.get(f"/admin/alerts/{path}/")
        assert response.status_code == 200, path
    assert b"llm" in client.get("/admin/alerts/budget/").content
    assert client.get(f"/admin/alerts/delivery/{delivery.pk}/change/").status_code == 200


def test_patch_changes_a_budget_and_a_rule_and_the_next_cycle_judges_the_new_values(client, project, admin_key, dataset, partitions):
    from datetime import timedelta

    from django.utils import timezone

    from tests.tracking.alerts.conftest import cost, request, store

    budget = _call(client, "post", "/api/v1/budgets", admin_key, {"name": "b", "dataset": "costs", "period": "day", "amount_usd": "100"}).json()
    rule = _call(client, "post", "/api/v1/alerts/rules", admin_key, {
        "name": "r", "dataset": "costs", "metric": "requests", "window_minutes": 5, "threshold": 100,
    }).json()
    now = timezone.now()
    store(dataset, [cost(now - timedelta(minutes=1), 30), request(now - timedelta(minutes=1), "200")])
    alerts_evaluate(now=now)
    assert AlertEvent.objects.count() == 0

    changed = _call(client, "patch", f"/api/v1/budgets/{budget['id']}", admin_key, {"amount_usd": "50", "thresholds": [50, 90]})
    ruled = _call(client, "patch", f"/api/v1/alerts/rules/{rule['id']}", admin_key, {"threshold": "0.5", "min_requests": 1})
    assert (changed.status_code, changed.json()["amount_usd"], changed.json()["thresholds"]) == (200, "50.000000", [50, 90])
    assert (ruled.status_code, ruled.json()["threshold"]) == (200, "0.500000")
    alerts_evaluate(now=now)

    assert sorted(AlertEvent.objects.values_list("type", flat=True)) == ["alert.firing", "budget.threshold"]
    assert _call(client, "patch", f"/api/v1/budgets/{budget['id']}", admin_key, {"thresholds": [0]}).status_code == 400
    assert _call(client, "patch", f"/api/v1/alerts/rules/{rule['id']}", admin_key, {"channels": [999999]}).status_code == 400
