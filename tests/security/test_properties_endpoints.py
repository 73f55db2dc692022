"""Property tests per endpoint (issue 14): hostile bytes, encodings, nesting, numbers and dates.

Every answer is a 2xx, or a 4xx with a problem+json body (Cloudflare's endpoint answers in
its own text/plain and envelope shapes); never a 5xx. Where the input is a JSON array whose
elements can be told apart, every element is counted: accepted + rejected = sent.
"""

import datetime as dt
import gzip
import json
from urllib.parse import urlencode

import pytest
from django.test import Client
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tests.tracking.helpers import post_points
from tracking.ingest.decode import array_elements
from tracking.models import Dataset

pytestmark = pytest.mark.django_db

PROPERTY = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

PROBLEM = "application/problem+json"

# Values that have broken parsers before: huge and tiny numbers, extreme dates, lone surrogates, NUL.
extreme_numbers = st.sampled_from(
    [0, -0.0, 2**63 - 1, 2**63, 2**64 - 1, 2**64, -(2**63) - 1, 10**400, -(10**400), 1e308, 5e-324, 1.7976931348623157e308]
)
extreme_dates = st.sampled_from(
    ["0001-01-01 00:00:00", "9999-12-31 23:59:59", "0000-00-00 00:00:00", "1970-01-01", "2026-02-30", "10000-01-01",
     "0001-01-01T00:00:00Z", "9999-12-31T23:59:59+14:00", "2026-01-01T00:00:00-12:00", ""]
)
hostile_text = st.text(max_size=20) | st.sampled_from(["\ud800", "\udfff", "a\x00b", "\u2028", "é" * 50, "𝄞"]) | extreme_dates
scalars = st.none() | st.booleans() | st.integers() | extreme_numbers | st.floats() | hostile_text
json_shapes = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
# JSON tokens no JSON encoder writes but hostile clients do.
raw_tokens = st.sampled_from([b"NaN", b"Infinity", b"-Infinity", b"1e999", b'"\\ud800"', b'"\xff"', b'"\xc0\xaf"',
                              b'"\xed\xa0\x80"', b"9" * 400, b'"\\u0000"', b"[" * 2000 + b"]" * 2000, b"tru", b""])


def _dumps(value: object) -> bytes:
    return json.dumps(value, ensure_ascii=False).encode("utf-8", "surrogatepass")


def _point_with_token(key: str, token: bytes) -> bytes:
    return b'{"' + key.encode() + b'": [' + token + b"]}"


points_with_tokens = st.builds(_point_with_token, st.sampled_from(["blobs", "doubles", "indexes"]), raw_tokens)
good_points = st.builds(lambda b: _dumps({"blobs": [b]}), st.text(alphabet="abc", max_size=5))
array_bodies = st.lists(points_with_tokens | good_points, min_size=1, max_size=6).map(lambda items: b"[" + b",".join(items) + b"]")


def _assert_problem_or_success(response, *, success: int) -> None:
    status = response.status_code
    assert status == success or 400 <= status < 500, (status, response.content[:300])
    if status != success:
        assert response["Content-Type"] == PROBLEM, (status, response["Content-Type"], response.content[:300])


@PROPERTY
@given(body=array_bodies)
@example(body=b'[{"doubles": [NaN]}, {"blobs": ["ok"]}]')
@example(body=b'[{"blobs": ["\xff"]}, {"blobs": ["ok"]}]')
def test_every_point_of_a_json_array_is_either_accepted_or_rejected(client: Client, write_key: str, partitions, body: bytes) -> None:
    response = post_points(client, write_key, "props", body)

    _assert_problem_or_success(response, success=202)
    sent = len(array_elements(body))
    answer = response.json()
    counted = answer["accepted"] + answer["rejected"] if response.status_code == 202 else len(answer.get("errors", []))
    assert counted == sent, (body[:300], answer)


