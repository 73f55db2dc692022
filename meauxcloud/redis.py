"""The one Redis client the apps share: the ingest buffer, quotas, login throttling, deletion markers.

It lives here rather than in ``tracking`` because ``projects`` needs it too, and
dependencies point one way only (``tracking`` → ``projects`` → ``meauxcloud``).
"""

from functools import cache
from typing import cast

import redis
from django.conf import settings


@cache
def redis_client() -> redis.Redis:
    """One connection pool per process, on ``REDIS_URL``; ``redis_client.cache_clear()`` forgets it."""
    return cast(redis.Redis, redis.Redis.from_url(settings.REDIS_URL, health_check_interval=30, socket_timeout=10))
