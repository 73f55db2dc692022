"""POST /api/v1/sql (bound parameters, problem+json) and the auth rules of both SQL endpoints."""

import datetime as dt
import json
from dataclasses import replace

import pytest
from django.db import connection
from django.test import Client

from projects.services import api_key_revoke
from tests.factories import DatasetFactory, MembershipFactory, ProjectFactory, UserFactory, key_for
from tests.tracking.helpers import post_points
from tests.tracking.sql.conftest import ClickHouse, LoadedProject, SeedData
from tests.tracking.sql.support import chdb_table_load, clock_settle, results_match
from tracking.models import Dataset
from tracking.services import buffer_drain


def sql_post(client: Client, key: str, body: str | dict, content_type: str = "text/plain"):
    data = json.dumps(body) if isinstance(body, dict) else body
    if isinstance(body, dict):
        content_type = "application/json"
    return client.post("/api/v1/sql", data=data, content_type=content_type, HTTP_AUTHORIZATION=f"Bearer {key}")


def test_named_parameters_are_bound_by_type(client: Client, loaded: LoadedProject) -> None:
    key = key_for(loaded.project, "read").secret
    response = sql_post(
        client,
        key,
        {
            "query": "SELECT city, count() AS n FROM weather WHERE city = {city:String} AND _sample_interval >= {si:UInt32} "
            "AND timestamp >= {since:DateTime} AND temp > {t:Float64} GROUP BY city",
            "params": {"city": "Oslo", "si": 1, "since": "2000-01-01 00:00:00", "t": -100},
        },
    )
    assert response.status_code == 200, response.content
    assert response.json()["data"] == [{"city": "Oslo", "n": "48"}]


def test_a_parameter_value_is_data_never_sql(client: Client, loaded: LoadedProject) -> None:
    key = key_for(loaded.project, "read").secret
    response = sql_post(
        client,
        key,
        {
            "query": "SELECT count() AS n FROM weather WHERE city = {city:String}",
            "params": {"city": "Oslo' OR '1'='1"},
        },
    )
    assert response.json()["data"] == [{"n": "0"}]


def test_parameter_errors_are_problems_with_position(client: Client, loaded: LoadedProject) -> None:
    key = key_for(loaded.project, "read").secret
    missing = sql_post(client, key, {"query": "SELECT {n:UInt8} AS n", "params": {}})
    assert missing.status_code == 422
    assert missing.json()["detail"] == "Query parameter n has no value"
    wrong_type = sql_post(client, key, {"query": "SELECT {n:UInt8} AS n", "params": {"n": 300}})
    assert wrong_type.json()["detail"] == "Query parameter n is out of range for UInt8"
    text_for_int = sql_post(client, key, {"query": "SELECT {n:Int64} AS n", "params": {"n": "1; DROP"}})
    assert text_for_int.json()["detail"] == "Query parameter n must be an integer"


def test_query_errors_carry_line_and_column(client: Client, loaded: LoadedProject) -> None:
    key = key_for(loaded.project, "read").secret
    response = sql_post(client, key, "SELECT\n  city,\n  nosuchfn(temp)\nFROM weather")
    assert response.status_code == 422
    assert response["Content-Type"] == "application/problem+json"
    body = response.json()
    assert (body["code"], body["detail"], body["line"], body["column"]) == (
        "invalid_query",
        "Unknown or not allowed function: nosuchfn",
        3,
        3,
    )
    syntax = sql_post(client, key, "SELECT city FROM weather WHERE").json()
    assert syntax["detail"].startswith("Syntax error")
    assert syntax["line"] == 1


def test_cloudflare_errors_are_plain_text_input_was_invalid(client: Client, loaded: LoadedProject) -> None:
    key = key_for(loaded.project, "read").secret
    response = client.post(
        f"/client/v4/accounts/{loaded.project.slug}/analytics_engine/sql",
        data="SELECT uniqCombined(blob1) FROM weather",
        content_type="text/plain",
        HTTP_AUTHORIZATION=f"Bearer {key}",
    )
    assert response.status_code == 422
    assert response["Content-Type"] == "text/plain; charset=utf-8"
    assert response.content == b"Input was invalid: Unknown or not allowed function: uniqCombined (line 1, column 8)"


