"""A projection plan's values that ``NOW()`` decides are passed in as constants, and checked in the query's message.

What they stand for (``tracking.sql.ir.Pins``): the buckets of the window's edges and which arms of
the plan run. Computed in Python from a moment no later than the query's ``NOW()``, each holds over a
range of its edge; the query's message checks that its edges are in those ranges, and a query whose
window has moved past them is compiled again without them.
"""

import datetime as dt
import itertools
import random
import re
import time

import pytest
from django.db import connection, transaction

from projects.models import Project
from tests.factories import DatasetFactory, ProjectFactory
from tests.tracking.sql.support import Point, points_insert, round_trips
from tracking.models import Dataset, Projection
from tracking.projections.services import projection_backfill, projection_create
from tracking.sql import catalog as catalog_module
from tracking.sql.catalog import catalog_read
from tracking.sql.db import PinsMissed, sql_sandbox_run
from tracking.sql.engine import sql_execute, sql_limits
from tracking.sql.ir import Pinning, Translation, edge_at
from tracking.sql.schema import DATASET_IDS_SETTING, ROLE
from tracking.sql.translate import sql_parse, sql_translate

pytestmark = pytest.mark.django_db(transaction=True)

_ELAPSED = re.compile(rb'"elapsed": [0-9.e-]+')
#: One edge (a coarse cut, a raw cut and the six hours between), and two edges of one window.
QUERIES = [
    "SELECT blob2 AS path, sum(double1) AS s, count() AS n FROM web WHERE timestamp > NOW() - INTERVAL '24' HOUR "
    "AND blob1 = 'GET' GROUP BY path ORDER BY s DESC, path LIMIT 10",
    "SELECT blob1, sum(double1) AS s FROM web WHERE timestamp >= NOW() - INTERVAL '50' HOUR "
    "AND timestamp < NOW() - INTERVAL '3' HOUR GROUP BY blob1 ORDER BY blob1",
    "SELECT blob2, count() AS n FROM web WHERE timestamp BETWEEN NOW('UTC') - INTERVAL '40' HOUR AND NOW() - INTERVAL 90 MINUTE "
    "GROUP BY blob2 ORDER BY blob2",
]


@pytest.fixture
def web() -> Dataset:
    """A dataset of three days of points with an hour projection and its six-hour and day tiers, measured so that both
    cuts are taken near a bucket's ends (``planner.cut_reach``, ``planner.raw_cut_reach``)."""
    dataset = DatasetFactory(project=ProjectFactory(), name="web")
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    rng = random.Random(5)
    points_insert(
        dataset=dataset,
        points=[
            Point(now - dt.timedelta(seconds=rng.randrange(3 * 86_400)), "", [rng.choice(["GET", "POST"]), f"/p{rng.randrange(5)}"], [rng.random()])
            for _ in range(600)
        ],
    )
    for name, grain in (("hourly", 3600), ("sixhourly", 21_600), ("daily", 86_400)):
        projection = projection_create(dataset=dataset, name=name, dimensions=["blob1", "blob2"], doubles=["double1"], grain=grain)
        assert projection_backfill(projection_id=projection.id) is True
    Projection.objects.filter(dataset=dataset, name="hourly").update(bucket_rows=1_000.0, bucket_points=10_000.0)
    Projection.objects.filter(dataset=dataset, name="sixhourly").update(bucket_rows=3_000.0)
    Projection.objects.filter(dataset=dataset, name="daily").update(bucket_rows=5_000.0)
    return dataset


def _translation(project: Project, sql: str, *, pinned: bool = True) -> Translation:
    catalog = catalog_read(project_id=project.id)
    return sql_translate(
        statement=sql_parse(sql=sql), datasets=catalog.datasets, projections=catalog.projections, cheapest=False, now=catalog.clock, pinned=pinned
    )


def _body(answered) -> bytes:
    """An answer's bytes without its timing."""
    return _ELAPSED.sub(b"", answered.body)


