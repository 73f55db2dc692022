"""Aggregate state is bounded by construction (issue 14).

Sort-based aggregates (argMax/argMin, any/anyLast, the quantileExact family) keep O(1)
state or PostgreSQL's tuplesort, which spills past work_mem; the ones whose state is every
value they read (topK, topKWeighted, groupArray, quantileExactWeighted) are gated by
SQL_MAX_AGGREGATE_BYTES before the first row is aggregated. bench/aggregates.py measures
the backend memory and the cost of both.
"""

import pytest
from django.db import connection, transaction
from django.test import Client
from hypothesis import example, given, settings
from hypothesis import strategies as st

from tests.factories import key_for
from tests.tracking.sql.conftest import LoadedProject
from tracking.sql.functions import _exact_pick, _exact_sorted
from tracking.sql.ir import DatasetRef
from tracking.sql.translate import sql_parse, sql_translate

SELF_JOIN = "FROM weather a, weather b"  # 240^2 = 57,600 rows


def _post(client: Client, loaded: LoadedProject, sql: str) -> tuple[int, dict]:
    key = key_for(loaded.project, "read").secret
    response = client.post("/api/v1/sql", data=sql, content_type="text/plain", HTTP_AUTHORIZATION=f"Bearer {key}")
    return response.status_code, response.json()


@pytest.mark.django_db
@settings(max_examples=150, deadline=None)
@given(
    level=st.sampled_from([0.0, 0.1, 0.2, 0.25, 0.3, 0.5, 0.7, 0.75, 0.9, 0.95, 0.99, 0.999, 1.0])
    | st.floats(min_value=0, max_value=1),
    n=st.integers(min_value=1, max_value=3_000),
)
@example(level=0.1, n=10)
@example(level=0.5, n=2)
@example(level=0.3, n=10)
@example(level=0.7, n=10)
def test_the_percentile_disc_pick_is_clickhouses_quantile_exact_element(level: float, n: int) -> None:
    """ClickHouse takes the sorted element at floor(level * n) (the last at level 1), products that are whole included.

    A level a hair below 1 whose product rounds up to n would index past the end in ClickHouse; here it is the last.
    """
    position = n - 1 if level >= 1 else min(int(level * n), n - 1)
    values = f"{_exact_sorted('g', [level])}[{_exact_pick(level, 'g', 1)}]"

    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"SELECT {values} FROM generate_series(1, %s) AS g", [n])
        assert cursor.fetchone()[0] == position + 1


@pytest.mark.django_db
def test_the_gate_runs_once_before_the_first_row_is_aggregated() -> None:
    """An uncorrelated subquery in WHERE is a one-time filter: the aggregates never see a row past the budget."""
    translation = sql_translate(
        statement=sql_parse(sql="SELECT topK(3)(blob1) AS t FROM weather WHERE double1 > 0"),
        datasets=[DatasetRef(id=11, name="weather", labels={})],
        bound={},
    )
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN " + translation.sql, translation.params)
        plan = "\n".join(row[0] for row in cursor.fetchall())

    assert "One-Time Filter" in plan
    assert translation.params["aggregate_budget"] == 64 * 1024 * 1024


@pytest.mark.parametrize(
    "aggregate",
    [
        "topK(10)(concat(a.blob1, b.blob1))",
        "topKWeighted(10)(a.blob1, b.double1)",
        "groupArray(a.double1)",
        "groupArray(3)(a.blob1)",
        "quantileExactWeighted(0.5)(a.double1, b.double1)",
    ],
)
def test_array_state_aggregates_past_the_budget_are_refused_naming_the_limit(
    client: Client, loaded: LoadedProject, settings, aggregate: str
) -> None:
    settings.SQL_MAX_AGGREGATE_BYTES = 1_000_000

    status, body = _post(client, loaded, f"SELECT {aggregate} AS v {SELF_JOIN}")

    assert status == 422
    assert body["detail"].startswith("Aggregate state exceeds SQL_MAX_AGGREGATE_BYTES (1000000 bytes): topK, topKWeighted")


def test_under_the_budget_the_gated_aggregate_answers_as_before(client: Client, loaded: LoadedProject, settings) -> None:
    settings.SQL_MAX_AGGREGATE_BYTES = 1_000_000
    sql = "SELECT topK(2)(blob1) AS t, groupArray(2)(blob1) AS g FROM weather WHERE blob1 IN ('Oslo', 'Cairo') GROUP BY blob1 ORDER BY blob1"

    status, body = _post(client, loaded, sql)

    assert status == 200
    assert body["data"] == [{"t": ["Cairo"], "g": ["Cairo", "Cairo"]}, {"t": ["Oslo"], "g": ["Oslo", "Oslo"]}]


def test_the_budget_is_shared_by_the_gated_selects_of_one_query(client: Client, loaded: LoadedProject, settings) -> None:
    """Each of the two SELECTs reads 240 values (~10 kB): alone each fits 12 kB, sharing it neither does."""
    settings.SQL_MAX_AGGREGATE_BYTES = 12_000
    one = "SELECT groupArray(blob1) AS g FROM weather"

    assert _post(client, loaded, one)[0] == 200
    assert _post(client, loaded, f"{one} UNION ALL {one}")[0] == 422


@pytest.mark.parametrize(
    "aggregate",
    [
        "argMax(concat(a.blob1, b.blob1), a.double1 + b.double1)",
        "argMin(a.blob1, b.timestamp)",
        "any(concat(a.blob1, b.blob1))",
        "anyLast(concat(a.blob1, b.blob1))",
        "quantileExact(0.9)(a.double1 * b.double1)",
        "quantilesExact(0.1, 0.5)(a.double1 + b.double1)",
    ],
)
def test_sort_based_aggregates_are_not_gated(client: Client, loaded: LoadedProject, settings, aggregate: str) -> None:
    """Their state is one value or a tuplesort that spills past work_mem, so a budget far below their input is no obstacle."""
    settings.SQL_MAX_AGGREGATE_BYTES = 1_000

    status, body = _post(client, loaded, f"SELECT {aggregate} AS v {SELF_JOIN}")

    assert (status, len(body["data"])) == (200, 1)


def test_the_clickhouse_interface_answers_the_budget_as_memory_limit_exceeded(
    client: Client, loaded: LoadedProject, settings
) -> None:
    settings.SQL_MAX_AGGREGATE_BYTES = 1_000
    key = key_for(loaded.project, "read").secret

    response = client.post("/clickhouse/", data="SELECT groupArray(blob1) FROM weather", content_type="text/plain",
                           HTTP_AUTHORIZATION=f"Bearer {key}")

    assert (response.status_code, response["X-ClickHouse-Exception-Code"]) == (400, "241")
