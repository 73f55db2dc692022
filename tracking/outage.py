"""Last-known-good copies of the two rows ingest reads, so PostgreSQL being down does not stop ingest.

Ingest only needs the API key and the dataset from PostgreSQL; the points go to the
durable Redis buffer. Each successful lookup leaves a copy in the cache (Redis), and
while PostgreSQL is unreachable ingest authenticates against that copy instead of
failing: points keep flowing into the buffer up to its high-water mark and are written
once PostgreSQL is back. Copies are consulted only when the database errors, expire
after ``FALLBACK_TTL_SECONDS`` and are dropped when a key is revoked. Cache failures are
ignored: this is a fallback, never a reason to refuse a request.
"""

import logging
from typing import TYPE_CHECKING

from django.core.cache import cache

if TYPE_CHECKING:
    from projects.models import ApiKey
    from tracking.models import Dataset

logger = logging.getLogger(__name__)

FALLBACK_TTL_SECONDS = 600


def _key_slot(hashed_key: str) -> str:
    return f"outage:api-key:{hashed_key}"


def _dataset_slot(project_id: int, name: str) -> str:
    return f"outage:dataset:{project_id}:{name}"


def _remember(slot: str, value: object) -> None:
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


def api_key_recall(*, hashed_key: str) -> "ApiKey | None":
    api_key = _recall(_key_slot(hashed_key))
    return api_key if api_key is not None and api_key.revoked_at is None else None


def api_key_forget(*, api_key: "ApiKey") -> None:
    """Revocation must not be undone by a stale copy during a later outage."""
    try:
        cache.delete(_key_slot(api_key.hashed_key))
    except Exception as error:
        logger.warning("could not drop a fallback copy: %s", type(error).__name__)


def dataset_remember(*, dataset: "Dataset") -> None:
    _remember(_dataset_slot(dataset.project_id, dataset.name), dataset)


def dataset_recall(*, project_id: int, name: str) -> "Dataset | None":
    return _recall(_dataset_slot(project_id, name))
