"""The signed cover of a ranking's range counts every moment of the range once and nothing else,
and costs no more rows than the plain cover by the estimate it is chosen with."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from tracking.reports.db import Piece
from tracking.reports.window import RAW_MINUTE_COST, bucket_row_samples, bucket_rows_bounded, window_pieces, window_pieces_signed
from tracking.rollups.db import COARSE_TIER_NAMES
from tracking.rollups.layout import COARSE_TIERS, DAY, HOUR, MINUTE, TIERS, floor_to, minute_tier_horizon

GRAINS = dict(COARSE_TIERS + TIERS)
NOW = datetime(2026, 12, 6, 6, 20, 1, 90_166, tzinfo=UTC)
#: 10,000 paths that all appear every hour: every bucket from an hour up holds all of them.
SATURATED = {"weeks4": 10_000.0, "week": 10_000.0, "day": 10_000.0, "hour": 3_000.0, "minute": 60.0}
#: A path per request, 100 a minute: a bucket holds the keys of all its minutes.
DISTINCT = {name: 100.0 * grain / MINUTE for name, grain in GRAINS.items()}


def _content(piece: Piece, coarse_until: datetime) -> tuple[datetime, datetime]:
    """The moments whose points the piece sums: a coarse tier holds none from the watermark on."""
    return piece.start, min(piece.end, coarse_until) if piece.source in COARSE_TIER_NAMES else piece.end


def _cost(pieces: list[Piece], bucket_rows: dict[str, float]) -> float:
    """The estimate ``window_pieces_signed`` minimises, summed over pieces of either cover."""
    bucket_rows = bucket_rows_bounded(bucket_rows)
    raw_minute = RAW_MINUTE_COST * (1 + bucket_rows["minute"])
    return sum(
        (piece.end - piece.start) / MINUTE * raw_minute if piece.source == "raw"
        else (piece.end - piece.start) / GRAINS[piece.source] * (1 + bucket_rows[piece.source])
        for piece in pieces
    )


def _check_cover(*, start: datetime, end: datetime, coarse_until: datetime, earliest: datetime, bucket_rows: dict[str, float]) -> list[Piece]:
    pieces = window_pieces_signed(start=start, end=end, now=NOW, coarse_until=coarse_until, earliest=earliest, bucket_rows=bucket_rows)
    edges = sorted({moment for piece in pieces for moment in _content(piece, coarse_until)})
    for lo, hi in zip(edges, edges[1:]):
        weight = sum(piece.sign for piece in pieces if _content(piece, coarse_until)[0] <= lo and hi <= _content(piece, coarse_until)[1])
        assert weight == (1 if start <= lo and hi <= end else 0), (lo, hi, weight, pieces)
    for piece in pieces:
        assert piece.start >= earliest
        if piece.source == "raw":
            continue
        grain = GRAINS[piece.source]
        assert floor_to(piece.start, grain) == piece.start and floor_to(piece.end, grain) == piece.end
        if piece.source in COARSE_TIER_NAMES:
            assert piece.end - grain < coarse_until  # every bucket read holds points
        else:
            assert piece.start >= minute_tier_horizon(NOW)
    plain = window_pieces(start=start, end=end, now=NOW, coarse_until=coarse_until)
    assert _cost(pieces, bucket_rows) <= _cost(plain, bucket_rows) + 1e-6
    return pieces


moments = st.integers(min_value=0, max_value=95 * 86_400 * 1000).map(lambda ms: timedelta(milliseconds=ms))
row_estimates = st.one_of(
    st.sampled_from([SATURATED, DISTINCT, {name: 0.0 for name in GRAINS}]),
    st.fixed_dictionaries({name: st.floats(min_value=0, max_value=1e6) for name in GRAINS}),
)


@settings(max_examples=500, deadline=None)
@given(back=moments, length=moments, lag=st.integers(min_value=-600, max_value=4 * 1440), retention=st.integers(min_value=1, max_value=100),
       bucket_rows=row_estimates)
def test_signed_pieces_count_each_moment_once_for_no_more_rows_than_plain_pieces(back, length, lag, retention, bucket_rows):
    end = NOW - back / 8
    start = end - max(length, timedelta(minutes=5))
    coarse_until = floor_to(NOW, MINUTE) - timedelta(minutes=lag)
    earliest = floor_to(NOW - timedelta(days=retention), DAY) + DAY
    start = max(start, earliest)
    if start < end:
        _check_cover(start=start, end=end, coarse_until=coarse_until, earliest=earliest, bucket_rows=bucket_rows)


def test_with_every_path_every_day_a_30_day_ranking_reads_weeks_less_a_day():
    coarse_until = floor_to(NOW, MINUTE) - timedelta(minutes=2)
    start = floor_to(NOW, DAY) - timedelta(days=30)  # the 30-day preset: 2026-11-06

    pieces = _check_cover(start=start, end=NOW, coarse_until=coarse_until, earliest=start - timedelta(days=60), bucket_rows=SATURATED)

    assert pieces == [
        Piece("day", datetime(2026, 11, 5, tzinfo=UTC), datetime(2026, 11, 6, tzinfo=UTC), -1),
        Piece("week", datetime(2026, 11, 5, tzinfo=UTC), datetime(2026, 11, 19, tzinfo=UTC)),
        Piece("weeks4", datetime(2026, 11, 19, tzinfo=UTC), datetime(2026, 12, 17, tzinfo=UTC)),  # up to the watermark
        Piece("minute", coarse_until, floor_to(NOW, MINUTE)),
        Piece("raw", floor_to(NOW, MINUTE), NOW),
    ]
    plain = window_pieces(start=start, end=NOW, now=NOW, coarse_until=coarse_until)
    assert [piece.source for piece in plain] == ["day", "week", "day", "hour", "minute", "raw"]  # 6 days, 3 weeks, 3 days, 6 hours
    assert _cost(pieces, SATURATED) == 40_004 + 2 * 61 + _cost(pieces[-1:], SATURATED)


def test_with_a_path_per_request_a_ranking_subtracts_nothing():
    coarse_until = floor_to(NOW, MINUTE) - timedelta(minutes=2)
    start = floor_to(NOW, DAY) - timedelta(days=30)

    pieces = _check_cover(start=start, end=NOW, coarse_until=coarse_until, earliest=start - timedelta(days=60), bucket_rows=DISTINCT)

    assert all(piece.sign == 1 for piece in pieces)


def test_nothing_is_read_before_the_oldest_day_retention_keeps():
    start = datetime(2026, 11, 6, tzinfo=UTC)

    pieces = _check_cover(start=start, end=NOW, coarse_until=floor_to(NOW, MINUTE), earliest=start, bucket_rows=SATURATED)

    assert min(piece.start for piece in pieces) == start
    assert all(piece.sign == 1 for piece in pieces if piece.start == start)


def test_each_tier_holds_at_most_its_coarser_tiers_rows_and_at_least_their_share():
    sampled = {"weeks4": 28_000.0, "week": 50_000.0, "day": 10.0, "hour": 900.0, "minute": 0.0}

    assert bucket_rows_bounded(sampled) == {"weeks4": 28_000.0, "week": 28_000.0, "day": 4_000.0, "hour": 900.0, "minute": 15.0}


def test_rows_are_sampled_in_whole_buckets_before_the_watermark():
    coarse_until = datetime(2026, 12, 6, 6, 18, tzinfo=UTC)

    samples = bucket_row_samples(now=NOW, coarse_until=coarse_until)

    assert samples == {
        "weeks4": [datetime(2026, 10, 22, tzinfo=UTC)],
        "week": [datetime(2026, 11, 26, tzinfo=UTC)],
        "day": [datetime(2026, 12, 5, tzinfo=UTC)],
        "hour": [datetime(2026, 12, 5, tzinfo=UTC) + HOUR * hour for hour in (0, 6, 12, 18)],
        "minute": [datetime(2026, 12, 6, 5, tzinfo=UTC) + MINUTE * minute for minute in (0, 10, 20, 30, 40, 50)],
    }


def test_a_quiet_minute_sample_does_not_make_minutes_look_cheaper_than_hours():
    """Sampled from the last hour before a load's end, minutes held 12 rows where a day's hours
    held 3,045: the minute tier's estimate is raised to an hour's share, so 24 hours are read from
    the day and hour tiers, not as 1,440 minutes."""
    coarse_until = floor_to(NOW, MINUTE) - timedelta(minutes=3)
    quiet = SATURATED | {"minute": 12.0}
    start = floor_to(NOW, HOUR) - timedelta(hours=24)

    pieces = _check_cover(start=start, end=NOW, coarse_until=coarse_until, earliest=start - timedelta(days=60), bucket_rows=quiet)

    assert [(piece.source, piece.sign) for piece in pieces] == [("hour", -1), ("day", 1), ("minute", 1), ("raw", 1)]
