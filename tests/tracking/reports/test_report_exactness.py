"""Report numbers read from rollups equal the same numbers computed from raw points."""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from django.db import connection

from projects.models import Project
from tests.factories import DatasetFactory
from tests.tracking.reports.conftest import NOW, mixed_points
from tests.tracking.reports.helpers import points_store, raw
from tracking.models import Dataset
from tracking.reports import selectors
from tracking.reports.db import Piece, rollup_aggregate, rollup_top_keys, tier_bucket_rows, tier_readable
from tracking.reports.selectors import percentile_from_bins, report_costs, report_errors, report_overview, report_usage
from tracking.reports.window import window_build, window_pieces, window_pieces_signed
from tracking.rollups.db import WATERMARK_TABLE, watermark_read
from tracking.rollups.layout import DAY, HOUR, HTTP_METHODS, LATENCY_BOUNDS, MINUTE, Kind, floor_to, layout_from_labels
from tracking.rollups.services import COARSE_LAG, rollups_coarse_advance, rollups_prune, rollups_rebuild

pytestmark = pytest.mark.django_db

METHODS = ", ".join(f"'{m}'" for m in HTTP_METHODS)
REQUEST = (
    "blob3 IS DISTINCT FROM 'cost' AND blob1 NOT IN ('ai-usage', 'error', 'user-event', 'resource')"
    f" AND blob1 IN ({METHODS})"
)
RANGE = "dataset_id = %s AND timestamp >= %s AND timestamp < %s"

WINDOWS = [
    (NOW - timedelta(days=3, hours=5, seconds=17, microseconds=3), NOW - timedelta(seconds=11)),
    (NOW - timedelta(hours=7, minutes=13, seconds=2), NOW - timedelta(hours=1, seconds=59)),
    (NOW - timedelta(days=1), NOW),
    (NOW - timedelta(minutes=5), NOW),
    (NOW - timedelta(days=3, hours=23, minutes=1, seconds=9), NOW - timedelta(days=3, hours=20, seconds=1)),
]


#: Where the coarse tiers' watermark stands: past every point (as a migration leaves it, every
#: point in every tier) or 43 hours before NOW, so the drains give the hour, day and week tiers
#: only their older points and the reports read the last two days from the minute tier.
BEHIND = floor_to(NOW - timedelta(hours=43), HOUR)


@pytest.fixture(autouse=True, params=["past every point", "43 hours behind"])
def coarse_watermark(request, db: None) -> datetime:
    at = "%s" if request.param == "43 hours behind" else "greatest(coarse_until, %s)"
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE {WATERMARK_TABLE} SET coarse_until = {at}", [BEHIND if at == "%s" else floor_to(NOW, HOUR) + HOUR])
    return watermark_read(lock=False)


def _truth(dataset: Dataset, start: datetime, end: datetime) -> dict[str, object]:
    args = [dataset.id, start, end]
    (requests, fives, fours, duration, size), = raw(
        f"""
        SELECT coalesce(sum(_sample_interval), 0),
               coalesce(sum(_sample_interval) FILTER (WHERE blob3 ~ '^5[0-9][0-9]$'), 0),
               coalesce(sum(_sample_interval) FILTER (WHERE blob3 ~ '^4[0-9][0-9]$'), 0),
               coalesce(sum(coalesce(double1, 0)::text::numeric * _sample_interval), 0),
               coalesce(sum(coalesce(double3, 0)::text::numeric * _sample_interval), 0)
        FROM tracking_datapoint WHERE {RANGE} AND {REQUEST}
        """,
        args,
    )
    (cost,), = raw(
        f"SELECT coalesce(sum(coalesce(double1, 0)::text::numeric * _sample_interval), 0) FROM tracking_datapoint "
        f"WHERE {RANGE} AND blob3 = 'cost'",
        args,
    )
    (tokens, ai_cost), = raw(
        f"SELECT coalesce(sum(double1::text::numeric * _sample_interval), 0), coalesce(sum(double2::text::numeric * _sample_interval), 0) "
        f"FROM tracking_datapoint WHERE {RANGE} AND blob1 = 'ai-usage' AND blob3 IS DISTINCT FROM 'cost'",
        args,
    )
    (error_events,), = raw(
        f"SELECT coalesce(sum(_sample_interval), 0) FROM tracking_datapoint WHERE {RANGE} "
        "AND blob1 = 'error' AND blob3 IS DISTINCT FROM 'cost'",
        args,
    )
    bins = dict(
        raw(
            f"SELECT width_bucket(double1, %s::float8[]), sum(_sample_interval) FROM tracking_datapoint "
            f"WHERE {RANGE} AND {REQUEST} AND double1 IS NOT NULL GROUP BY 1",
            [list(LATENCY_BOUNDS), *args],
        )
    )
    return {
        "requests": requests,
        "errors_5xx": fives,
        "errors_4xx": fours,
        "error_rate": Decimal(fives) / Decimal(requests) if requests else None,
        "avg_duration_ms": duration / Decimal(requests) if requests else None,
        "response_bytes": size,
        "avg_response_bytes": size / Decimal(requests) if requests else None,
        "p50_ms": percentile_from_bins(bins, 0.5),
        "p95_ms": percentile_from_bins(bins, 0.95),
        "p99_ms": percentile_from_bins(bins, 0.99),
        "error_events": error_events,
        "ai_tokens": tokens,
        "ai_cost_usd": ai_cost,
        "cost_usd": cost,
    }