def test_json_body_without_query_is_refused(client: Client, loaded: LoadedProject) -> None:
    key = key_for(loaded.project, "read").secret
    assert sql_post(client, key, {"sql": "SELECT 1"}).status_code == 400
    cloudflare = client.post(
        f"/client/v4/accounts/{loaded.project.slug}/analytics_engine/sql",
        data='{"sql": 1}',
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {key}",
    )
    assert cloudflare.status_code == 422
    assert cloudflare.content == b'Input was invalid: A JSON body must be an object with a "query" string'


@pytest.mark.parametrize("path", ["/client/v4/accounts/{slug}/analytics_engine/sql", "/api/v1/sql"])
def test_missing_or_invalid_key_is_401(path: str, client: Client, loaded: LoadedProject) -> None:
    url = path.format(slug=loaded.project.slug)
    assert client.post(url, data="SELECT 1", content_type="text/plain").status_code in (401, 403)
    invalid = client.post(url, data="SELECT 1", content_type="text/plain", HTTP_AUTHORIZATION="Bearer not-a-key")
    assert invalid.status_code == 401


def test_cloudflare_auth_errors_use_the_cloudflare_envelope(client: Client, loaded: LoadedProject) -> None:
    url = f"/client/v4/accounts/{loaded.project.slug}/analytics_engine/sql"
    response = client.post(url, data="SELECT 1", content_type="text/plain", HTTP_AUTHORIZATION="Bearer not-a-key")
    assert response.status_code == 401
    assert response.json() == {
        "success": False,
        "errors": [{"code": 10000, "message": "Invalid API key."}],
        "messages": [],
        "result": None,
    }


def test_write_only_key_cannot_query(client: Client, loaded: LoadedProject) -> None:
    key = key_for(loaded.project, "write").secret
    cloudflare = client.post(
        f"/client/v4/accounts/{loaded.project.slug}/analytics_engine/sql",
        data="SELECT 1",
        content_type="text/plain",
        HTTP_AUTHORIZATION=f"Bearer {key}",
    )
    assert cloudflare.status_code == 403
    assert cloudflare.json()["errors"][0]["message"] == "This API key lacks the 'read' scope."
    assert sql_post(client, key, "SELECT 1").status_code == 403


def test_key_of_another_project_gets_403_for_this_account(client: Client, loaded: LoadedProject) -> None:
    other = ProjectFactory()
    DatasetFactory(project=other, name="weather")
    key = key_for(other, "read").secret
    response = client.post(
        f"/client/v4/accounts/{loaded.project.slug}/analytics_engine/sql",
        data="SELECT count() FROM weather",
        content_type="text/plain",
        HTTP_AUTHORIZATION=f"Bearer {key}",
    )
    assert response.status_code == 403
    assert response.json()["errors"][0]["message"] == "This API key belongs to another project."


def test_revoked_key_is_refused(client: Client, loaded: LoadedProject) -> None:
    issued = key_for(loaded.project, "read")
    api_key_revoke(api_key=issued.api_key)
    assert sql_post(client, issued.secret, "SELECT 1").status_code == 401


@pytest.mark.parametrize(
    ("fmt", "content_type", "body"),
    [
        ("TabSeparated", "text/tab-separated-values; charset=UTF-8", b"1\tx\n"),
        ("CSV", "text/csv; charset=UTF-8; header=absent", b'1,"x"\n'),
        ("JSONEachRow", "application/x-ndjson; charset=UTF-8", b'{"n":1,"s":"x"}\n'),
    ],
)
def test_format_clause_sets_body_and_content_type(
    fmt: str, content_type: str, body: bytes, client: Client, loaded: LoadedProject
) -> None:
    key = key_for(loaded.project, "read").secret
    response = sql_post(client, key, f"SELECT 1 AS n, 'x' AS s FORMAT {fmt}")
    assert (response.status_code, response["Content-Type"], response.content) == (200, content_type, body)


