"""The projection planner: one query compiled over a projection instead of the raw points, when it can be.

The compiler (``tracking.sql.compiler``) asks a ``ProjectionPlan`` at four points: when it
reads the dataset (the source becomes the projection's rows plus the raw points of the
ragged buckets), when it compiles an aggregate (re-expressed over partial aggregates), when
it compares ``timestamp`` with a constant (the bucket holding the constant is read raw), and
when it buckets ``timestamp`` (only at a multiple of the grain). Everything else compiles
unchanged. Columns the projection does not keep (doubles outside a covered aggregate, blobs
that are not dimensions, ``timestamp`` used any other way) compile to *sentinels*, SQL text
that cannot run; a plan whose final SQL still holds one is abandoned (``NotCovered``) and the
query runs raw.

Why the answer is exactly the raw scan's: a bucket that holds no constant ``timestamp`` is
compared with is *uniform*, every comparison with ``timestamp`` has one outcome for all its
points (comparisons are monotone), so its partial row stands for its points in every
filter and every ``*If`` condition; the other buckets are read as raw points. Aggregates
are exact and order-free on both paths (``functions.exact_sql``), and a time bucket at a
multiple of the grain is constant over a projection bucket. Dimension-only aggregates that
depend on the set of values alone (``uniq``, ``min``/``max`` of a dimension, ``DISTINCT``)
compile unchanged.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

from sqlglot import exp

from tracking.columns import BLOB_COLUMNS, DOUBLE_COLUMNS, INDEX_COLUMN, SQL_COLUMNS
from tracking.projections.db import EPOCH_SQL, TABLE, Spec, point_measures_sql
from tracking.sql import chtypes as ct
from tracking.sql.errors import SqlError
from tracking.sql.functions import START_OF_FUNCTIONS
from tracking.sql.ir import DatasetRef, ExpressionCompiler, NowShift, Pinning, Pins, Scope, Source, Typed, arm_marked

PLACEHOLDER = "\x00projection_source\x00"
_UTC = frozenset({"UTC", "Etc/UTC"})
#: Aggregates that see only the set of distinct argument values: over dimensions they compile unchanged.
_SET_AGGREGATES = frozenset({"uniq", "uniqexact", "min", "max", "uniqif", "minif", "maxif"})
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
#: The interval units of a fixed length in the sandbox's zone (UTC, where a day is 86,400 s).
FIXED_UNITS = {"SECOND": 1, "MINUTE": 60, "HOUR": 3600, "DAY": 86_400, "WEEK": 604_800}


def now_shift(node: exp.Expression | None) -> timedelta | NowShift | None:
    """How an edge is computed from ``NOW()`` (``date_trunc('second', NOW())`` compiled): ``x`` for ``NOW()`` plus or minus
    intervals of fixed units, a ``NowShift`` for one that also steps by months or floors (``NOW() - INTERVAL 1 MONTH``,
    ``today() - 7``, ``toStartOfHour(NOW())``), None for anything else."""
    found = _now_steps(node)
    if found is None:
        return None
    if all(kind == "add" for kind, _ in found.steps):
        try:
            return timedelta(seconds=sum(value for _, value in found.steps))
        except OverflowError:
            return None
    return NowShift(found.steps)


#: The calendar units of an interval, in months (``make_interval(months => ...)``, ``functions._interval_sql``).
CALENDAR_MONTHS = {"MONTH": 1, "QUARTER": 3, "YEAR": 12}
#: Functions whose first argument is the unit or the interval, so that their zone is the third.
_UNIT_FIRST = frozenset({"tostartofinterval", "date_trunc", "datetrunc"})
_CALENDAR_UNITS = frozenset({"WEEK", "MONTH", "QUARTER", "YEAR"})
#: A whole number of seconds or days; twelve digits already reach past the years ``datetime`` holds.
_INTEGER = re.compile(r"[0-9]{1,12}")


class _Steps(NamedTuple):
    """The steps from ``NOW()`` to a value, whether the value is a Date, and whether its zone is UTC: floors and dates
    are taken in the value's zone, so only a UTC one is read."""

    steps: tuple[tuple[str, Any], ...]
    date: bool
    utc: bool


def _utc_zone(node: exp.Expression) -> bool:
    return isinstance(node, exp.Literal) and node.is_string and node.this in _UTC


def _now_steps(node: exp.Expression | None) -> _Steps | None:
    """The steps ``functions`` compiles ``node`` to from ``NOW()``, or None when it is not such a value. Interval steps
    count in the sandbox's zone, UTC (``db._SETUP_SQL``), whatever the value's zone, as PostgreSQL adds an interval to a
    timestamptz in the session's."""
    while isinstance(node, exp.Paren):
        node = node.this
    if isinstance(node, exp.Anonymous) and isinstance(node.this, str):
        return _function_steps(node.this.lower(), node.expressions)
    if not isinstance(node, (exp.Add, exp.Sub)):
        return None
    inner = _now_steps(node.this)
    if inner is None:
        return None
    sign = 1 if isinstance(node, exp.Add) else -1
    right = node.expression
    if isinstance(right, exp.Literal) and not right.is_string and _INTEGER.fullmatch(right.this):
        # A number added to a Date counts days, to a DateTime seconds.
        return inner._replace(steps=(*inner.steps, ("add", sign * int(right.this) * (86_400 if inner.date else 1))))
    found = interval_step(node)
    if found is None:
        return None
    step, unit = found
    # A Date plus days or longer stays a Date; plus seconds, minutes or hours it becomes a DateTime at UTC midnight.
    return _Steps((*inner.steps, step), inner.date and unit not in ("SECOND", "MINUTE", "HOUR"), inner.utc)


def interval_step(node: exp.Add | exp.Sub) -> tuple[tuple[str, int], str] | None:
    """``node``'s ``± INTERVAL`` as a ``NowShift`` step (months for calendar units, seconds for the others) and its unit,
    or None when its right side is not an interval the compiler takes."""
    from tracking.sql.compiler import interval_parts

    if not isinstance(node.expression, exp.Interval):
        return None
    try:
        amount, unit = interval_parts(node.expression)
    except SqlError:
        return None
    sign = 1 if isinstance(node, exp.Add) else -1
    if unit in CALENDAR_MONTHS:
        return ("months", sign * amount * CALENDAR_MONTHS[unit]), unit
    return ("add", sign * amount * FIXED_UNITS[unit]), unit


