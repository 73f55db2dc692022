"""The time floor: a NOW()-relative or literal window names its first day partition as a constant, never narrower."""

import datetime as dt
import re

import pytest
from django.db import connection
from django.test import Client

from tests.factories import DatasetFactory, ProjectFactory, key_for
from tests.tracking.sql.support import Point, points_insert
from tracking import db as tracking_db
from tracking.sql.ir import DatasetRef, NowShift
from tracking.sql.planner import now_shift
from tracking.sql.translate import sql_parse, sql_translate

DATASETS = [DatasetRef(id=11, name="weather", labels={}), DatasetRef(id=12, name="logs", labels={})]
NOW = dt.datetime(2026, 12, 4, 0, 30, 15, tzinfo=dt.UTC)
FLOOR = ' AND "timestamp" >= '


def translate(sql: str, *, now: dt.datetime | None = NOW):
    return sql_translate(statement=sql_parse(sql=sql), datasets=DATASETS, now=now)


def floors(translation) -> list[dt.datetime]:
    return sorted(value for value in translation.params.values() if isinstance(value, dt.datetime))


def test_a_now_window_scans_from_the_midnight_a_day_before_its_start() -> None:
    translation = translate("SELECT count() FROM weather WHERE timestamp > NOW() - INTERVAL '1' HOUR AND blob1 = 'x'")

    assert translation.sql.count(FLOOR) == 1
    # 2026-12-03 23:30:15 is the window's start; a day before it, at midnight.
    assert floors(translation) == [dt.datetime(2026, 12, 2, tzinfo=dt.UTC)]


@pytest.mark.parametrize(
    ("where", "floor"),
    [
        ("timestamp >= '2026-12-01 10:00:00'", dt.datetime(2026, 11, 30, tzinfo=dt.UTC)),
        ("timestamp BETWEEN '2026-12-01 10:00:00' AND '2026-12-02 00:00:00'", dt.datetime(2026, 11, 30, tzinfo=dt.UTC)),
        ("NOW() - INTERVAL '7' DAY < timestamp", dt.datetime(2026, 11, 26, tzinfo=dt.UTC)),
        # The latest lower bound of the AND is the one that holds.
        ("timestamp > '2026-11-01' AND (timestamp > NOW() - INTERVAL '5' MINUTE)", dt.datetime(2026, 12, 3, tzinfo=dt.UTC)),
        # Read as the SQL reads them: ten digits or fewer are seconds since 1970, so '20261205' is 1970-08-23.
        ("timestamp >= '20261205'", dt.datetime(1970, 8, 22, tzinfo=dt.UTC)),
        ("timestamp >= toDateTime(1764583200)", dt.datetime(2025, 11, 30, tzinfo=dt.UTC)),
        ("timestamp > NOW('UTC') - INTERVAL '1' HOUR", dt.datetime(2026, 12, 2, tzinfo=dt.UTC)),
        # Months, floors and numbers (``planner.now_shift``), exactly: a month back from 2026-12-04 00:30:15 is 2026-11-04.
        ("timestamp > NOW() - INTERVAL '1' MONTH", dt.datetime(2026, 11, 3, tzinfo=dt.UTC)),
        ("timestamp >= today()", dt.datetime(2026, 12, 3, tzinfo=dt.UTC)),
        ("timestamp >= today() - 7", dt.datetime(2026, 11, 26, tzinfo=dt.UTC)),
        ("timestamp >= toStartOfMonth(NOW())", dt.datetime(2026, 11, 30, tzinfo=dt.UTC)),
        ("timestamp >= toStartOfHour(NOW()) - INTERVAL 1 HOUR", dt.datetime(2026, 12, 2, tzinfo=dt.UTC)),
        ("timestamp > now() - 3600", dt.datetime(2026, 12, 2, tzinfo=dt.UTC)),
    ],
)
def test_every_simple_lower_bound_shape_sets_the_floor(where: str, floor: dt.datetime) -> None:
    assert floors(translate(f"SELECT count() FROM weather WHERE {where}")) == [floor]


@pytest.mark.parametrize(
    ("where", "floor"),
    [
        # A calendar step from a literal counts months as the SQL does; 12 months of 30 days cut four days of points.
        ("timestamp >= toDateTime('2026-12-01 00:00:00') - INTERVAL 12 MONTH", dt.datetime(2025, 11, 30, tzinfo=dt.UTC)),
        ("timestamp >= toDateTime('2023-01-31 00:00:00') + INTERVAL 1 MONTH", dt.datetime(2023, 2, 27, tzinfo=dt.UTC)),
        ("timestamp >= '2024-03-01 00:00:00' - INTERVAL 1 YEAR", dt.datetime(2023, 2, 28, tzinfo=dt.UTC)),
    ],
)
def test_a_literal_moved_by_months_floors_a_day_before_the_sqls_edge(where: str, floor: dt.datetime) -> None:
    assert floors(translate(f"SELECT count() FROM weather WHERE {where}", now=None)) == [floor]


