"""The Cloudflare-shaped endpoint runs the seed's queries and every docs example unchanged."""

import datetime as dt
import json

import pytest
from django.test import Client

from projects.models import Project
from tests.factories import DatasetFactory, ProjectFactory, key_for
from tests.tracking.sql.conftest import ClickHouse, LoadedProject, SeedData
from tests.tracking.sql.examples import COMPLETE, DOC_DATASETS, GRAFANA_E10, SEED_QUERIES, Example, fragment_statements
from tests.tracking.sql.support import Point, chdb_table_load, clock_settle, points_insert, results_match, weather_points

ALL_EXAMPLES = COMPLETE + fragment_statements()


def cloudflare_post(client: Client, *, slug: str, key: str, body: str | bytes, content_type: str = "text/plain"):
    return client.post(
        f"/client/v4/accounts/{slug}/analytics_engine/sql",
        data=body,
        content_type=content_type,
        HTTP_AUTHORIZATION=f"Bearer {key}",
    )


def _docs_points(now: dt.datetime) -> list[Point]:
    points = weather_points(now=now, count=120, seed=99)
    historical = dt.datetime(2023, 3, 14, 10, 0, 30, tzinfo=dt.UTC)
    points += [
        Point(
            historical + dt.timedelta(hours=i * 7),
            "substitute_customer_id_here" if i % 2 else "x",
            ["/api/v1/items" if i % 3 else "/api/v1/orders"],
            [float(i), 0.1 + i / 100],
            1 + i % 3,
        )
        for i in range(12)
    ]
    return points


@pytest.fixture(scope="session")
def docs_points(seed_data: SeedData) -> list[Point]:
    return _docs_points(seed_data.now)


@pytest.fixture(scope="session")
def docs_clickhouse(chdb_engine: object, docs_points: list[Point]) -> ClickHouse:
    for name, labels in DOC_DATASETS.items():
        chdb_table_load(chdb_engine, database="docs", name=name, points=docs_points, labels=labels)
    return ClickHouse(chdb_engine, "docs")


@pytest.fixture
def docs_project(db: None, sql_partitions: None, docs_points: list[Point]) -> tuple[Project, str]:
    project = ProjectFactory()
    for name, labels in DOC_DATASETS.items():
        dataset = DatasetFactory(project=project, name=name, labels=labels)
        points_insert(dataset=dataset, points=docs_points)
    return project, key_for(project, "read").secret


@pytest.mark.parametrize("example", ALL_EXAMPLES, ids=[example.id for example in ALL_EXAMPLES])
def test_docs_example_runs_unchanged_and_matches_clickhouse(
    example: Example, client: Client, docs_project: tuple[Project, str], docs_clickhouse: ClickHouse
) -> None:
    project, key = docs_project
    clock_settle(example.sql)
    response = cloudflare_post(client, slug=project.slug, key=key, body=example.sql)
    assert response.status_code == 200, response.content.decode()
    if "FORMAT JSONEachRow" in example.sql:
        rows = [json.loads(line) for line in response.content.decode().splitlines()]
        assert len(rows) == 132
        assert set(rows[0]) >= {"dataset", "timestamp", "_sample_interval", "index1", "blob1", "double20"}
        return
    ours = json.loads(response.content)
    assert ours["rows"] == len(ours["data"])
    if example.clickhouse:
        statement = example.sql.strip().rstrip(";")
        theirs = docs_clickhouse.json(statement)
        assert results_match(ours, theirs, ordered=example.ordered) is None, results_match(
            ours, theirs, ordered=example.ordered
        )


def test_show_tables_lists_the_projects_datasets(client: Client, docs_project: tuple[Project, str]) -> None:
    project, key = docs_project
    for statement in ("SHOW TABLES", "SHOW TABLES FORMAT JSON"):
        response = cloudflare_post(client, slug=project.slug, key=key, body=statement)
        assert response.status_code == 200
        body = response.json()
        assert body["meta"] == [{"name": "name", "type": "String"}]
        assert [row["name"] for row in body["data"]] == sorted(DOC_DATASETS)


def test_show_timezone_is_etc_utc_and_timezones_lists_iana_names(
    client: Client, docs_project: tuple[Project, str]
) -> None:
    project, key = docs_project
    assert cloudflare_post(client, slug=project.slug, key=key, body="SHOW TIMEZONE").json()["data"] == [
        {"timezone": "Etc/UTC"}
    ]
    names = [
        row["name"] for row in cloudflare_post(client, slug=project.slug, key=key, body="SHOW TIMEZONES").json()["data"]
    ]
    assert {"Etc/UTC", "America/New_York", "Europe/Lisbon", "Asia/Tokyo"} <= set(names)
    assert names == sorted(names)
    tsv = cloudflare_post(client, slug=project.slug, key=key, body="SHOW TIMEZONE FORMAT TabSeparated")
    assert tsv.content == b"Etc/UTC\n"


