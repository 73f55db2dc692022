"""Per-project quotas and rate limits, atomic in Redis, answered with 429 and Retry-After.

Each check-and-charge is one Lua script, so concurrent requests can never together pass
a limit each would pass alone (no over-admission), and a refused request charges
nothing. Nothing is ever dropped silently: a request over quota is refused whole.

Counters live in the ingest Redis, which must run with ``noeviction`` (tracking.checks),
so a counter is never evicted into a reset quota. Day counters are per UTC day; the
query rate is a fixed one-minute window. Concurrency is not counted here: a query's slot is
an advisory lock its own transaction takes in PostgreSQL (``tracking.sql.pool``), freed when
that transaction ends, so neither a finished query nor a crashed process has anything to give
back. So the rate is charged before the query learns whether it gets a slot, and given back
when it does not (``query_admission_refund``).
"""

import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache

import redis
from django.db import DatabaseError

from meauxcloud.api import ApiProblem
from meauxcloud.redis import redis_client
from projects.governance.conf import governance_settings
from projects.governance.db import query_slots_held
from projects.governance.models import ProjectQuota
from projects.models import Project

UNLIMITED = -1
KEY_PREFIX = "meauxcloud:quota"

_INGEST_SCRIPT = """
local points = tonumber(redis.call('GET', KEYS[1]) or '0')
local bytes = tonumber(redis.call('GET', KEYS[2]) or '0')
local add_points, add_bytes = tonumber(ARGV[1]), tonumber(ARGV[2])
local max_points, max_bytes = tonumber(ARGV[3]), tonumber(ARGV[4])
if max_points >= 0 and points + add_points > max_points then return {1, points} end
if max_bytes >= 0 and bytes + add_bytes > max_bytes then return {2, bytes} end
redis.call('INCRBY', KEYS[1], add_points)
redis.call('EXPIRE', KEYS[1], ARGV[5])
redis.call('INCRBY', KEYS[2], add_bytes)
redis.call('EXPIRE', KEYS[2], ARGV[5])
return {0, 0}
"""

_QUERY_RATE_SCRIPT = """
if tonumber(redis.call('GET', KEYS[1]) or '0') >= tonumber(ARGV[1]) then return 1 end
redis.call('INCR', KEYS[1])
redis.call('EXPIRE', KEYS[1], 61)
return 0
"""

_QUERY_RATE_REFUND_SCRIPT = """
if tonumber(redis.call('GET', KEYS[1]) or '0') > 0 then redis.call('DECR', KEYS[1]) end
"""

#: Slot n of project p is the advisory lock ``QUERY_LOCK + p * MAX_QUERY_SLOTS + n`` (bigint form): one
#: range per project, apart from the SQL pool's (``tracking.sql.pool.POOL_LOCK``). A limit above
#: ``MAX_QUERY_SLOTS`` is as good as none, since every running query holds a database connection.
QUERY_LOCK = 0x6D71 << 48
MAX_QUERY_SLOTS = 1 << 16


class QuotaExceeded(ApiProblem):
    """429 problem+json with Retry-After; nothing stays charged or stored for a refused request."""

    def __init__(self, *, code: str, detail: str, retry_after: int) -> None:
        super().__init__(status_code=429, detail=detail, code=code, retry_after=retry_after)


@dataclass(frozen=True)
class Limits:
    points_per_day: int = UNLIMITED
    bytes_per_day: int = UNLIMITED
    queries_per_minute: int = UNLIMITED
    concurrent_queries: int = UNLIMITED

    @property
    def ingest_limited(self) -> bool:
        return self.points_per_day != UNLIMITED or self.bytes_per_day != UNLIMITED


_limits_cache: dict[int, tuple[float, Limits]] = {}


def _value(field: int | None) -> int:
    return UNLIMITED if field is None else field