#: Found in review: a month after the 30th at 23:59:59 is later than after the 31st at midnight, and a floor to the
#: month after an hour turned that second into a month.
MONTH_STEPS = [
    "toStartOfMonth(now() - INTERVAL 1 MONTH + INTERVAL 1 HOUR)",
    "toStartOfQuarter(now() - INTERVAL 1 MONTH + INTERVAL 1 HOUR)",
    "NOW() - INTERVAL 1 MONTH + INTERVAL 1 HOUR - INTERVAL 1 MONTH",
    "toMonday(now() - INTERVAL 1 MONTH + INTERVAL 1 HOUR)",
    "NOW() - INTERVAL 1 YEAR",
]


@pytest.mark.parametrize("edge", MONTH_STEPS)
def test_a_floor_from_a_clock_behind_the_query_is_never_after_the_querys_edge(edge: str) -> None:
    """The floor is computed from a clock estimate behind the query's NOW(): at every 997th second of the last three
    days before every month's end in a common and a leap year, it is no later than the edge at that moment, a second,
    a minute and an hour on (each computed as ``test_pins`` checks PostgreSQL computes it)."""
    statement = sql_parse(sql=f"SELECT count() FROM weather WHERE timestamp >= {edge}")
    shift = now_shift(statement.args["where"].this.expression)
    assert isinstance(shift, NowShift)
    ends = [dt.datetime(year, month, 1, tzinfo=dt.UTC) for year in (2027, 2028) for month in range(1, 13)]
    for end in ends:
        for second in range(-3 * 86_400, 60, 997):
            now = end + dt.timedelta(seconds=second)
            [floor] = floors(translate(f"SELECT count() FROM weather WHERE timestamp >= {edge}", now=now))
            for later in (0, 1, 60, 3600):
                assert floor <= shift.at(now + dt.timedelta(seconds=later)), (edge, now, later)


def test_without_the_database_clock_only_literal_bounds_set_a_floor() -> None:
    assert FLOOR not in translate("SELECT count() FROM weather WHERE timestamp > NOW() - INTERVAL '1' HOUR", now=None).sql
    literal = translate("SELECT count() FROM weather WHERE timestamp > '2026-12-01 10:00:00'", now=None)
    assert floors(literal) == [dt.datetime(2026, 11, 30, tzinfo=dt.UTC)]


@pytest.mark.parametrize(
    "sql",
    [
        # WHERE may mean the alias, not the column.
        "SELECT timestamp + INTERVAL '1' YEAR AS timestamp FROM weather WHERE timestamp > NOW() - INTERVAL '1' HOUR",
        "SELECT toStartOfHour(timestamp) AS Timestamp FROM weather WHERE timestamp > NOW() - INTERVAL '1' HOUR",
        "WITH NOW() - INTERVAL '1' HOUR AS since SELECT count() FROM weather WHERE timestamp > since",
        "SELECT count() FROM weather WHERE timestamp > NOW() - INTERVAL '1' HOUR OR blob1 = 'x'",
        "SELECT count() FROM weather AS w JOIN logs AS l ON w.blob1 = l.blob1 WHERE w.timestamp > NOW() - INTERVAL '1' HOUR",
        "SELECT count() FROM (SELECT * FROM weather) WHERE timestamp > NOW() - INTERVAL '1' HOUR",
        "SELECT count() FROM weather WHERE blob1 = 'x'",
    ],
)
def test_queries_whose_window_python_cannot_read_get_no_floor(sql: str) -> None:
    assert FLOOR not in translate(sql).sql


def test_only_the_outer_table_is_floored_not_a_subquery_of_its_where() -> None:
    translation = translate(
        "SELECT count() FROM weather WHERE timestamp > NOW() - INTERVAL '1' HOUR "
        "AND blob1 IN (SELECT blob1 FROM weather WHERE timestamp < NOW() - INTERVAL '30' DAY)"
    )
    outer, inner = translation.sql.split("IN (", 1)
    assert FLOOR in outer
    assert FLOOR not in inner


def test_the_rows_before_limit_count_is_floored_too() -> None:
    translation = translate("SELECT blob1 FROM weather WHERE timestamp > NOW() - INTERVAL '1' HOUR ORDER BY blob1 LIMIT 3")

    assert FLOOR in translation.sql
    assert translation.count_sql is None or FLOOR in translation.count_sql


def test_translating_a_statement_leaves_its_format_for_the_next_translation() -> None:
    statement = sql_parse(sql="SELECT count() FROM weather FORMAT CSV")

    first = sql_translate(statement=statement, datasets=DATASETS)
    second = sql_translate(statement=statement, datasets=DATASETS)

    assert (first.format, second.format) == ("CSV", "CSV")
    assert first.sql == second.sql