def _overview_totals(dataset: Dataset, start: datetime, end: datetime) -> dict[str, object]:
    report = report_overview(project=dataset.project, dataset=dataset, window=window_build(start=start, end=end), now=NOW)
    return {key: value for key, value in report.totals.items() if key not in ("cost_today_usd", "cost_month_usd")}


@pytest.mark.parametrize("window", WINDOWS, ids=["3d-unaligned", "6h-unaligned", "24h", "5m", "old-3h"])
def test_overview_totals_equal_raw_sql(mixed_dataset, window):
    start, end = window

    totals = _overview_totals(mixed_dataset, start, end)

    assert totals == _truth(mixed_dataset, start, end)
    assert totals["requests"] > 0


def test_windows_read_rollup_tiers_not_only_raw_points(mixed_dataset, coarse_watermark):
    start, end = WINDOWS[0]

    sources = [piece.source for piece in window_pieces(start=start, end=end, now=NOW, coarse_until=coarse_watermark)]

    if coarse_watermark == BEHIND:
        assert sources == ["raw", "hour", "day", "hour", "minute", "raw"]
    else:
        assert sources == ["raw", "hour", "day", "minute", "raw"]


def test_hour_day_and_week_tiers_hold_exactly_the_points_before_the_watermark(mixed_dataset, coarse_watermark):
    def requests(tier: str) -> int:
        return raw(f"SELECT sum(n) FROM tracking_rollup_{tier} WHERE dataset_id = %s AND kind = 12", [mixed_dataset.id])[0][0]

    (before,), = raw(f"SELECT count(*) FROM tracking_datapoint WHERE dataset_id = %s AND {REQUEST} AND timestamp < %s", [mixed_dataset.id, coarse_watermark])
    (every,), = raw(f"SELECT count(*) FROM tracking_datapoint WHERE dataset_id = %s AND {REQUEST}", [mixed_dataset.id])

    assert requests("hour") == requests("day") == requests("week") == before > 0
    assert requests("minute") == every


def test_advancing_the_watermark_gives_the_coarse_tiers_what_a_rebuild_gives(mixed_dataset, coarse_watermark):
    def coarse() -> dict[str, list[tuple]]:
        return {
            tier: raw(
                f"SELECT bucket, kind, k1, k2, n, s1, s2, s3, bins, counts FROM tracking_rollup_{tier} WHERE dataset_id = %s ORDER BY 1, 2, 3, 4, 5",
                [mixed_dataset.id],
            )
            for tier in ("hour", "day", "week", "weeks4")
        }

    reached = rollups_coarse_advance(now=NOW + timedelta(hours=5), max_hours=24)
    advanced = coarse()
    rollups_rebuild(dataset_id=mixed_dataset.id, labels=mixed_dataset.labels, now=NOW)

    until = floor_to(NOW + timedelta(hours=5) - COARSE_LAG, MINUTE)
    assert reached == max(coarse_watermark, min(coarse_watermark + timedelta(hours=24), until))
    assert advanced == coarse()
    assert watermark_read(lock=False) == reached


