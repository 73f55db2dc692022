"""The client refuses exactly what the server refuses, with the server's code and words."""

import json
import time
from datetime import UTC, datetime

import pytest

from meauxcloud_client import DataPointError, data_point_check
from tracking.ingest import decode as ingest

REFUSED = [
    {"blobs": ["x"] * 21},
    {"blobs": ["x" * 8_000, "y" * 8_001]},
    {"blobs": ["é" * 8_000, "a"]},
    {"blobs": "not a list"},
    {"blobs": [1]},
    {"blobs": ["nul\x00"]},
    {"doubles": [0.0] * 21},
    {"doubles": ["1"]},
    {"doubles": [True]},
    {"indexes": ["a", "b"]},
    {"indexes": ["x" * 97]},
    {"indexes": ["é" * 49]},
    {"indexes": [7]},
    {"id": ""},
    {"id": "x" * 65},
    {"id": 5},
    {"timestamp": 1.5},
    {"timestamp": "2026-11-28T12:00:00"},
    {"indexes": ["a", "b"], "blobs": ["x"] * 21},
    {"blobs": ["x"] * 21, "doubles": [0.0] * 21},
]

ACCEPTED = [
    {},
    {"blobs": ["x" * 8_000, "y" * 8_000]},
    {"blobs": [None, "b"], "doubles": [1, 2.5], "indexes": [None]},
    {"indexes": ["x" * 96], "doubles": [0.0] * 20, "blobs": [""] * 20},
    {"id": "x" * 64, "timestamp": 1_795_900_000_000},
]


def _server_verdict(point: dict) -> tuple[str, str] | None:
    now_us = int(time.time() * 1_000_000)
    window = ingest.TimeWindow(now_us=now_us, oldest_us=0, newest_us=now_us + 86_400_000_000)
    _, batch = ingest.batch_validate(json.dumps(point).encode(), ndjson=False, window=window)
    return (batch.errors[0].code, batch.errors[0].detail) if batch.errors else None


def _client_verdict(point: dict) -> tuple[str, str] | None:
    values = dict(point)
    if isinstance(values.get("timestamp"), str):
        values["timestamp"] = datetime.fromisoformat(values["timestamp"])
    try:
        data_point_check(**values)
    except DataPointError as error:
        return error.code, error.detail
    return None


@pytest.mark.parametrize("point", REFUSED, ids=lambda point: json.dumps(point)[:40])
def test_a_point_the_server_refuses_is_refused_by_the_client_with_the_same_words(point):
    assert _server_verdict(point) is not None
    assert _client_verdict(point) == _server_verdict(point)


@pytest.mark.parametrize("point", ACCEPTED, ids=lambda point: json.dumps(point)[:40])
def test_a_point_the_server_accepts_passes_the_client(point):
    assert (_client_verdict(point), _server_verdict(point)) == (None, None)


def test_bytes_are_taken_as_utf8_like_array_buffers_in_workers():
    assert data_point_check(blobs=[b"caf\xc3\xa9"], indexes=[bytearray(b"k")]) == {"indexes": ["k"], "blobs": ["café"]}
    with pytest.raises(DataPointError, match=r"^blobs\[0\] is not valid UTF-8\.$"):
        data_point_check(blobs=[b"\xff"])


def test_aware_datetimes_are_sent_as_rfc3339():
    moment = datetime(2026, 11, 28, 12, 0, 0, 123456, tzinfo=UTC)
    assert data_point_check(timestamp=moment) == {"timestamp": "2026-11-28T12:00:00.123456+00:00"}
