"""A dataset holding every event kind of the seed's schema, spread over four days."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from projects.models import Project
from tests.factories import DatasetFactory
from tests.tracking.reports.helpers import Point, points_store
from tracking.models import Dataset

#: A fixed "now" a little after midnight, so ranges cross day, hour and minute edges.
NOW = datetime.now(tz=UTC).replace(hour=0, minute=7, second=31, microsecond=250_000)
PATHS = ["/", "/api/users", "/api/orders", "/health"]
STATUSES = ["200", "200", "200", "201", "304", "404", "500", "503"]


def mixed_points(*, now: datetime, count: int, days: float, seed: int = 7) -> list[Point]:
    """Requests, costs, AI usage, errors, user events, resources and unclassified points."""
    rng = random.Random(seed)
    points = []
    for i in range(count):
        at = now - timedelta(seconds=rng.uniform(0, days * 86_400))
        choice = rng.random()
        if choice < 0.55:
            doubles = [round(rng.lognormvariate(4, 1), 3), 1, rng.randint(100, 50_000)]
            if i % 17 == 0:
                doubles = []
            point = Point(at, [rng.choice(["GET", "GET", "POST", "DELETE"]), rng.choice(PATHS), rng.choice(STATUSES), "production"], doubles, f"ray-{i}")
        elif choice < 0.65:
            point = Point(at, [rng.choice(["proj-a", "proj-b"]), rng.choice(["time", "ai", "compute"]), "cost"], [round(rng.uniform(0, 0.3), 6), 1])
        elif choice < 0.75:
            tokens = rng.randint(10, 4000)
            point = Point(at, ["ai-usage", rng.choice(["gpt-4o", "llama-3"]), "tokens"], [tokens, tokens * 0.0000021, 1])
        elif choice < 0.85:
            point = Point(at, ["error", rng.choice(["TypeError", "Timeout"]), rng.choice(PATHS)], [1])
        elif choice < 0.92:
            point = Point(at, ["user-event", rng.choice(["login", "signup"]), f"user-{rng.randint(1, 9)}"], [1])
        elif choice < 0.97:
            point = Point(at, ["resource", rng.choice(["cpu_ms", "kv_reads"]), "proj-a"], [rng.uniform(0, 90), 1])
        else:
            point = Point(at, [rng.choice(["get", "hello", None])], [rng.uniform(0, 5)])
        points.append(point)
    # Edge cases of classification: the cost marker wins over a method and over other markers.
    points.append(Point(now - timedelta(hours=2), ["GET", "time", "cost"], [0.5, 1]))
    points.append(Point(now - timedelta(hours=3), ["ai-usage", "gpt-4o", "cost"], [0.25, 1]))
    return points


@pytest.fixture
def mixed_dataset(db: None, project: Project) -> Dataset:
    dataset = DatasetFactory(project=project, name="meauxcloud_analytics")
    points_store(dataset, mixed_points(now=NOW, count=900, days=4))
    dataset.refresh_from_db()
    return dataset
