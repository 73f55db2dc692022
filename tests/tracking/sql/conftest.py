"""Fixtures of the SQL API tests: one data set, loaded into chdb once and into PostgreSQL per test."""

import datetime as dt
import json
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from projects.models import Project
from tests.factories import DatasetFactory, ProjectFactory
from tests.tracking.sql.support import Point, chdb_table_load, points_insert, seed_points, weather_points
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


class ClickHouse:
    """One database of the shared in-process ClickHouse; chdb has a single engine per process."""

    def __init__(self, engine: object, database: str) -> None:
        self.engine = engine
        self.database = database

    def raw(self, sql: str) -> str:
        self.engine.query(f"USE {self.database}")
        return str(self.engine.query(f"{sql}\nSETTINGS output_format_json_quote_64bit_integers=1"))

    def json(self, sql: str) -> dict:
        self.engine.query(f"USE {self.database}")
        return json.loads(
            str(self.engine.query(f"{sql}\nFORMAT JSON SETTINGS output_format_json_quote_64bit_integers=1"))
        )


@pytest.fixture(scope="session")
def chdb_engine() -> Iterator[object]:
    from chdb import session

    engine = session.Session()
    yield engine
    engine.close()


@pytest.fixture(scope="session")
def clickhouse(chdb_engine: object, seed_data: SeedData) -> ClickHouse:
    """An in-process ClickHouse (chdb) holding exactly the points PostgreSQL gets."""
    chdb_table_load(
        chdb_engine, database="main", name="meauxcloud_analytics", points=seed_data.analytics, labels=ANALYTICS_LABELS
    )
    chdb_table_load(chdb_engine, database="main", name="weather", points=seed_data.weather, labels=WEATHER_LABELS)
    return ClickHouse(chdb_engine, "main")


@pytest.fixture(scope="session")
def sql_partitions(django_db_setup: None, django_db_blocker: object, seed_data: SeedData) -> None:
    """Create the daily partitions the test points need once, outside the per-test transactions."""
    from tests.tracking.sql.support import partitions_for

    historical = Point(dt.datetime(2023, 3, 14, tzinfo=dt.UTC), "")
    days = [Point(seed_data.now - dt.timedelta(days=offset), "") for offset in range(-2, 13)]
    with django_db_blocker.unblock():
        partitions_for(
            days + [historical] + [Point(historical.timestamp + dt.timedelta(days=d), "") for d in range(1, 6)]
        )


@pytest.fixture
def loaded(db: None, sql_partitions: None, seed_data: SeedData) -> LoadedProject:
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
    points_insert(
        dataset=secret, points=[Point(seed_data.now - dt.timedelta(minutes=5), "secret", ["TOP-SECRET"], [42.0])]
    )
    return LoadedProject(project=project, analytics=analytics, weather=weather)
