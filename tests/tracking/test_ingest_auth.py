import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from projects.services import api_key_revoke
from tests.factories import key_for
from tests.tracking.helpers import post_points

pytestmark = pytest.mark.django_db


def test_missing_key_is_401_problem(client):
    response = client.post("/api/v1/datasets/events/datapoints", data=b"{}", content_type="application/json")

    assert response.status_code == 401
    assert response["Content-Type"] == "application/problem+json"
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'


def test_unknown_key_is_401(client):
    response = post_points(client, "mc_00000000_nope", "events", {})

    assert response.status_code == 401
    assert response.json()["detail"] == "Invalid API key."


def test_read_only_key_cannot_write(client, read_key):
    response = post_points(client, read_key, "events", {})

    assert response.status_code == 403
    assert response.json()["detail"] == "This API key lacks the 'write' scope."


def test_revoked_key_is_401(client, project):
    issued = key_for(project, "write")
    api_key_revoke(api_key=issued.api_key)

    response = post_points(client, issued.secret, "events", {})

    assert response.status_code == 401


def test_use_records_last_used_at(client, project):
    issued = key_for(project, "write")

    post_points(client, issued.secret, "events", {})

    issued.api_key.refresh_from_db()
    assert issued.api_key.last_used_at is not None


def test_only_the_hash_of_a_key_is_stored(project):
    issued = key_for(project, "write")

    issued.api_key.refresh_from_db()
    assert issued.secret.startswith(issued.api_key.prefix + "_")
    assert issued.secret not in (issued.api_key.hashed_key, issued.api_key.prefix)
    assert len(issued.api_key.hashed_key) == 64


def test_a_key_revoked_after_use_is_refused_at_once_in_this_process(client, project):
    issued = key_for(project, "write")
    assert post_points(client, issued.secret, "events", {}).status_code == 202

    api_key_revoke(api_key=issued.api_key)

    assert post_points(client, issued.secret, "events", {}).status_code == 401


def test_a_key_checked_moments_ago_is_not_looked_up_again(client, project):
    issued = key_for(project, "write")
    post_points(client, issued.secret, "events", {})

    with CaptureQueriesContext(connection) as queries:
        assert post_points(client, issued.secret, "events", {}).status_code == 202

    assert [q["sql"] for q in queries if "projects_apikey" in q["sql"]] == []
