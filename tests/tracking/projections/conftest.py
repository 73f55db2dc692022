"""A dataset with two days of stored points, owners and members, and the API keys of each scope."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from projects.models import Project, Role
from tests.factories import DatasetFactory, MembershipFactory, UserFactory, key_for
from tests.tracking.reports.helpers import Point, points_store
from tracking.models import Dataset, Projection
from tracking.services import partitions_ensure

#: Noon two days ago: the points span two UTC days, so a backfill takes two steps of a day.
START = (datetime.now(tz=UTC) - timedelta(days=2)).replace(hour=12, minute=0, second=0, microsecond=0)


@pytest.fixture
def dataset(db: None, project: Project) -> Dataset:
    for day in range(3):
        partitions_ensure(today=(START + timedelta(days=day)).date())
    dataset = DatasetFactory(project=project, name="web", labels={"blob2": "path"})
    Projection.objects.filter(dataset=dataset).delete()  # the defaults are another suite's business
    return dataset


@pytest.fixture
def stored(dataset: Dataset) -> int:
    """36 requests, one an hour from START, the last at 23:00 yesterday."""
    points = [Point(START + timedelta(hours=i), ["GET", f"/p{i % 3}", "200"], [float(i), 1.0]) for i in range(36)]
    return points_store(dataset, points)


@pytest.fixture
def admin_key(project: Project) -> str:
    return key_for(project, "admin").secret


def member(project: Project, role: str) -> object:
    user = UserFactory()
    MembershipFactory(project=project, user=user, role=role)
    return user


@pytest.fixture
def owner(project: Project) -> object:
    return member(project, Role.OWNER)