def test_json_output_has_clickhouse_shape_and_encoding(client: Client, loaded: LoadedProject) -> None:
    key = key_for(loaded.project, "read").secret
    body = sql_post(
        client,
        key,
        "SELECT count() AS n, toDateTime('2025-10-27 09:05:03') AS t, 1.5 AS f, 7 AS small FROM weather LIMIT 1",
    ).json()
    assert body["meta"] == [
        {"name": "n", "type": "UInt64"},
        {"name": "t", "type": "DateTime"},
        {"name": "f", "type": "Float64"},
        {"name": "small", "type": "UInt8"},
    ]
    assert body["data"] == [{"n": "240", "t": "2025-10-27 09:05:03", "f": 1.5, "small": 7}]
    assert (body["rows"], body["rows_before_limit_at_least"]) == (1, 1)
    limited = sql_post(client, key, "SELECT index1 FROM weather ORDER BY index1 LIMIT 3").json()
    assert (limited["rows"], limited["rows_before_limit_at_least"]) == (3, 240)


@pytest.mark.parametrize(
    "order",
    [
        "n DESC, blob1",
        "n > 3 DESC, length(blob1) DESC, 1",
        "avg(double1) DESC, blob1 DESC",
        "2, blob1",
    ],
)
def test_a_grouped_limit_returns_the_first_groups_of_the_unlimited_order_and_counts_them_all(
    order: str, client: Client, loaded: LoadedProject
) -> None:
    """Top groups are sorted over a subquery of the groups (``Compiler._sorted_groups``): the same rows as the head of
    the query without LIMIT, whether the ORDER BY names an output, an expression of one, or neither."""
    key = key_for(loaded.project, "read").secret
    query = f"SELECT blob1, count() AS n FROM weather GROUP BY blob1 ORDER BY {order}"

    everything = sql_post(client, key, query).json()
    limited = sql_post(client, key, f"{query} LIMIT 2").json()

    assert everything["rows"] > 2
    assert limited["data"] == everything["data"][:2]
    assert (limited["rows"], limited["rows_before_limit_at_least"]) == (2, everything["rows"])


@pytest.mark.django_db(transaction=True)
def test_points_written_through_the_ingest_api_answer_like_clickhouse(
    client: Client, partitions: None, seed_data: SeedData, chdb_engine: object
) -> None:
    """End to end: the seed's events POSTed with a write key, drained, then queried with a read key."""
    project = ProjectFactory()
    write, read = key_for(project, "write").secret, key_for(project, "read").secret
    now = dt.datetime.now(dt.UTC)
    points = [replace(p, sample_interval=1) for p in seed_data.analytics if p.timestamp > now - dt.timedelta(hours=20)]
    body = [
        {
            "blobs": p.blobs,
            "doubles": [d if d is not None else 0 for d in p.doubles],
            "indexes": [p.index1],
            "timestamp": p.timestamp.isoformat().replace("+00:00", "Z"),
        }
        for p in points
    ]
    assert post_points(client, write, "meauxcloud_analytics", body).status_code in (200, 202)
    while buffer_drain(time_budget=5, block_ms=10).points:
        pass
    dataset = Dataset.objects.get(project=project, name="meauxcloud_analytics")
    try:
        _compare_ingested(client, project.slug, read, points, chdb_engine)
    finally:
        with connection.cursor() as cursor:
            cursor.execute("DELETE FROM tracking_datapoint WHERE dataset_id = %s", [dataset.id])


def _compare_ingested(client: Client, slug: str, read: str, points: list, chdb_engine: object) -> None:
    chdb_table_load(chdb_engine, database="ingest", name="meauxcloud_analytics", points=points, labels={})
    clickhouse = ClickHouse(chdb_engine, "ingest")
    for query in (
        "SELECT blob1 AS kind, count() AS n, sum(double1) AS s, max(timestamp) AS latest FROM meauxcloud_analytics GROUP BY kind",
        "SELECT blob2 as path, SUM(double2) as request_count, AVG(double1) as avg_duration_ms FROM meauxcloud_analytics "
        "WHERE timestamp > NOW() - INTERVAL '24' HOUR AND blob1 = 'GET' GROUP BY path ORDER BY request_count DESC, path LIMIT 10",
        "SELECT toStartOfHour(timestamp) AS h, countIf(blob3 LIKE '5%') AS e FROM meauxcloud_analytics GROUP BY h ORDER BY h",
    ):
        clock_settle(query)
        response = client.post(
            f"/client/v4/accounts/{slug}/analytics_engine/sql",
            data=query,
            content_type="text/plain",
            HTTP_AUTHORIZATION=f"Bearer {read}",
        )
        assert response.status_code == 200, response.content
        assert results_match(response.json(), clickhouse.json(query), ordered="ORDER BY" in query) is None


