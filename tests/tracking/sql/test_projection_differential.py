"""Projection path vs forced raw path: byte-identical answers on generated queries (issue 11).

One dataset lives through what changes points: a bulk load backfilled into six
projections (minute, hour, six-hour and day grains; two share dimensions, as the defaults do;
three keep another's columns at a coarser grain, its tiers: one of them two deep), late points written through the real drain
after the projections were ready, sampled points (``_sample_interval`` > 1), a GDPR deletion
job, retention trimming days, and a relabel. After each stage a batch of generated queries
(ragged ``NOW() - INTERVAL`` and absolute windows, every covered aggregate, filters on
dimensions, time buckets) runs through ``sql_execute`` with ``plan="projection"``, where a
projection must answer, and with ``plan="raw"``. The bodies must be identical bytes (the
elapsed time masked). By default (``plan="auto"``) a projection must answer it (the
narrowest that covers it, not always the one it was built over) unless the query's window
fits in one of the buckets of the one it was built over, where the raw scan is cheaper. Everything runs in one transaction, so ``NOW()`` is one instant for all paths.
"""

import datetime as dt
import json
import random
import re
from collections import Counter

import pytest
from django.db import connection

from projects.governance.models import DeletionJob
from tests.factories import DatasetFactory, ProjectFactory
from tests.tracking.sql.support import Point, partitions_for, plan_nodes, points_insert, project_translation
from tracking.deletion.services import deletion_advance, deletion_request
from tracking.ingest import buffer
from tracking.ingest.decode import PointRow, epoch_us
from tracking.models import Dataset, Projection
from tracking.projections.services import projection_backfill, projection_create, projections_defaults_ensure
from tracking.services import buffer_drain, dataset_update, retention_apply
from tracking.sql.engine import sql_execute

pytestmark = pytest.mark.django_db

QUERIES_PER_STAGE = 64
METHODS = ["GET", "POST", "error", "cost", ""]
PATHS = [f"/p{i}" for i in range(7)]
STATUSES = ["200", "404", "500", "503", "cost"]
LABELS = {"blob2": "path", "double1": "duration_ms"}
#: The projections the queries may use: (name, dimensions, doubles, grain in seconds).
PROJECTIONS = [
    ("dash", ["blob1", "blob2", "blob3"], ["double1", "double2", "double3"], 3600),
    ("pair", ["blob1", "blob2"], ["double1", "double2", "double3"], 3600),
    ("paths", ["blob2"], ["double1"], 60),
    ("daily", ["index1", "blob1"], ["double2"], 86400),
    # Coarse tiers of ``pair`` and ``paths``: they answer beside them, never alone. ``pair`` has two,
    # its six hours read the ragged days.
    ("pair_day", ["blob1", "blob2"], ["double1", "double2", "double3"], 86400),
    ("pair_6h", ["blob1", "blob2"], ["double1", "double2", "double3"], 21600),
    ("paths_hour", ["blob2"], ["double1"], 3600),
]
#: The measures given to the projections the others are tiers of: 1,000 rows standing for 10,000 points, so an
#: edge within 45% of its bucket's nearer end is read as the bucket's row minus the points of its short side
#: (``raw_cut_reach``).
MEASURED = {"dash", "pair", "paths", "daily"}
_ELAPSED = re.compile(rb'"elapsed": [0-9.e-]+')


def _points(rng: random.Random, now: dt.datetime, count: int, *, days: float) -> list[Point]:
    points = []
    for _ in range(count):
        at = now - dt.timedelta(seconds=rng.randint(0, int(days * 86400)), microseconds=rng.randint(0, 999_999))
        blobs = [rng.choice(METHODS), rng.choice(PATHS), rng.choice(STATUSES)]
        if rng.random() < 0.05:
            blobs[rng.randrange(3)] = None
        doubles = [round(rng.uniform(0, 900), rng.choice([0, 1, 3, 9])), rng.choice([1, 2, 0.1, 0.2, 1e-7]), rng.random()]
        if rng.random() < 0.05:
            doubles = doubles[:1]
        points.append(
            Point(at, rng.choice(["", "tenant-a", "tenant-b"]), blobs, doubles, sample_interval=rng.choice([1, 1, 1, 2, 10, 100]))
        )
    return points


def _web_dataset(rng: random.Random, count: int, *, days: float, **fields: object) -> tuple[Dataset, dt.datetime]:
    """A project's dataset ``web`` holding ``count`` generated points up to the database's now, to the second."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT date_trunc('second', transaction_timestamp())")
        now = cursor.fetchone()[0]
    dataset = DatasetFactory(project=ProjectFactory(), name="web", **fields)
    points = _points(rng, now, count, days=days)
    partitions_for(points)
    points_insert(dataset=dataset, points=points)
    return dataset, now


def _drained(dataset_id: int, points: list[Point]) -> None:
    """Points written the way ingest writes them: the buffer, then the drain's transaction."""
    rows = [
        PointRow(epoch_us(p.timestamp), p.index1, list(p.blobs), [float(d) for d in p.doubles if d is not None])
        for p in points
    ]
    partitions_for(points)
    buffer.buffer_append(dataset_id=dataset_id, rows=rows)
    assert buffer_drain(time_budget=10, block_ms=10).points == len(rows)