def _answered_pinned(project: Project, sql: str) -> tuple:
    """The query through the projection after a warm-up (so the catalog is kept), the messages it sent, and the raw
    scan's answer to compare with."""
    sql_execute(project=project, sql=sql, plan="projection")
    answered, sent = round_trips(lambda: sql_execute(project=project, sql=sql, plan="projection"))
    return answered, sent, sql_execute(project=project, sql=sql, plan="raw")


def _at(sql: str, moments: dict[str, dt.datetime]) -> str:
    """``sql`` with each edge replaced by a moment."""
    for edge, moment in moments.items():
        sql = sql.replace(edge, f"(TIMESTAMPTZ '{moment.isoformat()}')")
    return sql


@pytest.mark.parametrize("sql", QUERIES)
def test_every_pinned_value_is_what_postgresql_computes_anywhere_in_its_edges_ranges(web, sql):
    """At edges in every part of the day (bucket starts, a second either side, the cuts' reaches), each value computed in
    Python is what PostgreSQL computes from its SQL at those edges, and at both ends of the ranges it says it holds over."""
    translation = _translation(web.project, sql)
    assert translation.plan == "projection=daily+sixhourly+hourly"
    pins = translation.pins
    assert pins is not None
    midnight = dt.datetime(2026, 12, 6, tzinfo=dt.UTC)
    seconds = {s + d for s in range(0, 86_400, 3600) for d in (-1, 0, 1)}
    seconds |= {h * 3600 + m * 60 + d for h in range(0, 24, 5) for m in (26, 27, 28, 32, 33, 34) for d in (-1, 0, 1)}
    seconds |= set(random.Random(9).sample(range(86_400), 60))
    with connection.cursor() as cursor:
        cursor.execute("SET TimeZone = 'UTC'")
        for second in sorted(seconds):
            now = midnight + dt.timedelta(seconds=second)
            pinning = Pinning({edge: edge_at(anchor, now) for edge, anchor in pins.edges})
            expected = [value(pinning) for _, _, value in pins.terms]
            # Each edge on its own at its value or either end of its range: the ranges are independent.
            choices = [
                [edge_at(anchor, now), pinning.ranges[edge][0], pinning.ranges[edge][1] - dt.timedelta(microseconds=1)]
                for edge, anchor in pins.edges
            ]
            for corner in itertools.product(*choices):
                moments = {edge: moment for (edge, _), moment in zip(pins.edges, corner, strict=True)}
                cursor.execute("SELECT " + ", ".join(_at(term, moments) for _, term, _ in pins.terms))
                assert list(cursor.fetchone()) == expected, (now, moments)


def test_between_now_edges_are_pinned_as_the_two_comparisons_it_stands_for(web):
    """``BETWEEN`` and ``NOW('UTC')`` compile to the same pinned plan as ``>=`` and ``<=`` of ``NOW()``."""
    between = _translation(web.project, QUERIES[2])
    spelled = _translation(
        web.project,
        "SELECT blob2, count() AS n FROM web WHERE timestamp >= NOW() - INTERVAL '40' HOUR "
        "AND timestamp <= NOW() - INTERVAL 90 MINUTE GROUP BY blob2 ORDER BY blob2",
    )

    assert between.pins is not None and spelled.pins is not None
    assert [offset for _, offset in between.pins.edges] == [offset for _, offset in spelled.pins.edges]
    assert sorted(offset for _, offset in between.pins.edges) == [-dt.timedelta(hours=40), -dt.timedelta(minutes=90)]
    assert len(between.sql) < len(_translation(web.project, QUERIES[2], pinned=False).sql) / 2


@pytest.mark.parametrize("sql", QUERIES[1:])
def test_a_window_of_two_now_edges_answers_pinned_as_the_raw_scan(web, sql):
    """Both edges pinned, the guard accepts them in the query's first message and the answer is the raw scan's."""
    assert _translation(web.project, sql).pins is not None
    _away_from_range_ends(web.project, sql)

    answered, sent, raw = _answered_pinned(web.project, sql)

    assert (answered.plan, sent.count("BEGIN")) == ("projection=daily+sixhourly+hourly", 1)
    assert _body(answered) == _body(raw)


