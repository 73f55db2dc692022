"""Evaluation cycles at a controlled clock: thresholds, forecasts and rule states, each notified once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from projects.governance.models import AuditAction, AuditEvent
from tests.tracking.alerts.conftest import NOW, ai, cost, request, store
from tests.tracking.reports.helpers import Point
from tracking.alerts.models import AlertEvent, AlertRule, Budget, Delivery, RuleState
from tracking.alerts.selectors import budget_measure_many
from tracking.alerts.services import _budgets_apply, alerts_evaluate, budget_create, rule_create
from tracking.services import partitions_ensure

pytestmark = pytest.mark.django_db


def _events(**filters: object) -> list[tuple]:
    return sorted(AlertEvent.objects.filter(**filters).values_list("type", "threshold"))


def test_crossing_50_and_80_percent_notifies_each_once_and_100_later(project, dataset, webhook_channel, email_channel):
    budget = budget_create(
        project=project, name="monthly", dataset="costs", period="month", amount_usd=Decimal(100),
        channel_ids=[webhook_channel.pk, email_channel.pk],
    )
    store(dataset, [cost(NOW - timedelta(hours=h + 1), 8.5) for h in range(10)])  # $85

    first = alerts_evaluate(now=NOW)
    for minutes in (1, 2, 3):
        alerts_evaluate(now=NOW + timedelta(minutes=minutes))

    assert first.events == 2
    assert _events(budget=budget) == [("budget.threshold", Decimal(50)), ("budget.threshold", Decimal(80))]
    assert Delivery.objects.filter(event__budget=budget).count() == 4
    budget.refresh_from_db()
    assert (budget.spent_usd, budget.crossed, budget.period_key) == (Decimal("85.000000"), [50, 80], "2026-11")

    store(dataset, [cost(NOW + timedelta(minutes=3), 20)])
    later = alerts_evaluate(now=NOW + timedelta(minutes=4))

    assert later.events == 1
    assert [t for _, t in _events(budget=budget)] == [Decimal(50), Decimal(80), Decimal(100)]
    assert Delivery.objects.filter(event__budget=budget).count() == 6
    event = AlertEvent.objects.get(budget=budget, threshold=100)
    assert event.text == f"[{project.slug}] Budget 'monthly' crossed 100%: $105 of $100 spent this month."
    assert event.details["spent_usd"] == "105.000000" and event.details["threshold"] == 100


def test_a_new_month_starts_with_no_threshold_crossed(project, dataset):
    budget = budget_create(project=project, name="m", dataset="costs", period="month", amount_usd=Decimal(10))
    october = datetime(2026, 10, 31, 23, 0, tzinfo=UTC)
    store(dataset, [cost(october, 6)])

    alerts_evaluate(now=october + timedelta(minutes=30))
    alerts_evaluate(now=NOW)

    assert _events(budget=budget) == [("budget.threshold", Decimal(50))]
    budget.refresh_from_db()
    assert (budget.spent_usd, budget.crossed, budget.period_key) == (Decimal("0.000000"), [], "2026-11")


def test_filters_narrow_spend_to_a_cost_type_a_project_id_or_an_ai_model(project, dataset):
    at = NOW - timedelta(hours=2)
    store(dataset, [
        cost(at, 1.25, cost_type="compute"), cost(at, 2.5, cost_type="storage"),
        cost(at, 4, project_id="proj-b", cost_type="compute"),
        ai(at, "gpt-4o", 1000, 0.75), ai(at, "llama-3", 500, 0.125),
    ])
    budgets = [
        budget_create(project=project, name="all", dataset="costs", period="day", amount_usd=Decimal(100)),
        budget_create(project=project, name="compute", dataset="costs", period="day", amount_usd=Decimal(100), cost_type="compute"),
        budget_create(project=project, name="proj-a", dataset="costs", period="day", amount_usd=Decimal(100), cost_project="proj-a"),
        budget_create(project=project, name="gpt", dataset="costs", period="day", amount_usd=Decimal(100), model="gpt-4o"),
    ]
    for budget in budgets:
        budget.project = project

    statuses = budget_measure_many(budgets=budgets, now=NOW)

    assert [statuses[b.pk].spent_usd for b in budgets] == [Decimal("7.75"), Decimal("5.25"), Decimal("3.75"), Decimal("0.75")]


def test_status_numbers_and_the_forecast_from_the_recent_rate(project, dataset):
    budget = budget_create(
        project=project, name="f", dataset="costs", period="month", amount_usd=Decimal(100), forecast=True
    )
    budget.project = project
    store(dataset, [cost(datetime(2026, 11, 3, 10, tzinfo=UTC), 40)])

    status = budget_measure_many(budgets=[budget], now=NOW)[budget.pk]

    elapsed = (NOW - datetime(2026, 11, 1, tzinfo=UTC)).total_seconds()  # under 7 days: since the 1st
    remaining = (datetime(2026, 12, 1, tzinfo=UTC) - NOW).total_seconds()
    expected = (Decimal(40) + Decimal(40) / Decimal(elapsed) * Decimal(remaining)).quantize(Decimal("0.000001"))
    assert (status.spent_usd, status.remaining_usd, status.percent, status.crossed) == (Decimal(40), Decimal(60), Decimal("40.00"), [])
    assert status.forecast_usd == expected == Decimal("369.190997")
    alerts_evaluate(now=NOW)
    alerts_evaluate(now=NOW + timedelta(minutes=1))
    assert _events(budget=budget) == [("budget.forecast", Decimal(100))]


def test_the_forecast_after_a_week_uses_the_last_seven_days(project, dataset):
    budget = budget_create(project=project, name="f", dataset="costs", period="month", amount_usd=Decimal(1000))
    budget.project = project
    now = datetime(2026, 11, 9, 12, tzinfo=NOW.tzinfo)
    for day in range(1, 10):
        partitions_ensure_for(day)
    store(dataset, [cost(datetime(2026, 11, 1, 12, tzinfo=UTC), 100), cost(datetime(2026, 11, 5, tzinfo=UTC), 70)])

    status = budget_measure_many(budgets=[budget], now=now)[budget.pk]

    # $70 over the last 7 days is $10 a day; 21.5 days remain.
    assert (status.spent_usd, status.forecast_usd) == (Decimal(170), Decimal("385.000000"))


def partitions_ensure_for(day: int) -> None:
    partitions_ensure(today=datetime(2026, 11, day, tzinfo=UTC).date())


def test_a_rolling_budget_notifies_again_after_spend_fell_below_the_threshold(project, dataset):
    budget = budget_create(
        project=project, name="r", dataset="costs", period="rolling", rolling_days=1, amount_usd=Decimal(10), thresholds=[50]
    )
    store(dataset, [cost(NOW - timedelta(hours=1), 6)])
    alerts_evaluate(now=NOW)
    alerts_evaluate(now=NOW + timedelta(hours=12))
    alerts_evaluate(now=NOW + timedelta(hours=24))  # the $6 left the window
    store(dataset, [cost(NOW + timedelta(hours=24, minutes=1), 5)])
    alerts_evaluate(now=NOW + timedelta(hours=24, minutes=2))

    assert _events(budget=budget) == [("budget.threshold", Decimal(50))] * 2


def test_a_5xx_rule_fires_once_and_resolves_once_and_respects_the_minimum_volume(project, dataset, webhook_channel):
    rule = rule_create(
        project=project, name="5xx", dataset="costs", metric="5xx_rate", window_minutes=5, op=">",
        threshold=Decimal("0.2"), min_requests=20, channel_ids=[webhook_channel.pk],
    )
    store(dataset, [request(NOW - timedelta(minutes=2), "500")] * 5 + [request(NOW - timedelta(minutes=2), "200")] * 5)
    alerts_evaluate(now=NOW)
    assert (AlertEvent.objects.count(), AlertRule.objects.get().last_value) == (0, None)  # 50%, but only 10 requests

    store(dataset, [request(NOW - timedelta(minutes=1), "200")] * 20)  # 5 of 30: 16.7%
    alerts_evaluate(now=NOW)
    store(dataset, [request(NOW, "503")] * 10)  # 15 of 40: 37.5%
    for seconds in (1, 30, 60):
        alerts_evaluate(now=NOW + timedelta(seconds=seconds))
    rule.refresh_from_db()
    assert (rule.state, rule.episode, rule.last_value) == (RuleState.FIRING, 1, Decimal("0.375"))

    store(dataset, [request(NOW + timedelta(minutes=6), "200")] * 40)
    for minutes in (7, 8):
        alerts_evaluate(now=NOW + timedelta(minutes=minutes))

    assert _events(rule=rule) == [("alert.firing", Decimal("0.2")), ("alert.resolved", Decimal("0.2"))]
    firing = AlertEvent.objects.get(type="alert.firing")
    assert firing.details["value"] == 0.375 and firing.details["threshold"] == 0.2 and firing.details["requests"] == 40
    assert firing.text == f"[{project.slug}] FIRING: 5xx: 5xx_rate is 0.375 (> 0.2) over 5 min."
    assert Delivery.objects.filter(event__rule=rule, channel=webhook_channel).count() == 2


@pytest.mark.parametrize(
    ("metric", "op", "threshold", "value"),
    [
        ("4xx_rate", ">", "0.1", Decimal("0.25")),
        ("p95_ms", ">", "100", Decimal("313.498")),  # the upper bound of the 5% bin holding 300 ms
        ("requests", "<", "5", Decimal(4)),
        ("error_events", ">", "1", Decimal(2)),
        ("ai_tokens", ">", "100", Decimal(1500)),
        ("ai_cost_usd", ">", "0.5", Decimal("0.875")),
        ("cost_usd", ">", "1", Decimal("2.5")),
    ],
)
def test_each_metric_measures_its_window(project, dataset, metric, op, threshold, value):
    at = NOW - timedelta(minutes=3)
    store(dataset, [
        request(at, "200", 10), request(at, "200", 12), request(at, "404", 15), request(at, "200", 300),
        request(NOW - timedelta(minutes=30), "404"),
        cost(at, 2.5), ai(at, "gpt-4o", 1000, 0.75), ai(at, "llama-3", 500, 0.125),
        Point(at, ["error", "Timeout", "/api"], [1]), Point(at, ["error", "Timeout", "/api"], [1]),
    ])
    rule = rule_create(
        project=project, name=metric, dataset="costs", metric=metric, window_minutes=5, op=op, threshold=Decimal(threshold)
    )

    alerts_evaluate(now=NOW)

    rule.refresh_from_db()
    assert (rule.last_value, rule.state) == (value, RuleState.FIRING)


def test_an_evaluation_that_finds_the_state_already_changed_notifies_nothing(project, dataset):
    """Two cycles racing: the loser sees the winner's state under the row lock."""
    budget = budget_create(project=project, name="b", dataset="costs", period="month", amount_usd=Decimal(10))
    store(dataset, [cost(NOW - timedelta(minutes=5), 6)])
    stale = Budget.objects.select_related("project").get(pk=budget.pk)
    alerts_evaluate(now=NOW)

    stale_status = budget_measure_many(budgets=[stale], now=NOW)[stale.pk]
    assert _budgets_apply([stale], {stale.pk: stale_status}, NOW) == 0
    assert AlertEvent.objects.filter(budget=budget).count() == 1