class Generator:
    """Queries built only from what a projection covers, over one projection's columns."""

    def __init__(self, rng: random.Random, now: dt.datetime, labels: dict[str, str]) -> None:
        self.rng = rng
        self.now = now
        self.names = {column: labels.get(column, column) for column in ("blob1", "blob2", "blob3", "double1", "index1")}

    def name(self, column: str) -> str:
        return self.names.get(column, column) if self.rng.random() < 0.5 else column

    def window(self, grain: int) -> tuple[list[str], float | None]:
        """The WHERE terms of a time window and its length in seconds (None: no window)."""
        rng = self.rng
        choice = rng.random()
        if choice < 0.15:
            return [], None
        if choice < 0.55:
            unit, most, seconds = rng.choice([("MINUTE", 600, 60), ("HOUR", 100, 3600), ("DAY", 6, 86400)])
            op = rng.choice([">", ">="])
            amount = rng.randint(1, most)
            return [f"timestamp {op} NOW() - INTERVAL '{amount}' {unit}"], amount * seconds
        start = self.now - dt.timedelta(seconds=rng.randint(0, 6 * 86400))
        end = start + dt.timedelta(seconds=rng.randint(60, 3 * 86400))
        text = "%Y-%m-%d %H:%M:%S"
        if choice < 0.8:
            terms = [f"timestamp >= toDateTime('{start:{text}}')", f"timestamp < '{end:{text}}'"]
        else:
            terms = [f"timestamp BETWEEN '{start:{text}}' AND '{end:{text}}'"]
        return terms, (min(end, self.now) - start).total_seconds()

    def condition(self, dims: list[str]) -> str:
        rng = self.rng
        physical = rng.choice(dims)
        column = self.name(physical)
        pool = {"blob1": METHODS, "blob2": PATHS, "blob3": STATUSES, "index1": ["", "tenant-a", "tenant-b"]}[physical]
        kind = rng.random()
        if kind < 0.4:
            return f"{column} = '{rng.choice(pool)}'"
        if kind < 0.6:
            return f"{column} IN ('{rng.choice(pool)}', '{rng.choice(pool)}')"
        if kind < 0.8:
            return f"{column} LIKE '{rng.choice(['%0%', '5%', '/p%', 'G%', '%'])}'"
        return f"NOT ({column} = '{rng.choice(pool)}')"

    def aggregate(self, dims: list[str], doubles: list[str]) -> str:
        rng = self.rng
        double = self.name(rng.choice(doubles)) if doubles else None
        options = ["count()", "count(*)", "sum(_sample_interval)", f"countIf({self.condition(dims)})"]
        options += [f"uniq({self.name(rng.choice(dims))})", f"min({self.name(rng.choice(dims))})"] if dims else []
        options += [f"sum(CASE WHEN {self.condition(dims)} THEN 1 ELSE 0 END)"] if dims else []
        options += ["avg(_sample_interval)"]
        if double is not None:
            options += [
                f"sum({double})",
                f"avg({double})",
                f"SUM(_sample_interval * {double})",
                f"sum({double} * _sample_interval)",
                f"min({double})",
                f"max({double})",
                f"sumIf({double}, {self.condition(dims)})" if dims else f"sum({double})",
                f"avgIf({double}, {self.condition(dims)})" if dims else f"avg({double})",
                f"sum({double}) / count()",
            ]
        return rng.choice(options)

    def bucket(self, grain: int) -> str | None:
        rng = self.rng
        candidates = {
            60: ["toStartOfMinute(timestamp)", "toStartOfInterval(timestamp, INTERVAL 15 MINUTE)", "toStartOfHour(timestamp)"],
            3600: ["toStartOfHour(timestamp)", "toStartOfInterval(timestamp, INTERVAL 6 HOUR)", "toStartOfInterval(timestamp, INTERVAL 120 MINUTE)"],
            21600: ["toStartOfInterval(timestamp, INTERVAL 6 HOUR)"],
            86400: [],
        }[grain] + ["toStartOfDay(timestamp)", "DATE_TRUNC('day', timestamp)", "toDate(timestamp)", "toStartOfWeek(timestamp)"]
        return rng.choice(candidates) if rng.random() < 0.35 else None

    def query(self, dims: list[str], doubles: list[str], grain: int, table: str) -> tuple[str, float | None]:
        """A query covered by the projection of these columns and grain, and the length of its time window."""
        rng = self.rng
        keys = rng.sample(dims, rng.randint(0, min(2, len(dims))))
        key_exprs = [self.name(key) for key in keys]
        bucket = self.bucket(grain)
        items = []
        if bucket is not None:
            items.append(f"{bucket} AS t")
            key_exprs.append("t")
        items += [column for column in key_exprs if column != "t"]
        measures = [f"{self.aggregate(dims, doubles)} AS m{i}" for i in range(rng.randint(1, 3))]
        window, seconds = self.window(grain)
        where = window + ([self.condition(dims)] if dims and rng.random() < 0.6 else [])
        sql = f"SELECT {', '.join(items + measures)} FROM {table}"
        if where:
            sql += " WHERE " + " AND ".join(where)
        if key_exprs:
            sql += " GROUP BY " + ", ".join(key_exprs)
            if rng.random() < 0.2:
                sql += f" HAVING count() > {rng.randint(0, 3)}"
            order = [f"{key} {rng.choice(['ASC', 'DESC'])}" for key in key_exprs]
            if rng.random() < 0.3:
                order.insert(0, "m0 DESC")
            sql += " ORDER BY " + ", ".join(order)
            if rng.random() < 0.3:
                sql += f" LIMIT {rng.randint(1, 5)}"
        return sql, seconds


