"""Regression tests of the outside attack run (issue 14): every finding answers a 2xx or a 4xx problem+json."""

import gzip
import io
import json

import pytest
from django.test import Client

from tests.tracking.helpers import post_points, stored_rows
from tracking.models import Dataset
from tracking.services import buffer_drain

pytestmark = pytest.mark.django_db


def _sql(client: Client, key: str, query: str, params: object = None):
    if params is None:
        return client.post("/api/v1/sql", data=query.encode(), content_type="text/plain", HTTP_AUTHORIZATION=f"Bearer {key}")
    return _sql_json(client, key, json.dumps({"query": query, "params": params}).encode())


def _sql_json(client: Client, key: str, body: bytes):
    return client.post("/api/v1/sql", data=body, content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {key}")


def _problem(response) -> dict:
    assert response["Content-Type"] == "application/problem+json", response.content[:300]
    return response.json()


@pytest.fixture
def web(project) -> Dataset:
    return Dataset.objects.get_or_create(project=project, name="web")[0]


@pytest.mark.parametrize(
    "query,params,detail",
    [
        ("SELECT toDateTime('0001-01-01 00:00:00', 'Asia/Tokyo') AS t", None,
         "Date/time value out of range: results can hold years 0001 to 9999"),
        ("SELECT {f:Float64} AS f", {"f": 10**400}, "Query parameter f is out of range for Float64"),
        ("SELECT {c:Identifier} FROM web", {"c": "blob1"}, "Query parameter type Identifier is not supported"),
        ("SELECT {s:String} AS s", {"s": "\ud800"}, "Query parameter s must be UTF-8 text without NUL characters"),
        ("SELECT {s:String} AS s", {"s": "a\x00b"}, "Query parameter s must be UTF-8 text without NUL characters"),
        ("SELECT 18446744073709551615 + 1 AS x", None, "Numeric value out of range"),
        ("SELECT 18446744073709551615 * 2 AS x", None, "Numeric value out of range"),
        ("SELECT now() - INTERVAL '1 day; SELECT 1' DAY", None,
         "INTERVAL '1 day; SELECT 1' is not an amount with an optional unit, such as '1' or '1 day'"),
        ("SELECT toStartOfInterval(now(), INTERVAL '1 day; SELECT 1')", None,
         "INTERVAL '1 day; SELECT 1' is not an amount with an optional unit, such as '1' or '1 day'"),
    ],
)
def test_sql_finding_is_a_422_naming_the_problem(client: Client, web, read_key: str, query: str, params, detail: str) -> None:
    response = _sql(client, read_key, query, params)

    assert (response.status_code, _problem(response)["detail"]) == (422, detail)


def test_years_0001_and_9999_format_with_four_digits_in_any_zone(client: Client, web, read_key: str) -> None:
    response = _sql(client, read_key, "SELECT toDateTime('0001-01-01 12:00:00') AS a, "
                    "toDateTime('9999-12-31 23:59:59', 'Asia/Tokyo') AS b, toDateTime('9999-12-31 10:00:00', 'America/New_York') AS c")

    assert response.status_code == 200, response.content
    assert response.json()["data"] == [{"a": "0001-01-01 12:00:00", "b": "9999-12-31 23:59:59", "c": "9999-12-31 10:00:00"}]


def test_date_parameters_bind_as_documented(client: Client, web, read_key: str) -> None:
    response = _sql(client, read_key, "SELECT {d:Date} AS d, {d:Date} + 1 AS next", {"d": "2026-02-28"})

    assert response.status_code == 200, response.content
    assert response.json()["data"] == [{"d": "2026-02-28", "next": "2026-03-01"}]


def test_uint64_max_itself_is_still_returned(client: Client, web, read_key: str) -> None:
    response = _sql(client, read_key, "SELECT 18446744073709551615 AS x, 18446744073709551614 + 1 AS y")

    assert response.json()["data"] == [{"x": "18446744073709551615", "y": "18446744073709551615"}]


def test_a_lone_surrogate_in_a_json_query_is_a_400(client: Client, web, read_key: str) -> None:
    response = _sql_json(client, read_key, b'{"query": "SELECT \'\\ud800\' AS s"}')

    assert (response.status_code, _problem(response)["code"]) == (400, "malformed_body")
    assert "lone surrogate" in response.json()["detail"]


def test_a_parameter_nested_100000_levels_deep_is_a_400(client: Client, web, read_key: str) -> None:
    body = b'{"query": "SELECT {p:String} AS p", "params": {"p": ' + b"[" * 100_000 + b"]" * 100_000 + b"}}"

    response = _sql_json(client, read_key, body)

    assert (response.status_code, _problem(response)["detail"]) == (400, "The JSON body nests too deeply")


@pytest.mark.parametrize(
    "body,content_type,errors",
    [
        (b'{"blobs": ["a\xffb"]}', "application/json", [{"index": 0, "code": "invalid_utf8", "detail": "Point is not valid UTF-8."}]),
        (b'{"blobs": ["\xc0\xaf"]}', "application/json", [{"index": 0, "code": "invalid_utf8", "detail": "Point is not valid UTF-8."}]),
        (b'{"blobs": ["\xe9"]}\n', "application/x-ndjson", [{"index": 0, "code": "invalid_utf8", "detail": "Line is not valid UTF-8."}]),
    ],
)
def test_invalid_utf8_rejects_the_point_with_a_400(client: Client, write_key: str, partitions, body, content_type, errors) -> None:
    response = post_points(client, write_key, "web", body, content_type=content_type)

    assert (response.status_code, _problem(response)["errors"]) == (400, errors)


def test_a_bad_point_in_a_json_array_rejects_only_that_point(client: Client, project, write_key: str, partitions) -> None:
    body = b'[{"blobs": ["a"]}, {"doubles": [NaN]}, {"blobs": ["\xff"]}, {"blobs": ["\\ud800"]}, {"blobs": ["d"]}]'

    response = post_points(client, write_key, "web", body)
    buffer_drain(time_budget=5, block_ms=10)

    assert response.status_code == 202, response.content
    assert response.json() == {
        "accepted": 2,
        "rejected": 3,
        "errors": [
            {"index": 1, "code": "invalid_json", "detail": "Point is not valid JSON."},
            {"index": 2, "code": "invalid_utf8", "detail": "Point is not valid UTF-8."},
            {"index": 3, "code": "invalid_json", "detail": "Point is not valid JSON."},
        ],
    }
    assert sorted(row[1] for row in stored_rows(Dataset.objects.get(project=project, name="web"))) == ["a", "d"]


def test_latin1_bodies_are_converted_to_utf8(client: Client, project, write_key: str, partitions) -> None:
    response = _raw_post(client, write_key, b'{"blobs": ["caf\xe9"]}', content_type="application/json; charset=latin-1")
    buffer_drain(time_budget=5, block_ms=10)

    assert response.status_code == 202, response.content
    assert [row[1] for row in stored_rows(Dataset.objects.get(project=project, name="web"))] == ["café"]


def test_an_unknown_charset_is_a_415(client: Client, write_key: str) -> None:
    response = post_points(client, write_key, "web", b"{}", content_type="application/json; charset=utf-16")

    assert (response.status_code, _problem(response)["code"]) == (415, "unsupported_charset")


@pytest.mark.parametrize("name", ["a%00b", "a%0A", "%C3%A9t%C3%A9", "x" * 65])
def test_an_invalid_dataset_name_is_a_400_before_any_lookup(client: Client, write_key: str, name: str) -> None:
    response = client.post(f"/api/v1/datasets/{name}/datapoints", data=b'{"blobs":["x"]}',
                           content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {write_key}")

    assert (response.status_code, _problem(response)["code"]) == (400, "invalid_dataset")


def test_a_refused_batch_creates_no_dataset(client: Client, project, write_key: str, partitions) -> None:
    refused = post_points(client, write_key, "fresh", [{"blobs": ["x"] * 21}])
    empty = post_points(client, write_key, "fresh", [])

    assert (refused.status_code, empty.status_code) == (400, 400)
    assert not Dataset.objects.filter(project=project, name="fresh").exists()


def test_every_member_of_a_multi_member_gzip_body_is_read(client: Client, project, write_key: str, partitions) -> None:
    body = gzip.compress(b'{"blobs": ["a"]}\n') + gzip.compress(b'{"blobs": ["b"]}\n') + gzip.compress(b"")

    response = post_points(client, write_key, "web", body, content_type="application/x-ndjson", HTTP_CONTENT_ENCODING="gzip")
    buffer_drain(time_budget=5, block_ms=10)

    assert (response.status_code, response.json()["accepted"]) == (202, 2)
    assert sorted(row[1] for row in stored_rows(Dataset.objects.get(project=project, name="web"))) == ["a", "b"]


def test_bytes_after_the_gzip_stream_are_a_400(client: Client, project, write_key: str, partitions) -> None:
    body = gzip.compress(b'{"blobs": ["a"]}') + b"trailing"

    response = post_points(client, write_key, "web", body, HTTP_CONTENT_ENCODING="gzip")

    assert (response.status_code, _problem(response)["detail"]) == (
        400, "Body is not valid gzip: 8 bytes follow the end of the gzip stream; nothing was accepted.")
    assert not Dataset.objects.filter(project=project, name="web").exists()


def _raw_post(client: Client, key: str, body: bytes, *, content_type: str, chunked: bool = False):
    """Bytes exactly as given (the test client re-encodes a body to its charset).

    Chunked is what a WSGI server hands Django for ``Transfer-Encoding: chunked``: no
    Content-Length and a de-chunked input stream.
    """
    extra = {"HTTP_TRANSFER_ENCODING": "chunked", "CONTENT_LENGTH": ""} if chunked else {"CONTENT_LENGTH": str(len(body))}
    return client.generic("POST", "/api/v1/datasets/web/datapoints", data=b"", HTTP_AUTHORIZATION=f"Bearer {key}",
                       CONTENT_TYPE=content_type, **extra, **{"wsgi.input": io.BytesIO(body)})


def _chunked(client: Client, key: str, body: bytes):
    return _raw_post(client, key, body, content_type="application/x-ndjson", chunked=True)


def test_a_chunked_body_is_read(client: Client, project, write_key: str, partitions) -> None:
    response = _chunked(client, write_key, b'{"blobs": ["a"]}\n{"blobs": ["b"]}\n')

    assert (response.status_code, response.json()["accepted"]) == (202, 2), response.content


def test_a_chunked_body_over_the_limit_is_a_413(client: Client, write_key: str, settings) -> None:
    settings.TRACKING_MAX_BODY_BYTES = 1000

    response = _chunked(client, write_key, b'{"blobs": ["a"]}\n' * 100)

    assert (response.status_code, _problem(response)["code"]) == (413, "body_too_large")


@pytest.mark.parametrize("path", ["/api/v1/nope", "/api/v1/datasets/web/nope", "/client/v4/nope"])
def test_an_unknown_api_path_is_a_404_problem(client: Client, path: str) -> None:
    response = client.get(path)

    assert (response.status_code, _problem(response)["code"]) == (404, "not_found")


def test_an_unknown_page_is_still_an_html_404(client: Client) -> None:
    response = client.get("/no-such-page/")

    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")


def test_a_host_not_allowed_is_a_400_problem_on_api_paths(client: Client) -> None:
    response = client.get("/api/v1/reports/overview", HTTP_HOST="evil.example")

    assert (response.status_code, _problem(response)["code"]) == (400, "bad_request")
