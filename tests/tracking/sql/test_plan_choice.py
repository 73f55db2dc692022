"""Which path the planner picks for a window that fits in one bucket: the projection when it spares
at least half a bucket and as much as it leaves raw, else the raw scan. Both paths answer with the
same bytes (test_projection_differential.py); this pins only the choice, against a fixed clock."""

import datetime as dt

import pytest

from tracking.projections.db import Spec
from tracking.sql.ir import DatasetRef
from tracking.sql.translate import sql_parse, sql_translate

WEB = DatasetRef(id=21, name="web", labels={})
HOURLY = Spec(id=5, dataset_id=21, grain=3600, dimensions=("blob1", "blob2"), doubles=("double1",), name="hourly")
S3 = "SELECT blob2 AS error_type, COUNT(*) AS error_count FROM web WHERE timestamp > NOW() - INTERVAL '1' HOUR AND blob1 = 'error' GROUP BY error_type"
S4 = "SELECT COUNT(*) AS total_requests, AVG(double1) AS avg_response_time FROM web WHERE timestamp > NOW() - INTERVAL '5' MINUTE"


def plan(sql: str, *, now: dt.datetime, cheapest: bool = True) -> str:
    statement = sql_parse(sql=sql)
    return sql_translate(statement=statement, datasets=[WEB], projections={WEB.id: [HOURLY]}, now=now, cheapest=cheapest).plan


def at_minute(minute: int, second: int = 0) -> dt.datetime:
    return dt.datetime(2026, 12, 5, 3, minute, second, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("minute", "second", "expected"),
    [
        (0, 0, "raw"),  # the bound's bucket is ragged even on its start: the whole hour raw, and rows on top
        (10, 0, "raw"),
        (29, 59, "raw"),
        (30, 0, "projection=hourly"),  # half the window from the current hour's rows
        (36, 0, "projection=hourly"),  # where the 10M bench measured 2.7 ms from the projection, 3.6 raw
        (59, 59, "projection=hourly"),
    ],
)
def test_a_one_hour_window_goes_to_the_projection_once_its_current_hour_covers_half_of_it(minute, second, expected) -> None:
    assert plan(S3, now=at_minute(minute, second)) == expected


@pytest.mark.parametrize("minute", [0, 3, 4, 30, 59])
def test_a_five_minute_window_stays_raw_whatever_the_minute(minute) -> None:
    """Its covered part never reaches half a bucket: an hour's rows of every key cost more than 5 minutes of points."""
    assert plan(S4, now=at_minute(minute)) == "raw"
    assert plan(S4, now=at_minute(minute), cheapest=False) == "projection=hourly"


@pytest.mark.parametrize(
    ("where", "expected"),
    [
        # A fixed window within one bucket has no whole bucket: the buckets holding its bounds are
        # ragged, even where a bound is a bucket's start.
        ("timestamp >= '2026-12-05 01:00:00' AND timestamp < '2026-12-05 01:45:00'", "raw"),
        ("timestamp BETWEEN '2026-12-05 01:10:00' AND '2026-12-05 02:05:00'", "raw"),
        ("timestamp >= '2026-12-05 01:00:00' AND timestamp < '2026-12-05 02:00:00'", "raw"),
        # Longer than a bucket: the projection, as before.
        ("timestamp >= '2026-12-05 00:59:00' AND timestamp < '2026-12-05 02:01:00'", "projection=hourly"),
        # No window at all: the projection, as before.
        ("blob1 = 'GET'", "projection=hourly"),
    ],
)
def test_fixed_windows_use_the_projection_for_whole_buckets_only(where, expected) -> None:
    assert plan(f"SELECT count() AS n FROM web WHERE {where}", now=at_minute(40)) == expected
