"""The event schema reports understand: kinds, request roles, latency bins and time grains.

Shared by the rollup writer (``tracking.rollups.services``) and the SQL that reads raw points
(``tracking.rollups.db``), which must classify a point identically. docs/reports.md
describes the rules.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import IntEnum


class Kind(IntEnum):
    """How a point is classified; the numbers are stored in the rollup tables."""

    REQUEST = 1
    COST = 2
    AI = 3
    ERROR = 4
    USER = 5
    RESOURCE = 6
    OTHER = 9
    LATENCY = 10
    LATENCY_ALL = 11
    STATUS = 12
    PATH = 13


#: Kinds that are histograms of request durations rather than points. A rollup keeps one row
#: per key and bucket for them, its bins and counts in two arrays (``bins``, ``counts``): the
#: all-paths histogram in rows of its own, the per-path ones in the ``PATH`` rows.
HISTOGRAM_KINDS = frozenset({Kind.LATENCY, Kind.LATENCY_ALL})
#: How the tiers keep requests. Points are classified ``REQUEST`` (``k1`` path, ``k2`` status),
#: but no tier keeps rows per path and status: with 10,000 paths they are about one per point.
#: A tier keeps ``STATUS`` rows (requests over all paths, per status: every count of requests)
#: and ``PATH`` rows (requests per path, ``s2`` the 5xx ones, ``bins``/``counts`` the path's
#: latency histogram). A read of requests per path and status is answered from raw points.
#: ``DERIVED_KINDS`` count again, in the tiers, points that other kinds count.
DERIVED_KINDS = HISTOGRAM_KINDS | {Kind.PATH}
#: What classifying raw points yields (``tracking.rollups.db.classified_sql``).
CLASSIFIED_KINDS = frozenset(Kind) - DERIVED_KINDS - {Kind.STATUS}


HTTP_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "CONNECT", "TRACE")
MARKERS = {"ai-usage": Kind.AI, "error": Kind.ERROR, "user-event": Kind.USER, "resource": Kind.RESOURCE}
COST_MARKER = "cost"

#: Upper bounds of the latency bins in milliseconds: 0.1 ms growing by 5% to about 16 minutes.
#: Bin ``b`` (PostgreSQL's ``width_bucket``) holds durations in ``[BOUNDS[b-1], BOUNDS[b])``.
LATENCY_GROWTH = 1.05
LATENCY_BOUNDS: tuple[float, ...] = tuple(float(f"{0.1 * LATENCY_GROWTH**i:.6g}") for i in range(331))
#: Per-path histograms merge bins in pairs (bin ``b // 2``, about 10% wide): they are read
#: for every top path over whole ranges, so half the rows matters more than the last 5%.
PATH_LATENCY_BOUNDS: tuple[float, ...] = LATENCY_BOUNDS[1::2]

#: Minute rows older than this many whole days are pruned; older edges are read raw.
MINUTE_TIER_DAYS = 3

REQUEST_ROLES = {
    "method": "blob1",
    "path": "blob2",
    "status": "blob3",
    "environment": "blob4",
    "duration_ms": "double1",
    "count": "double2",
    "size_bytes": "double3",
}


@dataclass(frozen=True)
class Layout:
    """Where a dataset keeps the request roles; labels may move them (``{"blob7": "path"}``)."""

    method: str = "blob1"
    path: str = "blob2"
    status: str = "blob3"
    environment: str = "blob4"
    duration_ms: str = "double1"
    count: str = "double2"
    size_bytes: str = "double3"


def layout_from_labels(labels: dict[str, str] | None) -> Layout:
    """A label naming a request role moves that role to the labelled column of the right type."""
    moved: dict[str, str] = {}
    for column, name in (labels or {}).items():
        default = REQUEST_ROLES.get(str(name))
        if default is None or not isinstance(column, str):
            continue
        kind = "blob" if default.startswith("blob") else "double"
        number = column.removeprefix(kind)
        if column.startswith(kind) and number.isdigit() and 1 <= int(number) <= 20:
            moved[str(name)] = column
    return Layout(**moved)


def floor_to(moment: datetime, grain: timedelta) -> datetime:
    seconds = int(grain.total_seconds())
    epoch = int(moment.timestamp())
    return datetime.fromtimestamp(epoch - epoch % seconds, tz=UTC)


MINUTE = timedelta(minutes=1)
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
TIERS: tuple[tuple[str, timedelta], ...] = (("day", DAY), ("hour", HOUR), ("minute", MINUTE))
#: Coarser tiers for long ranges: blocks of 28 and 7 days aligned to the epoch, as ``date_bin``
#: aligns them.
COARSE_TIERS: tuple[tuple[str, timedelta], ...] = (("weeks4", timedelta(days=28)), ("week", timedelta(days=7)))


def minute_tier_horizon(now: datetime) -> datetime:
    """Minute rows exist for every bucket from here on; older ones may be pruned."""
    return floor_to(now, DAY) - timedelta(days=MINUTE_TIER_DAYS)