def quota_limits(*, project_id: int) -> Limits:
    """The project's limits, re-read at most every few seconds per process.

    If PostgreSQL is unreachable the last limits read are kept (or none, if never read):
    an outage must not stop ingest, which is buffering into Redis meanwhile.
    """
    now = time.monotonic()
    cached = _limits_cache.get(project_id)
    if cached is not None and now - cached[0] < governance_settings.QUOTA_CACHE_SECONDS:
        return cached[1]
    try:
        row = ProjectQuota.objects.filter(project_id=project_id).first()
    except DatabaseError:
        return cached[1] if cached is not None else Limits()
    default_concurrency = governance_settings.DEFAULT_CONCURRENT_QUERIES
    limits = Limits(concurrent_queries=default_concurrency) if row is None else Limits(
        points_per_day=_value(row.points_per_day),
        bytes_per_day=_value(row.bytes_per_day),
        queries_per_minute=_value(row.queries_per_minute),
        concurrent_queries=default_concurrency if row.concurrent_queries is None else row.concurrent_queries,
    )
    _limits_cache[project_id] = (now, limits)
    return limits


def quota_limits_forget(*, project_id: int) -> None:
    """Called when an admin saves a quota, so this process applies it at once."""
    _limits_cache.pop(project_id, None)


@cache
def _ingest_script():
    return redis_client().register_script(_INGEST_SCRIPT)


@cache
def _query_rate_script():
    return redis_client().register_script(_QUERY_RATE_SCRIPT)


@cache
def _query_rate_refund_script():
    return redis_client().register_script(_QUERY_RATE_REFUND_SCRIPT)