def test_a_budget_deleted_after_measuring_is_skipped_and_the_others_in_its_chunk_notify(project, dataset):
    gone = budget_create(project=project, name="gone", dataset="costs", period="month", amount_usd=Decimal(10))
    kept = budget_create(project=project, name="kept", dataset="costs", period="month", amount_usd=Decimal(10))
    store(dataset, [cost(NOW - timedelta(minutes=5), 6)])
    budgets = list(Budget.objects.select_related("project").prefetch_related("channels"))
    statuses = budget_measure_many(budgets=budgets, now=NOW)
    Budget.objects.filter(pk=gone.pk).delete()

    assert _budgets_apply(budgets, statuses, NOW) == 1
    assert list(AlertEvent.objects.values_list("budget_id", "threshold")) == [(kept.pk, Decimal(50))]
    kept.refresh_from_db()
    assert (kept.crossed, kept.period_key) == ([50], "2026-11")


@pytest.mark.django_db(transaction=True)
def test_a_channel_deleted_after_measuring_gets_no_delivery_and_the_others_do(project, dataset, webhook_channel, email_channel):
    """Committed for real: the outbox's foreign key to the channel is checked at COMMIT."""
    budget = budget_create(
        project=project, name="b", dataset="costs", period="month", amount_usd=Decimal(10),
        channel_ids=[webhook_channel.pk, email_channel.pk],
    )
    store(dataset, [cost(NOW - timedelta(minutes=5), 6)])
    budgets = list(Budget.objects.select_related("project").prefetch_related("channels"))
    statuses = budget_measure_many(budgets=budgets, now=NOW)
    webhook_channel.delete()

    assert _budgets_apply(budgets, statuses, NOW) == 1
    assert list(Delivery.objects.values_list("event__budget_id", "channel_id")) == [(budget.pk, email_channel.pk)]
    budget.refresh_from_db()
    assert budget.crossed == [50]


def test_each_notification_is_in_the_projects_audit_log_once_by_the_system(project, dataset):
    budget = budget_create(project=project, name="monthly", dataset="costs", period="month", amount_usd=Decimal(100))
    store(dataset, [cost(NOW - timedelta(minutes=5), 85)])
    for minutes in (0, 1):
        alerts_evaluate(now=NOW + timedelta(minutes=minutes))

    rows = AuditEvent.objects.filter(action=AuditAction.ALERTS_EVENT).order_by("target")
    assert [(r.project_id, r.project_slug, r.actor, r.target, r.details["type"]) for r in rows] == [
        (project.pk, project.slug, "system", f"budget:{budget.pk}:2026-11:0:{t}", "budget.threshold") for t in (50, 80)
    ]
    assert rows[0].details["text"] == f"[{project.slug}] Budget 'monthly' crossed 50%: $85 of $100 spent this month."
