"""Property tests: whatever is sent, ingest and SQL answer 2xx or 4xx, never 5xx; valid points round-trip exactly."""

import itertools
import json
import math
import struct

import pytest
from django.db import connection
from django.test import Client
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tests.tracking.helpers import post_points
from tracking.models import Dataset
from tracking.services import buffer_drain

pytestmark = pytest.mark.django_db

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
ROUND_TRIP = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

json_scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30)
json_values = st.recursive(
    json_scalars,
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=10), children, max_size=5),
    max_leaves=25,
)
point_keys = st.sampled_from(["blobs", "doubles", "indexes", "timestamp", "id", "extra"])
point_like = st.dictionaries(point_keys, json_values, max_size=6)
def _dumps(value: object) -> bytes:
    """The standard library's encoder: unlike orjson it writes integers past 64 bits, which clients may send."""
    return json.dumps(value).encode()


bodies = (
    json_values.map(_dumps)
    | st.lists(point_like, max_size=6).map(_dumps)
    | point_like.map(_dumps)
    | st.binary(max_size=200)
)


@FUZZ
@given(body=bodies)
@example(body=b"[" * 100_000)
@example(body=b'{"doubles": [1e999]}')
@example(body=b'{"blobs": ["\\ud800"]}')
@example(body=b'{"timestamp": 99999999999999999999}')
@example(body=b'{"timestamp": "0001-01-01T00:00:00Z"}')
@example(body=b'{"id": ""}')
@example(body=b"\xff\xfe")
def test_any_body_gets_202_or_4xx_never_5xx(client: Client, write_key: str, body: bytes) -> None:
    response = post_points(client, write_key, "fuzz", body)

    assert response.status_code == 202 or 400 <= response.status_code < 500, (response.status_code, body[:200])


@FUZZ
@given(body=st.text(max_size=300))
@example(body="\x00")
@example(body="[" * 50_000)
def test_any_ndjson_text_gets_202_or_4xx(client: Client, write_key: str, body: str) -> None:
    response = post_points(client, write_key, "fuzz", body.encode("utf-8", "surrogatepass"), content_type="application/x-ndjson")

    assert response.status_code == 202 or 400 <= response.status_code < 500


# Text PostgreSQL and UTF-8 can hold: no NUL, no lone surrogates.
safe_text = st.text(st.characters(blacklist_categories=["Cs"], blacklist_characters="\x00"), max_size=40)
finite = st.floats(allow_nan=False, allow_infinity=False)
valid_points = st.fixed_dictionaries(
    {
        "blobs": st.lists(safe_text | st.none(), max_size=20),
        "doubles": st.lists(finite, max_size=20),
        "indexes": st.lists(safe_text.filter(lambda s: len(s.encode()) <= 96), max_size=1),
    }
)


_examples = itertools.count()


def _bits(value: float) -> bytes:
    """Compare doubles bit for bit, so -0.0 differs from 0.0."""
    return struct.pack(">d", value)


def _stored(dataset: Dataset) -> dict[str, tuple[str, list, list]]:
    blob_cols = ", ".join(f"blob{i}" for i in range(1, 21))
    double_cols = ", ".join(f"double{i}" for i in range(1, 21))
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT dedup_id, index1, {blob_cols}, {double_cols} FROM tracking_datapoint WHERE dataset_id = %s",
            [dataset.id],
        )
        rows = cursor.fetchall()
    return {row[0]: (row[1], list(row[2:22]), list(row[22:42])) for row in rows}


def _expected(point: dict) -> tuple[str, list, list]:
    blobs = point["blobs"] + [None] * (20 - len(point["blobs"]))
    doubles = point["doubles"] + [None] * (20 - len(point["doubles"]))
    return (point["indexes"][0] if point["indexes"] else "", blobs, doubles)


EDGE = [
    {"blobs": ["é" * 8000], "doubles": [1e308, -1e308, -0.0, 5e-324, -5e-324], "indexes": ["€" * 32]},
    {"blobs": ["𝄞" * 3999, "€"], "doubles": [0.1, 2.0**53 + 1, -2.0**-1074], "indexes": ["x" * 96]},
    {"blobs": [None, "", "\t\n\r\\\"'", "☃" * 5], "doubles": [], "indexes": [""]},
]


