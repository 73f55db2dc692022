"""The rollup tiers' path indexes are built concurrently, and a build that failed is not taken for done."""

from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from django.db import IntegrityError, connection

from tests.factories import DatasetFactory
from tracking.rollups import db as rollups_db
from tracking.rollups.layout import Kind


def _index(name: str) -> tuple[bool, str] | None:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indisvalid, pg_get_indexdef(indexrelid) FROM pg_index WHERE indexrelid = to_regclass(%s)", [name]
        )
        row = cursor.fetchone()
    return None if row is None else (row[0], row[1])


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("name", "build", "drop", "definition"),
    [
        (
            "tracking_rollup_day_path",
            rollups_db.path_indexes_build,
            rollups_db.path_indexes_drop,
            "CREATE INDEX tracking_rollup_day_path ON public.tracking_rollup_day USING btree (dataset_id, k1, bucket)"
            " WHERE (kind = 13)",
        ),
        (
            "tracking_rollup_day_path_5xx",
            rollups_db.path_5xx_indexes_build,
            rollups_db.path_5xx_indexes_drop,
            "CREATE INDEX tracking_rollup_day_path_5xx ON public.tracking_rollup_day USING btree (dataset_id, bucket)"
            " INCLUDE (k1, s2) WHERE ((kind = 13) AND (s2 <> (0)::numeric))",
        ),
    ],
)
def test_a_build_run_again_replaces_the_invalid_index_a_failed_concurrent_build_left(
    name: str, build: Callable[[], None], drop: Callable[[], None], definition: str
) -> None:
    """A migration that failed halfway is run again; ``IF NOT EXISTS`` alone would keep the invalid
    index, which PostgreSQL maintains but never reads."""
    dataset = DatasetFactory()
    with connection.cursor() as cursor:
        cursor.executemany(
            "INSERT INTO tracking_rollup_day (dataset_id, bucket, kind, k1, k2, n, s1, s2, s3)"
            " VALUES (%s, %s, %s, %s, '', 1, 0, 1, 0)",
            [(dataset.id, datetime(2026, 12, 1, tzinfo=UTC), int(Kind.PATH), path) for path in ("/a", "/b")],
        )
    drop()
    try:
        with pytest.raises(IntegrityError), connection.cursor() as cursor:
            # Fails on the two rows of one dataset, leaving an invalid index of that name.
            cursor.execute(f"CREATE UNIQUE INDEX CONCURRENTLY {name} ON tracking_rollup_day (dataset_id)")
        assert _index(name) == (False, f"CREATE UNIQUE INDEX {name} ON public.tracking_rollup_day USING btree (dataset_id)")

        build()

        assert _index(name) == (True, definition)
    finally:
        build()  # a failed assertion must not leave the next tests without it


@pytest.mark.django_db(transaction=True)
def test_a_build_leaves_a_valid_index_as_it_is() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass('tracking_rollup_week_path_5xx')::oid")
        before = cursor.fetchone()[0]

    rollups_db.path_5xx_indexes_build()

    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass('tracking_rollup_week_path_5xx')::oid")
        assert cursor.fetchone()[0] == before