def _function_steps(name: str, args: list[exp.Expression]) -> _Steps | None:
    from tracking.sql.compiler import interval_parts

    if name in ("now", "current_timestamp"):
        # NOW('Asia/Kolkata') is the same instant as NOW(): the zone is the value's type, not its moment.
        if not args:
            return _Steps((), False, True)
        if len(args) == 1 and isinstance(args[0], exp.Literal) and args[0].is_string:
            return _Steps((), False, _utc_zone(args[0]))
        return None
    if name in ("today", "current_date"):
        return _Steps((("floor", (1, "DAY")),), True, True) if not args else None
    if name not in START_OF_FUNCTIONS and name not in _UNIT_FIRST and name not in ("todatetime", "todate"):
        return None
    zoned = args[2:] if name in _UNIT_FIRST else args[1:]
    if len(args) < (2 if name in _UNIT_FIRST else 1) or len(zoned) > 1 or not all(_utc_zone(zone) for zone in zoned):
        return None
    inner = _now_steps(args[1] if name in ("date_trunc", "datetrunc") else args[0])
    if inner is None:
        return None
    if name == "todatetime":
        # Only the value's zone changes: to the argument's (UTC here), or to none when it is a Date.
        return _Steps(inner.steps, False, inner.utc or bool(zoned))
    if not (inner.utc or zoned):
        return None  # a floor or a date in the value's own zone, which is not UTC
    if name == "todate":
        return _Steps(inner.steps if inner.date else (*inner.steps, ("floor", (1, "DAY"))), True, True)
    if name in START_OF_FUNCTIONS:
        unit, amount = START_OF_FUNCTIONS[name]
        date = unit in _CALENDAR_UNITS
    elif name == "tostartofinterval" and isinstance(args[1], exp.Interval):
        try:
            amount, unit = interval_parts(args[1])
        except SqlError:
            return None
        if amount < 1 or (unit in _CALENDAR_UNITS and amount != 1):
            return None
        date = unit in _CALENDAR_UNITS
    elif name in ("date_trunc", "datetrunc") and isinstance(args[0], exp.Literal) and args[0].is_string:
        unit, amount = args[0].this.upper(), 1
        if unit not in FIXED_UNITS and unit not in _CALENDAR_UNITS:
            return None
        date = unit in _CALENDAR_UNITS
    else:
        return None
    return _Steps((*inner.steps, ("floor", (amount, unit))), date, True)


#: ASCII digits, as ``meaux_ch.to_datetime`` and PostgreSQL's ``::timestamp`` read them.
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
#: A 'T' and a trailing 'Z' as JavaScript's toISOString() writes them; no other zone (``::timestamp`` drops it).
_DATETIME = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}[ T][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,6})?Z?")
_SECONDS = re.compile(r"[0-9]{1,10}")


def fixed_moment(node: exp.Expression | None) -> datetime | None:
    """The moment of a literal edge in the shapes dashboards write: a string (``literal_moment``'s shapes; compared
    with ``timestamp`` it is read in UTC) and ``toDateTime(<seconds or such a string>[, 'UTC'])`` (Grafana's
    ``$__timeFilter``). None for anything else. The query's guard checks the value against PostgreSQL's own, so a
    shape read differently here costs a second compile, not a wrong answer."""
    while isinstance(node, exp.Paren):
        node = node.this
    if isinstance(node, exp.Literal) and node.is_string:
        return literal_moment(node.this)
    if not (isinstance(node, exp.Anonymous) and isinstance(node.this, str) and node.this.lower() == "todatetime"):
        return None
    args = node.expressions
    if not args or len(args) > 2 or not all(isinstance(arg, exp.Literal) for arg in args):
        return None
    if len(args) == 2 and not (args[1].is_string and args[1].this in _UTC):
        return None
    if args[0].is_string:
        return literal_moment(args[0].this)
    if _SECONDS.fullmatch(args[0].this) is None:
        return None
    return datetime.fromtimestamp(min(int(args[0].this), ct.DATETIME_MAX_SECONDS), UTC)


def literal_moment(text: str) -> datetime | None:
    """``meaux_ch.to_datetime(text, 'UTC')`` for the shapes it reads as dates, times and epoch seconds: up to ten
    digits are seconds since 1970 there (``'20261205'`` is 1970-08-23), where ``datetime.fromisoformat`` reads a
    date. None for every other shape."""
    try:
        if _SECONDS.fullmatch(text):
            return datetime.fromtimestamp(int(text), UTC)
        if _DATETIME.fullmatch(text):
            return datetime.fromisoformat(text.removesuffix("Z")).replace(tzinfo=UTC)
        if _DATE.fullmatch(text):
            return datetime.strptime(text, "%Y-%m-%d").replace(tzinfo=UTC)
    except ValueError:
        return None
    return None


@dataclass(frozen=True)
class Term:
    """A value the window's edges decide: its SQL over them, and the same value computed from their values
    at one moment (``ir.Pins``), narrowing each edge's range to where it stays the same."""

    sql: str
    pg: str
    value: Callable[[Pinning], Any]


def _bin_sql(edge: str, grain: int) -> str:
    """The start of the bucket of ``grain`` holding a finite ``edge``."""
    return f"date_bin(INTERVAL '{int(grain)} seconds', {edge}, {EPOCH_SQL})"


def _bin(edge: str, grain: int) -> Term:
    """The start of the edge's bucket of ``grain``: the one value every other is computed from."""
    step = timedelta(seconds=int(grain))

    def value(pinning: Pinning) -> datetime:
        moment = pinning.values[edge]
        start = moment - (moment - _EPOCH) % step
        pinning.narrow(edge, start, start + step)
        return start

    return Term(_bin_sql(edge, grain), "timestamptz", value)


def _ragged(edge: str, grain: int) -> Term:
    """The bucket of ``grain`` holding the edge (``-infinity`` for an infinite one); a pinned edge is finite."""
    start = _bin(edge, grain)
    return Term(f"(CASE WHEN isfinite({edge}) THEN {start.sql} ELSE '-infinity'::timestamptz END)", "timestamptz", start.value)


def _later(term: Term, seconds: int, *, parenthesized: bool = True) -> Term:
    """``term`` plus ``seconds``; ``parenthesized`` False spells it as the places that wrote it without parentheses did,
    so the SQL of an unpinned plan stays the same text."""
    step = timedelta(seconds=int(seconds))
    sql = f"{term.sql} + INTERVAL '{int(seconds)} seconds'"
    return Term(f"({sql})" if parenthesized else sql, "timestamptz", lambda pinning: term.value(pinning) + step)


def _case(test: Term, then: Term, otherwise: Term) -> Term:
    """``CASE WHEN test THEN then ELSE otherwise END``. Its value computes all three parts, as ``_alone``,
    ``_not_among`` and ``RawCut.at`` do: each narrows its edges' ranges more than the value needs, which only
    makes a refusal likelier, never a wrong value, and keeps every value's ranges independent of the branch taken."""

    def value(pinning: Pinning) -> Any:
        holds, first, second = test.value(pinning), then.value(pinning), otherwise.value(pinning)
        return first if holds else second

    return Term(f"(CASE WHEN {test.sql} THEN {then.sql} ELSE {otherwise.sql} END)", then.pg, value)


def _extreme(name: str, first: Term, second: Term) -> Term:
    """``greatest`` or ``least`` of two moments (the six hours' bounds inside a ragged day's)."""
    pick = max if name == "greatest" else min
    return Term(f"{name}({first.sql}, {second.sql})", "timestamptz", lambda pinning: pick(first.value(pinning), second.value(pinning)))