def test_curl_data_body_with_form_content_type_is_raw_sql(client: Client, loaded: LoadedProject) -> None:
    """`curl --data "SELECT ..."` (docs E2, E47) sends application/x-www-form-urlencoded; the body is still SQL."""
    key = key_for(loaded.project, "read").secret
    response = client.post(
        f"/client/v4/accounts/{loaded.project.slug}/analytics_engine/sql",
        data="SELECT count() AS n FROM weather WHERE city LIKE 'O%' AND temp > -100",
        content_type="application/x-www-form-urlencoded",
        HTTP_AUTHORIZATION=f"Bearer {key}",
    )
    assert response.status_code == 200
    assert response.json()["data"] == [{"n": "48"}]


def test_scalar_subquery_with_several_rows_is_an_error_as_in_clickhouse(client: Client, loaded: LoadedProject) -> None:
    key = key_for(loaded.project, "read").secret
    response = sql_post(client, key, "SELECT (SELECT city FROM weather) AS c")
    assert (response.status_code, response.json()["detail"]) == (422, "A scalar subquery returned more than one row")
    empty = sql_post(client, key, "SELECT (SELECT city FROM weather WHERE temp > 1000) AS c").json()
    assert empty["data"] == [{"c": ""}]


def test_project_members_can_query_with_their_session(client: Client, loaded: LoadedProject) -> None:
    member = MembershipFactory(project=loaded.project).user
    client.force_login(member)
    url = f"/api/v1/sql?project={loaded.project.slug}"
    response = client.post(url, data="SELECT count() AS n FROM weather", content_type="text/plain")
    assert (response.status_code, response.json()["data"]) == (200, [{"n": "240"}])
    client.force_login(UserFactory())
    assert client.post(url, data="SELECT 1", content_type="text/plain").status_code == 404


def test_body_over_the_upload_limit_is_a_client_error(client: Client, loaded: LoadedProject) -> None:
    key = key_for(loaded.project, "read").secret
    huge = "SELECT 1 WHERE 1 IN (" + ",".join(["1"] * 1_500_000) + ")"
    cloudflare = client.post(
        f"/client/v4/accounts/{loaded.project.slug}/analytics_engine/sql",
        data=huge,
        content_type="text/plain",
        HTTP_AUTHORIZATION=f"Bearer {key}",
    )
    assert (cloudflare.status_code, cloudflare.content) == (422, b"Input was invalid: Query is longer than 65536 bytes")
    native = client.post("/api/v1/sql", data=huge, content_type="text/plain", HTTP_AUTHORIZATION=f"Bearer {key}")
    assert (native.status_code, native.json()["code"]) == (413, "body_too_large")


@pytest.mark.parametrize(
    ("sql", "detail"),
    [
        (
            "SELECT length(arrayMap(x -> a, a)) FROM (SELECT groupArray(city) AS a FROM weather)",
            "The body of arrayMap cannot read or return an array (a is Array(String)): "
            "it may use its parameter x and numbers, strings or tuples",
        ),
        (
            "SELECT a FROM (SELECT groupArray(city) AS a, max(timestamp) AS t FROM weather) "
            "ORDER BY length(arrayMap(x -> runningDifference(t), a))",
            "runningDifference(t) inside arrayMap is supported only in the SELECT list, not in ORDER BY",
        ),
    ],
)
def test_unsupported_array_map_forms_are_problems_naming_them(
    sql: str, detail: str, client: Client, loaded: LoadedProject
) -> None:
    response = sql_post(client, key_for(loaded.project, "read").secret, sql)
    assert (response.status_code, response.json()["detail"]) == (422, detail)
