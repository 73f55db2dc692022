"""Bounded memory for SQL results (issue 14): rows stream from a server-side cursor into a RowWriter.

The writer's body is byte for byte the one-shot rendering, in every format and however
the rows arrive in batches; the row and byte caps stop the fetch at the cap.
"""

import datetime as dt

import pytest
from django.test import Client
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.factories import key_for
from tests.tracking.sql.conftest import LoadedProject
from tracking.sql.errors import SqlError
from tracking.sql.formats import CONTENT_TYPES, RowWriter, result_render

COLUMNS = [("n", "Int64"), ("s", "String"), ("x", "Float64"), ("t", "DateTime"), ("m", "Nullable(String)")]
rows_strategy = st.lists(
    st.tuples(
        st.integers(min_value=-(2**63), max_value=2**63 - 1),
        st.text(st.characters(blacklist_categories=["Cs"]), max_size=8),
        st.floats(allow_nan=True, allow_infinity=True),
        st.datetimes(min_value=dt.datetime(1970, 1, 1), max_value=dt.datetime(2105, 1, 1), timezones=st.just(dt.UTC)),
        st.none() | st.text(max_size=3),
    ),
    max_size=12,
)


@settings(max_examples=60, deadline=None)
@given(rows=rows_strategy, cuts=st.lists(st.integers(min_value=0, max_value=12), max_size=4),
       output_format=st.sampled_from(sorted(CONTENT_TYPES)))
def test_a_body_written_in_batches_is_the_one_shot_body(rows: list[tuple], cuts: list[int], output_format: str) -> None:
    bounds = sorted({0, len(rows), *(min(cut, len(rows)) for cut in cuts)})
    writer = RowWriter(output_format=output_format, columns=COLUMNS, max_bytes=10**9)
    for start, end in zip(bounds, bounds[1:], strict=False):
        writer.write(rows[start:end])

    body = writer.finish(rows_before_limit=len(rows) + 5, elapsed=0.25)

    assert body == result_render(output_format=output_format, columns=COLUMNS, rows=rows, rows_before_limit=len(rows) + 5, elapsed=0.25)
    assert writer.row_count == len(rows)


def test_the_byte_cap_stops_the_writer_at_the_batch_that_passes_it() -> None:
    writer = RowWriter(output_format="JSONEachRow", columns=[("s", "String")], max_bytes=1_000)
    batch = [("x" * 100,)] * 5  # 540 bytes a batch

    writer.write(batch)
    with pytest.raises(SqlError, match="Result exceeds 1000 bytes: add a LIMIT or aggregate"):
        writer.write(batch)


def test_typed_rows_are_kept_only_when_asked_for() -> None:
    streamed = RowWriter(output_format="JSON", columns=[("n", "Int64")], max_bytes=10**6)
    kept = RowWriter(output_format="JSON", columns=[("n", "Int64")], max_bytes=10**6, keep_rows=True)
    for writer in (streamed, kept):
        writer.write([(1,), (2,)])

    assert (streamed.rows, kept.rows) == ([], [(1,), (2,)])


TRIPLE_JOIN = "SELECT a.blob1, b.blob1, c.blob1 FROM weather a, weather b, weather c"  # 240^3 = 13.8M rows


def test_the_row_cap_stops_the_fetch_instead_of_reading_the_whole_result(client: Client, loaded: LoadedProject, settings) -> None:
    """The fetch ends at row 2,501 of 13.8M; bench/fairness.py measures what that keeps out of memory."""
    settings.SQL_MAX_ROWS = 2_500
    settings.SQL_STATEMENT_TIMEOUT_MS = 5_000
    key = key_for(loaded.project, "read").secret

    response = client.post("/api/v1/sql", data=TRIPLE_JOIN, content_type="text/plain", HTTP_AUTHORIZATION=f"Bearer {key}")

    assert (response.status_code, response.json()["detail"]) == (422, "Result exceeds 2500 rows: add a LIMIT or aggregate")


def test_the_byte_cap_stops_the_fetch_too(client: Client, loaded: LoadedProject, settings) -> None:
    settings.SQL_MAX_RESULT_BYTES = 100_000
    settings.SQL_STATEMENT_TIMEOUT_MS = 5_000
    key = key_for(loaded.project, "read").secret

    response = client.post("/api/v1/sql", data=TRIPLE_JOIN + " FORMAT CSV", content_type="text/plain",
                           HTTP_AUTHORIZATION=f"Bearer {key}")

    assert (response.status_code, response.json()["detail"]) == (422, "Result exceeds 100000 bytes: add a LIMIT or aggregate")


def test_a_streamed_result_with_limit_still_counts_the_rows_before_it(client: Client, loaded: LoadedProject) -> None:
    key = key_for(loaded.project, "read").secret

    response = client.post("/api/v1/sql", data="SELECT blob1 FROM weather ORDER BY timestamp, blob1 LIMIT 3",
                           content_type="text/plain", HTTP_AUTHORIZATION=f"Bearer {key}")

    assert (response.json()["rows"], response.json()["rows_before_limit_at_least"]) == (3, 240)
