"""The pipeline panel on admin's index: /healthz's view plus backlog age, last drain and retention, red where /healthz is."""

import re

import pytest
from django.test import Client
from django.utils import timezone

from tests.factories import UserFactory
from tests.tracking.helpers import post_points
from tracking.ingest import buffer
from tracking.services import buffer_drain, retention_run

pytestmark = pytest.mark.django_db


def panel(client: Client) -> str:
    page = client.get("/admin/").content.decode()
    match = re.search(r'<div class="module" id="pipeline-panel">.*?</div>', page, re.S)
    return " ".join(match.group(0).split()) if match else ""


def test_the_panel_follows_the_pipeline(client, write_key, partitions):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))

    idle = panel(client)
    assert 'class="pipeline-red"><th scope="row">Workers</th>' in idle
    assert "Last drain</th><td>none recorded</td>" in idle

    post_points(client, write_key, "events", [{"blobs": ["a"]}, {"blobs": ["b"]}])
    buffer.worker_heartbeat_record()
    waiting = panel(client)
    assert "<td id=\"pipeline-depth\">1 of" in waiting
    assert re.search(r"<th scope=\"row\">Oldest entry</th><td>\d+\.\d s old</td>", waiting)
    assert '<tr class=""><th scope="row">Workers</th><td id="pipeline-workers">alive' in waiting

    buffer_drain(time_budget=5, block_ms=10)
    retention_run(now=timezone.now())
    drained = panel(client)
    assert "<td id=\"pipeline-depth\">0 of" in drained
    assert "none waiting" in drained
    assert re.search(r"Last drain</th><td>\d+ s ago: 2 points from 1 entries</td>", drained)
    # Partitions and rows older than retention that earlier tests left behind are dropped too.
    assert re.search(r"Last retention run</th><td>\d+ s ago: \d+ partitions dropped, \d+ rows deleted</td>", drained)
    assert re.search(r"Partitions ahead</th><td>[1-9]\d*</td>", drained)
    assert "Open dead letters</th><td>0</td>" in drained


def test_staff_without_the_platform_permission_see_no_panel(client):
    client.force_login(UserFactory(is_staff=True))

    assert panel(client) == ""
    assert "Reports overview across all projects" not in client.get("/admin/").content.decode()