def test_rebuilt_rollups_equal_incremental_rollups(mixed_dataset):
    def snapshot() -> dict[str, list[tuple]]:
        return {
            tier: raw(
                f"SELECT bucket, kind, k1, k2, n, s1, s2, s3, bins, counts FROM tracking_rollup_{tier} WHERE dataset_id = %s ORDER BY 1, 2, 3, 4",
                [mixed_dataset.id],
            )
            for tier in ("minute", "hour", "day", "week", "weeks4")
        }

    incremental = snapshot()
    rollups_rebuild(dataset_id=mixed_dataset.id, labels=mixed_dataset.labels, now=NOW)
    rebuilt = snapshot()

    assert rebuilt["hour"] == incremental["hour"]
    assert rebuilt["day"] == incremental["day"]
    assert rebuilt["week"] == incremental["week"] and rebuilt["weeks4"] == incremental["weeks4"]
    assert {row[1] for row in rebuilt["week"]} == {2, 3, 4, 5, 6, 9, 11, 12, 13}
    horizon_rows = [row for row in incremental["minute"] if row[0] >= NOW.replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=3)]
    assert rebuilt["minute"] == horizon_rows
    assert len(rebuilt["hour"]) > 100


def test_pruned_minute_rows_do_not_change_reports(mixed_dataset):
    start, end = WINDOWS[4]
    before = _overview_totals(mixed_dataset, start, end)

    pruned = rollups_prune(now=NOW)

    assert pruned > 0
    assert _overview_totals(mixed_dataset, start, end) == before == _truth(mixed_dataset, start, end)


def test_sampled_points_are_weighted_by_their_sample_interval(mixed_dataset):
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE tracking_datapoint SET _sample_interval = 10 WHERE dataset_id = %s AND index1 LIKE 'ray-1%%'",
            [mixed_dataset.id],
        )
    rollups_rebuild(dataset_id=mixed_dataset.id, labels=mixed_dataset.labels, now=NOW)
    start, end = WINDOWS[0]

    totals = _overview_totals(mixed_dataset, start, end)

    (unweighted,), = raw(f"SELECT count(*) FROM tracking_datapoint WHERE {RANGE} AND {REQUEST}", [mixed_dataset.id, start, end])
    assert totals == _truth(mixed_dataset, start, end)
    assert totals["requests"] > unweighted


def test_usage_top_paths_equal_raw_sql(mixed_dataset):
    start, end = WINDOWS[0]

    report = report_usage(project=mixed_dataset.project, dataset=mixed_dataset, window=window_build(start=start, end=end), now=NOW)

    expected = raw(
        f"""
        SELECT blob2, sum(_sample_interval), sum(coalesce(double1, 0)::text::numeric * _sample_interval),
               sum(coalesce(double3, 0)::text::numeric * _sample_interval)
        FROM tracking_datapoint WHERE {RANGE} AND {REQUEST} GROUP BY blob2 ORDER BY 2 DESC, 1
        """,
        [mixed_dataset.id, start, end],
    )
    got = [(row["path"], row["requests"], row["avg_duration_ms"], row["bytes"]) for row in report.tables["top_paths"].rows]
    assert got == [(path, n, duration / n, size) for path, n, duration, size in expected]


def test_costs_by_project_and_type_equal_raw_sql(mixed_dataset):
    start, end = WINDOWS[0]

    report = report_costs(project=mixed_dataset.project, dataset=mixed_dataset, window=window_build(start=start, end=end), now=NOW)

    expected = raw(
        f"""
        SELECT blob1, blob2, sum(double1::text::numeric * _sample_interval), sum(_sample_interval)
        FROM tracking_datapoint WHERE {RANGE} AND blob3 = 'cost' GROUP BY 1, 2 ORDER BY 3 DESC, 1, 2
        """,
        [mixed_dataset.id, start, end],
    )
    got = [(r["project_id"], r["cost_type"], r["total_usd"], r["events"]) for r in report.tables["cost_by_project"].rows]
    assert got == expected
    assert ("proj-a", "time", Decimal("0.5"), 1) not in got
    assert any(row[0] == "GET" for row in got)


def test_daily_cost_series_equals_raw_sql(mixed_dataset):
    start, end = NOW - timedelta(days=4), NOW
    window = window_build(start=start, end=end, interval=86400)

    report = report_costs(project=mixed_dataset.project, dataset=mixed_dataset, window=window, now=NOW)

    expected = raw(
        f"""
        SELECT date_bin('1 day', timestamp, TIMESTAMPTZ '1970-01-01 00:00:00+00'), blob2, sum(double1::text::numeric)
        FROM tracking_datapoint WHERE {RANGE} AND blob3 = 'cost' GROUP BY 1, 2
        """,
        [mixed_dataset.id, start, end],
    )
    series = report.series["cost_by_type"]
    got = {(series.t[i], name): value for name, values in series.lines.items() for i, value in enumerate(values) if value}
    assert got == {(day, cost_type): float(amount) for day, cost_type, amount in expected}