def _literal(moment: dt.datetime, spelling: int) -> str:
    """A dashboard's edge: a string, Grafana's ``toDateTime(seconds)``, the string in ``toDateTime``, or JavaScript's
    ``toISOString()``."""
    text = moment.strftime("%Y-%m-%d %H:%M:%S")
    iso = moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03}Z"
    return [f"'{text}'", f"toDateTime({int(moment.timestamp())})", f"toDateTime('{text}', 'UTC')", f"'{iso}'"][spelling % 4]


def test_literal_edges_are_pinned_with_the_values_postgresql_computes_from_them(web):
    """A dashboard's time range is literals: at edges all over a day (bucket starts, a second either side, the cuts'
    reaches), in each spelling, every value computed in Python is what PostgreSQL computes from the query's own SQL,
    and the guard accepts them."""
    midnight = dt.datetime.now(dt.UTC).replace(hour=0, minute=0, second=0, microsecond=0) - dt.timedelta(days=1)
    seconds = sorted({s + d for s in range(0, 86_400, 3 * 3600) for d in (-1, 0, 1)} | {h * 3600 + m * 60 for h in (1, 13) for m in (26, 33)})
    with connection.cursor() as cursor:
        cursor.execute("SET TimeZone = 'UTC'")
        for k, second in enumerate(seconds):
            low = midnight + dt.timedelta(seconds=second)
            high = low + dt.timedelta(hours=7, minutes=13, seconds=k)
            sql = (
                f"SELECT blob1, sum(double1) AS s FROM web WHERE timestamp >= {_literal(low, k)} "
                f"AND timestamp <= {_literal(high, k + 1)} GROUP BY blob1 ORDER BY blob1"
            )
            translation = _translation(web.project, sql)
            pins = translation.pins
            assert pins is not None, sql
            assert sorted(anchor for _, anchor in pins.edges) == [low, high]
            values = pins.params(dt.datetime.now(dt.UTC))
            assert values is not None
            cursor.execute("SELECT " + ", ".join(term for _, term, _ in pins.terms), translation.params)
            assert list(cursor.fetchone()) == [values[name] for name, _, _ in pins.terms], sql
            cursor.execute(f"SELECT public.meaux_sql_pins_check({pins.guard})", translation.params | values)


def test_a_window_from_now_to_a_literal_is_pinned_with_each_edge_anchored_its_way(web):
    until = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(hours=5)
    sql = (
        f"SELECT blob1, count() AS n FROM web WHERE timestamp > NOW() - INTERVAL 30 HOUR AND timestamp < {_literal(until, 0)} "
        "GROUP BY blob1 ORDER BY blob1"
    )
    pins = _translation(web.project, sql).pins

    assert pins is not None
    assert sorted((anchor for _, anchor in pins.edges), key=lambda anchor: isinstance(anchor, dt.datetime)) == [-dt.timedelta(hours=30), until]
    _away_from_range_ends(web.project, sql)
    answered, sent, raw = _answered_pinned(web.project, sql)
    assert sent.count("BEGIN") == 1
    assert _body(answered) == _body(raw)


@pytest.mark.parametrize("spelling", [0, 1, 2, 3])
def test_a_dashboards_literal_window_answers_pinned_as_the_raw_scan(web, spelling):
    low = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(hours=41, minutes=7)
    sql = (
        f"SELECT blob2, count() AS n, avg(double1) AS a FROM web WHERE timestamp >= {_literal(low, spelling)} "
        f"AND timestamp <= {_literal(low + dt.timedelta(hours=30), spelling)} GROUP BY blob2 ORDER BY blob2"
    )
    assert _translation(web.project, sql).pins is not None

    answered, sent, raw = _answered_pinned(web.project, sql)

    assert (answered.plan, sent.count("BEGIN")) == ("projection=daily+sixhourly+hourly", 1)
    assert _body(answered) == _body(raw)