def _compare(project: object, queries: list[tuple[str, int, float | None]]) -> tuple[list[str], Counter[str]]:
    """``plan="projection"`` against ``plan="raw"`` byte for byte; and the default plan's choice.

    By default a projection answers it unless the query's window fits in one of the buckets of
    the projection it was built over (then the raw scan is cheaper and may answer, or another projection).
    """
    problems: list[str] = []
    plans: Counter[str] = Counter()
    for sql, grain, window in queries:
        fast = sql_execute(project=project, sql=sql, plan="projection")
        raw = sql_execute(project=project, sql=sql, plan="raw")
        chosen = sql_execute(project=project, sql=sql).plan
        plans[chosen] += 1
        if raw.plan != "raw":
            problems.append(f"plan=raw answered by {raw.plan}: {sql}")
        if not fast.plan.startswith("projection="):
            problems.append(f"not answered by a projection: {sql}")
        if chosen == "raw" and not (window is not None and window <= grain):
            problems.append(f"answered raw by default though its window is longer than a bucket: {sql}")
        if _ELAPSED.sub(b"", fast.body) != _ELAPSED.sub(b"", raw.body):
            problems.append(f"{sql}\n  projection: {fast.body[:400]!r}\n  raw:        {raw.body[:400]!r}")
    return problems, plans


def _stage(rng: random.Random, generator: Generator, project: object, table: str) -> tuple[list[str], Counter[str]]:
    queries = []
    for _ in range(QUERIES_PER_STAGE):
        _, dims, doubles, grain = rng.choice(PROJECTIONS)
        sql, window = generator.query(dims, doubles, grain, table)
        queries.append((sql, grain, window))
    return _compare(project, queries)


def test_projection_answers_equal_the_raw_scan_byte_for_byte(sql_partitions, isolated_stream):
    rng = random.Random(20261204)
    dataset, now = _web_dataset(rng, 2500, days=6, labels=LABELS, retention_days=30)
    project = dataset.project
    for name, dims, doubles, grain in PROJECTIONS:
        projection = projection_create(dataset=dataset, name=name, dimensions=dims, doubles=doubles, grain=grain)
        assert projection_backfill(projection_id=projection.id) is True
        if name in MEASURED:
            Projection.objects.filter(id=projection.id).update(bucket_rows=1_000.0, bucket_points=10_000.0)

    generator = Generator(rng, now, LABELS)
    problems, plans = _stage(rng, generator, project, "web")

    _drained(dataset.id, _points(rng, now, 400, days=5))  # late points into ready projections' old buckets
    more, counted = _stage(rng, generator, project, "web")
    problems += more
    plans += counted

    job = deletion_request(project=project, dataset=dataset, column="blob2", value="/p3")
    while not deletion_advance(job=DeletionJob.objects.get(pk=job.pk)).finished:
        pass
    more, counted = _stage(rng, generator, project, "web")
    problems += more
    plans += counted

    dataset.retention_days = 3
    dataset.save(update_fields=["retention_days"])
    assert retention_apply(now=now).finished
    more, counted = _stage(rng, generator, project, "web")
    problems += more
    plans += counted

    relabelled = {"blob1": "method", "blob2": "route", "double1": "latency"}
    dataset = dataset_update(dataset=dataset, retention_days=3, labels=relabelled)
    generator = Generator(rng, now, relabelled)
    more, counted = _stage(rng, generator, project, "web")
    problems += more
    plans += counted

    assert not problems, f"{len(problems)} of {5 * QUERIES_PER_STAGE} queries differ:\n" + "\n".join(problems[:8])
    by_projection = sum(count for plan, count in plans.items() if plan.startswith("projection="))
    assert by_projection >= 0.85 * 5 * QUERIES_PER_STAGE, plans  # 293 of 320 when written: the rest fit in a bucket
    answering = Counter(name for plan, count in plans.items() for name in plan.removeprefix("projection=").split("+") for _ in range(count))
    assert min(answering[name] for name, *_ in PROJECTIONS) > 0, plans  # the narrowest covering one answers, a tier beside it
    assert not any(plan in (f"projection={name}" for name in ("pair_day", "pair_6h", "paths_hour")) for plan in plans), plans
    assert plans["projection=pair_day+pair_6h+pair"] > 0 and plans["projection=paths_hour+paths"] > 0, plans
    assert _count_points(dataset.id, before=now - dt.timedelta(days=3)) == 0
    assert _count_points(dataset.id, path="/p3") == 0