def _not_among(term: Term, others: list[Term]) -> Term:
    """The bucket ``term`` is none of ``others``: an edge alone in its bucket, or the first arm of a bucket two edges share."""

    def value(pinning: Pinning) -> bool:
        return term.value(pinning) not in [other.value(pinning) for other in others]

    return Term(f"NOT ({term.sql} = ANY (ARRAY[{', '.join(other.sql for other in others)}]))", "boolean", value)


def _negated(measures: list[str]) -> list[str]:
    """A row's measures in ``point_measures_sql``'s order (count, sample intervals, then each double's sum,
    weighted sum, minimum and maximum) with the sums negated: minimums and maximums are not subtracted."""
    return [measure if k >= 2 and (k - 2) % 4 >= 2 else f"-{measure}" for k, measure in enumerate(measures)]


def coarse_companion(spec: Spec, candidates: list[Spec]) -> list[Spec]:
    """The projections among ``candidates`` that keep ``spec``'s rows at a coarser grain: the same
    dataset, dimensions and doubles in the same order (so the same row columns), and a grain that
    is a multiple of ``spec``'s, coarsest first. A bucket of theirs is a union of ``spec``'s
    buckets, binned from the same epoch, so its row is the sum of theirs."""
    return sorted(
        (
            other
            for other in candidates
            if other.dataset_id == spec.dataset_id
            and other.dimensions == spec.dimensions
            and other.doubles == spec.doubles
            and other.grain > spec.grain
            and other.grain % spec.grain == 0
        ),
        key=lambda other: -other.grain,
    )