def test_pinned_raw_reads_plan_only_the_partition_of_the_ragged_bucket(sql_partitions, web):
    """The raw points' arms are bounded by the ragged bucket's constant ends, so PostgreSQL plans the one day partition
    that holds it, not every day from the time floor on (the days created ahead for ingest among them, which
    ``sql_partitions`` makes: alone, the test had only the fixture's four days)."""
    translation = _translation(web.project, QUERIES[0])
    assert translation.pins is not None
    now = dt.datetime.now(dt.UTC)
    with connection.cursor() as cursor:
        cursor.execute("SET TimeZone = 'UTC'")
        cursor.execute("EXPLAIN " + translation.sql, translation.params | translation.pins.params(now))
        plan = "\n".join(row[0] for row in cursor.fetchall())
        cursor.execute("SELECT count(*) FROM pg_inherits WHERE inhparent = 'tracking_datapoint'::regclass")
        partitions = cursor.fetchone()[0]

    day = (now.replace(microsecond=0) - dt.timedelta(hours=24)).strftime("%Y%m%d")
    assert set(re.findall(r" on (tracking_datapoint_p\d{8})", plan)) == {f"tracking_datapoint_p{day}"}
    assert partitions >= 5


def _reader_plan(sql: str, params: dict) -> str:
    """EXPLAIN of ``sql`` as the sandbox's reader role sees it: under the row-level security policy of its datasets."""
    datasets = ",".join(str(dataset.id) for dataset in Dataset.objects.all())
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"SET LOCAL TimeZone = 'UTC'; SELECT set_config('{DATASET_IDS_SETTING}', %(datasets)s, true); SET LOCAL ROLE {ROLE}",
                       {"datasets": datasets})
        cursor.execute("EXPLAIN " + sql, params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
        transaction.set_rollback(True)
    return plan


@pytest.mark.parametrize("sql", QUERIES)
def test_a_pinned_plan_leaves_out_the_arms_its_values_say_read_nothing(web, sql):
    """Under the reader role's row-level security PostgreSQL keeps an arm whose pinned test is false in the plan, planned
    and costed though never run; the statement sent leaves such arms out, and answers as the raw scan."""
    translation = _translation(web.project, sql)
    values = translation.pins.params(dt.datetime.now(dt.UTC))
    assert values is not None
    pruned = translation.pins.pruned(translation.sql, values)

    assert pruned.count("UNION ALL") < translation.sql.count("UNION ALL")
    assert "One-Time Filter: false" in _reader_plan(translation.sql, translation.params | values)
    assert "One-Time Filter: false" not in _reader_plan(pruned, translation.params | values)
    _away_from_range_ends(web.project, sql)
    answered, _, raw = _answered_pinned(web.project, sql)
    assert _body(answered) == _body(raw)


def _away_from_range_ends(project: Project, sql: str) -> None:
    """Wait until the query's edges are more than the kept catalog's lag (``CLOCK_MARGIN``) and a second inside their
    ranges, so that values computed from its estimate hold at the query's ``NOW()``."""
    pins = _translation(project, sql).pins
    assert pins is not None
    margin = catalog_module.CLOCK_MARGIN + dt.timedelta(seconds=1)
    with connection.cursor() as cursor:
        cursor.execute("SELECT transaction_timestamp()")
        now = cursor.fetchone()[0]
    values = pins.params(now)
    assert values is not None
    for k, (_, anchor) in enumerate(pins.edges):
        edge = edge_at(anchor, now.replace(microsecond=0))
        if edge - values[f"pin_low{k}"] < margin or values[f"pin_high{k}"] - edge < margin:
            time.sleep(2 * margin.total_seconds())
            return


def test_a_query_over_a_now_window_answers_pinned_in_one_message_as_the_raw_scan(web):
    """Pinned, the seed's requests by path plans a third of its SQL and answers in the one message a kept catalog
    sends, byte for byte as the raw scan."""
    sql = QUERIES[0]
    assert len(_translation(web.project, sql).sql) < len(_translation(web.project, sql, pinned=False).sql) / 2
    _away_from_range_ends(web.project, sql)

    answered, sent, raw = _answered_pinned(web.project, sql)

    assert (answered.plan, sent) == ("projection=daily+sixhourly+hourly", ["BEGIN"])
    assert _body(answered) == _body(raw)


def test_a_window_that_moved_past_its_pins_is_refused_and_answered_without_them(web, monkeypatch):
    """A kept catalog's clock estimate two hours behind: the values computed from it are for other buckets, the query's
    message refuses them before the query runs, and the query runs again unpinned, with the raw scan's answer."""
    sql = QUERIES[0]
    sql_execute(project=web.project, sql=sql, plan="projection")
    monkeypatch.setattr(catalog_module, "CLOCK_MARGIN", dt.timedelta(hours=2))

    answered, sent = round_trips(lambda: sql_execute(project=web.project, sql=sql, plan="projection"))

    assert (answered.plan, sent) == ("projection=daily+sixhourly+hourly", ["BEGIN", "ROLLBACK", "BEGIN"])
    assert _body(answered) == _body(sql_execute(project=web.project, sql=sql, plan="raw"))


def test_the_guard_refuses_values_computed_for_another_hour(web):
    translation = _translation(web.project, QUERIES[0])
    assert translation.pins is not None
    stale = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)

    with pytest.raises(PinsMissed):
        sql_sandbox_run(
            query=translation.sql,
            params=translation.params | (translation.pins.params(stale) or {}),
            count_query=translation.count_sql,
            dataset_ids=translation.dataset_ids,
            limits=sql_limits(started=time.monotonic()),
            guard=translation.pins.guard,
        )


