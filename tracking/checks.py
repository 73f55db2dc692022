"""System checks: the ingest buffer's Redis (a 202 is only a promise if Redis keeps it), the SQL pool's size, and
the partitions created ahead."""

import math
from typing import Any

import redis
from django.core import checks

from meauxcloud.redis import redis_client
from projects.governance.quotas import MAX_QUERY_SLOTS
from tracking.conf import tracking_settings
from tracking.ingest.buffer import waitaof_supported


@checks.register("tracking")
def check_buffer_redis(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    if not tracking_settings.CHECK_REDIS:
        return []
    try:
        config = redis_client().config_get("maxmemory-policy") | redis_client().config_get("appendonly")
        config |= redis_client().config_get("save")
        config |= redis_client().config_get("appendfsync")
        strict_needs_always = tracking_settings.STRICT_DURABILITY and not waitaof_supported()
    except redis.RedisError as error:
        return [checks.Warning(f"Cannot reach the ingest Redis to check it: {error}", id="tracking.W001")]
    messages: list[checks.CheckMessage] = []
    if config.get("maxmemory-policy") != "noeviction":
        messages.append(
            checks.Error(
                f"Ingest Redis has maxmemory-policy={config.get('maxmemory-policy')}; buffered points could be evicted.",
                hint="Set maxmemory-policy noeviction on the Redis behind REDIS_URL.",
                id="tracking.E001",
            )
        )
    if config.get("appendonly") != "yes" and not config.get("save"):
        messages.append(
            checks.Error(
                "Ingest Redis persists nothing (appendonly no, no save points); a restart loses accepted points.",
                hint="Enable appendonly yes (appendfsync everysec or always). See docs/reliability.md.",
                id="tracking.E002",
            )
        )
    if strict_needs_always and config.get("appendfsync") != "always":
        messages.append(
            checks.Error(
                "TRACKING_STRICT_DURABILITY is on, but this Redis has no WAITAOF (< 7.2) and "
                f"appendfsync={config.get('appendfsync')}: a host crash could still lose acknowledged points.",
                hint="Set appendfsync always on the ingest Redis, or use Redis 7.2 or later.",
                id="tracking.E003",
            )
        )
    return messages


@checks.register("tracking")
def check_sql_pool(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """The pool's slots are a range of advisory locks (``tracking.sql.pool``), as wide as a project's at most."""
    size = tracking_settings.SQL_MAX_CONCURRENT
    if 1 <= size <= MAX_QUERY_SLOTS:
        return []
    return [
        checks.Error(
            f"SQL_MAX_CONCURRENT is {size}; it must be between 1 and {MAX_QUERY_SLOTS}.",
            hint="Set it to the database's core count, the same on every web host.",
            id="tracking.E004",
        )
    ]


@checks.register("tracking")
def check_partitions_ahead(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """Beat creates the days ahead hourly; a point stamped up to ``FUTURE_TOLERANCE_SECONDS`` ahead lands on one of the
    next ``ceil(tolerance / 1 day)`` days, and from midnight until beat's next run the newest partition is a day
    nearer, hence the one more. Short of that a drain creates the partition itself, and CREATE TABLE ... PARTITION
    OF holds an ACCESS EXCLUSIVE lock on the points table: it waits for the queries running and every query waits
    for it."""
    ahead = tracking_settings.PARTITION_DAYS_AHEAD
    needed = math.ceil(max(tracking_settings.FUTURE_TOLERANCE_SECONDS, 0) / 86_400) + 1
    if ahead >= needed:
        return []
    return [
        checks.Warning(
            f"TRACKING_PARTITION_DAYS_AHEAD is {ahead}; points may be stamped up to "
            f"TRACKING_FUTURE_TOLERANCE_SECONDS={tracking_settings.FUTURE_TOLERANCE_SECONDS} ahead, which needs {needed}.",
            hint="Drains would create the missing days themselves, locking the points table against every query "
            "while they do. Raise TRACKING_PARTITION_DAYS_AHEAD or lower the tolerance.",
            id="tracking.W002",
        )
    ]
