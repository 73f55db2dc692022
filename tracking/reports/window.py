"""Report time windows: ranges, the interval that fits them, and which source reads each part.

A range is split so that every part is read from the coarsest source aligned with it: whole
28- and 7-day blocks from the week tiers, whole days from the day tier, whole hours from the hour tier, whole minutes from the minute tier
and the ragged ends (under a minute, or under an hour past the minute tier's horizon) from
raw points. The hour, day and week tiers are read only before their watermark. The parts never overlap, so their sums are the raw sum over the range.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from tracking.reports.db import Piece
from tracking.rollups.db import COARSE_TIER_NAMES
from tracking.rollups.layout import COARSE_TIERS, DAY, HOUR, MINUTE, TIERS, floor_to, minute_tier_horizon

MIN_RANGE = timedelta(minutes=5)
MAX_RANGE = timedelta(days=90)
MAX_POINTS = 1500

#: Chart intervals users may choose, in seconds, and the automatic choice per range length.
INTERVALS = (10, 60, 300, 900, 3600, 21600, 86400)
_AUTO = (
    (timedelta(minutes=15), 10),
    (timedelta(hours=3), 60),
    (timedelta(hours=12), 300),
    (timedelta(days=14), 3600),
)

#: Preset ranges at least this long start at midnight UTC ("last 7 days" = 7 days and today).
PRESET_WHOLE_DAYS = timedelta(days=2)

PRESETS = {
    "5m": timedelta(minutes=5),
    "1h": timedelta(hours=1),
    "24h": timedelta(hours=24),
    "7d": timedelta(days=7),
    "30d": timedelta(days=30),
    "90d": timedelta(days=90),
}


class WindowInvalid(ValueError):
    pass


@dataclass(frozen=True)
class Window:
    start: datetime
    end: datetime
    step: timedelta

    @property
    def length(self) -> timedelta:
        return self.end - self.start


def interval_auto(length: timedelta) -> int:
    for limit, seconds in _AUTO:
        if length <= limit:
            return seconds
    return 86400


def window_build(*, start: datetime, end: datetime, interval: int | None = None) -> Window:
    """Validate a range and pick (or check) its chart interval."""
    if end <= start:
        raise WindowInvalid("'from' must be before 'to'.")
    length = end - start
    if length < MIN_RANGE - timedelta(seconds=1) or length > MAX_RANGE + timedelta(minutes=1):
        raise WindowInvalid("The range must be between 5 minutes and 90 days.")
    seconds = interval_auto(length) if interval is None else interval
    if seconds not in INTERVALS:
        raise WindowInvalid(f"interval must be one of {', '.join(map(str, INTERVALS))} seconds.")
    if length / timedelta(seconds=seconds) > MAX_POINTS:
        raise WindowInvalid(f"That interval gives more than {MAX_POINTS} points; choose a wider one.")
    return Window(start=start, end=end, step=timedelta(seconds=seconds))


def window_preset(*, length: timedelta, end: datetime, interval: int | None = None) -> Window:
    """A "last N" window whose start is moved back to a chart-bucket boundary.

    The first bucket is then whole, like the others, and the start falls on a rollup grain,
    so no report re-reads an hour of raw points at its old edge. Ranges of days start at
    midnight UTC, so their totals come from the day tier but for today. The range grows by
    less than one interval (or one day).
    """
    window = window_build(start=end - length, end=end, interval=interval)
    grain = max(window.step, DAY) if length >= PRESET_WHOLE_DAYS else window.step
    return Window(start=floor_to(window.start, grain), end=end, step=window.step)


def _ceil_to(moment: datetime, grain: timedelta) -> datetime:
    floored = floor_to(moment, grain)
    return floored if floored == moment else floored + grain


def window_pieces(
    *, start: datetime, end: datetime, now: datetime, coarse_until: datetime, step: timedelta | None = None
) -> list[Piece]:
    """Split ``[start, end)`` into parts, each read from the coarsest source that fits it.

    With ``step`` (a time series), a tier is used only if its grain divides the step, so
    each rollup bucket falls inside one chart bucket. The hour, day and week tiers are read
    only for buckets wholly before ``coarse_until``, the watermark before which they hold every
    point (``tracking.rollups.db.rollup_coarse_advance``); the minutes after it come from the
    minute tier.
    """
    tiers = [(name, grain) for name, grain in COARSE_TIERS + TIERS if step is None or step % grain == timedelta(0)]
    horizon = minute_tier_horizon(now)
    pieces: list[Piece] = []

    def split(lo: datetime, hi: datetime, remaining: list[tuple[str, timedelta]]) -> None:
        if lo >= hi:
            return
        if not remaining:
            pieces.append(Piece("raw", lo, hi))
            return
        (name, grain), rest = remaining[0], remaining[1:]
        a, b = _ceil_to(lo, grain), floor_to(hi, grain)
        if name == "minute":
            a = max(a, _ceil_to(horizon, grain))
        elif name in COARSE_TIER_NAMES:
            b = min(b, floor_to(coarse_until, grain))
        if a >= b:
            split(lo, hi, rest)
            return
        split(lo, a, rest)
        pieces.append(Piece(name, a, b))
        split(b, hi, rest)

    split(start, end, tiers)
    return pieces


#: What a minute of raw points costs a ranking, in minute buckets: the points are classified
#: one by one, and a minute holds more of them than a minute bucket holds keys.
RAW_MINUTE_COST = 2.0

#: A cover's estimated cost and its pieces.
_Cover = tuple[float, tuple[Piece, ...]]


def bucket_row_samples(*, now: datetime, coarse_until: datetime) -> dict[str, list[datetime]]:
    """The buckets where ``reports.db.tier_bucket_rows`` counts each tier's rows: the last whole
    bucket of each coarse tier before the watermark, four hours six apart of the last whole day
    before it (traffic has a daily rhythm), and six minutes ten apart of the hour before ``now``'s."""
    samples = {name: [floor_to(coarse_until, grain) - grain] for name, grain in COARSE_TIERS + (("day", DAY),)}
    day = floor_to(coarse_until, DAY) - DAY
    samples["hour"] = [day + HOUR * hour for hour in range(0, 24, 6)]
    last_hour = floor_to(now, HOUR) - HOUR
    samples["minute"] = [last_hour + MINUTE * minute for minute in range(0, 60, 10)]
    return samples