encodings = st.sampled_from(["identity", "gzip", "gzip-members", "gzip-trailing", "bogus"])
content_types = st.sampled_from(["application/json", "application/x-ndjson", "text/plain; charset=latin-1",
                                 "application/json; charset=utf-16", "application/xml", ""])
raw_bodies = (
    json_shapes.map(_dumps)
    | array_bodies
    | st.lists(points_with_tokens | good_points, max_size=4).map(b"\n".join)
    | st.binary(max_size=300)
)


def _encode(body: bytes, encoding: str) -> tuple[bytes, dict[str, str]]:
    if encoding == "identity":
        return body, {}
    if encoding == "bogus":
        return body, {"HTTP_CONTENT_ENCODING": "br"}
    half = len(body) // 2
    packed = {
        "gzip": gzip.compress(body),
        "gzip-members": gzip.compress(body[:half]) + gzip.compress(body[half:]),
        "gzip-trailing": gzip.compress(body) + body[:5],
    }[encoding]
    return packed, {"HTTP_CONTENT_ENCODING": "gzip"}


@PROPERTY
@given(body=raw_bodies, encoding=encodings, content_type=content_types, dataset=st.sampled_from(["props", "a%00b", "é", "_x"]))
def test_ingest_answers_202_or_a_4xx_problem_for_any_bytes(client: Client, write_key: str, partitions, body: bytes,
                                                           encoding: str, content_type: str, dataset: str) -> None:
    data, headers = _encode(body, encoding)

    response = client.generic("POST", f"/api/v1/datasets/{dataset}/datapoints", data=data, HTTP_AUTHORIZATION=f"Bearer {write_key}",
                              CONTENT_TYPE=content_type, **headers)

    _assert_problem_or_success(response, success=202)


PARAM_TYPES = ["String", "UInt8", "UInt64", "Int64", "Int8", "Float64", "DateTime", "Date", "Identifier", "Nullable(String)",
               "Array(String)", "DateTime64(3)", "Bool", "Decimal(10, 2)"]


@PROPERTY
@given(ch_type=st.sampled_from(PARAM_TYPES), value=json_shapes | extreme_numbers | extreme_dates, use=st.sampled_from(
    ["SELECT {p:%s} AS v", "SELECT count() FROM web WHERE blob1 = {p:%s}", "SELECT {p:%s} + 1 AS v",
     "SELECT toStartOfInterval(timestamp, INTERVAL 1 DAY) AS t, count() AS n FROM web WHERE timestamp >= {p:%s} GROUP BY t"]))