@ROUND_TRIP
@given(points=st.lists(valid_points, min_size=1, max_size=5))
@example(points=EDGE)
def test_valid_points_round_trip_exactly(client: Client, project, write_key: str, partitions: None, points: list[dict]) -> None:
    points = [point for point in points if sum(len((b or "").encode()) for b in point["blobs"]) <= 16_000]
    if not points:
        return
    example_number = next(_examples)
    ids = [f"rt-{example_number}-{n}" for n in range(len(points))]
    sent = [dict(point, id=point_id) for point, point_id in zip(points, ids)]

    response = post_points(client, write_key, "roundtrip", sent)
    buffer_drain(time_budget=5, block_ms=10)
    stored = _stored(Dataset.objects.get(project=project, name="roundtrip"))

    assert response.status_code == 202, response.json()
    for point_id, point in zip(ids, points):
        index1, blobs, doubles = stored[point_id]
        expected_index, expected_blobs, expected_doubles = _expected(point)
        assert (index1, blobs) == (expected_index, expected_blobs)
        assert [None if d is None else _bits(d) for d in doubles] == [
            None if d is None else _bits(d) for d in expected_doubles
        ]


def test_edge_values_are_at_the_limits_they_claim() -> None:
    assert len(EDGE[0]["blobs"][0].encode()) == 16_000
    assert len(EDGE[0]["indexes"][0].encode()) == 96
    assert len("".join(EDGE[1]["blobs"]).encode()) == 15_999
    assert math.copysign(1.0, EDGE[0]["doubles"][2]) == -1.0


COLUMNS = ["blob1", "blob2", "double1", "double2", "index1", "timestamp", "_sample_interval", "*", "nope"]
FUNCTIONS = ["count", "sum", "avg", "min", "max", "quantileExactWeighted(0.5)", "toStartOfInterval", "intDiv",
             "toDateTime", "lower", "length", "if", "pg_sleep", "set_config", "now", "toUnixTimestamp"]
LITERALS = ["1", "0", "-1", "1e308", "'x'", "''", "NULL", "'2026-01-01 00:00:00'", "INTERVAL '1' DAY", "9999999999999999999999"]
OPERATORS = ["+", "-", "*", "/", "%", "=", "!=", "<", ">=", "AND", "OR", "LIKE", "IN", "||"]

expressions = st.recursive(
    st.sampled_from(COLUMNS[:-2] + LITERALS),
    lambda inner: st.one_of(
        st.tuples(inner, st.sampled_from(OPERATORS), inner).map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
        st.tuples(st.sampled_from(FUNCTIONS), st.lists(inner, max_size=3)).map(lambda t: f"{t[0]}({', '.join(t[1])})"),
        inner.map(lambda e: f"NOT {e}"),
    ),
    max_leaves=8,
)
queries = st.builds(
    lambda select, table, where, group, order, limit, fmt: (
        f"SELECT {', '.join(select)} FROM {table}"
        + (f" WHERE {where}" if where else "")
        + (f" GROUP BY {group}" if group else "")
        + (f" ORDER BY {order}" if order else "")
        + (f" LIMIT {limit}" if limit is not None else "")
        + (f" FORMAT {fmt}" if fmt else "")
    ),
    st.lists(expressions | st.sampled_from(COLUMNS), min_size=1, max_size=3),
    st.sampled_from(["web", "nowhere", "tracking_datapoint", "pg_class", "(SELECT * FROM web)"]),
    st.none() | expressions,
    st.none() | st.sampled_from(COLUMNS[:5]),
    st.none() | expressions,
    st.none() | st.integers(min_value=-5, max_value=10**20),
    st.none() | st.sampled_from(["JSON", "JSONEachRow", "TabSeparated", "CSV", "Nope"]),
)
sql_texts = queries | st.text(max_size=120) | st.lists(st.sampled_from(
    ["SELECT", "FROM", "WHERE", "web", "(", ")", ",", "'", "\"", "`", "--", "/*", ";", "1", "blob1", "count()", "UNION", "ALL"]
), max_size=25).map(" ".join)


@FUZZ
@given(sql=sql_texts)
@example(sql="SELECT count() FROM web")
@example(sql="SELECT " + "(" * 5_000 + "1" + ")" * 5_000)
@example(sql="SELECT blob1 FROM web LIMIT 99999999999999999999999")
@example(sql="\x00")
def test_generated_sql_never_makes_the_sql_api_answer_5xx(client: Client, project, read_key: str, sql: str) -> None:
    Dataset.objects.get_or_create(project=project, name="web")

    response = client.post("/api/v1/sql", data=sql.encode("utf-8", "surrogatepass"), content_type="text/plain",
                           HTTP_AUTHORIZATION=f"Bearer {read_key}")

    assert response.status_code < 500, (response.status_code, sql, response.content[:300])
