"""Suite-wide fixtures. Every test runs on real PostgreSQL and Redis; nothing is mocked."""

import uuid
from collections.abc import Iterator

import pytest

from meauxcloud.redis import redis_client
from projects.models import Project
from tests.factories import ProjectFactory, key_for
from tracking.ingest.buffer import buffer_ensure_group

pytest_plugins = ["tests.support.browser"]


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