@pytest.mark.parametrize(
    ("sql", "plan"),
    [
        ("SELECT blob1, sum(double1) AS s FROM web WHERE timestamp > NOW() - INTERVAL '40' HOUR GROUP BY blob1 ORDER BY blob1", "projection=daily+hourly"),
        ("SELECT toDate(timestamp) AS d, count() AS n FROM web GROUP BY d ORDER BY d", "projection=daily+hourly"),
        ("SELECT blob1, avg(double1) AS a FROM web WHERE timestamp >= '2026-01-01 10:17:00' GROUP BY blob1 ORDER BY blob1", "projection=daily+hourly"),
        # Within a day too: the day holding NOW() has no edge. An hourly bucket is not constant over a day.
        ("SELECT blob1, sum(double1) AS s FROM web WHERE timestamp > NOW() - INTERVAL '20' HOUR GROUP BY blob1 ORDER BY blob1", "projection=daily+hourly"),
        ("SELECT toStartOfHour(timestamp) AS h, count() AS n FROM web WHERE timestamp > NOW() - INTERVAL '40' HOUR GROUP BY h ORDER BY h", "projection=hourly"),
    ],
)
def test_a_coarser_tier_answers_its_whole_buckets_beside_the_finer_projection(sql_partitions, isolated_stream, sql, plan):
    """The day tier of the same columns reads the days with no edge, the hour rows the rest of the ragged
    days, raw points the ragged hours; where its days cannot stand (hourly buckets) the hour
    projection answers alone. The same bytes as the raw scan either way."""
    dataset, _ = _web_dataset(random.Random(11), 600, days=4)
    project = dataset.project
    for name, grain in (("hourly", 3600), ("daily", 86400)):
        projection = projection_create(dataset=dataset, name=name, dimensions=["blob1"], doubles=["double1"], grain=grain)
        assert projection_backfill(projection_id=projection.id) is True

    answered = sql_execute(project=project, sql=sql)
    raw = sql_execute(project=project, sql=sql, plan="raw")

    assert answered.plan == plan
    assert _ELAPSED.sub(b"", answered.body) == _ELAPSED.sub(b"", raw.body)


def _explained(project, sql: str, *, cheapest: bool = True) -> list[tuple[dict, dict | None]]:
    """The nodes of the plan ``sql_execute`` would run, with their parents, as EXPLAIN ANALYZE saw them."""
    translation, _ = project_translation(project, sql, cheapest=cheapest)
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (ANALYZE, TIMING OFF, FORMAT JSON) " + translation.sql, translation.params)
        plan = cursor.fetchone()[0]
    return list(plan_nodes((json.loads(plan) if isinstance(plan, str) else plan)[0]["Plan"]))


def _one_bucket_read(project, sql: str, *, projection_id: int | None = None, cheapest: bool = True) -> bool:
    """Whether the plan read projection rows of one bucket (of ``projection_id``'s, when given) under a one-time
    filter: a cut's row arm that ran."""
    nodes = _explained(project, sql, cheapest=cheapest)
    return any(
        "One-Time Filter" in (parent or {})
        and node.get("Relation Name") == "tracking_projection_row"
        and "bucket = " in (conditions := node.get("Index Cond", "") + node.get("Recheck Cond", "") + node.get("Filter", ""))
        and (projection_id is None or f"projection_id = '{projection_id}'::bigint" in conditions)
        and node["Actual Loops"] > 0
        for node, parent in nodes
    )


def _cut_arms_run(project, sql: str) -> bool:
    """Whether the plan ran a ``Cut``'s coarse row arm: the only projection-row scan of one bucket, gated by a
    one-time filter."""
    return _one_bucket_read(project, sql)


#: A day of the fixture below (the day before yesterday, ``{day}``): an edge in its first or last quarter is
#: a ``Cut`` (the day row minus hour rows) read when its long side is inside the window; one in the day's
#: middle or beside another edge of the same day is not.
CUT_WINDOWS = [
    ("timestamp >= '{day} 01:17:05'", True),
    ("timestamp > '{day} 00:00:00'", True),
    ("timestamp < '{day} 22:40:00'", True),
    ("timestamp <= '{day} 23:59:59'", True),
    ("timestamp >= '{day} 02:10:00' AND timestamp < '{next} 21:30:00'", True),
    # The long side outside the window: the cut's rows stand at a moment of it, fail the filter as one
    # (a one-time filter) and are never read.
    ("timestamp > '{day} 22:40:00'", False),
    ("timestamp < '{day} 01:17:05'", False),
    ("timestamp >= '{day} 12:00:00'", False),
    ("timestamp >= '{day} 01:17:05' AND timestamp < '{day} 22:40:00'", False),
]
CUT_MEASURES = [
    ("count() AS n, sum(double1) AS s, avg(double1) AS a", True),
    ("countIf(blob2 = '/p1') AS n, sumIf(double1, blob2 LIKE '/p%') AS s, avgIf(double1, blob2 = 'nowhere') AS a", True),
    ("SUM(_sample_interval * double1) AS w, sum(_sample_interval) AS si, avg(_sample_interval) AS ai", True),
    ("count() AS n, min(double1) AS lo, max(double1) AS hi", False),
    ("uniq(blob2) AS u, count() AS n", False),
]


