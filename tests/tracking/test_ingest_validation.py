"""Every write rule of Analytics Engine, with its message, through the real HTTP endpoint."""

import pytest

from tests.tracking.helpers import post_points
from tracking.ingest.buffer import buffer_depth

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("point", "code", "detail"),
    [
        ({"blobs": ["x"] * 21}, "too_many_blobs", "Maximum of 20 blobs supported."),
        ({"doubles": [1] * 21}, "too_many_doubles", "Maximum of 20 doubles supported."),
        ({"indexes": ["a", "b"]}, "too_many_indexes", "Maximum of 1 indexes supported."),
        ({"indexes": ["é" * 49]}, "index_too_large", "Size of indexes[0] exceeds 96 bytes."),
        ({"blobs": ["a" * 8000, "b" * 8001]}, "blobs_too_large", "Cumulative size of blobs exceeds 16000 bytes."),
        ({"blobs": [1]}, "invalid_type", "Expected `str | null`, got `int` - at `blobs[0]`"),
        ({"doubles": ["1"]}, "invalid_type", "Expected `float`, got `str` - at `doubles[0]`"),
        ({"blobs": ["a\u0000b"]}, "nul_character", "blobs[0] contains a NUL character."),
        ({"blob": ["typo"]}, "invalid_type", "Object contains unknown field `blob`"),
        ({"id": "x" * 65}, "invalid_id", "id must be 1 to 64 characters."),
        ({"timestamp": "2026-01-01T00:00:00"}, "invalid_timestamp",
         "timestamp must carry a UTC offset (RFC 3339), e.g. 2026-11-28T12:00:00Z."),
        ({"timestamp": 1}, "timestamp_too_old", "timestamp is older than the dataset's retention."),
        ({"timestamp": 99999999999999}, "timestamp_in_future", "timestamp is more than 1 day in the future."),
        (["not", "an", "object"], "invalid_type", "Expected `object`, got `array`"),
    ],
)
def test_invalid_point_is_rejected_by_index_with_its_message(client, write_key, point, code, detail):
    response = post_points(client, write_key, "events", [{"blobs": ["ok"]}, point])

    assert response.status_code == 202
    assert response.json() == {
        "accepted": 1,
        "rejected": 1,
        "errors": [{"index": 1, "code": code, "detail": detail}],
    }


@pytest.mark.parametrize(
    ("raw_double", "detail"),
    [
        (b"1e400", "Number out of range - at `doubles[0]`"),
        (b"NaN", "Line is not valid JSON."),
        (b"Infinity", "Line is not valid JSON."),
    ],
)
def test_non_finite_doubles_are_rejected(client, write_key, raw_double, detail):
    body = b'{"blobs": ["ok"]}\n{"doubles": [' + raw_double + b"]}\n"
    response = post_points(client, write_key, "events", body, content_type="application/x-ndjson")

    assert response.json()["errors"][0]["detail"] == detail
    assert response.json()["accepted"] == 1


def test_limits_at_exactly_the_maximum_are_accepted(client, write_key):
    point = {
        "blobs": ["x" * 800] * 20,
        "doubles": [1.5] * 20,
        "indexes": ["i" * 96],
    }
    response = post_points(client, write_key, "events", [point])

    assert response.status_code == 202
    assert response.json() == {"accepted": 1, "rejected": 0, "errors": []}


def test_a_batch_of_only_invalid_points_is_a_400_problem(client, write_key):
    response = post_points(client, write_key, "events", [{"blobs": [1]}, {"doubles": [1] * 21}])

    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"
    body = response.json()
    assert body["code"] == "no_valid_points"
    assert [error["index"] for error in body["errors"]] == [0, 1]
    assert buffer_depth() == 0


def test_empty_batch_is_a_400_problem(client, write_key):
    response = post_points(client, write_key, "events", [])

    assert response.status_code == 400
    assert response.json()["detail"] == "The batch is empty."


def test_malformed_json_is_a_400_problem(client, write_key):
    response = post_points(client, write_key, "events", b"[{\"blobs\": [")

    assert response.status_code == 400
    assert response.json()["code"] == "malformed_body"


def test_single_object_body_is_one_point(client, write_key):
    response = post_points(client, write_key, "events", {"blobs": ["a"], "doubles": [1]})

    assert response.json() == {"accepted": 1, "rejected": 0, "errors": []}
    assert buffer_depth() == 1


def test_ndjson_body_reports_bad_lines_by_index(client, write_key):
    body = b'{"blobs": ["a"]}\n\n{"blobs": [\n{"doubles": [2]}\n'
    response = post_points(client, write_key, "events", body, content_type="application/x-ndjson")

    assert response.json() == {
        "accepted": 2,
        "rejected": 1,
        "errors": [{"index": 1, "code": "invalid_json", "detail": "Line is not valid JSON."}],
    }


def test_gzip_body_is_accepted(client, write_key):
    response = post_points(client, write_key, "events", [{"blobs": ["a"]}] * 3, gzip=True)

    assert response.json() == {"accepted": 3, "rejected": 0, "errors": []}


def test_corrupt_gzip_is_a_400_problem(client, write_key):
    response = post_points(client, write_key, "events", b"not gzip", HTTP_CONTENT_ENCODING="gzip")

    assert response.status_code == 400
    assert response.json()["code"] == "malformed_body"


def test_unsupported_encoding_is_415(client, write_key):
    response = post_points(client, write_key, "events", b"[]", HTTP_CONTENT_ENCODING="br")

    assert response.status_code == 415
    assert response.json()["code"] == "unsupported_encoding"


def test_unsupported_content_type_is_415(client, write_key):
    response = post_points(client, write_key, "events", b"<x/>", content_type="application/xml")

    assert response.status_code == 415


def test_more_than_the_point_limit_is_413(client, write_key, settings):
    settings.TRACKING_MAX_POINTS_PER_REQUEST = 5
    response = post_points(client, write_key, "events", [{}] * 6)

    assert response.status_code == 413
    assert response.json()["detail"] == "A request may carry at most 5 data points; it had 6."
    assert buffer_depth() == 0


def test_body_over_the_byte_limit_is_413(client, write_key, settings):
    settings.TRACKING_MAX_BODY_BYTES = 1000
    response = post_points(client, write_key, "events", [{"blobs": ["x" * 600]}] * 2)

    assert response.status_code == 413
    assert response.json()["code"] == "body_too_large"


def test_gzip_bomb_is_stopped_at_the_decompressed_limit(client, write_key, settings):
    settings.TRACKING_MAX_BODY_BYTES = 10_000
    bomb = b"[" + b'{"blobs": ["' + b"a" * 50_000 + b'"]}]'
    response = post_points(client, write_key, "events", bomb, gzip=True)

    assert response.status_code == 413


def test_invalid_dataset_name_is_400(client, write_key):
    response = post_points(client, write_key, "9bad-name", [{}])

    assert response.status_code == 400
    assert response.json()["code"] == "invalid_dataset"
