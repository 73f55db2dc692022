"""Suite-wide fixtures. Every test runs on real PostgreSQL and Redis; nothing is mocked."""

import uuid
from collections.abc import Iterator

import pytest
from django.db import connection
from pytest_django import DjangoDbBlocker

from meauxcloud.redis import redis_client
from projects.models import Project
from tests.factories import ProjectFactory, key_for
from tracking.ingest.buffer import buffer_ensure_group
from tracking.rollups.db import EPOCH_SQL, WATERMARK_TABLE

pytest_plugins = ["tests.support.browser"]


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup: None, django_db_blocker: DjangoDbBlocker) -> None:
    """The coarse tiers' watermark a day ahead for the whole run, past every point the suite
    writes, as a migration leaves it past the points stored then: every drain fills every tier.

    The migration puts it at the next hour, so tests that ran after that hour drained their
    points behind it, into the minute tier only, and those asserting rows in every tier failed
    (the deletion cascade, the rollup prune) whenever a run crossed an hour. Tests about the
    watermark set it themselves (test_report_exactness, test_statistics)."""
    with django_db_blocker.unblock(), connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {WATERMARK_TABLE} SET coarse_until = date_bin(INTERVAL '1 minute', now() + INTERVAL '1 day', {EPOCH_SQL})"
        )


@pytest.fixture(autouse=True)
def isolated_stream(settings: object) -> Iterator[str]:
    """Each test gets its own buffer stream, so tests never see each other's points."""
    key = f"meauxcloud:test:{uuid.uuid4().hex}"
    settings.TRACKING_STREAM_KEY = key
    yield key
    client = redis_client()
    stale = list(client.scan_iter(match=f"{key}*", count=1000))
    if stale:
        client.delete(*stale)


@pytest.fixture
def celery_queue(settings: object) -> str:
    """A queue of this test's own: its worker (started with -Q) takes only this test's tasks."""
    queue = f"test-{uuid.uuid4().hex[:12]}"
    settings.TRACKING_DRAIN_QUEUE = queue
    return queue


@pytest.fixture
def project(db: None) -> Project:
    return ProjectFactory()


@pytest.fixture
def write_key(project: Project) -> str:
    return key_for(project, "write").secret


@pytest.fixture
def read_key(project: Project) -> str:
    return key_for(project, "read").secret


@pytest.fixture
def partitions(db: None) -> None:
    from django.utils import timezone

    from tracking.services import partitions_ensure

    partitions_ensure(today=timezone.now().date())
    buffer_ensure_group()