@pytest.mark.parametrize(("window", "cut"), CUT_WINDOWS)
@pytest.mark.parametrize(("measures", "linear"), CUT_MEASURES)
@pytest.mark.parametrize("keys", ["blob1", "blob1, blob2", "toDate(timestamp) AS d, blob1", ""])
def test_a_ragged_day_cut_from_its_day_row_answers_as_the_raw_scan(sql_partitions, isolated_stream, window, cut, measures, linear, keys):
    """A ragged day whose one edge lies in a quarter at its end is read as its day row minus the hour rows
    of the short side (linear aggregates only); its groups with no point inside the window (``only-early``,
    ``only-late``: their rows cancel out) are dropped as the raw scan never forms them."""
    dataset, now = _web_dataset(random.Random(5), 900, days=4)
    day = (now - dt.timedelta(days=2)).date()
    strays = [
        Point(dt.datetime.combine(day, dt.time(0, 20), tzinfo=dt.UTC), "", ["only-early", "/p1"], [3.25, 1.0]),
        Point(dt.datetime.combine(day, dt.time(23, 50), tzinfo=dt.UTC), "", ["only-late", "/p2"], [4.5, 1.0]),
    ]
    points_insert(dataset=dataset, points=strays)
    for name, grain in (("hourly", 3600), ("daily", 86400)):
        projection = projection_create(dataset=dataset, name=name, dimensions=["blob1", "blob2"], doubles=["double1"], grain=grain)
        assert projection_backfill(projection_id=projection.id) is True
    where = window.format(day=day, next=day + dt.timedelta(days=1))
    sql = f"SELECT {keys + ', ' if keys else ''}{measures} FROM web WHERE {where}"
    if keys:
        names = ["d" if key.endswith(" d") else key for key in keys.split(", ")]
        sql += f" GROUP BY {', '.join(names)} ORDER BY {', '.join(names)}"

    answered = sql_execute(project=dataset.project, sql=sql)
    raw = sql_execute(project=dataset.project, sql=sql, plan="raw")

    assert answered.plan == "projection=daily+hourly"
    assert _ELAPSED.sub(b"", answered.body) == _ELAPSED.sub(b"", raw.body)
    assert _cut_arms_run(dataset.project, sql) is (cut and linear)


#: Measures of the hour and day tiers (``Projection.bucket_rows``), edges on the ragged day, and whether its cut runs.
#: Day rows twice an hour's cut while the short side is under 10 whole hours (``cut_reach``); a day holding every
#: hour's rows, never; unmeasured tiers within a quarter of the day.
REACH_WINDOWS = [
    ((100.0, 200.0), "timestamp >= '{day} 09:17:05'", True),
    ((100.0, 200.0), "timestamp >= '{day} 10:00:00'", False),
    ((100.0, 200.0), "timestamp < '{day} 14:10:00'", True),
    ((100.0, 200.0), "timestamp < '{day} 13:59:59'", False),
    ((100.0, 2400.0), "timestamp >= '{day} 01:17:05'", False),
    ((100.0, 2400.0), "timestamp < '{day} 23:40:00'", False),
    ((None, 200.0), "timestamp >= '{day} 06:00:00'", False),
    ((None, 200.0), "timestamp >= '{day} 05:59:59'", True),
]


@pytest.mark.parametrize(("measures", "window", "cut"), REACH_WINDOWS)
@pytest.mark.parametrize("keys", ["blob1, blob2", ""])
def test_a_ragged_day_is_cut_as_far_as_the_projections_measures_say_it_pays(sql_partitions, isolated_stream, measures, window, cut, keys):
    """The measures in the catalog size the cut (``cut_reach``); wherever it lies, the bytes are the raw scan's."""
    dataset, now = _web_dataset(random.Random(7), 900, days=4)
    day = (now - dt.timedelta(days=2)).date()
    for (name, grain), rows in zip((("hourly", 3600), ("daily", 86400)), measures, strict=True):
        projection = projection_create(dataset=dataset, name=name, dimensions=["blob1", "blob2"], doubles=["double1"], grain=grain)
        assert projection_backfill(projection_id=projection.id) is True
        Projection.objects.filter(id=projection.id).update(bucket_rows=rows)
    sql = f"SELECT {keys + ', ' if keys else ''}count() AS n, sum(double1) AS s FROM web WHERE {window.format(day=day)}"
    if keys:
        sql += f" GROUP BY {keys} ORDER BY {keys}"

    answered = sql_execute(project=dataset.project, sql=sql)
    raw = sql_execute(project=dataset.project, sql=sql, plan="raw")

    assert answered.plan == "projection=daily+hourly"
    assert _ELAPSED.sub(b"", answered.body) == _ELAPSED.sub(b"", raw.body)
    assert _cut_arms_run(dataset.project, sql) is cut


def _rows_read(project, sql: str, projection_id: int) -> int:
    """Rows the plan read from one projection's rows (EXPLAIN ANALYZE)."""
    nodes = _explained(project, sql)
    return sum(
        node["Actual Rows"] * node["Actual Loops"]
        for node, _ in nodes
        if node.get("Relation Name") == "tracking_projection_row"
        and f"projection_id = '{projection_id}'::bigint" in node.get("Index Cond", "") + node.get("Recheck Cond", "") + node.get("Filter", "")
    )