def test_errors_by_type_and_5xx_share_equal_raw_sql(mixed_dataset):
    start, end = WINDOWS[1]

    report = report_errors(project=mixed_dataset.project, dataset=mixed_dataset, window=window_build(start=start, end=end), now=NOW)

    by_type = raw(
        f"SELECT blob2, sum(_sample_interval) FROM tracking_datapoint WHERE {RANGE} AND blob1 = 'error' "
        "AND blob3 IS DISTINCT FROM 'cost' GROUP BY 1 ORDER BY 2 DESC, 1",
        [mixed_dataset.id, start, end],
    )
    assert [(r["error_type"], r["errors"]) for r in report.tables["errors_by_type"].rows] == by_type
    truth = _truth(mixed_dataset, start, end)
    assert report.totals["error_rate"] == truth["error_rate"]


def test_reported_p95_is_within_five_percent_above_the_exact_p95(mixed_dataset):
    start, end = WINDOWS[0]

    totals = _overview_totals(mixed_dataset, start, end)

    (exact,), = raw(
        f"SELECT percentile_disc(0.95) WITHIN GROUP (ORDER BY double1) FROM tracking_datapoint "
        f"WHERE {RANGE} AND {REQUEST} AND double1 IS NOT NULL",
        [mixed_dataset.id, start, end],
    )
    assert exact <= totals["p95_ms"] <= exact * 1.05


def test_one_drain_of_two_datasets_with_different_labels_rolls_each_up_by_its_own_layout(project):
    from tests.factories import DatasetFactory
    from tests.tracking.reports.helpers import Point
    from tracking.ingest import buffer
    from tracking.ingest.decode import PointRow, epoch_us
    from tracking.services import buffer_drain

    plain = DatasetFactory(project=project, name="plain")
    relabelled = DatasetFactory(project=project, name="relabelled", labels={"blob5": "path"})
    at = NOW - timedelta(minutes=3)
    point = Point(at, ["GET", "/orders/1", "200", "production", "/orders/:id"], [10.0, 1, 5])
    buffer.buffer_ensure_group()
    for dataset in (plain, relabelled):
        buffer.buffer_append(dataset_id=dataset.id, rows=[PointRow(epoch_us(p.at), "", p.blobs, p.doubles) for p in [point, point]])

    assert buffer_drain(time_budget=10, block_ms=10).points == 4
    window = window_build(start=NOW - timedelta(hours=1), end=NOW)
    paths = {
        dataset.name: [(r["path"], r["requests"]) for r in report_usage(project=project, dataset=dataset, window=window, now=NOW).tables["top_paths"].rows]
        for dataset in (plain, relabelled)
    }
    assert paths == {"plain": [("/orders/1", 2)], "relabelled": [("/orders/:id", 2)]}


def test_usage_p95_per_path_equals_raw_sql_over_paired_bins(mixed_dataset):
    from tracking.rollups.layout import PATH_LATENCY_BOUNDS

    start, end = WINDOWS[1]

    report = report_usage(project=mixed_dataset.project, dataset=mixed_dataset, window=window_build(start=start, end=end), now=NOW)

    bins = raw(
        f"SELECT blob2, width_bucket(double1, %s::float8[]) / 2, sum(_sample_interval) FROM tracking_datapoint "
        f"WHERE {RANGE} AND {REQUEST} AND double1 IS NOT NULL GROUP BY 1, 2",
        [list(LATENCY_BOUNDS), mixed_dataset.id, start, end],
    )
    per_path: dict[str, dict[int, int]] = {}
    for path, number, n in bins:
        per_path.setdefault(path, {})[number] = n
    expected = {path: percentile_from_bins(b, 0.95, PATH_LATENCY_BOUNDS) for path, b in per_path.items()}
    assert {row["path"]: row["p95_ms"] for row in report.tables["top_paths"].rows} == expected
    assert len(expected) == 4