def cut_reach(*, spec: Spec, coarse: Spec, mid: Spec | None = None) -> int:
    """How far into its coarse bucket an edge may lie, in seconds from the bucket's nearer end, for a ``Cut``
    to read fewer rows than the bucket's rows on the window's side.

    With ``n`` fine buckets to a coarse one, ``f`` rows in a fine bucket and ``c`` in a coarse one (their
    measures, ``Spec.bucket_rows``), an edge with ``s`` whole fine buckets on its short side is read
    without a cut as the long side's ``(n - s - 1) f`` rows, and with one as ``c`` plus ``(s + 1) f``
    negated rows: the window's filter keeps the short side's own rows out. The cut pays while
    ``2s < n - 2 - c / f``. The 10M bench's dataset measured 2,257 rows an hour and 7,332 a day,
    so a short side of up to 9 whole hours is cut where a fixed quarter cut up to 5: at 08:56 the
    seed's requests by path read 1,999 day rows and 7,442 negated hour rows of yesterday instead
    of about 12,400 hour rows.

    With a measured ``mid`` tier between them (``k`` fine buckets to one of its ``m`` rows), the long
    side of ``L = n - s - 1`` fine buckets is read as ``L // k`` mid rows and ``L % k`` fine ones
    (the coarse bucket's ends are mid boundaries), and the cut pays for fewer short sides. It is
    taken while it pays for every shorter side too, so the test stays ``s * grain < reach``.

    Never more than ``(n - 1) // 2`` fine buckets: the early and late tests (``Cut.early`` and
    ``Cut.late``) then never both hold, since an edge's two sides add up to ``n - 1`` of them. Unmeasured
    (a new projection, or none of its rows in the two days measured), a quarter of the bucket.
    """
    if not spec.bucket_rows or coarse.bucket_rows is None:
        return coarse.grain // 4
    n = coarse.grain // spec.grain
    fine, whole = spec.bucket_rows, coarse.bucket_rows
    per_mid = (mid.grain // spec.grain, mid.bucket_rows) if mid is not None and mid.bucket_rows is not None else None

    def long_side(buckets: int) -> float:
        if per_mid is None:
            return buckets * fine
        k, rows = per_mid
        return buckets // k * rows + buckets % k * fine

    short = 0
    while short < (n - 1) // 2 and whole + (short + 1) * fine < long_side(n - short - 1):
        short += 1
    return spec.grain * short


def _alone(edge: str, start: Term, others: list[Term], test: Term) -> Term:
    """``test`` for a finite edge alone in its bucket (``start``), the other edges' buckets being ``others``; false
    for an infinite edge, whose test is not evaluated."""
    among = _not_among(start, others) if others else None
    alone = f" AND {among.sql}" if among is not None else ""

    def value(pinning: Pinning) -> bool:
        holds = test.value(pinning)
        return (among.value(pinning) if among is not None else True) and holds

    return Term(f"(CASE WHEN isfinite({edge}) THEN {test.sql}{alone} ELSE false END)", "boolean", value)


def _within(edge: str, start: Term, reach: int) -> Term:
    """The edge less than ``reach`` seconds after ``start``."""
    step = timedelta(seconds=int(reach))
    return Term(
        f"{edge} - {start.sql} < INTERVAL '{int(reach)} seconds'", "boolean", lambda pinning: pinning.before(edge, start.value(pinning) + step)
    )


def _short_of(end: Term, edge: str, reach: int) -> Term:
    """The edge less than ``reach`` seconds before ``end``: after ``end - reach``, so from a microsecond later on."""
    step = timedelta(seconds=int(reach))
    return Term(
        f"{end.sql} - {edge} < INTERVAL '{int(reach)} seconds'",
        "boolean",
        lambda pinning: not pinning.before(edge, end.value(pinning) - step + _MICROSECOND),
    )


#: Rows whose reading costs PostgreSQL about what planning a ``RawCut``'s arms does: they added 1-2 ms of
#: planning to S1 at 1M points (3.3-5.4 ms against 2.4-3.4, in process, alternated), where the query's hash
#: aggregate took about 1 µs a row.
RAW_CUT_PLANNING_ROWS = 2_000


def raw_cut_reach(*, spec: Spec) -> int:
    """How far into its bucket of ``spec`` an edge may lie, in seconds from the bucket's nearer end, for a ``RawCut``
    to read fewer rows than the raw points of the bucket's side in the window.

    With ``f`` rows to a bucket of ``g`` seconds standing for ``p`` points (``Spec.bucket_rows`` and
    ``bucket_points``), an edge ``x`` seconds from its bucket's nearer end is read without a cut as the long
    side's ``(g - x) p / g`` points, and with one as the bucket's ``f`` rows plus the short side's ``x p / g``
    points: the cut pays while ``x < g (1 - f / p) / 2``. The 10M bench's hour measured 2,250 rows
    standing for 13,819 points, a reach of 25 minutes: S1 with its edge at 12:06 read 1,229 hour rows
    and 968 negated points instead of 8,629 points.

    Over an edge anywhere in its bucket the cut saves ``(p - f)² / 2p`` rows on average, and its arms
    cost PostgreSQL time to plan whether or not they run; below ``RAW_CUT_PLANNING_ROWS`` there is no
    cut. The 1M bench's hour, loaded through the API, measured 600 rows standing for 1,391 points: 225
    rows saved on average, and S1 took longer with the cut. Unmeasured, no cut either.
    """
    rows, points = spec.bucket_rows, spec.bucket_points
    if rows is None or not points or rows >= points or (points - rows) ** 2 / (2 * points) < RAW_CUT_PLANNING_ROWS:
        return 0
    return int(spec.grain * (1 - rows / points) / 2)


@dataclass(frozen=True)
class RawCut:
    """A ragged bucket of ``spec`` read as its row minus the raw points of the short side of its edge.

    Without it the bucket is read from raw points: the window's filter keeps those of the edge's side
    in the window, up to the whole bucket less a second. With it, when the bucket's only edge lies
    within ``reach`` of its start or end (``raw_cut_reach``), the bucket is its row at a moment of the
    long side (``at``: every point of the bucket), minus the short side's points at that moment, plus
    the short side's points at their own moments. The short side holds the edge itself: comparisons
    with the edge split it from the long side (the edge's own points go either way), never the long side
    from itself.

    Exact for the reasons a ``Cut`` is: the long side is uniform, the row and the subtracted points
    carry one moment of it and pass every filter together, and only sums are subtracted. The window's
    filter decides which read runs: the short side's own points only where they are in the window
    (through the points' index, as without a cut), the row and the negated points only where the long
    side is (a one-time filter on the row's arm, a filter of the ranges' relation on the points').
    """

    edge: str
    #: The ``start`` of the other edges' buckets (``_ragged``): the cut needs its edge alone in its bucket.
    others: list[Term]
    grain: int
    #: Seconds (``raw_cut_reach``): under half the grain, so ``early`` and ``late`` never both hold.
    reach: int

    @property
    def start(self) -> Term:
        return _bin(self.edge, self.grain)

    @property
    def end(self) -> Term:
        return _later(self.start, self.grain)

    @property
    def early(self) -> Term:
        """The edge within ``reach`` of its bucket's start: the short side is [start, edge]."""
        return _alone(self.edge, self.start, self.others, _within(self.edge, self.start, self.reach))

    @property
    def late(self) -> Term:
        """The edge within ``reach`` of its bucket's end: the short side is [edge, end)."""
        return _alone(self.edge, self.start, self.others, _short_of(self.end, self.edge, self.reach))

    @property
    def at(self) -> Term:
        """A moment of the long side: the bucket's last microsecond after an early edge, its start before a late one."""
        early, late, start, end = self.early, self.late, self.start, self.end

        def value(pinning: Pinning) -> datetime | None:
            after, before, first, last = early.value(pinning), late.value(pinning), start.value(pinning), end.value(pinning)
            return last - _MICROSECOND if after else first if before else None

        return Term(
            f"(CASE WHEN {early.sql} THEN {end.sql} - INTERVAL '1 microsecond' WHEN {late.sql} THEN {start.sql} END)", "timestamptz", value
        )

    def side(self, plan: ProjectionPlan, ragged: Term) -> tuple[str, str, str]:
        """The range of points to read around the edge, ``ragged`` its guarded bucket (``_ragged``), and the moment
        they are subtracted at: the short side and ``at`` under a cut, else the whole bucket and NULL."""
        return (
            f"(CASE WHEN {plan.emit(self.late)} THEN {self.edge} ELSE {plan.emit(ragged)} END)",
            f"(CASE WHEN {plan.emit(self.early)} THEN {self.edge} + INTERVAL '1 microsecond' "
            f"ELSE {plan.emit(_later(ragged, self.grain, parenthesized=False))} END)",
            plan.emit(self.at),
        )

    def row_arm(self, plan: ProjectionPlan, c: ExpressionCompiler, marker: str) -> str:
        """The bucket's row at ``at``, read only under a cut; ``marker`` the source's value for an arm no tier filter sees."""
        early, late = self.early, self.late
        either = Term(f"({early.sql} OR {late.sql})", "boolean", lambda pinning: early.value(pinning) | late.value(pinning))
        return plan.arm(
            f"UNION ALL {plan.row_select(bucket=plan.emit(self.at))}, {c.param(plan.spec.id, 'bigint')}, {marker} "
            f"FROM public.{TABLE} AS p WHERE p.projection_id = {c.param(plan.spec.id, 'bigint')} "
            f"AND p.bucket = {plan.emit(self.start)} ",
            gate=either,
        )


@dataclass(frozen=True)
class Cut:
    """A ragged coarse bucket read as its coarse row minus the fine rows of the short side of its edge.

    Without a cut such a bucket is read from its fine rows: at 00:06 UTC, the seed's requests
    by path (24 hours) read 23 hours of yesterday's hour rows (54,173 at 10M points) where the
    day row holds 7,310. With one, when the bucket's only edge lies within ``reach`` of the
    bucket's start or end (``cut_reach``), the bucket is its coarse row (the whole long side,
    and the short side and the edge's fine bucket), plus the short side's fine rows, minus the
    short side's and the edge bucket's fine rows, plus the edge bucket's raw points (read raw
    as always).

    Exact because the long side is uniform (no edge in it, so every comparison of ``timestamp``
    has one outcome over it) and the coarse row and the subtracted rows carry a moment of the
    long side (``at``): they pass every filter together, so they cancel or stand for the long
    side as its own rows would. Only sums can be subtracted (counts, sums of ``numeric`` partial
    sums, averages of the two: ``ProjectionPlan.linear``), and a group whose rows cancel out is
    dropped by ``ProjectionPlan.group_guard``.

    The filters above the union are pushed into each arm. The cut's two arms carry a constant
    moment, so there they become one-time filters: when the long side is outside the window
    the arms are never read, and the short side's fine rows, whose own moments are compared,
    are read as without a cut. When it is inside, the cut reads one coarse row per key and
    the short side's and the edge bucket's fine rows once, negated, instead of the long side's
    fine rows: ``cut_reach`` weighs the two.
    """

    edge: str
    #: The ``start`` of the other edges' coarse buckets (``_ragged``): the cut needs its edge alone in its bucket.
    others: list[Term]
    grain: int
    coarse_grain: int
    #: Seconds (``cut_reach``): at most ``(coarse_grain - grain) / 2``, so ``early`` and ``late`` never both hold.
    reach: int

    def bucket(self, grain: int) -> tuple[Term, Term]:
        """The start and end of the edge's bucket of ``grain``. Inside a cut the edge is finite (``_alone``),
        so plain ``date_bin``: the guarded spelling of ``_ragged``, repeated in every arm, took
        PostgreSQL 2 ms more to plan."""
        start = _bin(self.edge, grain)
        return start, _later(start, grain)

    @property
    def early(self) -> Term:
        """The edge within ``reach`` of the bucket's start: the short side is before it."""
        start = self.bucket(self.coarse_grain)[0]
        return _alone(self.edge, start, self.others, _within(self.edge, start, self.reach))

    @property
    def late(self) -> Term:
        """The edge's fine bucket ending within ``reach`` of the bucket's end: the short side is after it."""
        (start, end), fine_end = self.bucket(self.coarse_grain), self.bucket(self.grain)[1]
        step = timedelta(seconds=int(self.reach))
        test = Term(
            f"{end.sql} - {fine_end.sql} < INTERVAL '{int(self.reach)} seconds'",
            "boolean",
            lambda pinning: end.value(pinning) - fine_end.value(pinning) < step,
        )
        return _alone(self.edge, start, self.others, test)

    def arms(self, plan: ProjectionPlan, c: ExpressionCompiler) -> list[str]:
        """The coarse row and the negated fine rows at a moment of the long side, one pair of arms per side
        the edge may be near: plain bounds, each pair gated by its own test."""
        assert plan.coarse is not None
        fine_id = c.param(plan.spec.id, "bigint")
        coarse_id = c.param(plan.coarse.id, "bigint")
        (start, end), (fine, fine_end) = self.bucket(self.coarse_grain), self.bucket(self.grain)
        arms = []
        for gate, at, lower, upper in ((self.early, fine_end, start, fine_end), (self.late, start, fine, end)):
            moment = plan.emit(at)
            arms += [
                plan.arm(
                    f"UNION ALL {plan.row_select(bucket=moment)}, {fine_id}, 3 FROM public.{TABLE} AS p "
                    f"WHERE p.projection_id = {coarse_id} AND p.bucket = {plan.emit(start)} ",
                    gate=gate,
                ),
                plan.arm(
                    f"UNION ALL {plan.row_select(bucket=moment, negated=True)}, {fine_id}, 3 FROM public.{TABLE} AS p "
                    f"WHERE p.projection_id = {fine_id} ",
                    gate=gate,
                    bounds=(lower, upper),
                ),
            ]
        return arms


class NotCovered(Exception):
    """The query needs something the projection does not keep; the caller runs it raw."""


@dataclass
class ProjectionPlan:
    """One attempt at answering a query from ``spec``; the compiler carries it while compiling.

    Every read of the dataset (a subquery, the count query of a LIMIT) becomes its own source,
    under its own alias; they share the ragged buckets, all edges of all reads (conservative).
    """

    spec: Spec
    dataset: DatasetRef
    #: The same projection kept at a coarser grain (``coarse_companion``): its whole buckets are
    #: read from it, the rest of the window from ``spec``'s rows and the raw points as without it.
    coarse: Spec | None = None
    #: The same projection kept at a grain between the two (``coarse_companion``), beside a ``coarse``
    #: one: the ragged coarse buckets are read from its whole buckets, and from ``spec``'s rows only
    #: in its own ragged buckets.
    mid: Spec | None = None
    sources: dict[str, Source] = field(default_factory=dict)
    edges: list[str] = field(default_factory=list)
    #: Per read of the dataset, the constant day no point its WHERE keeps is before (``translate.time_floor``), or None.
    floors: list[datetime | None] = field(default_factory=list)
    #: Every aggregate compiled so far is a sum over the rows (counts, sums, averages): a
    #: ``Cut`` may then read a ragged coarse bucket as its row minus fine rows.
    linear: bool = True
    #: Pass what the edges decide as parameters (``ir.Pins``): asked for by the caller, and turned off by
    #: ``source_sql`` unless every edge is anchored (``anchors``).
    pinned: bool = False
    #: Per edge, how it is computed from ``date_trunc('second', NOW())`` (``now_shift``), or its moment when it is a
    #: literal (``fixed_moment``), or None: ``ir.Pins.edges``.
    anchors: dict[str, timedelta | datetime | NowShift | None] = field(default_factory=dict)
    #: The terms passed as parameters, by their SQL: the parameter's name and the term.
    pin_terms: dict[str, tuple[str, Term]] = field(default_factory=dict)

    # ---- the source ------------------------------------------------------------

    def emit(self, term: Term) -> str:
        """A term's SQL, or, pinned, a parameter holding its value."""
        if not self.pinned:
            return term.sql
        return f"%({self._pin(term)})s::{term.pg}"

    def _pin(self, term: Term) -> str:
        """The parameter's name that holds ``term``'s value; one per distinct SQL."""
        name, _ = self.pin_terms.setdefault(term.sql, (f"pin{len(self.pin_terms)}", term))
        return name

    def arm(self, sql: str, *, gate: Term | None = None, bounds: tuple[Term, Term] | None = None) -> str:
        """An arm of the source that reads nothing unless ``bounds`` are a range of buckets that is not empty and
        ``gate`` holds: its WHERE gets both tests, and, pinned, a mark by which ``Pins.pruned`` leaves it out of the
        statement where the values say it reads nothing (``ir.ARM_MARK``)."""
        tests = [f"p.bucket >= {self.emit(bounds[0])}", f"p.bucket < {self.emit(bounds[1])}"] if bounds is not None else []
        if gate is not None:
            tests.append(self.emit(gate))
        arm = f"{sql}{''.join(f'AND {test} ' for test in tests)}"
        if not self.pinned:
            return arm
        ranges = [(self._pin(bounds[0]), self._pin(bounds[1]))] if bounds is not None else []
        return arm_marked(arm, gates=[self._pin(gate)] if gate is not None else [], ranges=ranges)

    def pins(self) -> Pins | None:
        """The parameters ``source_sql`` left for the moment the query runs at, if any."""
        if not self.pin_terms:
            return None
        edges = tuple((edge, anchor) for edge, anchor in sorted(self.anchors.items()) if anchor is not None)
        return Pins(edges=edges, terms=tuple((name, term.sql, term.value) for name, term in self.pin_terms.values()))

    @property
    def name(self) -> str:
        """What ``X-Query-Plan`` and the audit log say answered: the tiers from the coarsest."""
        return "+".join(tier.name for tier in (self.coarse, self.mid, self.spec) if tier is not None)

    @staticmethod
    def sentinel(alias: str, column: str) -> str:
        return f'{alias}."?{column}"'

    def dataset_source(
        self, c: ExpressionCompiler, *, visible_name: str, pg_alias: str, floor: datetime | None = None
    ) -> tuple[Source, str]:
        """The projection as a FROM item; its SQL (``PLACEHOLDER``) is filled in once every edge is known."""
        self.floors.append(floor)
        types = {"timestamp": "DateTime", "_sample_interval": "UInt32", INDEX_COLUMN: "String"}
        types.update({blob: "String" for blob in BLOB_COLUMNS})
        types.update({double: "Float64" for double in DOUBLE_COLUMNS})
        columns = {"dataset": Typed(c.param(self.dataset.name, "text"), "String")}
        for name, ch_type in types.items():
            kept = name in self.spec.dimensions
            columns[name] = Typed(f'{pg_alias}."{name}"' if kept else self.sentinel(pg_alias, name), ch_type)
        for physical, label in (self.dataset.labels or {}).items():
            if physical in columns and isinstance(label, str) and label and label not in types and label != "dataset":
                columns[label] = columns[physical]
        source = Source(name=visible_name, columns=columns, star=list(SQL_COLUMNS))
        self.sources[pg_alias] = source
        return source, f"({PLACEHOLDER}) AS {pg_alias}"

    def source_sql(self, c: ExpressionCompiler) -> str:
        """The projection's rows outside the ragged buckets and the raw points inside them, as one relation.

        Shaped for PostgreSQL's planner, which reads every projection row of the window through it
        (24,150 rows for the seed's requests by path at 10M points):

        - The ragged buckets are one array computed once (an InitPlan). Spelled out in the
          rows' filter, the stable NOW()-relative expressions in it were evaluated for every row.
        - The rows' arm has no WHERE of its own: a UNION ALL arm with one is not flattened
          into the append (``is_safe_append_member``) and pays a subquery scan per row. The
          filters sit above the union, guarded by ``_projected`` (a constant per arm), so
          PostgreSQL folds them into each arm: the projection's id and the window become the
          rows' index condition, and they vanish from the raw points' arm.
        - A ragged bucket's end is a column of its own: ``timestamp < e + interval`` holds a
          function that is not leakproof, so under the reader role's row-level security it
          was a filter after the policy instead of an index condition (the raw arm read every
          point from the bucket's start to now through the index).
        - When every read of the dataset has a time floor (``translate.time_floor``: a
          constant day before any point its WHERE keeps), the raw arm is bounded by it too, so
          PostgreSQL prunes the day partitions as it plans instead of planning all of them for
          the one the ragged bucket lies in (the seed's requests by path at 1M points: 0.77 ->
          0.29 ms of planning). Every read shares the raw arm, so one read without a floor
          leaves it unbounded.

        EXPLAIN ANALYZE at 10M points (TIMING OFF, median of 9): that query 23 -> 14 ms.

        With a ``coarse`` tier, its buckets that hold no edge come from its rows, the fine rows
        fill its ragged buckets, and the raw points the fine ragged buckets: three disjoint sets
        of buckets, each uniform. A query with no edge reads the coarse rows alone. The seed's
        requests by path at 10M points, 24 hours from 14:06, read 1,993 day rows and 9,392 hour
        rows with a day tier beside the hour's, instead of 23,314 hour rows (in process,
        alternated: 17.6-19.1 ms against 22.6-24.0). When every aggregate is a sum (``linear``),
        a ragged coarse bucket whose edge is near one of its ends is read through its coarse
        row instead (``Cut``). With a ``mid`` tier too, a ragged coarse bucket is read from its
        mid buckets that hold no edge, and the fine rows fill only the ragged mid buckets: at
        10M points at 10:56, S1 read 8,913 rows instead of 18,991 (9.2 ms instead of 15.2).

        When every aggregate is a sum and the measures say it pays (``raw_cut_reach``), a ragged bucket of
        ``spec`` whose edge is near one of its ends is read through its row (``RawCut``): the raw arm then
        reads the short side of each such edge instead of the whole bucket, and the same ranges are read
        again, negated at the long side's moment, only where that moment is in the window.
        """
        spec = self.spec
        grain = f"INTERVAL '{int(spec.grain)} seconds'"
        edges = sorted(set(self.edges))
        projection_id = c.param(spec.id, "bigint")
        rows = self.row_select(bucket="p.bucket")
        if not edges:
            whole = self.coarse or spec
            return f"{rows} FROM public.{TABLE} AS p WHERE p.projection_id = {c.param(whole.id, 'bigint')}"
        self.pinned = self.pinned and all(self.anchors.get(edge) is not None for edge in edges)
        buckets = [_ragged(edge, spec.grain) for edge in edges]
        ragged = ", ".join(self.emit(bucket) for bucket in buckets)
        dimensions = [f"coalesce({d}, '')" for d in spec.dimensions]
        measures = point_measures_sql(spec)
        raw = ['"timestamp"', *dimensions, *measures]
        floors = [moment for moment in self.floors if moment is not None]
        floor = f' AND "timestamp" >= {c.param(min(floors), "timestamptz")}' if floors and len(floors) == len(self.floors) else ""
        points = f"WHERE dataset_id = {c.param(self.dataset.id, 'bigint')}{floor}{self._raw_bounds(buckets, spec.grain)}"
        raw_from = (
            f"FROM (SELECT DISTINCT e, e + {grain} AS e_end FROM unnest(ARRAY[{ragged}]) AS e) AS r "
            f'JOIN public.tracking_datapoint ON "timestamp" >= r.e AND "timestamp" < r.e_end {points}'
        )
        marker = "false" if self.coarse is None else "3"
        raw_cuts = ""
        reach = raw_cut_reach(spec=spec) if self.linear else 0
        if reach:
            # The floor bounds the negated points too: when their moment passes the window's filter it is no earlier than
            # the floor, a UTC midnight, and neither is their bucket's start, since every grain divides a day.
            cuts = [RawCut(edge=edge, others=buckets[:n] + buckets[n + 1 :], grain=spec.grain, reach=reach) for n, edge in enumerate(edges)]
            sides = [cut.side(self, bucket) for cut, bucket in zip(cuts, buckets, strict=True)]
            arrays = ", ".join(f"ARRAY[{', '.join(side[k] for side in sides)}]::timestamptz[]" for k in range(3))
            raw_from = (
                f"FROM (SELECT DISTINCT lo, hi, moment FROM unnest({arrays}) AS r(lo, hi, moment)) AS r "
                f'JOIN public.tracking_datapoint ON "timestamp" >= r.lo AND "timestamp" < r.hi {points}'
            )
            raw_cuts = "".join(cut.row_arm(self, c, marker) for cut in cuts) + (
                f"UNION ALL SELECT {', '.join(['r.moment', *dimensions, *_negated(measures)])}, {projection_id}, {marker} "
                f"{raw_from} AND r.moment IS NOT NULL "
            )
        if self.coarse is None:
            return (
                f'SELECT * FROM ({rows}, p.projection_id AS "_projection_id", true AS "_projected" FROM public.{TABLE} AS p '
                f"{raw_cuts}"
                f"UNION ALL SELECT {', '.join(raw)}, {projection_id}, false {raw_from}) AS u "
                f'WHERE (NOT u."_projected" OR u."_projection_id" = {projection_id}) '
                f'AND (NOT u."_projected" OR NOT (u."timestamp" = ANY ((SELECT ARRAY[{ragged}])::timestamptz[])))'
            )
        # One arm of fine rows per ragged coarse bucket, bounded by expressions PostgreSQL evaluates
        # as it plans: joined to an array of them, its rows were estimated at a tenth, and the
        # seed's requests by path grouped 20,000 rows by sorting them (21 ms instead of 16).
        # A bucket holding two edges is read by the first arm only.
        starts = [_ragged(edge, self.coarse.grain) for edge in edges]
        coarse_ragged = ", ".join(self.emit(start) for start in starts)
        mid_starts = [_ragged(edge, self.mid.grain) for edge in edges] if self.mid is not None else []
        arms = []
        coarse_reach = cut_reach(spec=spec, coarse=self.coarse, mid=self.mid)
        for n, (edge, start) in enumerate(zip(edges, starts, strict=True)):
            lower, upper = start, _later(start, self.coarse.grain, parenthesized=False)
            if self.linear:
                cut = Cut(edge=edge, others=starts[:n] + starts[n + 1 :], grain=spec.grain, coarse_grain=self.coarse.grain, reach=coarse_reach)
                fine, fine_end = cut.bucket(spec.grain)
                lower = _case(cut.late, fine_end, lower)
                upper = _case(cut.early, fine, upper)
                arms += cut.arms(self, c)
            first = _not_among(start, starts[:n]) if n else None
            if self.mid is None:
                arms.append(self._rows_arm(c, spec, 1, lower, upper, first))
                continue
            # [lower, upper) is the whole coarse bucket or one side of its edge's fine bucket, so each of
            # its mid buckets lies inside it or holds the edge; the fine rows fill the edge's own.
            mid_start = mid_starts[n]
            mid_end = _later(mid_start, self.mid.grain, parenthesized=False)
            arms.append(self._rows_arm(c, self.mid, 4, lower, upper, first))
            arms.append(
                self._rows_arm(
                    c, spec, 1, _extreme("greatest", lower, mid_start), _extreme("least", upper, mid_end),
                    _not_among(mid_start, mid_starts[:n]) if n else None,
                )
            )
        mid_filter = (
            f' AND (u."_tier" <> 4 OR NOT (u."timestamp" = ANY ((SELECT ARRAY[{", ".join(self.emit(start) for start in mid_starts)}])::timestamptz[])))'
            if self.mid is not None
            else ""
        )
        return (
            f'SELECT * FROM ({rows}, p.projection_id AS "_projection_id", 2 AS "_tier" FROM public.{TABLE} AS p '
            f"{''.join(arms)}{raw_cuts}"
            f"UNION ALL SELECT {', '.join(raw)}, {projection_id}, 0 {raw_from}) AS u "
            f'WHERE (u."_tier" <> 2 OR (u."_projection_id" = {c.param(self.coarse.id, "bigint")} '
            f'AND NOT (u."timestamp" = ANY ((SELECT ARRAY[{coarse_ragged}])::timestamptz[])))) '
            f'AND (u."_tier" <> 1 OR NOT (u."timestamp" = ANY ((SELECT ARRAY[{ragged}])::timestamptz[])))'
            f"{mid_filter}"
        )

    def _raw_bounds(self, buckets: list[Term], grain: int) -> str:
        """Pinned, the raw points' reads as constant bounds: every range they read lies in a ragged bucket (``RawCut.side``
        too), and PostgreSQL then plans the day partitions those hold instead of every one from the floor on (the days
        created ahead for ingest among them). As SQL they would be expressions it prunes by only as it runs."""
        if not self.pinned:
            return ""
        first, last = buckets[0], buckets[0]
        for bucket in buckets[1:]:
            first, last = _extreme("least", first, bucket), _extreme("greatest", last, bucket)
        return f' AND "timestamp" >= {self.emit(first)} AND "timestamp" < {self.emit(_later(last, grain))}'

    def _rows_arm(self, c: ExpressionCompiler, tier: Spec, number: int, lower: Term, upper: Term, gate: Term | None) -> str:
        """The rows of ``tier`` in [lower, upper) as the source's arm ``number`` (its ``_tier``), ``gate`` a further test."""
        return self.arm(
            f"UNION ALL {self.row_select(bucket='p.bucket')}, {c.param(self.spec.id, 'bigint')}, {number} "
            f"FROM public.{TABLE} AS p WHERE p.projection_id = {c.param(tier.id, 'bigint')} ",
            gate=gate,
            bounds=(lower, upper),
        )

    def row_select(self, *, bucket: str, negated: bool = False) -> str:
        """The SELECT list of one projection row as the source's columns, its bucket replaced by
        ``bucket``; ``negated`` negates the additive measures (``_negated``)."""
        spec = self.spec
        names = ['"timestamp"', *(f'"{d}"' for d in spec.dimensions), '"n"', '"si"']
        measures = ["p.n", "p.si"]
        for i in range(1, len(spec.doubles) + 1):
            names += [f'"s{i}"', f'"w{i}"', f'"lo{i}"', f'"hi{i}"']
            measures += [f"p.s{i}", f"p.w{i}", f"p.lo{i}", f"p.hi{i}"]
        kept = [bucket, *(f"p.d{i}" for i in range(1, len(spec.dimensions) + 1)), *(_negated(measures) if negated else measures)]
        return f"SELECT {', '.join(f'{value} AS {name}' for value, name in zip(kept, names, strict=True))}"

    def group_guard(self, scope: Scope) -> str | None:
        """A HAVING term that drops the groups a cut leaves with no point (``Cut``, ``RawCut``): every real
        group counts at least one point. Without a coarse tier, and no reach for a raw cut, no row is
        negated, so there is none; nor when an aggregate compiled so far is not a sum: ``linear`` never
        turns true again, so such a plan gets no cut when its source is written after the whole query."""
        if not self.linear or (self.coarse is None and not raw_cut_reach(spec=self.spec)):
            return None
        return f'sum({self._alias_of(scope)}."n") <> 0'

    def _alias_of(self, scope: Scope) -> str | None:
        for alias, source in self.sources.items():
            if any(candidate is source for candidate in scope.sources):
                return alias
        return None

    def _sentinel_column(self, sql: str) -> tuple[str, str] | None:
        """(alias, column) when ``sql`` is exactly a sentinel of one of the plan's sources."""
        alias, dot, rest = sql.partition('."?')
        if not dot or alias not in self.sources or not rest.endswith('"'):
            return None
        return alias, rest[:-1]

    def reads(self, scope: Scope) -> bool:
        return self._alias_of(scope) is not None

    def check(self, sql: str) -> None:
        if any(f'{alias}."?' in sql for alias in self.sources):
            raise NotCovered("a column the projection does not keep")

    # ---- timestamp -------------------------------------------------------------

    def time_compare(
        self,
        c: ExpressionCompiler,
        left: Typed,
        right: Typed,
        node: exp.Expression,
        *,
        operands: tuple[exp.Expression, exp.Expression] | None,
    ) -> tuple[Typed, Typed]:
        """``timestamp <op> constant``: the constant's bucket becomes ragged, and ``timestamp`` the bucket start.
        ``operands`` are the nodes of ``left`` and ``right``, when known, for reading where the constant is anchored
        (``anchors``)."""
        from tracking.sql.functions import as_datetime

        for side, other in ((left, right), (right, left)):
            found = self._sentinel_column(side.sql)
            if found is None or found[1] != "timestamp" or not _constant(other):
                continue
            if not (ct.is_datetime(other.type) or ct.is_date(other.type) or ct.is_string(other.type)):
                return left, right
            try:
                moment = as_datetime(c, other, node)
            except SqlError:
                return left, right
            edge = f"({moment.sql})::timestamptz"
            self.edges.append(edge)
            constant = None if operands is None else operands[1] if side is left else operands[0]
            if self.anchors.get(edge) is None:
                shift = now_shift(constant)
                self.anchors[edge] = shift if shift is not None else fixed_moment(constant)
            column = replace(side, sql=f'{found[0]}."timestamp"')
            return (column, right) if side is left else (left, column)
        return left, right

    def time_bucket(self, value: Typed, *, amount: int, unit: str, tz: str | None) -> Typed:
        """``timestamp`` floored to boundaries that are all bucket boundaries is constant over a bucket."""
        found = self._sentinel_column(value.sql)
        zone = tz or ct.datetime_tz(value.type)  # toDateTime(timestamp, 'Asia/Kolkata') carries its zone
        if found is None or found[1] != "timestamp" or (zone is not None and zone not in _UTC):
            return value
        grain = (self.coarse or self.spec).grain  # a multiple of the fine grain: aligned to it, aligned to both
        if unit in ("DAY", "WEEK", "MONTH", "QUARTER", "YEAR"):
            aligned = True
        elif unit == "HOUR":
            aligned = grain <= 3600 or amount >= 24
        else:
            seconds = amount * (60 if unit == "MINUTE" else 1)
            aligned = seconds % grain == 0
        return replace(value, sql=f'{found[0]}."timestamp"') if aligned else value

    # ---- aggregates --------------------------------------------------------------

    def aggregate(
        self, c: ExpressionCompiler, scope: Scope, key: str, node: exp.Expression, params: list[exp.Expression], args: list[exp.Expression]
    ) -> Typed:
        """An aggregate over the projection's rows that equals the same aggregate over the points."""
        from tracking.sql.functions import avg_sql, exact_sql, sum_sql

        if params:
            raise NotCovered(f"{key} with parameters")
        alias = self._alias_of(scope)
        assert alias is not None
        distinct = len(args) == 1 and isinstance(args[0], exp.Distinct)
        plain = list(args[0].expressions) if distinct else args
        if key in ("count", "countif", "sum", "sumif", "avg", "avgif") and distinct:
            return self._unchanged(c, scope, key, node, args)
        if key in _SET_AGGREGATES:
            self.linear = False
            measure = self._measure(c, scope, plain[0]) if plain else None
            if measure is not None and key in ("min", "max", "minif", "maxif") and measure[0] == "double":
                kind = "min" if key.startswith("min") else "max"
                column = f'{alias}."{"lo" if kind == "min" else "hi"}{measure[1]}"'
                condition = self._condition(c, scope, plain[1], node) if key.endswith("if") else ""
                return Typed(f"coalesce({kind}({column}){condition}, {ct.default_sql('Float64')})", "Float64", aggregate=True)
            return self._unchanged(c, scope, key, node, args)
        n = f'{alias}."n"'
        if key in ("count", "countif"):
            condition = ""
            if key == "countif":
                if len(plain) != 1:
                    raise NotCovered("countIf takes one condition")
                condition = self._condition(c, scope, plain[0], node)
            elif plain and not (len(plain) == 1 and isinstance(plain[0], exp.Star)):
                if len(plain) != 1:
                    raise NotCovered("count of a tuple")
                if self._measure(c, scope, plain[0]) is None:
                    value = c.expr(scope, plain[0])
                    self.check(value.sql)
                    condition = f" FILTER (WHERE ({c.value(value)}) IS NOT NULL)"
            return Typed(f"coalesce(sum({n}){condition}, 0)::bigint", "UInt64", aggregate=True)
        if key not in ("sum", "sumif", "avg", "avgif"):
            raise NotCovered(f"{key} is not kept by projections")
        if len(plain) != (2 if key.endswith("if") else 1):
            raise NotCovered("arguments")
        condition = self._condition(c, scope, plain[1], node) if key.endswith("if") else ""
        value = c.expr(scope, plain[0])
        measure = self._measure(c, scope, plain[0])
        count = None
        if measure is not None:
            kind, index = measure
            summand = {"double": f'{alias}."s{index}"', "weighted": f'{alias}."w{index}"', "si": f'{alias}."si"'}[kind]
            count = f"sum({n})"
        else:
            self.check(value.sql)
            if ct.is_nullable(value.type) or value.type == ct.NOTHING:
                raise NotCovered("a nullable argument")
            exact = exact_sql(c, value, node) if key.startswith("avg") or ct.is_float(value.type) else f"({c.value(value)})::numeric"
            summand = f"({exact} * {n})"
            count = f"sum({n})"
        if key.startswith("sum"):
            return sum_sql(c, value, node, distinct=False, condition=condition, summand=summand)
        return avg_sql(c, value, node, distinct=False, condition=condition, summand=summand, count=count)

    def _unchanged(self, c: ExpressionCompiler, scope: Scope, key: str, node: exp.Expression, args: list[exp.Expression]) -> Typed:
        from tracking.sql.functions import AGGREGATES

        self.linear = False
        typed = AGGREGATES[key](c, scope, node, [], args)
        self.check(typed.sql)
        return typed

    def _condition(self, c: ExpressionCompiler, scope: Scope, node: exp.Expression, call: exp.Expression) -> str:
        condition = c.as_cond(c.expr(scope, node), call)
        self.check(condition.sql)
        return f" FILTER (WHERE {condition.sql})"

    def _measure(self, c: ExpressionCompiler, scope: Scope, node: exp.Expression) -> tuple[str, int] | None:
        """``("double", k)`` for a kept double, ``("si", 0)`` for ``_sample_interval``, ``("weighted", k)``
        for ``_sample_interval * double`` (either order), the projection's columns ``s``/``si``/``w``."""
        while isinstance(node, exp.Paren):
            node = node.this
        if isinstance(node, exp.Mul):
            sides = [self._measure(c, scope, node.this), self._measure(c, scope, node.expression)]
            kinds = sorted(side[0] for side in sides if side is not None)
            if kinds == ["double", "si"]:
                return next(("weighted", side[1]) for side in sides if side is not None and side[0] == "double")
            return None
        if not isinstance(node, exp.Column):
            return None
        try:
            found = self._sentinel_column(c.expr(scope, node).sql)
        except SqlError:
            return None
        if found is None:
            return None
        if found[1] == "_sample_interval":
            return ("si", 0)
        if found[1] in self.spec.doubles:
            return ("double", self.spec.doubles.index(found[1]) + 1)
        return None


def _constant(typed: Typed) -> bool:
    """No column and no subquery: compiled column references are always double-quoted."""
    return not typed.aggregate and '"' not in typed.sql and "SELECT" not in typed.sql.upper()
