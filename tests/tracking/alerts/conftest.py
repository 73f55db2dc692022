"""Budgets and rules evaluated at a fixed "now", over points written through the real pipeline."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from projects.models import Project
from tests.factories import DatasetFactory
from tests.tracking.reports.helpers import Point, points_store
from tracking.alerts.models import Channel
from tracking.models import Dataset
from tracking.services import partitions_ensure

#: Early in a 30-day month, a little after six in the morning: ranges cross day, hour and minute edges.
NOW = datetime(2026, 11, 4, 6, 0, 30, 250_000, tzinfo=UTC)


@pytest.fixture
def dataset(db: None, project: Project) -> Dataset:
    for day in range(0, 10, 7):
        partitions_ensure(today=(NOW - timedelta(days=day)).date())
    partitions_ensure(today=datetime(2026, 10, 29, tzinfo=UTC).date())
    return DatasetFactory(project=project, name="costs")


def cost(at: datetime, amount: float, *, project_id: str = "proj-a", cost_type: str = "compute") -> Point:
    return Point(at, [project_id, cost_type, "cost"], [amount, 1])


def ai(at: datetime, model: str, tokens: int, usd: float) -> Point:
    return Point(at, ["ai-usage", model, "tokens"], [tokens, usd, 1])


def request(at: datetime, status: str, ms: float = 20.0, path: str = "/api") -> Point:
    return Point(at, ["GET", path, status, "production"], [ms, 1, 100])


def store(dataset: Dataset, points: list[Point]) -> None:
    points_store(dataset, points)


@pytest.fixture
def webhook_channel(project: Project) -> Channel:
    return Channel.objects.create(project=project, kind="webhook", url="https://hooks.example.com/x", secret="s" * 64)


@pytest.fixture
def email_channel(project: Project) -> Channel:
    return Channel.objects.create(project=project, kind="email", to=["ops@example.com"])
