"""Fallback copies of API keys, so ingest authenticates while PostgreSQL is unreachable (meauxcloud/fallback.py)."""

from meauxcloud.fallback import fallback_forget, fallback_recall, fallback_recent, fallback_remember
from projects.models import ApiKey


def _key_slot(hashed_key: str) -> str:
    return f"outage:api-key:{hashed_key}"


def api_key_remember(*, api_key: ApiKey) -> None:
    fallback_remember(_key_slot(api_key.hashed_key), api_key)


def api_key_recent(*, hashed_key: str) -> ApiKey | None:
    """The key as this process checked it less than ``LOCAL_TTL_SECONDS`` ago, if it did."""
    api_key = fallback_recent(_key_slot(hashed_key))
    return api_key if isinstance(api_key, ApiKey) else None


def api_key_recall(*, hashed_key: str) -> ApiKey | None:
    api_key = fallback_recall(_key_slot(hashed_key))
    return api_key if isinstance(api_key, ApiKey) and api_key.revoked_at is None else None


def api_key_forget(*, api_key: ApiKey) -> None:
    """Revocation must not be undone by a stale copy during a later outage."""
    fallback_forget(_key_slot(api_key.hashed_key))
