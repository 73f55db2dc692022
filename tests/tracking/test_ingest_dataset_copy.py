"""A web process keeps the dataset it looked up for a few seconds; deletions and edits still hold."""

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from meauxcloud.redis import redis_client
from tests.tracking.helpers import post_points
from tracking.conf import tracking_settings
from tracking.ingest import outage
from tracking.ingest.buffer import BufferEntry, _entries
from tracking.models import Dataset
from tracking.services import dataset_update

pytestmark = pytest.mark.django_db


def _buffered() -> list[BufferEntry]:
    return _entries(redis_client().xrange(tracking_settings.STREAM_KEY))


def test_a_batch_to_a_dataset_read_moments_ago_makes_no_query(client, project, write_key):
    assert post_points(client, write_key, "web", [{"blobs": ["a"]}]).status_code == 202  # creates it
    assert post_points(client, write_key, "web", [{"blobs": ["a"]}]).status_code == 202  # reads it

    with CaptureQueriesContext(connection) as queries:
        assert post_points(client, write_key, "web", [{"blobs": ["b"]}]).status_code == 202

    assert [q["sql"] for q in queries] == []


def test_points_sent_from_a_copy_read_before_deletion_go_to_the_dataset_created_anew(client, project, write_key):
    assert post_points(client, write_key, "web", [{"blobs": ["before"]}]).status_code == 202
    deleted = Dataset.objects.get(project=project, name="web")
    Dataset.objects.filter(pk=deleted.pk).delete()
    outage.dataset_remember(dataset=deleted)  # as another web process still holds it
    assert outage.dataset_recent(project_id=project.id, name="web") is not None

    response = post_points(client, write_key, "web", [{"blobs": ["after"]}])

    assert (response.status_code, response.json()["accepted"]) == (202, 1)
    created = Dataset.objects.get(project=project, name="web")
    assert created.pk != deleted.pk
    assert [(entry.dataset_id, [row.blobs for row in entry.rows]) for entry in _buffered()] == [
        (deleted.pk, [["before"]]),
        (created.pk, [["after"]]),
    ]


def test_a_shorter_retention_applies_at_once_in_the_process_that_set_it(client, project, write_key):
    eight_days_ago = (datetime.now(UTC) - timedelta(days=8)).isoformat()
    assert post_points(client, write_key, "web", [{"blobs": ["a"], "timestamp": eight_days_ago}]).status_code == 202
    dataset = Dataset.objects.get(project=project, name="web")

    dataset_update(dataset=dataset, retention_days=7, labels={})
    response = post_points(client, write_key, "web", [{"blobs": ["b"], "timestamp": eight_days_ago}])

    assert response.status_code == 400
    assert response.json()["errors"] == [
        {"index": 0, "code": "timestamp_too_old", "detail": "timestamp is older than the dataset's retention."}
    ]