#: Edges computed from NOW() by months, floors and numbers, as dashboards write them (``ir.NowShift``).
SHIFTED_EDGES = [
    "NOW() - INTERVAL '1' MONTH",
    "NOW() - INTERVAL 1 QUARTER",
    "NOW() - INTERVAL 1 YEAR + INTERVAL 90 MINUTE",
    "today()",
    "today() - 7",
    "toDate(now()) - INTERVAL 1 MONTH",
    "toStartOfDay(NOW())",
    "toStartOfDay(now(), 'UTC') - INTERVAL 36 HOUR",
    "toStartOfHour(now()) - INTERVAL 1 HOUR",
    "toStartOfFifteenMinutes(now()) - 3600",
    "toStartOfInterval(now(), INTERVAL 5 HOUR)",
    "toStartOfInterval(NOW('UTC'), INTERVAL 3 DAY)",
    "toStartOfWeek(now())",
    "toStartOfMonth(now()) - INTERVAL 1 MONTH",
    "toStartOfQuarter(now())",
    "toStartOfYear(now())",
    "date_trunc('hour', now())",
    "toDateTime(toStartOfMonth(now()))",
    "current_date() + INTERVAL 2 HOUR",
    "now() - 90000",
]


def _shifted_moments() -> list[dt.datetime]:
    """Month ends (a leap February among them), year ends, Sundays and Mondays, hour and day boundaries a second
    either side, and moments at random."""
    firsts = [dt.datetime(year, month, 1, tzinfo=dt.UTC) for year in (2026, 2028) for month in (1, 2, 3, 5, 12)]
    moments = [first + dt.timedelta(seconds=s) for first in firsts for s in (-86_400, -3601, -1, 0, 1, 3599, 86_399)]
    moments += [dt.datetime(2028, 2, 29, 23, 59, 59, tzinfo=dt.UTC), dt.datetime(2026, 12, 6, 12, tzinfo=dt.UTC), dt.datetime(2026, 12, 7, tzinfo=dt.UTC)]
    rng = random.Random(11)
    moments += [dt.datetime(2026, 1, 1, tzinfo=dt.UTC) + dt.timedelta(seconds=rng.randrange(3 * 365 * 86_400)) for _ in range(40)]
    return [moment + dt.timedelta(microseconds=123_456) for moment in moments]


