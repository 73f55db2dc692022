"""One evaluation cycle of 1,000 budgets and 1,000 alert rules over 100 projects.

Each project has one dataset with 3,000 points over the last 30 days (requests, cost and
AI usage), 10 budgets (calendar month, day and rolling 7 days; cost, a cost type, a
project id or an AI model) and 10 rules (5xx and 4xx rate, p95/p99, volume, error
events, AI tokens and cost, cost over 5 min to 24 h windows). Measured, median of 5
cycles each:

- the first cycle (thresholds crossed: events and outbox rows written) — once;
- a steady cycle (nothing new to notify: reads, state checks, status cache);
- the baseline, in the same run: the same reads one budget and one rule at a time, with
  no reads shared between those on one dataset and range.

The points go into a database of this benchmark's own (``meauxcloud_bench_alerts``).
Run: ``python -m bench.alerts`` (``--projects`` to scale). Results: var/bench/alerts.json.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import time
from datetime import datetime, timedelta
from decimal import Decimal

from bench.env import OUT, django_setup, migrate, report_stamp

DATABASE = "meauxcloud_bench_alerts"
PREFIX = "bench-alerts-"
POINTS_PER_DATASET = 3_000
CYCLES = 5
TARGET_S = 5.0
BUDGETS = [
    {"period": "month", "amount_usd": Decimal(100)},
    {"period": "month", "amount_usd": Decimal(20), "cost_type": "compute"},
    {"period": "month", "amount_usd": Decimal(30), "cost_project": "proj-a"},
    {"period": "month", "amount_usd": Decimal(5), "model": "gpt-4o"},
    {"period": "day", "amount_usd": Decimal(10)},
    {"period": "day", "amount_usd": Decimal(2), "model": "llama-3"},
    {"period": "rolling", "rolling_days": 7, "amount_usd": Decimal(50)},
    {"period": "rolling", "rolling_days": 7, "amount_usd": Decimal(10), "cost_type": "storage"},
    {"period": "month", "amount_usd": Decimal(1000), "forecast": True},
    {"period": "day", "amount_usd": Decimal(1000), "forecast": True},
]
RULES = [
    {"metric": "5xx_rate", "window_minutes": 5, "threshold": Decimal("0.05"), "min_requests": 10},
    {"metric": "4xx_rate", "window_minutes": 60, "threshold": Decimal("0.2")},
    {"metric": "p95_ms", "window_minutes": 5, "threshold": Decimal(250)},
    {"metric": "p99_ms", "window_minutes": 60, "threshold": Decimal(900)},
    {"metric": "requests", "window_minutes": 60, "op": "<", "threshold": Decimal(5)},
    {"metric": "error_events", "window_minutes": 60, "threshold": Decimal(3)},
    {"metric": "ai_tokens", "window_minutes": 1440, "threshold": Decimal(100_000)},
    {"metric": "ai_cost_usd", "window_minutes": 1440, "threshold": Decimal(1)},
    {"metric": "cost_usd", "window_minutes": 1440, "threshold": Decimal(2)},
    {"metric": "5xx_rate", "window_minutes": 1440, "threshold": Decimal("0.3"), "min_requests": 100},
]


def _rows(dataset_id: int, now: datetime, rng: random.Random) -> list[list[object]]:
    rows: list[list[object]] = []
    for i in range(POINTS_PER_DATASET):
        # Half the points in the last day, so short windows and day budgets have data.
        age = rng.uniform(0, 86_400) if i % 2 else rng.uniform(0, 30 * 86_400)
        moment = now - timedelta(seconds=age)
        choice = rng.random()
        if choice < 0.7:
            blobs = [rng.choice(["GET", "POST"]), rng.choice(["/", "/api", "/login"]), rng.choice(["200"] * 8 + ["404", "500"]), "prod"]
            doubles = [rng.lognormvariate(4, 1), 1.0, 1024.0]
        elif choice < 0.85:
            blobs = [rng.choice(["proj-a", "proj-b"]), rng.choice(["compute", "storage"]), "cost", ""]
            doubles = [round(rng.uniform(0, 0.2), 6), 1.0, 0.0]
        elif choice < 0.95:
            tokens = float(rng.randint(10, 3000))
            blobs = ["ai-usage", rng.choice(["gpt-4o", "llama-3"]), "tokens", ""]
            doubles = [tokens, tokens * 0.000002, 1.0]
        else:
            blobs = ["error", rng.choice(["Timeout", "TypeError"]), "/api", ""]
            doubles = [1.0, 0.0, 0.0]
        rows.append([dataset_id, moment, f"p{i}", None, *blobs, *doubles])
    return rows


def _data_ensure(projects: int, now: datetime) -> float:
    """Projects, datasets, points, budgets and rules, unless a previous run left them."""
    from django.db import transaction

    from projects.models import Project
    from projects.services import project_create
    from tracking import db
    from tracking.alerts.models import AlertEvent, AlertRule, Budget, Delivery
    from tracking.rollups import services as rollups
    from tracking.services import dataset_get_or_create, partitions_ensure

    started = time.perf_counter()
    for day in range(0, 32, 2):
        partitions_ensure(today=(now - timedelta(days=day)).date(), days_ahead=1)
    rng = random.Random(11)
    for n in range(projects):
        slug = f"{PREFIX}{n:03}"
        if Project.objects.filter(slug=slug).exists():
            continue
        project = project_create(slug=slug)
        dataset = dataset_get_or_create(project=project, name="app")
        rows = _rows(dataset.id, now, rng)
        with transaction.atomic():
            db.datapoint_copy(rows=rows, blob_count=4, double_count=3)
            rollups.rollups_apply(rows=rows, blob_count=4, double_count=3)
    # Budgets and rules start fresh each run, so the first cycle always notifies.
    AlertEvent.objects.filter(project__slug__startswith=PREFIX).delete()
    Delivery.objects.filter(event__project__slug__startswith=PREFIX).delete()
    Budget.objects.filter(project__slug__startswith=PREFIX).delete()
    AlertRule.objects.filter(project__slug__startswith=PREFIX).delete()
    budgets, rules = [], []
    for project in Project.objects.filter(slug__startswith=PREFIX).order_by("slug")[:projects]:
        for i, spec in enumerate(BUDGETS):
            budgets.append(Budget(project=project, name=f"b{i}", dataset="app", thresholds=[50, 80, 100], **spec))
        for i, spec in enumerate(RULES):
            rules.append(AlertRule(project=project, name=f"r{i}", dataset="app", **spec))
    Budget.objects.bulk_create(budgets)
    AlertRule.objects.bulk_create(rules)
    return time.perf_counter() - started


def _baseline() -> float:
    """The same reads without sharing: one budget and one rule at a time."""
    from django.utils import timezone

    from tracking.alerts.models import AlertRule, Budget
    from tracking.alerts.selectors import budget_measure_many, rule_measure_many

    now = timezone.now()
    started = time.perf_counter()
    for budget in Budget.objects.select_related("project"):
        budget_measure_many(budgets=[budget], now=now)
    for rule in AlertRule.objects.select_related("project"):
        rule_measure_many(rules=[rule], now=now)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--projects", type=int, default=100)
    args = parser.parse_args()
    django_setup(DATABASE)
    migrate()
    from django.db import connection
    from django.utils import timezone

    from tracking.alerts.models import AlertEvent, AlertRule, Budget
    from tracking.alerts.services import alerts_evaluate

    setup_s = _data_ensure(args.projects, timezone.now())
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    budgets, rules = Budget.objects.count(), AlertRule.objects.count()
    started = time.perf_counter()
    first = alerts_evaluate()
    first_s = time.perf_counter() - started
    events = AlertEvent.objects.count()
    steady, baseline, steady_events = [], [], []
    for _ in range(CYCLES):
        started = time.perf_counter()
        # Only rules whose short windows moved past a change notify here (a resolve or a firing).
        steady_events.append(alerts_evaluate().events)
        steady.append(time.perf_counter() - started)
        baseline.append(_baseline())
    report = {
        **report_stamp(),
        "projects": args.projects,
        "budgets": budgets,
        "rules": rules,
        "points": args.projects * POINTS_PER_DATASET,
        "setup_s": round(setup_s, 1),
        "first_cycle_s": round(first_s, 2),
        "first_cycle_events": events,
        "steady_cycle_median_s": round(statistics.median(steady), 2),
        "steady_cycle_events": steady_events,
        "baseline_unshared_reads_median_s": round(statistics.median(baseline), 2),
        "steady_vs_baseline": round(statistics.median(steady) / statistics.median(baseline), 2),
        "target_s": TARGET_S,
        "met": max(first_s, statistics.median(steady)) <= TARGET_S,
    }
    assert first.events == events
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "alerts.json").write_text(json.dumps(report, indent=2))
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