def bucket_rows_bounded(bucket_rows: Mapping[str, float]) -> dict[str, float]:
    """Each tier's rows per bucket kept between what its coarser tier's imply: a bucket holds at
    most the keys of the bucket it is part of, and at least its share of them. A sample of a
    quiet hour (the minutes before a generated load's end) then cannot make the minute tier
    look cheaper than the hours it would replace."""
    bounded: dict[str, float] = {}
    coarser: tuple[float, timedelta] | None = None
    for name, grain in COARSE_TIERS + TIERS:
        rows = bucket_rows.get(name, 0.0)
        if coarser is not None:
            rows = min(max(rows, coarser[0] * (grain / coarser[1])), coarser[0])
        bounded[name] = rows
        coarser = rows, grain
    return bounded


def window_pieces_signed(
    *, start: datetime, end: datetime, now: datetime, coarse_until: datetime, earliest: datetime, bucket_rows: Mapping[str, float]
) -> list[Piece]:
    """Pieces whose signed sums are the sums over ``[start, end)``, reading as few rows as can be.

    For a ranking (``reports.db.rollup_top_keys``), whose cost is hashing every row it reads.
    Two ways to read fewer rows than ``window_pieces``:

    - a coarse tier's bucket that holds the watermark holds exactly its points before it
      (``rollups.db.rollup_coarse_advance``), so a partial day or week stands for its hours;
    - a coarse tier's bucket may reach past an edge of the range, down to ``earliest`` (the
      oldest whole day retention keeps), with its excess subtracted: a week minus one day
      instead of six days.

    Both pay when a bucket holds about as many keys as each of its parts (busy paths every
    day); when keys rarely repeat (a path per user) the second reads more. So the cover is the
    cheapest by ``bucket_rows``, the dataset's rows per bucket of each tier
    (``bucket_row_samples``), a partial bucket counted whole: one more per bucket for the
    lookup, ``RAW_MINUTE_COST`` minute buckets per raw minute, the tiers searched coarse first.
    Sums of counts stay exact; numeric sums too, but their scale can come from a subtracted
    point, so only rankings, which compare values, read these pieces.
    """
    tiers = COARSE_TIERS + TIERS
    horizon = minute_tier_horizon(now)
    bucket_rows = bucket_rows_bounded(bucket_rows)
    raw_minute = RAW_MINUTE_COST * (1 + bucket_rows["minute"])

    @functools.cache
    def cover(lo: datetime, hi: datetime, level: int) -> _Cover:
        if lo >= hi:
            return 0.0, ()
        if level == len(tiers):
            return (hi - lo) / MINUTE * raw_minute, (Piece("raw", lo, hi),)
        best = cover(lo, hi, level + 1)
        name, grain = tiers[level]
        # Only the coarse tiers hold a partial bucket, or one worth reading past an edge.
        coarse = name in COARSE_TIER_NAMES
        # The candidates include ``window_pieces``' choice, so the cover found costs no more.
        firsts = {_ceil_to(lo, grain) if coarse else max(_ceil_to(lo, grain), horizon)}
        lasts = {floor_to(hi, grain) - grain}
        if coarse:
            if floor_to(lo, grain) >= earliest:
                firsts.add(floor_to(lo, grain))
            partial = floor_to(coarse_until, grain)
            lasts |= {floor_to(hi, grain), partial - grain, partial}
        for first in sorted(firsts):
            for last in sorted(lasts):
                covered_end = min(last + grain, coarse_until) if coarse else last + grain
                if last < first or (coarse and last >= coarse_until):
                    continue
                head, tail = joined(lo, first, level + 1), joined(covered_end, hi, level + 1)
                cost = ((last - first) / grain + 1) * (1 + bucket_rows[name]) + head[0] + tail[0]
                if cost < best[0]:
                    best = cost, (*head[1], Piece(name, first, last + grain), *tail[1])
        return best

    def joined(lo: datetime, hi: datetime, level: int) -> _Cover:
        """The gap ``[lo, hi)`` between a run of buckets and the range's edge, added; or, when
        the run reaches past the edge (``hi < lo``), its excess ``[hi, lo)`` subtracted."""
        if lo <= hi:
            return cover(lo, hi, level)
        cost, pieces = cover(hi, lo, level)
        return cost, tuple(Piece(piece.source, piece.start, piece.end, -piece.sign) for piece in pieces)

    return list(cover(start, end, 0)[1])


def bucket_starts(window: Window) -> list[datetime]:
    """Chart bucket starts covering the window, aligned to the epoch like ``date_bin``."""
    first = floor_to(window.start, window.step)
    starts = []
    moment = first
    while moment < window.end:
        starts.append(moment)
        moment += window.step
    return starts