@pytest.mark.parametrize("edge", SHIFTED_EDGES)
def test_an_edge_shifted_from_now_by_months_floors_or_numbers_is_pinned_at_the_moment_postgresql_computes(web, edge):
    """At month and year ends, leap days, week starts and boundaries a second either side, the edge computed in Python
    from ``NOW()`` is the one the query's own SQL computes from ``transaction_timestamp()``."""
    translation = _translation(web.project, f"SELECT blob1, count() AS n FROM web WHERE timestamp >= {edge} GROUP BY blob1 ORDER BY blob1")
    assert translation.pins is not None, edge
    [(sql, anchor)] = translation.pins.edges
    with connection.cursor() as cursor:
        cursor.execute("SET TimeZone = 'UTC'")
        for now in _shifted_moments():
            cursor.execute(f"SELECT {sql.replace('transaction_timestamp()', '%(test_now)s::timestamptz')}", translation.params | {"test_now": now})
            assert cursor.fetchone()[0] == edge_at(anchor, now.replace(microsecond=0)), (edge, now)


@pytest.mark.parametrize("edge", ["today()", "toStartOfHour(now()) - INTERVAL 1 HOUR", "NOW() - INTERVAL '1' MONTH", "now() - 100000", "toDate(now()) - 1"])
def test_a_window_from_a_shifted_edge_answers_pinned_in_one_message_as_the_raw_scan(web, edge):
    sql = f"SELECT blob2, count() AS n, sum(double1) AS s FROM web WHERE timestamp >= {edge} GROUP BY blob2 ORDER BY blob2"
    _away_from_range_ends(web.project, sql)

    answered, sent, raw = _answered_pinned(web.project, sql)

    assert (answered.plan, sent.count("BEGIN")) == ("projection=daily+sixhourly+hourly", 1)
    assert _body(answered) == _body(raw)


@pytest.mark.parametrize(
    "edge",
    [
        # Floors and dates in another zone than UTC; a calendar floor of more than one unit (``meaux_ch`` computes it);
        # a number that is not a literal.
        "toStartOfDay(NOW('Asia/Kolkata'))",
        "toStartOfDay(now(), 'Asia/Kolkata')",
        "toDate(now(), 'America/New_York')",
        "toStartOfInterval(now(), INTERVAL 2 MONTH)",
        "now() - length('abc')",
    ],
)
def test_an_edge_python_does_not_compute_runs_unpinned_with_the_raw_answer(web, edge):
    sql = f"SELECT blob1, count() AS n FROM web WHERE timestamp >= {edge} GROUP BY blob1 ORDER BY blob1"
    assert _translation(web.project, sql).pins is None

    answered = sql_execute(project=web.project, sql=sql, plan="projection")

    assert answered.plan == "projection=daily+sixhourly+hourly"
    assert _body(answered) == _body(sql_execute(project=web.project, sql=sql, plan="raw"))


@pytest.mark.parametrize("weeks", [110_000, 3_000])
def test_an_edge_before_1970_runs_unpinned_with_the_raw_answer(web, weeks):
    """``NOW() - INTERVAL 110000 WEEK`` is year -82, which Python's datetime cannot hold; 3,000 weeks back is 1969,
    before the origin of ``date_bin``'s buckets, where PostgreSQL releases have disagreed. Neither is pinned: the
    plan runs as SQL, with the raw scan's answer."""
    sql = f"SELECT blob1, sum(double1) AS s FROM web WHERE timestamp > NOW() - INTERVAL {weeks} WEEK GROUP BY blob1 ORDER BY blob1"
    translation = _translation(web.project, sql)
    assert translation.pins is not None
    assert translation.pins.params(dt.datetime.now(dt.UTC)) is None

    answered = sql_execute(project=web.project, sql=sql, plan="projection")

    assert answered.plan == "projection=daily+sixhourly+hourly"
    assert _body(answered) == _body(sql_execute(project=web.project, sql=sql, plan="raw"))
