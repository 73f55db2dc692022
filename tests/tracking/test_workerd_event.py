"""The capnp-JSON event workerd's analyticsEngine binding posts, as the endpoint receives it."""

from datetime import UTC, datetime, timedelta

import orjson
import pytest

from tests.tracking.helpers import stored_rows
from tracking.models import Dataset
from tracking.services import buffer_drain

pytestmark = pytest.mark.django_db(transaction=True)


def _bytes(text: str) -> list[int]:
    return list(text.encode())


def _post(client, key: str, event: dict):
    return client.post(
        "/api/v1/workerd/analytics-engine",
        data=orjson.dumps(event),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {key}",
    )


def test_workerd_event_lands_in_the_dataset_named_by_the_binding(client, write_key, partitions):
    written = datetime.now(UTC).replace(microsecond=123456) - timedelta(hours=1)
    written_ns = (written - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1) * 1000 + 789
    event = {
        "accountId": 0,
        "dataset": _bytes("analytics"),
        "schemaVersion": 0,
        "index1": _bytes("user-123"),
        "timestamp": str(written_ns),
        "double1": 25,
        "double3": 1.5,
        "blob1": _bytes("TestBlob"),
        "blob3": _bytes("third"),
    }

    response = _post(client, write_key, event)

    assert response.status_code == 202
    assert response.json() == {"accepted": 1, "rejected": 0, "errors": []}
    buffer_drain(time_budget=5, block_ms=10)
    dataset = Dataset.objects.get(name="analytics")
    assert stored_rows(dataset, "index1, blob1, blob2, blob3, double1, double2, double3, timestamp") == [
        ("user-123", "TestBlob", None, "third", 25.0, 0.0, 1.5, written)
    ]


def test_workerd_event_over_the_limits_gets_the_runtime_message(client, write_key):
    event = {"dataset": _bytes("analytics"), "index1": _bytes("x" * 97)}

    response = _post(client, write_key, event)

    assert response.status_code == 400
    assert response.json()["errors"] == [
        {"index": 0, "code": "index_too_large", "detail": "Size of indexes[0] exceeds 96 bytes."}
    ]


def test_workerd_event_without_dataset_is_400(client, write_key):
    response = _post(client, write_key, {"blob1": _bytes("x")})

    assert response.status_code == 400
    assert response.json()["detail"] == "dataset is missing."


def test_workerd_event_with_a_double_past_float64_is_400(client, write_key):
    body = b'{"dataset": ' + str(_bytes("analytics")).encode() + b', "double1": ' + b"9" * 400 + b"}"

    response = client.post(
        "/api/v1/workerd/analytics-engine", data=body, content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {write_key}"
    )

    assert response.status_code == 400
    assert response.json()["detail"] == "double1 is out of range for a double."


def test_workerd_event_with_a_timestamp_past_the_calendar_is_400(client, write_key):
    body = b'{"dataset": ' + str(_bytes("analytics")).encode() + b', "timestamp": ' + str(10**25).encode() + b"}"

    response = client.post(
        "/api/v1/workerd/analytics-engine", data=body, content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {write_key}"
    )

    assert response.status_code == 400
    assert response.json()["detail"] == "timestamp is out of range."