@example(ch_type="Float64", value=10**400, use="SELECT {p:%s} AS v")
@example(ch_type="Date", value="9999-12-31", use="SELECT {p:%s} + 1 AS v")
@example(ch_type="DateTime", value="0001-01-01 00:00:00", use="SELECT {p:%s} AS v")
def test_sql_parameters_of_every_type_and_shape_never_answer_5xx(client: Client, project, read_key: str, ch_type: str,
                                                                 value: object, use: str) -> None:
    Dataset.objects.get_or_create(project=project, name="web")
    body = json.dumps({"query": use % ch_type, "params": {"p": value}}).encode()  # \ud800 escaped, as JSON allows

    response = client.post("/api/v1/sql", data=body, content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {read_key}")

    _assert_problem_or_success(response, success=200)


datetime_literals = st.datetimes(min_value=dt.datetime(1, 1, 1), max_value=dt.datetime(9999, 12, 31, 23, 59, 59)).map(
    lambda moment: moment.strftime("%Y-%m-%d %H:%M:%S").zfill(19)
)
zones = st.sampled_from(["UTC", "Asia/Tokyo", "America/New_York", "Pacific/Kiritimati", "Etc/GMT+12", "Nowhere/Zone"])


@PROPERTY
@given(moment=datetime_literals, zone=zones, shape=st.sampled_from(
    ["SELECT toDateTime('{m}', '{z}') AS t", "SELECT toStartOfMonth(toDateTime('{m}', '{z}')) AS t",
     "SELECT formatDateTime(toDateTime('{m}'), '%Y-%m-%d', '{z}') AS t", "SELECT toDateTime('{m}') + INTERVAL 1 DAY AS t",
     "SELECT toUnixTimestamp(toDateTime('{m}', '{z}')) AS t", "SELECT toDate('{m}') AS t FORMAT CSV"]))
@example(moment="0001-01-01 00:00:00", zone="Asia/Tokyo", shape="SELECT toDateTime('{m}', '{z}') AS t")
@example(moment="9999-12-31 23:59:59", zone="Asia/Tokyo", shape="SELECT toDateTime('{m}') + INTERVAL 1 DAY AS t")
def test_extreme_dates_in_any_zone_never_answer_5xx(client: Client, project, read_key: str, moment: str, zone: str, shape: str) -> None:
    query = shape.format(m=moment, z=zone)

    response = client.post("/api/v1/sql", data=query.encode(), content_type="text/plain", HTTP_AUTHORIZATION=f"Bearer {read_key}")

    _assert_problem_or_success(response, success=200)


@PROPERTY
@given(body=st.binary(max_size=200) | json_shapes.map(_dumps) | st.text(max_size=100).map(lambda t: t.encode("utf-8", "surrogatepass")))
@example(body=b'{"query": "SELECT 1", "params": ' + b"[" * 50_000 + b"}")
@example(body=b'{"query": "SELECT \'\\ud800\'"}')
def test_the_cloudflare_endpoint_answers_200_or_a_4xx_for_any_body(client: Client, project, read_key: str, body: bytes) -> None:
    response = client.post(f"/client/v4/accounts/{project.slug}/analytics_engine/sql", data=body, content_type="text/plain",
                           HTTP_AUTHORIZATION=f"Bearer {read_key}")

    assert response.status_code == 200 or 400 <= response.status_code < 500, (response.status_code, body[:200])


byte_arrays = st.lists(st.integers(min_value=-1, max_value=300), max_size=10) | st.binary(max_size=10).map(list)
workerd_events = st.fixed_dictionaries(
    {"dataset": byte_arrays | st.just(list(b"props")) | hostile_text},
    optional={"index1": byte_arrays, "blob1": byte_arrays | hostile_text, "double1": scalars, "double20": scalars,
              "timestamp": scalars | st.sampled_from(["1" + "0" * 30, "-1", "1e20"]), "blob21": byte_arrays},
)


@PROPERTY
@given(body=workerd_events.map(_dumps) | st.binary(max_size=100) | raw_tokens)
def test_workerd_events_answer_202_or_a_4xx_problem(client: Client, write_key: str, partitions, body: bytes) -> None:
    response = client.post("/api/v1/workerd/analytics-engine", data=body, content_type="application/json",
                           HTTP_AUTHORIZATION=f"Bearer {write_key}")

    _assert_problem_or_success(response, success=202)


report_params = st.dictionaries(
    st.sampled_from(["from", "to", "range", "interval", "dataset", "project"]),
    hostile_text | extreme_dates | st.integers().map(str),
    max_size=4,
)


@PROPERTY
@given(name=st.sampled_from(["overview", "usage", "costs", "errors", "ai", "realtime", "nope"]), params=report_params)
@example(name="costs", params={"from": "0001-01-01T00:00:00Z", "to": "9999-12-31T23:59:59Z"})
def test_reports_answer_200_or_a_4xx_problem_for_any_parameters(client: Client, project, read_key: str, name: str,
                                                                params: dict[str, str]) -> None:
    query = urlencode({key: value.encode("utf-8", "surrogatepass") for key, value in params.items()})

    response = client.get(f"/api/v1/reports/{name}?{query}", HTTP_AUTHORIZATION=f"Bearer {read_key}")

    _assert_problem_or_success(response, success=200)