@pytest.mark.parametrize("hour", range(24))
def test_a_ragged_day_is_read_from_its_whole_six_hours_and_hour_rows_only_around_its_edge(sql_partitions, isolated_stream, hour):
    """With a six-hour tier between the hours and the days, a day holding an edge is read from its six hours
    that hold none, the hour rows of the six hours that hold it, and the edge's hour raw; a cut where its
    measures say it pays (up to 4 hours here: ``cut_reach``). Wherever the edge lies, the bytes are the
    raw scan's, and an edge with 6 or more whole hours on both sides of it reads six-hour rows."""
    dataset, now = _web_dataset(random.Random(hour), 900, days=4)
    day = (now - dt.timedelta(days=2)).date()
    points_insert(
        dataset=dataset,
        points=[Point(dt.datetime.combine(day, dt.time(h, 20), tzinfo=dt.UTC), "", ["edge-" + str(h), "/p1"], [3.25, 1.0]) for h in (0, 6, 12, 23)],
    )
    tiers = {}
    for name, grain, rows in (("hourly", 3600, 100.0), ("sixhourly", 21600, 180.0), ("daily", 86400, 200.0)):
        projection = projection_create(dataset=dataset, name=name, dimensions=["blob1", "blob2"], doubles=["double1"], grain=grain)
        assert projection_backfill(projection_id=projection.id) is True
        Projection.objects.filter(id=projection.id).update(bucket_rows=rows)
        tiers[name] = projection.id
    windows = [f"timestamp >= '{day} {hour:02}:17:05'", f"timestamp < '{day} {hour:02}:40:00'", f"timestamp > '{day} {hour:02}:00:00' AND timestamp < '{day + dt.timedelta(days=1)} {hour:02}:30:00'"]
    for where in windows:
        for measures in ("blob1, count() AS n, sum(double1) AS s, avg(double1) AS a", "blob1, min(double1) AS lo, uniq(blob2) AS u"):
            sql = f"SELECT {measures} FROM web WHERE {where} GROUP BY blob1 ORDER BY blob1"

            answered = sql_execute(project=dataset.project, sql=sql)
            raw = sql_execute(project=dataset.project, sql=sql, plan="raw")

            assert answered.plan == "projection=daily+sixhourly+hourly"
            assert _ELAPSED.sub(b"", answered.body) == _ELAPSED.sub(b"", raw.body), sql
            if 6 <= hour < 18:
                assert _rows_read(dataset.project, sql, tiers["sixhourly"]) > 0, sql


def _raw_cut_run(project, sql: str, projection_id: int) -> bool:
    """Whether the projection's plan read a ``RawCut``'s row: a scan of one bucket of it, under a one-time filter."""
    return _one_bucket_read(project, sql, projection_id=projection_id, cheapest=False)


#: Minutes of an edge in its hour, and which side of it is short when hour rows stand for ten points each: the
#: reach is 27 minutes (``raw_cut_reach``), so the edges at :29-:31 are read from their points as without a cut.
RAW_CUT_MINUTES = [(0, "early"), (5, "early"), (26, "early"), (29, None), (30, None), (31, None), (33, "late"), (47, "late"), (59, "late")]


@pytest.mark.parametrize(
    ("tiers", "plan"),
    [((("hourly", 3600),), "hourly"), ((("hourly", 3600), ("sixhourly", 21600), ("daily", 86400)), "daily+sixhourly+hourly")],
)
def test_an_edges_hour_is_read_as_its_row_minus_the_points_of_its_short_side(sql_partitions, isolated_stream, tiers, plan):
    """Where the measures say it pays, an edge's hour is its hour row at a moment of its long side, minus the points
    of its short side at that moment, plus those points at their own: the row is read only when the long side is
    in the window. Wherever the edge lies, alone in its hour or beside another, the bytes are the raw scan's."""
    dataset, now = _web_dataset(random.Random(11), 1500, days=4)
    day = (now - dt.timedelta(days=2)).date()
    points_insert(
        dataset=dataset,
        points=[Point(dt.datetime.combine(day, dt.time(13, minute, 5), tzinfo=dt.UTC), "", ["edge", "/p1"], [2.5, 1.0]) for minute, _ in RAW_CUT_MINUTES],
    )
    ids = {}
    for name, grain in tiers:
        projection = projection_create(dataset=dataset, name=name, dimensions=["blob1", "blob2"], doubles=["double1"], grain=grain)
        assert projection_backfill(projection_id=projection.id) is True
        ids[name] = projection.id
    Projection.objects.filter(id=ids["hourly"]).update(bucket_rows=1_000.0, bucket_points=10_000.0)
    for minute, short in RAW_CUT_MINUTES:
        edge = f"{day} 13:{minute:02}:05"
        windows = [
            (f"timestamp >= '{edge}'", short == "early"),
            (f"timestamp > '{edge}'", short == "early"),
            (f"timestamp < '{edge}'", short == "late"),
            (f"timestamp <= '{edge}' AND timestamp > '{day - dt.timedelta(days=1)} 22:30:00'", short == "late"),
            (f"timestamp >= '{edge}' AND timestamp < '{day} 13:59:59'", False),
            (f"timestamp >= '{edge}' AND timestamp < '{day} 14:00:00'", short == "early"),
        ]
        for where, row_read in windows:
            for measures in ("blob1, count() AS n, sum(double1) AS s, avg(double1) AS a, sumIf(double1, blob2 = '/p1') AS t", "blob1, max(double1) AS hi"):
                sql = f"SELECT {measures} FROM web WHERE {where} GROUP BY blob1 ORDER BY blob1"

                answered = sql_execute(project=dataset.project, sql=sql, plan="projection")
                raw = sql_execute(project=dataset.project, sql=sql, plan="raw")

                assert answered.plan == f"projection={plan}"
                assert _ELAPSED.sub(b"", answered.body) == _ELAPSED.sub(b"", raw.body), sql
                assert _raw_cut_run(dataset.project, sql, ids["hourly"]) is (row_read and "max" not in measures), sql
        total = f"SELECT count() AS n, sum(double1) AS s FROM web WHERE timestamp >= '{edge}'"
        assert _ELAPSED.sub(b"", sql_execute(project=dataset.project, sql=total).body) == _ELAPSED.sub(
            b"", sql_execute(project=dataset.project, sql=total, plan="raw").body
        )


