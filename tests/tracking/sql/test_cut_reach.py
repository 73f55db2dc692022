"""How far into a ragged bucket the planner cuts it (``planner.cut_reach``, ``planner.raw_cut_reach``), from the
projections' measures."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tracking.projections.db import Spec
from tracking.sql.planner import RAW_CUT_PLANNING_ROWS, cut_reach, raw_cut_reach

HOUR, SIX_HOURS, DAY = 3600, 21600, 86400


def _pair(fine_rows: float | None, coarse_rows: float | None, *, grain: int = HOUR, coarse_grain: int = DAY) -> tuple[Spec, Spec]:
    fine = Spec(id=1, dataset_id=1, grain=grain, dimensions=("blob1",), doubles=(), bucket_rows=fine_rows)
    coarse = Spec(id=2, dataset_id=1, grain=coarse_grain, dimensions=("blob1",), doubles=(), bucket_rows=coarse_rows)
    return fine, coarse


@pytest.mark.parametrize(
    ("fine_rows", "coarse_rows", "reach"),
    [
        # Unmeasured, or no rows in the days measured: a quarter of the day.
        (None, None, 21_600),
        (None, 1999.0, 21_600),
        (1004.0, None, 21_600),
        (0.0, 0.0, 21_600),
        # The 10M bench's GET rows of a day: 1,004 an hour, 1,999 a day. (24 - 2 - 1.99) / 2 = 10.004, so a short
        # side of 10 whole hours still pays, and the reach is 11 hours.
        (1004.0, 1999.0, 39_600),
        # The same dataset's measure over all its keys: 2,236 an hour, 7,330 a day, up to 9 hours.
        (2235.875, 7329.5, 36_000),
        # Every key in every hour: the day row is one hour's rows, capped at 11 hours (the two tests exclusive).
        (500.0, 500.0, 39_600),
        # A day of 8 hours' rows: 2s < 14, up to 6 hours.
        (100.0, 800.0, 25_200),
        # Keys that never repeat: the day holds every hour's rows and no cut pays.
        (100.0, 2400.0, 0),
        (100.0, 2200.0, 0),
        (100.0, 2100.0, 3600),
    ],
)
def test_the_reach_is_the_longest_short_side_whose_cut_reads_fewer_rows(fine_rows, coarse_rows, reach):
    fine, coarse = _pair(fine_rows, coarse_rows)
    assert cut_reach(spec=fine, coarse=coarse) == reach


@given(
    fine_rows=st.floats(min_value=0.01, max_value=1e9),
    ratio=st.floats(min_value=0.0, max_value=100.0),
    grains=st.sampled_from([(60, HOUR), (60, DAY), (HOUR, DAY)]),
)
def test_a_cut_is_taken_exactly_when_it_reads_fewer_rows_and_never_from_both_ends(fine_rows, ratio, grains):
    """For every edge position, the early test (``s * grain < reach``) holds exactly when the cut's ``c + (s + 1) f``
    rows beat the long side's ``(n - s - 1) f``, within the cap; the early and late tests never both hold."""
    grain, coarse_grain = grains
    fine, coarse = _pair(fine_rows, fine_rows * ratio, grain=grain, coarse_grain=coarse_grain)
    reach = cut_reach(spec=fine, coarse=coarse)
    n = coarse_grain // grain
    assert 0 <= reach <= (coarse_grain - grain) / 2
    for short in range(n):
        cut = short * grain < reach
        pays = coarse.bucket_rows + (short + 1) * fine.bucket_rows < (n - short - 1) * fine.bucket_rows
        assert cut == (pays and short < (n - 1) // 2)
        assert not (cut and (n - 1 - short) * grain < reach)


@pytest.mark.parametrize(
    ("fine_rows", "mid_rows", "coarse_rows", "reach"),
    [
        # The 10M bench's GET rows: 1,006 an hour, 1,839 in six hours, 2,000 a day. A short side of s hours costs
        # 2,000 + (s + 1) 1,006 cut; its long side of 23 - s hours three, two or one six hours and the rest in hours.
        # s = 3: 6,024 against 3 x 1,839 + 2 x 1,006 = 7,529; s = 4: 7,030 against 3 x 1,839 + 1,006 = 6,523.
        (1006.0, 1839.0, 2000.0, 4 * HOUR),
        # Six hours as dear as their six hours' rows: as without the tier (2s < 14).
        (100.0, 600.0, 800.0, 7 * HOUR),
        # An unmeasured six-hour tier counts as none.
        (100.0, None, 800.0, 7 * HOUR),
        # Every hour's keys the same: s = 3 costs 2,000 + 4,000 against 3,000 + 2 x 1,000.
        (1000.0, 1000.0, 2000.0, 3 * HOUR),
        # A day's keys much rarer than its six hours': 1,100 rows against 3 x 150 + 5 x 100, no cut pays.
        (100.0, 150.0, 1000.0, 0),
    ],
)
def test_a_tier_between_makes_the_long_side_cheaper_and_the_cut_shorter(fine_rows, mid_rows, coarse_rows, reach):
    fine, coarse = _pair(fine_rows, coarse_rows)
    mid = Spec(id=3, dataset_id=1, grain=SIX_HOURS, dimensions=("blob1",), doubles=(), bucket_rows=mid_rows)
    assert cut_reach(spec=fine, coarse=coarse, mid=mid) == reach


@given(fine_rows=st.floats(min_value=0.01, max_value=1e6), mid_ratio=st.floats(min_value=0.0, max_value=10.0),
       ratio=st.floats(min_value=0.0, max_value=30.0))
def test_with_a_tier_between_a_cut_is_taken_only_while_every_shorter_side_pays(fine_rows, mid_ratio, ratio):
    fine, coarse = _pair(fine_rows, fine_rows * ratio)
    mid = Spec(id=3, dataset_id=1, grain=SIX_HOURS, dimensions=("blob1",), doubles=(), bucket_rows=fine_rows * mid_ratio)
    reach = cut_reach(spec=fine, coarse=coarse, mid=mid)
    assert 0 <= reach <= 11 * HOUR and reach % HOUR == 0

    def pays(short: int) -> bool:
        long = 23 - short
        return coarse.bucket_rows + (short + 1) * fine_rows < long // 6 * mid.bucket_rows + long % 6 * fine_rows

    assert all(pays(short) for short in range(reach // HOUR))
    assert reach == 11 * HOUR or not pays(reach // HOUR)


@pytest.mark.parametrize(
    ("rows", "points", "reach"),
    [
        (2_250.125, 13_818.75, 1_506),  # the 10M bench's hour: 25 minutes
        (1_000.0, 10_000.0, 1_620),
        (1.0, 1.0e9, 1_799),
        (1_000.0, 5_830.0, 1_491),  # 2,000.8 rows saved on average
        (1_000.0, 5_820.0, 0),  # 1,995.9: less than planning the arms costs
        (599.875, 1_391.125, 0),  # the 1M bench's hour through the API: 225
        (1_000.0, 1_000.0, 0),  # every row one point: the cut never pays
        (0.0, 0.0, 0),  # an empty measure
        (None, 1_000.0, 0),
        (100.0, None, 0),
    ],
)
def test_an_hours_raw_cut_reaches_as_far_as_its_rows_read_fewer_than_its_points_where_it_saves_enough(rows, points, reach):
    hour = Spec(id=1, dataset_id=1, grain=HOUR, dimensions=("blob1",), doubles=(), bucket_rows=rows, bucket_points=points)
    assert raw_cut_reach(spec=hour) == reach


@given(rows=st.floats(min_value=0.0, max_value=1e7), ratio=st.floats(min_value=1.0, max_value=1e4),
       grain=st.sampled_from([60, HOUR, SIX_HOURS, DAY]))
def test_a_raw_cut_pays_within_its_reach_and_never_reaches_half_a_bucket(rows, ratio, grain):
    spec = Spec(id=1, dataset_id=1, grain=grain, dimensions=("blob1",), doubles=(), bucket_rows=rows, bucket_points=rows * ratio)
    reach = raw_cut_reach(spec=spec)
    assert 0 <= reach < grain / 2
    points = spec.bucket_points
    if reach:
        assert (points - rows) ** 2 / (2 * points) >= RAW_CUT_PLANNING_ROWS
        # The row and the short side read no more than the long side (to a float's rounding: the reach is whole seconds).
        assert rows + reach * points / grain <= (grain - reach) * points / grain * (1 + 1e-9)
