"""Per-project quotas: exact limits, 429 with Retry-After, atomic under concurrency, nothing dropped silently."""

import threading
import time
from datetime import UTC, datetime

import pytest

from projects.governance.models import ProjectQuota
from projects.governance.quotas import QuotaExceeded, query_admission_refund, query_admit, quota_limits_forget, quota_usage
from tests.tracking.helpers import post_points
from tracking.ingest.buffer import buffer_depth

pytestmark = pytest.mark.django_db


def _quota(project, **limits) -> ProjectQuota:
    quota = ProjectQuota.objects.create(project=project, **limits)
    quota_limits_forget(project_id=project.id)
    return quota


@pytest.fixture(autouse=True)
def _fresh_counters(project):
    from meauxcloud.redis import redis_client

    client = redis_client()
    stale = list(client.scan_iter(match=f"meauxcloud:quota:{project.id}:*"))
    if stale:
        client.delete(*stale)
    yield
    stale = list(client.scan_iter(match=f"meauxcloud:quota:{project.id}:*"))
    if stale:
        client.delete(*stale)
    quota_limits_forget(project_id=project.id)


def _seconds_to_utc_midnight() -> int:
    now = datetime.now(UTC)
    return 86_400 - (now.hour * 3600 + now.minute * 60 + now.second)


def test_points_per_day_admits_up_to_the_limit_then_429_with_retry_after_until_midnight(client, project, write_key):
    _quota(project, points_per_day=10)

    first = post_points(client, write_key, "events", [{"blobs": ["a"]}] * 6)
    second = post_points(client, write_key, "events", [{"blobs": ["b"]}] * 4)
    refused = post_points(client, write_key, "events", [{"blobs": ["c"]}])

    assert (first.status_code, second.status_code, refused.status_code) == (202, 202, 429)
    assert refused["Content-Type"] == "application/problem+json"
    assert refused.json()["code"] == "points_quota_exceeded"
    assert refused.json()["detail"] == (
        "This batch of 1 points would pass the project's 10 points per day (10 used); nothing was accepted."
    )
    assert abs(int(refused["Retry-After"]) - _seconds_to_utc_midnight()) <= 2
    assert buffer_depth() == 2
    assert quota_usage(project=project).points_today == 10


def test_a_batch_over_the_points_quota_is_refused_whole_not_trimmed(client, project, write_key):
    _quota(project, points_per_day=5)

    refused = post_points(client, write_key, "events", [{"blobs": ["a"]}] * 6)

    assert refused.status_code == 429
    assert buffer_depth() == 0
    assert quota_usage(project=project).points_today == 0


def test_bytes_per_day_counts_index_blob_bytes_and_eight_per_double(client, project, write_key):
    _quota(project, bytes_per_day=30)
    point = {"indexes": ["ab"], "blobs": ["é", None, "xyz"], "doubles": [1.0]}  # 2 + 2 + 3 + 8 = 15 bytes

    accepted = post_points(client, write_key, "events", [point, point])
    refused = post_points(client, write_key, "events", [{"blobs": ["z"]}])

    assert (accepted.status_code, refused.status_code) == (202, 429)
    assert refused.json()["code"] == "bytes_quota_exceeded"
    assert quota_usage(project=project).bytes_today == 30


def test_concurrent_requests_never_pass_the_points_quota_together(live_server, project, write_key):
    import http.client
    from urllib.parse import urlsplit

    import orjson

    _quota(project, points_per_day=25)
    statuses: list[int | str] = []
    lock = threading.Lock()
    address = urlsplit(live_server.url)
    # Each connection is opened one at a time and proven served (a health check on it, kept
    # alive; with no worker in this test it answers 503, which is beside the point here), then
    # all 50 send their point together: 50 connects at once overflowed the test
    # server's listen backlog of 5 on a loaded machine and came back reset, which says nothing
    # about the quota.
    connections = []
    for _ in range(50):
        connection = http.client.HTTPConnection(address.hostname, address.port, timeout=120)
        connection.request("GET", "/healthz")
        response = connection.getresponse()
        response.read()
        assert not response.will_close
        connections.append(connection)
    barrier = threading.Barrier(50)

    def send(connection: http.client.HTTPConnection) -> None:
        status: int | str
        try:
            barrier.wait(timeout=120)
            connection.request(
                "POST", "/api/v1/datasets/events/datapoints", body=orjson.dumps([{"blobs": ["x"]}]),
                headers={"Authorization": f"Bearer {write_key}", "Content-Type": "application/json"},
            )
            status = connection.getresponse().status
        except OSError as error:  # recorded, so a failure says what happened instead of a short count
            status = repr(error)
        finally:
            connection.close()
        with lock:
            statuses.append(status)

    threads = [threading.Thread(target=send, args=(connection,)) for connection in connections]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert (statuses.count(202), statuses.count(429), len(statuses)) == (25, 25, 50), statuses
    assert quota_usage(project=project).points_today == 25


