"""The SQL pool: how many queries may run at once, so heavy SQL cannot starve ingest and health.

Two limits, checked without waiting (an excess query gets 429 ``sql_pool_busy`` with
Retry-After at once, instead of holding a web thread while it queues):

- per process (``SQL_PROCESS_CONCURRENCY``), below the web server's thread count, so every
  web process keeps threads free for ``/healthz`` and ingest however many queries arrive;
- for the whole installation (``SQL_MAX_CONCURRENT``), a set of leases in Redis, so the
  database never runs more heavy statements than it has cores and memory for.

The per-project share (two at once by default) is the governance quota ``query_slot``, admitted
in the same Redis script as the installation-wide lease when ``sql_pool_slot`` is given the project.
A lease left by a crashed process expires after ``SQL_LEASE_SECONDS``.
"""

import logging
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from functools import cache

import redis

from meauxcloud.api import ApiProblem
from meauxcloud.redis import redis_client
from projects.governance.quotas import SharedLease, query_slot
from projects.models import Project
from tracking.conf import tracking_settings

logger = logging.getLogger(__name__)

KEY = "meauxcloud:sql:running"
RETRY_AFTER_SECONDS = 2

_ACQUIRE_SCRIPT = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', tonumber(ARGV[1]) - tonumber(ARGV[2]))
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[3]) then return 0 end
redis.call('ZADD', KEYS[1], ARGV[1], ARGV[4])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1
"""


class PoolBusy(ApiProblem):
    def __init__(self, *, detail: str) -> None:
        super().__init__(status_code=429, detail=detail, code="sql_pool_busy", retry_after=RETRY_AFTER_SECONDS)


_process_lock = threading.Lock()
_process_running = 0


@cache
def _acquire_script():
    return redis_client().register_script(_ACQUIRE_SCRIPT)


def _process_enter() -> bool:
    global _process_running
    with _process_lock:
        if _process_running >= tracking_settings.SQL_PROCESS_CONCURRENCY:
            return False
        _process_running += 1
        return True


def _process_leave() -> None:
    global _process_running
    with _process_lock:
        _process_running -= 1


def _global_enter(token: str) -> bool:
    """Take an installation-wide lease; without Redis the per-process limit still holds."""
    lease_ms = tracking_settings.SQL_LEASE_SECONDS * 1000
    try:
        return bool(
            _acquire_script()(
                keys=[KEY],
                args=[int(time.time() * 1000), lease_ms, tracking_settings.SQL_MAX_CONCURRENT, token],
            )
        )
    except redis.RedisError:
        logger.warning("SQL pool: Redis unreachable, only the per-process limit applies")
        return True


def _global_leave(token: str) -> None:
    try:
        redis_client().zrem(KEY, token)
    except redis.RedisError:
        pass  # the lease expires on its own


def _process_busy() -> PoolBusy:
    return PoolBusy(
        detail=f"This server is running its {tracking_settings.SQL_PROCESS_CONCURRENCY} SQL queries at once; "
        f"retry in {RETRY_AFTER_SECONDS} s."
    )


def sql_pool_shed() -> None:
    """Raise ``PoolBusy`` when this process's slots are all taken, before the request is authenticated.

    Under a flood, refusals are most of what the web threads do; refused here, one costs no
    key lookup, quota round trip or audit row, so threads stay free for ``/healthz`` and
    ingest (docs/reliability.md). Not audited: no key was checked and nothing was read.
    A request that passes still takes its slot in ``sql_pool_slot``.
    """
    if _process_running >= tracking_settings.SQL_PROCESS_CONCURRENCY:
        raise _process_busy()


def _platform_busy() -> PoolBusy:
    return PoolBusy(
        detail=f"The platform is running its {tracking_settings.SQL_MAX_CONCURRENT} SQL queries at once; "
        f"retry in {RETRY_AFTER_SECONDS} s."
    )


@contextmanager
def _global_slot() -> Iterator[None]:
    token = uuid.uuid4().hex
    if not _global_enter(token):
        raise _platform_busy()
    try:
        yield
    finally:
        _global_leave(token)


@contextmanager
def sql_pool_slot(*, project: Project | None = None) -> Iterator[None]:
    """Run the body in one of the pool's slots, or raise ``PoolBusy`` at once.

    With ``project``, the project's query quota (``query_slot``: ``QuotaExceeded``) is
    admitted in the same Redis round trip as the installation-wide lease, and both are freed
    in one more; a query the pool refuses charges the project nothing.
    """
    if not _process_enter():
        raise _process_busy()
    try:
        with ExitStack() as stack:
            shared = SharedLease(
                key=KEY,
                limit=tracking_settings.SQL_MAX_CONCURRENT,
                lease_ms=tracking_settings.SQL_LEASE_SECONDS * 1000,
                refusal=_platform_busy,
            )
            if project is None or not stack.enter_context(query_slot(project=project, shared=shared)):
                stack.enter_context(_global_slot())
            yield
    finally:
        _process_leave()