def _count_points(dataset_id: int, *, before: dt.datetime | None = None, path: str | None = None) -> int:
    with connection.cursor() as cursor:
        if before is not None:
            cursor.execute('SELECT count(*) FROM tracking_datapoint WHERE dataset_id = %s AND "timestamp" < %s', [dataset_id, before])
        else:
            cursor.execute("SELECT count(*) FROM tracking_datapoint WHERE dataset_id = %s AND blob2 = %s", [dataset_id, path])
        return int(cursor.fetchone()[0])


@pytest.mark.parametrize(
    ("sql", "plan"),
    [
        ("SELECT toStartOfHour(timestamp) AS h, count() AS n FROM web GROUP BY h ORDER BY h", "projection=hourly"),
        ("SELECT blob1, sum(double1) AS s FROM web WHERE timestamp > NOW() - INTERVAL '90' MINUTE GROUP BY blob1 ORDER BY blob1", "projection=hourly"),
        ("SELECT blob1, sum(double1) AS s FROM web WHERE timestamp > NOW() - INTERVAL '60' MINUTE GROUP BY blob1 ORDER BY blob1", "raw"),
        ("SELECT count() AS n FROM web WHERE (timestamp >= '2026-01-01 10:00:00' AND timestamp < toDateTime('2026-01-01 10:45:00'))", "raw"),
        ("SELECT count() AS n FROM web WHERE timestamp BETWEEN NOW() - INTERVAL 2 HOUR AND NOW() - INTERVAL 1 HOUR", "raw"),
        ("SELECT count() AS n FROM web WHERE timestamp BETWEEN NOW() - INTERVAL 3 HOUR AND NOW() - INTERVAL 1 HOUR", "projection=hourly"),
        ("SELECT count() AS n FROM web WHERE NOW() - INTERVAL 30 MINUTE < timestamp OR blob1 = 'GET'", "projection=hourly"),
        ("SELECT count() AS n FROM web WHERE timestamp < NOW() - INTERVAL 30 MINUTE", "projection=hourly"),
        ("SELECT toStartOfHour(toDateTime(timestamp, 'Asia/Kolkata')) AS h, count() AS n FROM web GROUP BY h ORDER BY h", "raw"),
        ("SELECT toStartOfDay(timestamp, 'Asia/Kolkata') AS h, count() AS n FROM web GROUP BY h ORDER BY h", "raw"),
        ("SELECT toStartOfInterval(timestamp, INTERVAL 20 MINUTE) AS h, count() AS n FROM web GROUP BY h ORDER BY h", "raw"),
        ("SELECT blob1, quantile(0.5)(double1) AS q FROM web GROUP BY blob1 ORDER BY blob1", "raw"),
        ("SELECT blob1, argMax(blob2, double1) AS a FROM web GROUP BY blob1 ORDER BY blob1", "raw"),
        ("SELECT blob2, count() AS n FROM web GROUP BY blob2 ORDER BY blob2", "raw"),
        ("SELECT blob1, sum(double2) AS s FROM web GROUP BY blob1 ORDER BY blob1", "raw"),
        ("SELECT blob1, count() AS n FROM web WHERE double1 > 3 GROUP BY blob1 ORDER BY blob1", "raw"),
        ("SELECT blob1 FROM web WHERE blob1 = 'GET' ORDER BY blob1 LIMIT 3", "raw"),
        ("SELECT count() AS n FROM (SELECT blob1 FROM web)", "raw"),
        ("SELECT blob1, count() AS n FROM web WHERE toHour(timestamp) = 3 GROUP BY blob1 ORDER BY blob1", "raw"),
        # The dataset is found by its table names before compiling: case-folded as the compiler resolves them, and a
        # CTE that shadows the name with no read of the dataset behind it runs raw.
        ("SELECT blob1, count() AS n FROM WEB GROUP BY blob1 ORDER BY blob1", "projection=hourly"),
        ("WITH web AS (SELECT name AS blob1 FROM system.tables) SELECT count() AS n FROM web", "raw"),
    ],
)
def test_what_a_projection_does_not_keep_runs_raw_with_the_same_answer(sql_partitions, isolated_stream, sql, plan):
    """Other timezones, finer buckets, quantiles, argMax, columns the projection lacks, non-aggregating reads;
    and windows that fit in one bucket, where the raw scan is cheaper (``plan="projection"`` still answers them)."""
    dataset, _ = _web_dataset(random.Random(7), 300, days=2)
    project = dataset.project
    projection = projection_create(dataset=dataset, name="hourly", dimensions=["blob1"], doubles=["double1"], grain=3600)
    assert projection_backfill(projection_id=projection.id) is True

    answered = sql_execute(project=project, sql=sql)
    raw = sql_execute(project=project, sql=sql, plan="raw")
    forced = sql_execute(project=project, sql=sql, plan="projection")

    assert answered.plan == plan
    assert _ELAPSED.sub(b"", answered.body) == _ELAPSED.sub(b"", raw.body) == _ELAPSED.sub(b"", forced.body)


