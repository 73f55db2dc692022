"""Kicks ask a worker to drain or refresh soon; one still queued long after is dropped, not run."""

import json
from datetime import UTC, datetime

import pytest

from meauxcloud.redis import redis_client
from tracking import tasks
from tracking.conf import tracking_settings


def queued_expiry(queue: str, topic: str) -> float:
    """Seconds from now to the expiry Celery wrote into the one message on ``queue``."""
    [raw] = redis_client().lrange(queue, 0, -1)
    expires = datetime.fromisoformat(json.loads(raw)["headers"]["expires"])
    redis_client().delete(queue, f"{tracking_settings.STREAM_KEY}:{topic}")
    return (expires - datetime.now(UTC)).total_seconds()


@pytest.fixture
def no_recent_kick(celery_queue: str) -> str:
    redis_client().delete(f"{tracking_settings.STREAM_KEY}:kick", f"{tracking_settings.STREAM_KEY}:statistics-kick")
    return celery_queue


def test_a_drain_kick_expires_after_five_seconds_in_the_queue(no_recent_kick: str) -> None:
    """Under sustained ingest every worker drains for its whole budget, and kicks that never expired piled up
    ahead of beat's refresh, VACUUMs and compaction (141 queued after 45 s at 30,000 points/s)."""
    tasks.drain_soon()

    assert 4 < queued_expiry(no_recent_kick, "kick") <= tasks.KICK_EXPIRES_SECONDS == 5


def test_a_statistics_kick_expires_after_a_minute_in_the_queue(no_recent_kick: str) -> None:
    tasks.statistics_soon()

    assert 59 < queued_expiry(no_recent_kick, "statistics-kick") <= tasks.STATISTICS_KICK_EXPIRES_SECONDS == 60
