"""Fixtures of the SQL API tests: one data set, loaded into chdb once and into PostgreSQL per test."""

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from projects.models import Project
from tests.factories import DatasetFactory, ProjectFactory
from tests.sql.support import Point, chdb_table_load, points_insert, seed_points, weather_points
from tracking.models import Dataset

ANALYTICS_LABELS = {"blob2": "path", "double1": "duration_ms"}
WEATHER_LABELS = {"blob1": "city", "double1": "temp", "double2": "humidity", "blob4": "unit"}


@dataclass(frozen=True)
class SeedData:
    now: dt.datetime
    analytics: list[Point]
    weather: list[Point]


@dataclass(frozen=True)
class LoadedProject:
    project: Project
    analytics: Dataset
    weather: Dataset


@pytest.fixture(scope="session")
def seed_data() -> SeedData:
    now = dt.datetime.now(dt.UTC)
    return SeedData(now=now, analytics=seed_points(now=now), weather=weather_points(now=now))


@pytest.fixture(scope="session")
def clickhouse(seed_data: SeedData) -> Iterator[object]:
    """An in-process ClickHouse (chdb) holding exactly the points PostgreSQL gets."""
    from chdb import session

    ch = session.Session()
    chdb_table_load(ch, name="meauxcloud_analytics", points=seed_data.analytics, labels=ANALYTICS_LABELS)
    chdb_table_load(ch, name="weather", points=seed_data.weather, labels=WEATHER_LABELS)
    yield ch
    ch.close()


@pytest.fixture
def loaded(db: None, seed_data: SeedData) -> LoadedProject:
    """A project with both datasets, plus a second project whose rows must never show up."""
    project = ProjectFactory()
    analytics = DatasetFactory(project=project, name="meauxcloud_analytics", labels=ANALYTICS_LABELS)
    weather = DatasetFactory(project=project, name="weather", labels=WEATHER_LABELS)
    points_insert(dataset=analytics, points=seed_data.analytics)
    points_insert(dataset=weather, points=seed_data.weather)
    intruder = ProjectFactory()
    foreign = DatasetFactory(project=intruder, name="weather", labels=WEATHER_LABELS)
    points_insert(dataset=foreign, points=seed_data.weather[:25])
    secret = DatasetFactory(project=intruder, name="secrets")
    points_insert(dataset=secret, points=[Point(seed_data.now - dt.timedelta(minutes=5), "secret", ["TOP-SECRET"], [42.0])])
    return LoadedProject(project=project, analytics=analytics, weather=weather)