def test_a_batch_the_buffer_refuses_is_refunded_to_the_quota(client, project, write_key, settings):
    _quota(project, points_per_day=100)
    settings.TRACKING_BUFFER_HIGH_WATER = 0

    response = post_points(client, write_key, "events", [{"blobs": ["a"]}] * 7)

    assert response.status_code == 503
    assert quota_usage(project=project).points_today == 0


def test_unlimited_project_is_not_counted(client, project, write_key):
    response = post_points(client, write_key, "events", [{"blobs": ["a"]}] * 3)

    assert response.status_code == 202
    assert quota_usage(project=project).points_today == 0


def test_queries_per_minute_refuse_the_next_query_with_retry_after_to_the_minute_end(project):
    _quota(project, queries_per_minute=2)

    query_admit(project=project)
    query_admit(project=project)
    with pytest.raises(QuotaExceeded) as refused:
        query_admit(project=project)

    assert refused.value.status_code == 429
    assert refused.value.detail.code == "query_rate_exceeded"
    assert 1 <= refused.value.retry_after <= 60
    assert quota_usage(project=project).queries_this_minute == 2


def test_a_refunded_query_gives_its_minute_back(project):
    _quota(project, queries_per_minute=1)

    query_admission_refund(admission=query_admit(project=project))
    query_admit(project=project)

    assert quota_usage(project=project).queries_this_minute == 1


def test_a_project_without_a_rate_is_admitted_with_its_concurrency_only(project):
    _quota(project, concurrent_queries=3)

    admission = query_admit(project=project)

    assert (admission.slots, admission.rate_key) == (3, None)
    assert quota_usage(project=project).queries_this_minute == 0


def test_sql_api_answers_429_problem_when_the_query_rate_is_spent(client, project, read_key, partitions):
    _quota(project, queries_per_minute=1)

    first = client.post("/api/v1/sql", data="SELECT 1 AS one", content_type="text/plain", HTTP_AUTHORIZATION=f"Bearer {read_key}")
    second = client.post("/api/v1/sql", data="SELECT 1 AS one", content_type="text/plain", HTTP_AUTHORIZATION=f"Bearer {read_key}")

    assert first.status_code == 200
    assert second.status_code == 429
    assert second["Content-Type"] == "application/problem+json"
    assert second.json()["code"] == "query_rate_exceeded"
    assert 1 <= int(second["Retry-After"]) <= 60


def test_quota_changes_apply_within_the_cache_window(client, project, write_key, settings):
    settings.GOVERNANCE_QUOTA_CACHE_SECONDS = 0.2
    quota = _quota(project, points_per_day=1)
    assert post_points(client, write_key, "events", [{"blobs": ["a"]}] * 2).status_code == 429

    quota.points_per_day = 2
    quota.save()
    time.sleep(0.3)

    assert post_points(client, write_key, "events", [{"blobs": ["a"]}] * 2).status_code == 202


def test_admin_sets_a_quota_and_sees_todays_usage(client, project, write_key):
    from tests.factories import UserFactory

    client.force_login(UserFactory(username="ops", is_staff=True, is_superuser=True))
    created = client.post(
        "/admin/governance/projectquota/add/",
        {"project": project.pk, "points_per_day": 3, "bytes_per_day": "", "queries_per_minute": "", "concurrent_queries": ""},
    )
    accepted = post_points(client, write_key, "events", [{"blobs": ["a"]}] * 3)
    refused = post_points(client, write_key, "events", [{"blobs": ["a"]}])
    page = client.get(f"/admin/governance/projectquota/{project.quota.pk}/change/")

    assert (created.status_code, accepted.status_code, refused.status_code) == (302, 202, 429)
    assert "3 points and 0 bytes today (UTC); 0 queries this minute; 0 running" in page.content.decode()