def test_pruning_drops_rollups_older_than_retention_but_no_readable_number(mixed_dataset):
    mixed_dataset.retention_days = 2
    mixed_dataset.save(update_fields=["retention_days"])
    start, end = NOW - timedelta(days=1), NOW
    before = _overview_totals(mixed_dataset, start, end)
    rollups_coarse_advance(now=NOW + timedelta(hours=1), max_hours=48)  # as beat keeps it: every point in the hour tier

    rollups_prune(now=NOW)

    oldest = NOW.replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=1)
    (older,), = raw(
        "SELECT count(*) FROM tracking_rollup_hour WHERE dataset_id = %s AND bucket < %s", [mixed_dataset.id, oldest]
    )
    (kept,), = raw("SELECT count(*) FROM tracking_rollup_hour WHERE dataset_id = %s", [mixed_dataset.id])
    assert (older, kept > 0) == (0, True)
    assert _overview_totals(mixed_dataset, start, end) == before


def test_two_drains_inside_one_outer_transaction_count_each_point_once(project):
    from tests.factories import DatasetFactory
    from tests.tracking.reports.helpers import Point, points_store

    dataset = DatasetFactory(project=project, name="nested")
    first = [Point(NOW - timedelta(minutes=4, seconds=i), ["GET", "/a", "200"], [1.0, 1, 1]) for i in range(10)]
    second = [Point(NOW - timedelta(minutes=2, seconds=i), ["GET", "/a", "200"], [1.0, 1, 1]) for i in range(5)]

    points_store(dataset, first)
    points_store(dataset, second)

    (stored,), = raw("SELECT count(*) FROM tracking_datapoint WHERE dataset_id = %s", [dataset.id])
    (rolled,), = raw("SELECT sum(n) FROM tracking_rollup_minute WHERE dataset_id = %s AND kind = 12", [dataset.id])
    assert (stored, rolled) == (15, 15)


def test_realtime_totals_and_chart_equal_raw_sql(mixed_dataset):
    from tests.tracking.reports.helpers import Point, points_store
    from tracking.reports.selectors import realtime_window, report_realtime
    from tracking.rollups.layout import MINUTE

    requests = [Point(NOW - timedelta(seconds=20 * i + 7), ["GET", "/", "503" if i % 3 else "200"], [float(i), 1, 9]) for i in range(14)]
    # One error event in the raw partial minute at the window's start, one in a whole minute.
    errors = [Point(NOW - timedelta(minutes=4, seconds=50), ["error", "Timeout", "/"], [1]), Point(NOW - timedelta(minutes=2), ["error", "TypeError", "/a"], [1])]
    points_store(mixed_dataset, requests + errors)
    report = report_realtime(project=mixed_dataset.project, dataset=mixed_dataset, window=realtime_window(now=NOW), now=NOW)

    truth = _truth(mixed_dataset, NOW - timedelta(minutes=5), NOW)
    keys = ("requests", "errors_5xx", "errors_4xx", "avg_duration_ms", "response_bytes", "error_events")
    assert {key: report.totals[key] for key in keys} == {key: truth[key] for key in keys}
    chart_start = report.series["requests"].t[0]
    (charted,), = raw(f"SELECT coalesce(sum(_sample_interval), 0) FROM tracking_datapoint WHERE {RANGE} AND {REQUEST}", [mixed_dataset.id, chart_start, NOW])
    assert sum(report.series["requests"].lines.get("requests", [])) == charted
    assert report.totals["requests"] >= 14 and report.totals["error_events"] >= 2
    assert (len(report.series["requests"].t), chart_start) == (31, NOW.replace(second=0, microsecond=0) - 30 * MINUTE)


READS = [
    ([Kind.REQUEST], ["k1", "k2"], None),
    ([Kind.REQUEST], ["k2"], None),
    ([Kind.REQUEST], [], None),
    ([Kind.REQUEST, Kind.LATENCY_ALL], ["kind", "k2"], None),
    ([Kind.LATENCY], ["k1", "k2"], ["/", "/health", "/nowhere"]),
    ([Kind.LATENCY_ALL], ["k2"], None),
    ([Kind.COST, Kind.AI, Kind.ERROR], ["kind", "k1", "k2"], None),
    ([Kind.REQUEST], ["k1"], ["/api/users"]),
    ([Kind.PATH], ["k1"], None),
    ([Kind.PATH, Kind.LATENCY], ["kind", "k1", "k2"], ["/api/orders"]),
]
READ_IDS = [f"{'+'.join(k.name for k in r[0])}-by-{'-'.join(r[1]) or 'none'}{'-keyed' if r[2] else ''}" for r in READS]