@pytest.mark.parametrize(
    ("sql", "plan"),
    [
        (
            "SELECT blob2 AS path, SUM(double2) AS request_count, AVG(double1) AS avg_duration_ms FROM web "
            "WHERE timestamp > NOW() - INTERVAL '24' HOUR AND blob1 = 'GET' GROUP BY path ORDER BY request_count DESC, path LIMIT 10",
            "projection=blob1_blob2_day+blob1_blob2_6h+blob1_blob2",
        ),
        (
            "SELECT blob2 AS error_type, COUNT(*) AS error_count FROM web WHERE timestamp > NOW() - INTERVAL '3' HOUR "
            "AND blob1 = 'error' GROUP BY error_type ORDER BY error_count DESC, error_type",
            "projection=blob1_blob2_day+blob1_blob2_6h+blob1_blob2",
        ),
        (
            "SELECT toStartOfHour(timestamp) AS hour, COUNT(*) AS requests, AVG(double1) AS avg_ms FROM web "
            "WHERE timestamp >= NOW() - INTERVAL '24' HOUR AND blob1 IN ('GET', 'POST') GROUP BY hour ORDER BY hour",
            "projection=blob1_blob2",
        ),
        ("SELECT blob2, uniq(blob1) AS u, max(double3) AS m FROM web GROUP BY blob2 ORDER BY blob2", "projection=blob1_blob2_day+blob1_blob2_6h+blob1_blob2"),
        (
            "SELECT blob1 AS project_id, blob2 AS cost_type, SUM(double1) AS total_cost FROM web "
            "WHERE timestamp > NOW() - INTERVAL '7' DAY AND blob3 = 'cost' GROUP BY project_id, cost_type ORDER BY total_cost DESC, project_id, cost_type",
            "projection=dashboard",
        ),
        (
            "SELECT DATE_TRUNC('day', timestamp) AS date, blob2 AS cost_type, SUM(double1) AS total_cost FROM web "
            "WHERE timestamp > NOW() - INTERVAL '30' DAY AND blob3 = 'cost' GROUP BY date, cost_type ORDER BY date DESC, cost_type",
            "projection=dashboard",
        ),
        (
            "SELECT blob2 AS path, countIf(blob3 LIKE '5%') AS server_errors, sumIf(double1, blob3 LIKE '5%') AS ms FROM web "
            "WHERE timestamp >= NOW() - INTERVAL '24' HOUR AND blob1 IN ('GET', 'POST') GROUP BY path ORDER BY server_errors DESC, path",
            "projection=dashboard",
        ),
        ("SELECT blob3 AS status, count() AS n FROM web WHERE blob1 = 'error' GROUP BY status ORDER BY n DESC, status", "projection=dashboard"),
        ("SELECT blob1, uniq(blob3) AS statuses FROM web GROUP BY blob1 ORDER BY blob1", "projection=dashboard"),
        (
            "SELECT COUNT(*) AS total_requests, AVG(double1) AS avg_response_time, "
            "SUM(CASE WHEN blob3 LIKE '5%' THEN 1 ELSE 0 END) AS error_count FROM web WHERE timestamp > NOW() - INTERVAL '5' MINUTE",
            "raw",
        ),
        ("SELECT blob4, count() AS n FROM web GROUP BY blob4 ORDER BY blob4", "raw"),
    ],
)
def test_the_narrowest_default_projection_that_covers_a_query_answers_it(sql_partitions, isolated_stream, sql, plan):
    """A dataset's default projections: ``blob1_blob2`` (fewer rows), with its day tier beside it, answers what
    groups and filters on blob1 and blob2 only (alone when it buckets by hour), ``dashboard`` what also needs
    blob3, the raw scan the rest; all with the raw scan's bytes."""
    dataset, _ = _web_dataset(random.Random(11), 600, days=8)
    project = dataset.project
    for projection in projections_defaults_ensure(dataset=dataset):
        assert projection_backfill(projection_id=projection.id) is True

    answered = sql_execute(project=project, sql=sql)
    raw = sql_execute(project=project, sql=sql, plan="raw")

    assert answered.plan == plan
    assert _ELAPSED.sub(b"", answered.body) == _ELAPSED.sub(b"", raw.body)
    assert b'"rows": 0' not in raw.body
