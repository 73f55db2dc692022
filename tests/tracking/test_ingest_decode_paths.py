"""The whole-batch check of plain (ASCII, escape-free) bodies answers exactly as the point-by-point check."""

import json
from datetime import UTC, datetime

from hypothesis import example, given, settings
from hypothesis import strategies as st

from tracking.ingest.decode import TimeWindow, batch_validate, batch_validate_raw, body_plain, body_split, epoch_us

NOW_US = epoch_us(datetime(2026, 12, 4, 12, tzinfo=UTC))
WINDOW = TimeWindow(now_us=NOW_US, oldest_us=NOW_US - 86_400_000_000, newest_us=NOW_US + 86_400_000_000)

# Mostly ASCII (the plain path), some non-ASCII, NUL and lone surrogates (the full checks).
ascii_text = st.text(st.characters(min_codepoint=1, max_codepoint=127), max_size=120)
any_text = st.text(max_size=40)
text = ascii_text | any_text | st.sampled_from(["", "x" * 96, "x" * 97, "€" * 32, "€" * 33, "a\x00b", "\ud800"])
points = st.fixed_dictionaries(
    {},
    optional={
        "blobs": st.lists(text | st.none(), max_size=21) | st.lists(st.sampled_from(["x" * 8000, "y" * 8001]), max_size=3),
        "doubles": st.lists(st.floats(allow_nan=False, allow_infinity=False), max_size=21),
        "indexes": st.lists(text | st.none(), max_size=2),
        "id": st.none() | st.sampled_from(["", "x" * 64, "x" * 65, "a\x00", "\udfff", "id-1"]) | ascii_text,
    },
)


def _body(batch: list[dict], ensure_ascii: bool) -> bytes:
    # Lone surrogates cannot be UTF-8: without ensure_ascii they are written as \u escapes anyway.
    return json.dumps(batch, ensure_ascii=ensure_ascii).encode("utf-8", "surrogatepass")


@settings(max_examples=400, deadline=None)
@given(batch=st.lists(points, min_size=1, max_size=8), ensure_ascii=st.booleans())
@example(batch=[{"indexes": ["x" * 96]}, {"indexes": ["x" * 97]}, {"indexes": [None, "x"]}], ensure_ascii=True)
@example(batch=[{"blobs": ["x" * 8000, "y" * 8000]}, {"blobs": ["x" * 8000, None, "y" * 8001]}], ensure_ascii=True)
@example(batch=[{"blobs": ["x"] * 21}, {"id": "x" * 64}, {"id": "x" * 65}, {"id": ""}], ensure_ascii=True)
def test_plain_and_point_by_point_checks_agree(batch: list[dict], ensure_ascii: bool) -> None:
    body = _body(batch, ensure_ascii)

    count, whole = batch_validate(body, ndjson=False, window=WINDOW)
    one_by_one = batch_validate_raw(body_split(body, ndjson=False), WINDOW, unit="Point")

    assert count == len(batch)
    assert (whole.rows, whole.errors) == (one_by_one.rows, one_by_one.errors)


def test_plain_means_ascii_without_unicode_escapes_or_nul() -> None:
    assert body_plain(b'[{"blobs": ["GET", "/a\\"b\\\\c\\n"]}]')
    assert not body_plain('[{"blobs": ["é"]}]'.encode())
    assert not body_plain(b'[{"blobs": ["\\u00e9"]}]')
    assert not body_plain(b'[{"blobs": ["\\u0000"]}]')
    assert not body_plain(b'[{"blobs": ["a\x00"]}]')