def _reads_agree(dataset, start, end, read):
    kinds, group_by, keys = read
    layout = layout_from_labels(dataset.labels)

    def read_from(pieces):
        rows = rollup_aggregate(dataset_id=dataset.id, layout=layout, pieces=pieces, kinds=kinds, group_by=group_by, keys=keys)
        return sorted(repr(row) for row in rows)

    readable = tier_readable(kinds=kinds, group_by=group_by, keys=keys)
    pieces = window_pieces(start=start, end=end, now=NOW, coarse_until=watermark_read(lock=False)) if readable else [Piece("raw", start, end)]
    tiered = read_from(pieces)
    assert tiered == read_from([Piece("raw", start, end)])
    return tiered, {piece.source for piece in pieces}


@pytest.mark.parametrize("window", WINDOWS, ids=["3d-unaligned", "6h-unaligned", "24h", "5m", "old-3h"])
@pytest.mark.parametrize("read", READS, ids=READ_IDS)
def test_tier_reads_print_the_same_rows_as_raw_reads(mixed_dataset, window, read):
    """Compact histograms and the derived STATUS and PATH rows are storage only: every read of
    the tiers prints the rows the raw points give, digit for digit (``repr`` tells 1.0 from 1.00)."""
    tiered, _sources = _reads_agree(mixed_dataset, *window, read)
    assert tiered or window == WINDOWS[3]  # five minutes may hold no cost, AI or error point


@pytest.fixture
def long_dataset(db: None, project: Project) -> Dataset:
    dataset = DatasetFactory(project=project, name="long")
    points_store(dataset, mixed_points(now=NOW, count=700, days=80, seed=11), batch=100)
    dataset.refresh_from_db()
    return dataset


LONG_WINDOWS = [
    (NOW - timedelta(days=75, hours=3, seconds=5), NOW - timedelta(seconds=3)),
    (NOW - timedelta(days=37, minutes=1), NOW - timedelta(days=2, hours=5)),
    (NOW.replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=30), NOW),
]


@pytest.mark.parametrize("window", LONG_WINDOWS, ids=["75d-unaligned", "35d-old", "30d-preset"])
@pytest.mark.parametrize("read", READS, ids=READ_IDS)
def test_week_tier_reads_print_the_same_rows_as_raw_reads(long_dataset, window, read):
    tiered, sources = _reads_agree(long_dataset, *window, read)
    assert tiered
    assert ("week" in sources or "weeks4" in sources) == tier_readable(kinds=read[0], group_by=read[1], keys=read[2])


def test_histograms_are_one_row_per_path_and_bucket(mixed_dataset):
    rollups_coarse_advance(now=NOW + timedelta(hours=1), max_hours=48)  # the hours behind the watermark come from the minute tier
    rows = raw(
        "SELECT kind, k1, bucket, count(*), coalesce(cardinality(bins), 0), coalesce(cardinality(counts), 0) "
        "FROM tracking_rollup_hour WHERE dataset_id = %s AND kind IN (11, 13) GROUP BY 1, 2, 3, 5, 6",
        [mixed_dataset.id],
    )
    (paths, timed), = raw(
        "SELECT count(DISTINCT (h, blob2)), count(DISTINCT (h, blob2)) FILTER (WHERE double1 IS NOT NULL) FROM ("
        f"SELECT date_bin('1 hour', timestamp, TIMESTAMPTZ '1970-01-01 00:00:00+00') AS h, * FROM tracking_datapoint "
        f"WHERE dataset_id = %s AND {REQUEST}) AS p",
        [mixed_dataset.id],
    )
    assert {row[3] for row in rows} == {1}
    assert all(row[4] == row[5] for row in rows)
    assert sum(1 for row in rows if row[0] == Kind.PATH) == paths
    assert sum(1 for row in rows if row[0] == Kind.PATH and row[4]) == timed
    (per_bin_or_status,), = raw("SELECT count(*) FROM tracking_rollup_hour WHERE dataset_id = %s AND kind IN (1, 10)", [mixed_dataset.id])
    assert per_bin_or_status == 0


TOPS = [("n", 2), ("n", 50), ("s2", 1), ("s2", 50)]