def test_grafana_e10_runs_once_the_plugin_expands_its_macros(
    client: Client, docs_project: tuple[Project, str], docs_clickhouse: ClickHouse
) -> None:
    project, key = docs_project
    expanded = GRAFANA_E10.replace("$timeSeries", "(intDiv(toUInt32(timestamp), 60) * 60) * 1000").replace(
        "$timeFilter", "timestamp >= toDateTime(1600000000) AND timestamp <= toDateTime(4000000000)"
    )
    response = cloudflare_post(client, slug=project.slug, key=key, body=expanded)
    assert response.status_code == 200
    theirs = docs_clickhouse.json(expanded)
    assert results_match(response.json(), theirs, ordered=False) is None


def test_e15_filters_on_a_select_alias_in_where(client: Client, docs_project: tuple[Project, str]) -> None:
    project, key = docs_project
    example = next(e for e in COMPLETE if e.id == "E15")
    body = cloudflare_post(client, slug=project.slug, key=key, body=example.sql).json()
    assert body["meta"] == [
        {"name": "customer_id", "type": "String"},
        {"name": "request_endpoint", "type": "String"},
        {"name": "usage_count", "type": "UInt64"},
    ]
    assert sorted((row["request_endpoint"], row["usage_count"]) for row in body["data"]) == [
        ("/api/v1/items", "10"),
        ("/api/v1/orders", "2"),
    ]


def test_first_and_last_value_follow_the_order_by_as_the_docs_describe(
    client: Client, docs_project: tuple[Project, str], docs_points: list[Point]
) -> None:
    project, key = docs_project
    oldest = min(docs_points, key=lambda p: p.timestamp).blobs[0]
    for statement in (
        "SELECT first_value(blob1) FROM my_dataset ORDER BY timestamp ASC",
        "SELECT last_value(blob1) FROM my_dataset ORDER BY timestamp DESC",
    ):
        body = cloudflare_post(client, slug=project.slug, key=key, body=statement).json()
        assert body["data"][0][body["meta"][0]["name"]] == oldest


@pytest.mark.parametrize("name", sorted(SEED_QUERIES))
def test_seed_query_runs_unchanged_as_queryanalytics_posts_it(
    name: str, client: Client, loaded: LoadedProject, clickhouse: ClickHouse
) -> None:
    """queryAnalytics() sends JSON.stringify({query}) with Content-Type application/json."""
    key = key_for(loaded.project, "read").secret
    query = SEED_QUERIES[name]
    clock_settle(query)
    response = cloudflare_post(
        client, slug=loaded.project.slug, key=key, body=json.dumps({"query": query}), content_type="application/json"
    )
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("application/json")
    theirs = clickhouse.json(query)
    ordered = (
        "LIMIT" not in query
        and "request_count" not in query
        and "error_count DESC" not in query
        and "date DESC" not in query
    )
    assert results_match(response.json(), theirs, ordered=ordered) is None
    raw = cloudflare_post(client, slug=loaded.project.slug, key=key, body=query)
    assert raw.status_code == 200
    assert raw.json()["data"] == response.json()["data"]


def test_ae_only_examples_give_the_documented_results(client: Client, docs_project: tuple[Project, str]) -> None:
    project, key = docs_project

    def value(sql: str) -> object:
        body = cloudflare_post(client, slug=project.slug, key=key, body=sql).json()
        return [row["v"] for row in body["data"]]

    assert value("SELECT toStartOfWeek(toDateTime('2025-10-27 00:00:00')) AS v") == ["2025-10-27"]
    assert value("SELECT toStartOfWeek(toDateTime('2025-10-29 00:00:00')) AS v") == ["2025-10-27"]
    assert value("SELECT quantileWeighted(0.95, query_time, _sample_interval) AS v FROM my_dataset") == value(
        "SELECT quantileExactWeighted(0.95)(query_time, _sample_interval) AS v FROM my_dataset"
    )
    assert len(value("SELECT blob1 AS v FROM my_dataset LIMIT 10")) == 10
    assert len(value("SELECT blob1 AS v FROM my_dataset OFFSET 10")) == 122
    hottest = value("SELECT max(double1) AS v FROM my_dataset")[0]
    assert value("SELECT argMax(blob1, double1) AS v FROM my_dataset") == value(
        f"SELECT any(blob1) AS v FROM my_dataset WHERE double1 = {hottest}"
    )
