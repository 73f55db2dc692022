"""Celery tasks: thin, named, idempotent, and taking no payloads."""

import logging

from celery import shared_task
from django.contrib.auth import get_user_model
from django.db import close_old_connections, connection
from django.utils import timezone

from projects.governance.audit import Actor
from tracking import services
from tracking.conf import tracking_settings
from tracking.ingest import buffer

logger = logging.getLogger(__name__)

KICK_WINDOW_MS = 500
STATISTICS_KICK_WINDOW_MS = 5_000
# A kick still queued after this long is dropped: under sustained ingest every worker drains for
# its whole budget, and kicks that never expired piled up in the queue (141 after 45 s at 30,000
# points/s), ahead of beat's statistics refresh, VACUUMs and compaction. Beat drains every second
# anyway, and so does any drain still running.
KICK_EXPIRES_SECONDS = 5
STATISTICS_KICK_EXPIRES_SECONDS = 60


def drain_soon() -> None:
    """Ask a worker to drain now; at most one request per half second reaches the queue.

    Best effort: the points are already buffered and beat drains every second anyway, so
    a broker hiccup here must not turn an accepted batch into an error response.
    """
    try:
        if buffer.buffer_kick_once(within_ms=KICK_WINDOW_MS):
            drain_buffer.apply_async(queue=tracking_settings.DRAIN_QUEUE, expires=KICK_EXPIRES_SECONDS)
    except Exception as error:
        logger.warning("could not schedule a drain: %s", type(error).__name__)


@shared_task(name="tracking.drain_buffer", ignore_result=True)
def drain_buffer() -> int:
    """Safe to run anywhere, any number of times: entries are claimed, written once, then acked."""
    close_old_connections()
    try:
        points = services.buffer_drain().points
    except Exception:
        connection.close()
        raise
    if points:
        statistics_soon()
    return points


def statistics_soon() -> None:
    """After writes, refresh planner statistics within seconds rather than at the next beat."""
    try:
        if buffer.buffer_kick_once(within_ms=STATISTICS_KICK_WINDOW_MS, topic="statistics-kick"):
            refresh_statistics.apply_async(queue=tracking_settings.DRAIN_QUEUE, expires=STATISTICS_KICK_EXPIRES_SECONDS)
    except Exception as error:
        logger.warning("could not schedule a statistics refresh: %s", type(error).__name__)


@shared_task(name="tracking.refresh_statistics", ignore_result=True, time_limit=300, soft_time_limit=240)
def refresh_statistics() -> list[str]:
    """Idempotent: a second run right after the first finds nothing stale. Bounded per run;
    reschedules itself while a run finds as many stale tables as it may analyze."""
    close_old_connections()
    analyzed = services.statistics_refresh()
    if len(analyzed) >= tracking_settings.ANALYZE_MAX_TABLES:
        refresh_statistics.apply_async(countdown=1, queue=tracking_settings.DRAIN_QUEUE)
    return analyzed


@shared_task(name="tracking.maintain_partitions", ignore_result=True)
def maintain_partitions() -> list[str]:
    close_old_connections()
    return services.partitions_ensure(today=timezone.now().date())


@shared_task(name="tracking.apply_retention", ignore_result=True)
def apply_retention() -> int:
    """Bounded per run; reschedules itself until the backlog of expired rows is gone."""
    close_old_connections()
    result = services.retention_run(now=timezone.now())
    if not result.finished:
        apply_retention.apply_async(countdown=1)
    return result.deleted_rows


@shared_task(name="tracking.heartbeat", ignore_result=True)
def heartbeat() -> None:
    buffer.worker_heartbeat_record()


@shared_task(name="tracking.refresh_storage", ignore_result=True, time_limit=600, soft_time_limit=540)
def refresh_storage() -> None:
    """Idempotent and cheap (one catalog lookup per partition, one pass over the day totals)."""
    close_old_connections()
    services.storage_estimate_refresh()


@shared_task(name="tracking.replay_dead_letter", ignore_result=True)
def replay_dead_letter(dead_letter_id: int, user_id: int | None = None) -> int:
    """Idempotent: a replayed dead letter is resolved and its entry is in the ledger, so a
    second run (or a second request) stores nothing."""
    close_old_connections()
    user = get_user_model().objects.filter(pk=user_id).first() if user_id is not None else None
    actor = Actor(label=f"user {user.get_username()}", user=user) if user is not None else Actor(label="system")
    outcome = services.dead_letter_replay(dead_letter_id=dead_letter_id, actor=actor)
    if outcome.error:
        logger.warning("dead letter %s not replayed: %s", dead_letter_id, outcome.error)
    return outcome.points
