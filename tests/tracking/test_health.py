import pytest

from meauxcloud.redis import redis_client
from tracking.ingest import buffer

pytestmark = pytest.mark.django_db


def test_healthz_is_503_without_a_worker_heartbeat(client):
    response = client.get("/healthz")

    assert response.status_code == 503
    body = response.json()
    assert body["database"] == {"status": "ok"}
    assert body["redis"] == {"status": "ok"}
    assert body["workers"] == {"status": "down", "last_heartbeat_seconds_ago": None}


def test_healthz_is_200_with_everything_up_and_reports_buffer_depth(client, write_key):
    buffer.worker_heartbeat_record()
    client.post(
        "/api/v1/datasets/events/datapoints",
        data=b"[{}, {}]",
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {write_key}",
    )

    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json()["buffer"] == {"status": "ok", "depth": 1, "high_water": 50_000, "accepting": True}
    assert response.json()["status"] == "ok"


def test_healthz_is_503_when_redis_is_unreachable(client, settings):
    working_url = settings.REDIS_URL
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    redis_client.cache_clear()
    try:
        response = client.get("/healthz")
    finally:
        settings.REDIS_URL = working_url
        redis_client.cache_clear()

    assert response.status_code == 503
    assert response.json()["redis"] == {"status": "down", "error": "ConnectionError"}