def _seconds_to_midnight(now: datetime) -> int:
    tomorrow = (now + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    return max(1, int((tomorrow - now).total_seconds()) + 1)


def _day_keys(project_id: int, now: datetime) -> list[str]:
    day = f"{now:%Y%m%d}"
    return [f"{KEY_PREFIX}:{project_id}:points:{day}", f"{KEY_PREFIX}:{project_id}:bytes:{day}"]


@contextmanager
def ingest_quota(*, project_id: int, points: int, size: Callable[[], int]) -> Iterator[None]:
    """Charge a batch of ``points`` against the day's points/bytes quota; refund it if the batch is not buffered.

    ``size`` gives the batch's data bytes; it walks the batch, so it is called only when
    the project has a bytes quota.
    """
    limits = quota_limits(project_id=project_id)
    if not limits.ingest_limited:
        yield
        return
    now = datetime.now(UTC)
    keys = _day_keys(project_id, now)
    data_bytes = size() if limits.bytes_per_day != UNLIMITED else 0
    verdict, used = _ingest_script()(
        keys=keys, args=[points, data_bytes, limits.points_per_day, limits.bytes_per_day, 2 * 86_400]
    )
    if verdict == 1:
        raise QuotaExceeded(
            code="points_quota_exceeded",
            detail=f"This batch of {points} points would pass the project's {limits.points_per_day} points "
            f"per day ({used} used); nothing was accepted.",
            retry_after=_seconds_to_midnight(now),
        )
    if verdict == 2:
        raise QuotaExceeded(
            code="bytes_quota_exceeded",
            detail=f"This batch of {data_bytes} bytes would pass the project's {limits.bytes_per_day} bytes "
            f"per day ({used} used); nothing was accepted.",
            retry_after=_seconds_to_midnight(now),
        )
    try:
        yield
    except BaseException:
        _refund(keys, points, data_bytes)
        raise


def _refund(keys: list[str], points: int, size: int) -> None:
    try:
        pipe = redis_client().pipeline(transaction=True)
        pipe.decrby(keys[0], points)
        pipe.decrby(keys[1], size)
        pipe.execute()
    except Exception:
        pass  # Redis is the reason the batch failed; the day's counter errs towards refusing


@dataclass(frozen=True)
class QueryUsage:
    """Today's ingest usage and this minute's queries, for admin and the API."""

    points_today: int
    bytes_today: int
    queries_this_minute: int
    running_queries: int


def quota_usage(*, project: Project) -> QueryUsage:
    now = datetime.now(UTC)
    points_key, bytes_key = _day_keys(project.id, now)
    points, size, minute = redis_client().mget([points_key, bytes_key, _minute_key(project.id, now)])
    running = query_slots_held(locks=query_slot_locks(project_id=project.id))
    return QueryUsage(int(points or 0), int(size or 0), int(minute or 0), running)


def _minute_key(project_id: int, now: datetime) -> str:
    return f"{KEY_PREFIX}:{project_id}:queries:{now:%Y%m%d%H%M}"


def query_slot_locks(*, project_id: int, slots: int = MAX_QUERY_SLOTS) -> range:
    """The advisory locks of the project's first ``slots`` slots; project ids are below 2**32."""
    first = QUERY_LOCK + project_id * MAX_QUERY_SLOTS
    return range(first, first + min(slots, MAX_QUERY_SLOTS))


@dataclass(frozen=True)
class QueryAdmission:
    """A query the project's per-minute rate admitted (and charged, at ``rate_key``); its transaction still takes one
    of the project's ``slots`` (``locks``; None when concurrency is unlimited)."""

    project_id: int
    slots: int | None
    rate_key: str | None

    @property
    def locks(self) -> range | None:
        return None if self.slots is None else query_slot_locks(project_id=self.project_id, slots=self.slots)

    def busy(self) -> QuotaExceeded:
        return QuotaExceeded(
            code="too_many_concurrent_queries",
            detail=f"The project may run {self.slots} queries at once; retry when one finishes.",
            retry_after=1,
        )


def query_admit(*, project: Project) -> QueryAdmission:
    """Admit one SQL query under the project's per-minute rate, charging it, or raise ``QuotaExceeded``.

    Redis is asked only when the project has a rate; the concurrency limit travels on to the
    query's transaction (``tracking.sql.db``), which takes a slot or refuses before it runs.
    """
    limits = quota_limits(project_id=project.id)
    slots = None if limits.concurrent_queries == UNLIMITED else min(limits.concurrent_queries, MAX_QUERY_SLOTS)
    if limits.queries_per_minute == UNLIMITED:
        return QueryAdmission(project_id=project.id, slots=slots, rate_key=None)
    now = datetime.now(UTC)
    rate_key = _minute_key(project.id, now)
    if _query_rate_script()(keys=[rate_key], args=[limits.queries_per_minute]) == 1:
        raise QuotaExceeded(
            code="query_rate_exceeded",
            detail=f"The project may run {limits.queries_per_minute} queries per minute.",
            retry_after=max(1, 60 - now.second),
        )
    return QueryAdmission(project_id=project.id, slots=slots, rate_key=rate_key)


def query_admission_refund(*, admission: QueryAdmission) -> None:
    """Give back the rate charge of a query that got no slot: a refused query charges the project nothing."""
    if admission.rate_key is None:
        return
    try:
        _query_rate_refund_script()(keys=[admission.rate_key])
    except redis.RedisError:
        pass  # the minute's counter errs towards refusing, and expires with the minute


def quota_ingest_share(*, quotas: Iterable[ProjectQuota]) -> dict[int, float]:
    """Today's use of each project's points or bytes per day quota, the higher share (1.0 = full).

    One Redis round trip for all of them (admin's project list); projects without an ingest
    quota are left out, and a Redis failure leaves everyone out rather than failing the page.
    """
    limited = [quota for quota in quotas if quota.points_per_day is not None or quota.bytes_per_day is not None]
    if not limited:
        return {}
    now = datetime.now(UTC)
    keys = [key for quota in limited for key in _day_keys(quota.project_id, now)]
    try:
        values = redis_client().mget(keys)
    except redis.RedisError:
        return {}
    shares: dict[int, float] = {}
    for position, quota in enumerate(limited):
        used = (int(values[2 * position] or 0), int(values[2 * position + 1] or 0))
        shares[quota.project_id] = max(
            _share(used_value, limit) for used_value, limit in zip(used, (quota.points_per_day, quota.bytes_per_day), strict=True)
        )
    return shares


def _share(used: int, limit: int | None) -> float:
    if limit is None:
        return 0.0
    return 1.0 if limit == 0 else used / limit