def _tops_agree(dataset, start, end, rank, limit):
    """The top keys from the tiers, from raw points, and from every key's sums sorted in Python agree."""
    layout = layout_from_labels(dataset.labels)

    def top_from(pieces):
        return rollup_top_keys(dataset_id=dataset.id, layout=layout, pieces=pieces, kind=Kind.PATH, rank=rank, limit=limit)

    everything = rollup_aggregate(dataset_id=dataset.id, layout=layout, pieces=[Piece("raw", start, end)], kinds=[Kind.PATH], group_by=["k1"])
    column = 1 if rank == "n" else 3
    expected = [row[0] for row in sorted((row for row in everything if row[column]), key=lambda row: (-row[column], row[0]))][:limit]
    tiered = top_from(window_pieces(start=start, end=end, now=NOW, coarse_until=watermark_read(lock=False)))
    assert tiered == top_from([Piece("raw", start, end)]) == expected
    return tiered


@pytest.mark.parametrize("window", WINDOWS, ids=["3d-unaligned", "6h-unaligned", "24h", "5m", "old-3h"])
@pytest.mark.parametrize("top", TOPS, ids=[f"{rank}-{limit}" for rank, limit in TOPS])
def test_top_keys_from_tiers_equal_python_ranking_of_raw_sums(mixed_dataset, window, top):
    tiered = _tops_agree(mixed_dataset, *window, *top)
    assert tiered or window == WINDOWS[3]


@pytest.mark.parametrize("window", LONG_WINDOWS, ids=["75d-unaligned", "35d-old", "30d-preset"])
@pytest.mark.parametrize("top", TOPS, ids=[f"{rank}-{limit}" for rank, limit in TOPS])
def test_top_keys_from_week_tiers_equal_python_ranking_of_raw_sums(long_dataset, window, top):
    assert _tops_agree(long_dataset, *window, *top)


#: Tied paths whose order differs between code points and a linguistic collation.
TIED_PATHS = ["/b", "/a", "/B", "/\u00e9", "/a/b", "/z", "/\u00e4", "/a-b", "/A"]


def test_tied_top_paths_go_in_code_point_order_as_python_sorts_them(project):
    from tests.tracking.reports.helpers import Point

    dataset = DatasetFactory(project=project, name="tied")
    points = [
        Point(NOW - timedelta(hours=5, minutes=i, seconds=j), ["GET", path, status], [1.0 + j, 1, 10])
        for i, path in enumerate(TIED_PATHS)
        for j, status in enumerate(["200", "503", "200"])
    ]
    points_store(dataset, points)
    window = window_build(start=NOW - timedelta(days=1), end=NOW)

    usage = report_usage(project=project, dataset=dataset, window=window, now=NOW)
    errors = report_errors(project=project, dataset=dataset, window=window, now=NOW)

    assert [row["path"] for row in usage.tables["top_paths"].rows] == sorted(TIED_PATHS)
    assert [row["path"] for row in errors.tables["server_errors_by_path"].rows] == sorted(TIED_PATHS)
    assert {(row["requests"], row["errors_5xx"]) for row in errors.tables["server_errors_by_path"].rows} == {(3, 1)}
    assert _tops_agree(dataset, NOW - timedelta(days=1), NOW, "n", 4) == sorted(TIED_PATHS)[:4]


def _signed_windows(count: int) -> list[tuple[datetime, datetime]]:
    """Ragged ranges of 5 minutes to 79 days ending up to 3 days before NOW, from a fixed seed."""
    rng = random.Random(20261206)
    windows = []
    for _ in range(count):
        end = NOW - timedelta(seconds=rng.choice([0, rng.uniform(0, 3 * 86_400)]))
        windows.append((end - timedelta(seconds=rng.uniform(300, 79 * 86_400)), end))
    return windows


SIGNED_WINDOWS = _signed_windows(24)


#: Rows per bucket as 10,000 paths requested every hour leave them: the cover then subtracts.
EVERY_PATH_HOURLY = {"weeks4": 1e4, "week": 1e4, "day": 1e4, "hour": 1e4, "minute": 200.0}


