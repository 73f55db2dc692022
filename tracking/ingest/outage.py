"""Copies of the two rows ingest reads: recent ones in process, last-known-good ones in Redis.

Each ingest request needs its API key and its dataset. Looking both up in PostgreSQL
and refreshing their Redis copies cost about 4 of a 250-point request's 9 ms
(``python -m bench.profile --stage view``), so a web process keeps the key it has just
checked for ``LOCAL_TTL_SECONDS``, and refreshes a Redis copy at most that often. A key
revoked in another process therefore stops working within that time; in the revoking
process, at once.

The points themselves go to the durable Redis buffer, so the Redis copies let ingest go
on while PostgreSQL is unreachable: it authenticates against them instead of failing,
points keep flowing into the buffer up to its high-water mark and are written once
PostgreSQL is back. Redis copies are consulted only when the database errors, expire
after ``FALLBACK_TTL_SECONDS`` and are dropped when a key is revoked. Cache failures are
ignored: this is a fallback, never a reason to refuse a request.
"""

import logging
import time
from typing import TYPE_CHECKING

from django.core.cache import cache

if TYPE_CHECKING:
    from projects.models import ApiKey
    from tracking.models import Dataset

logger = logging.getLogger(__name__)

FALLBACK_TTL_SECONDS = 600
LOCAL_TTL_SECONDS = 5.0
LOCAL_MAX_ENTRIES = 10_000

_local: dict[str, tuple[float, object]] = {}


def _local_get(slot: str) -> object | None:
    entry = _local.get(slot)
    if entry is None or entry[0] < time.monotonic():
        return None
    return entry[1]


def _local_put(slot: str, value: object) -> None:
    if len(_local) >= LOCAL_MAX_ENTRIES:
        _local.clear()
    _local[slot] = (time.monotonic() + LOCAL_TTL_SECONDS, value)


def _key_slot(hashed_key: str) -> str:
    return f"outage:api-key:{hashed_key}"


def _dataset_slot(project_id: int, name: str) -> str:
    return f"outage:dataset:{project_id}:{name}"


def _remember(slot: str, value: object) -> None:
    if _local_get(slot) is not None:
        return
    _local_put(slot, value)
    try:
        cache.add(slot, value, FALLBACK_TTL_SECONDS)
    except Exception as error:
        logger.warning("could not keep a fallback copy: %s", type(error).__name__)


def _recall(slot: str) -> object | None:
    try:
        return cache.get(slot)
    except Exception as error:
        logger.warning("could not read a fallback copy: %s", type(error).__name__)
        return None


def api_key_remember(*, api_key: "ApiKey") -> None:
    _remember(_key_slot(api_key.hashed_key), api_key)


def api_key_recent(*, hashed_key: str) -> "ApiKey | None":
    """The key as this process checked it less than ``LOCAL_TTL_SECONDS`` ago, if it did."""
    return _local_get(_key_slot(hashed_key))


def api_key_recall(*, hashed_key: str) -> "ApiKey | None":
    api_key = _recall(_key_slot(hashed_key))
    return api_key if api_key is not None and api_key.revoked_at is None else None


def api_key_forget(*, api_key: "ApiKey") -> None:
    """Revocation must not be undone by a stale copy during a later outage."""
    _local.pop(_key_slot(api_key.hashed_key), None)
    try:
        cache.delete(_key_slot(api_key.hashed_key))
    except Exception as error:
        logger.warning("could not drop a fallback copy: %s", type(error).__name__)


def dataset_remember(*, dataset: "Dataset") -> None:
    _remember(_dataset_slot(dataset.project_id, dataset.name), dataset)


def dataset_recall(*, project_id: int, name: str) -> "Dataset | None":
    return _recall(_dataset_slot(project_id, name))
