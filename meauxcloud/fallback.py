"""Last-known-good copies of the rows ingest reads: recent ones in process, older ones in Redis.

Each ingest request needs its API key (``projects/outage.py``) and its dataset
(``tracking/ingest/outage.py``). Looking both up in PostgreSQL and refreshing their Redis
copies cost about 4 of a 250-point request's 9 ms (``python -m bench.profile --stage
view``), so a web process keeps a row it has just checked for ``LOCAL_TTL_SECONDS``, and
refreshes a Redis copy at most that often. A key revoked in another process therefore
stops working within that time; in the revoking process, at once.

The points themselves go to the durable Redis buffer, so the Redis copies let ingest go
on while PostgreSQL is unreachable: it authenticates against them instead of failing,
points keep flowing into the buffer up to its high-water mark and are written once
PostgreSQL is back. Redis copies are consulted only when the database errors, expire
after ``FALLBACK_TTL_SECONDS`` and are dropped when a key is revoked. Cache failures are
ignored: this is a fallback, never a reason to refuse a request.
"""

import logging
import time

from django.core.cache import cache

logger = logging.getLogger(__name__)

FALLBACK_TTL_SECONDS = 600
LOCAL_TTL_SECONDS = 5.0
LOCAL_MAX_ENTRIES = 10_000

_local: dict[str, tuple[float, object]] = {}


def fallback_recent(slot: str) -> object | None:
    """The copy this process made less than ``LOCAL_TTL_SECONDS`` ago, if it did."""
    entry = _local.get(slot)
    if entry is None or entry[0] < time.monotonic():
        return None
    return entry[1]


def _local_put(slot: str, value: object) -> None:
    if len(_local) >= LOCAL_MAX_ENTRIES:
        _local.clear()
    _local[slot] = (time.monotonic() + LOCAL_TTL_SECONDS, value)


def fallback_remember(slot: str, value: object) -> None:
    if fallback_recent(slot) is not None:
        return
    _local_put(slot, value)
    try:
        cache.add(slot, value, FALLBACK_TTL_SECONDS)
    except Exception as error:
        logger.warning("could not keep a fallback copy: %s", type(error).__name__)


def fallback_recall(slot: str) -> object | None:
    """The Redis copy, for when PostgreSQL cannot answer."""
    try:
        value: object | None = cache.get(slot)
    except Exception as error:
        logger.warning("could not read a fallback copy: %s", type(error).__name__)
        return None
    return value


def fallback_forget(slot: str) -> None:
    _local.pop(slot, None)
    try:
        cache.delete(slot)
    except Exception as error:
        logger.warning("could not drop a fallback copy: %s", type(error).__name__)