@pytest.mark.parametrize("window", SIGNED_WINDOWS, ids=[f"w{i}" for i in range(len(SIGNED_WINDOWS))])
def test_signed_pieces_sum_every_path_as_the_raw_points_do(long_dataset, window):
    """A ranking's pieces read buckets past the range's edges and subtract the excess: each path's
    requests and 5xx over them equal the raw points' over the range, and so does the ranking."""
    start, end = window
    layout = layout_from_labels(long_dataset.labels)
    earliest = floor_to(NOW - timedelta(days=long_dataset.retention_days), DAY) + DAY
    start = max(start, earliest)
    pieces = window_pieces_signed(
        start=start, end=end, now=NOW, coarse_until=watermark_read(lock=False), earliest=earliest, bucket_rows=EVERY_PATH_HOURLY
    )

    def per_path(pieces):
        rows = rollup_aggregate(dataset_id=long_dataset.id, layout=layout, pieces=pieces, kinds=[Kind.PATH], group_by=["k1"])
        return {path: {"n": n, "s2": s2} for path, n, _s1, s2, _s3 in rows if n}

    truth = per_path([Piece("raw", start, end)])
    assert per_path(pieces) == truth
    for rank, limit in TOPS:
        ranked = sorted((path for path in truth if truth[path][rank]), key=lambda path: (-truth[path][rank], path))
        assert rollup_top_keys(dataset_id=long_dataset.id, layout=layout, pieces=pieces, kind=Kind.PATH, rank=rank, limit=limit) == ranked[:limit]


def test_signed_windows_subtract_and_read_partial_buckets(coarse_watermark):
    """The generated ranges above exercise both ways the signed pieces save rows."""
    covers = [
        window_pieces_signed(
            start=start, end=end, now=NOW, coarse_until=coarse_watermark, earliest=NOW - timedelta(days=89), bucket_rows=EVERY_PATH_HOURLY
        )
        for start, end in SIGNED_WINDOWS
    ]
    assert any(piece.sign < 0 for pieces in covers for piece in pieces)
    assert any(piece.source != "raw" and piece.start < coarse_watermark < piece.end for pieces in covers for piece in pieces)


def test_bucket_rows_average_the_sampled_buckets_of_each_tier(long_dataset):
    day = floor_to(NOW, DAY) - 3 * DAY
    hours = [day + HOUR * hour for hour in range(24)]
    (day_rows,), = raw("SELECT count(*) FROM tracking_rollup_day WHERE dataset_id = %s AND kind = %s AND bucket = %s", [long_dataset.id, Kind.PATH, day])
    (hour_rows,), = raw(
        "SELECT count(*) FROM tracking_rollup_hour WHERE dataset_id = %s AND kind = %s AND bucket = ANY(%s)", [long_dataset.id, Kind.PATH, hours]
    )

    rows = tier_bucket_rows(dataset_id=long_dataset.id, kind=Kind.PATH, samples={"day": [day], "hour": hours})

    assert rows == {"day": float(day_rows), "hour": hour_rows / 24}
    assert day_rows > 0 and hour_rows > 0


def test_a_rankings_rows_per_bucket_are_counted_once_an_hour_per_process(mixed_dataset, django_assert_num_queries, monkeypatch):
    monkeypatch.setattr(selectors, "_bucket_rows_cache", {})
    coarse_until = watermark_read(lock=False)

    with django_assert_num_queries(1):
        first = selectors._bucket_rows(dataset_id=mixed_dataset.id, kind=Kind.PATH, now=NOW, coarse_until=coarse_until)
    with django_assert_num_queries(0):
        again = selectors._bucket_rows(dataset_id=mixed_dataset.id, kind=Kind.PATH, now=NOW, coarse_until=coarse_until)
    monkeypatch.setattr(selectors.time, "monotonic", lambda: 10**12)
    with django_assert_num_queries(1):
        selectors._bucket_rows(dataset_id=mixed_dataset.id, kind=Kind.PATH, now=NOW, coarse_until=coarse_until)

    assert again == first
    assert set(first) == {"weeks4", "week", "day", "hour", "minute"}


def test_the_rows_per_bucket_cache_starts_over_when_full(mixed_dataset, monkeypatch):
    monkeypatch.setattr(selectors, "BUCKET_ROWS_CACHED", 3)
    monkeypatch.setattr(selectors, "_bucket_rows_cache", {(-i, Kind.PATH): (float("inf"), {}) for i in range(1, 4)})

    selectors._bucket_rows(dataset_id=mixed_dataset.id, kind=Kind.PATH, now=NOW, coarse_until=watermark_read(lock=False))

    assert list(selectors._bucket_rows_cache) == [(mixed_dataset.id, Kind.PATH)]