WINDOWS = [
    "timestamp > NOW() - INTERVAL '5' MINUTE",
    "timestamp > NOW() - INTERVAL '1' HOUR",
    "timestamp >= NOW() - INTERVAL '25' HOUR",
    "timestamp > NOW() - INTERVAL '2' DAY",
    "timestamp > NOW() - INTERVAL '30' DAY",
    "NOW() - INTERVAL '26' HOUR <= timestamp",
    "timestamp BETWEEN NOW() - INTERVAL '3' DAY AND NOW() - INTERVAL '1' DAY",
    # Seconds since 1970 to the SQL (1970-08-23): every point; read as a date, its floor cut a month of them.
    "timestamp >= '20261205'",
    "timestamp > NOW() - INTERVAL '1' MONTH",
    "timestamp >= today()",
    "timestamp >= today() - 2",
    "timestamp >= toStartOfHour(NOW()) - INTERVAL 1 HOUR",
    "timestamp > now() - 7200",
]


def _edge_points(now: dt.datetime) -> list[Point]:
    """Points around every window's start (far enough from it for the seconds between two requests), and on both
    sides of every midnight of the last 34 days, where a floor cuts (each day is its own partition)."""
    offsets = [dt.timedelta(seconds=s) for s in (-90, -60, 60, 90)]
    starts = [dt.timedelta(minutes=5), dt.timedelta(hours=1), dt.timedelta(hours=25), dt.timedelta(hours=26),
              dt.timedelta(days=1), dt.timedelta(days=2), dt.timedelta(days=3), dt.timedelta(days=30)]
    moments = [now - start + offset for start in starts for offset in offsets]
    today = now.replace(hour=0, minute=0, second=0, microsecond=0)
    moments += [today - dt.timedelta(days=days) + dt.timedelta(seconds=s) for days in range(34) for s in (-1, 0, 1)]
    return [Point(moment, "i", ["edge"], [1.0]) for moment in moments if moment <= now]


@pytest.mark.django_db(transaction=True)
def test_floored_windows_count_exactly_the_points_of_the_unfloored_query(client: Client) -> None:
    """Through the API, outside any caller's transaction, at the database's own NOW(): the same counts as the
    same windows written so that Python cannot read them (``OR`` a term no point meets), for points on every edge."""
    project = ProjectFactory()
    dataset = DatasetFactory(project=project, name="edges")
    with connection.cursor() as cursor:
        cursor.execute("SELECT date_trunc('second', now())")
        now = cursor.fetchone()[0] + dt.timedelta(seconds=2)
    points_insert(dataset=dataset, points=_edge_points(now))
    key = key_for(project, "read").secret
    path = f"/client/v4/accounts/{project.slug}/analytics_engine/sql"

    def count(where: str) -> str:
        response = client.post(path, data=f"SELECT count() AS n FROM edges WHERE {where}", content_type="text/plain",
                               HTTP_AUTHORIZATION=f"Bearer {key}")
        assert response.status_code == 200, response.content
        return response.json()["data"][0]["n"]

    for where in WINDOWS:
        floored, unfloored = count(where), count(f"({where} OR blob1 = 'none')")
        assert floored == unfloored != "0", where


@pytest.mark.django_db
def test_the_floor_prunes_partitions_when_the_query_is_planned(sql_partitions: None) -> None:
    """Without the floor every partition is planned (and the executor removes most at start-up), with it only
    those from the floor's day on."""
    from tracking.sql.catalog import catalog_read

    project = ProjectFactory()
    DatasetFactory(project=project, name="weather")
    catalog = catalog_read(project_id=project.id)
    now, datasets = catalog.clock, catalog.datasets

    def planned(where: str) -> int:
        """Partitions in the plan: those the executor scans and those it removed at start-up (``NOW()``)."""
        translation = sql_translate(statement=sql_parse(sql=f"SELECT count() FROM weather WHERE {where}"),
                                    datasets=datasets, now=now)
        with connection.cursor() as cursor:
            cursor.execute("EXPLAIN " + translation.sql, translation.params)
            plan = "\n".join(row[0] for row in cursor.fetchall())
        removed = sum(int(found) for found in re.findall(r"Subplans Removed: (\d+)", plan))
        return len(set(re.findall(r"\bon (tracking_datapoint_p\d{8})\b", plan))) + removed

    floor = (now - dt.timedelta(hours=1, days=1)).date()
    partitions = tracking_db.partition_list()
    assert planned("(timestamp > NOW() - INTERVAL '1' HOUR OR blob1 = 'none')") == len(partitions)
    assert planned("timestamp > NOW() - INTERVAL '1' HOUR") == len(
        [name for name in partitions if name >= tracking_db.partition_name(floor)]
    ) < len(partitions)
