"""Partitions exist ahead of the data; expired data leaves by whole partitions or bounded batches."""

from datetime import UTC, date, datetime, timedelta

import pytest
from django.db import connection

from tests.factories import DatasetFactory
from tracking import db
from tracking.checks import check_partitions_ahead
from tracking.models import Dataset
from tracking.services import partitions_ensure, retention_apply

pytestmark = pytest.mark.django_db

TODAY = date(2026, 3, 10)
NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)


def _insert(dataset_id: int, moment: datetime, count: int = 1) -> None:
    db.datapoint_copy(rows=[[dataset_id, moment, "", None]] * count, blob_count=0, double_count=0)


def _count(dataset_id: int) -> int:
    return db.datapoint_count(dataset_id=dataset_id)


@pytest.fixture(autouse=True)
def no_partitions() -> None:
    """Start from a table without partitions; the test's transaction restores them after."""
    for name in db.partition_list():
        db.partition_drop(name)


def test_partitions_are_created_from_yesterday_to_the_days_ahead():
    created = partitions_ensure(today=TODAY, days_ahead=3)

    assert created == [
        "tracking_datapoint_p20260309",
        "tracking_datapoint_p20260310",
        "tracking_datapoint_p20260311",
        "tracking_datapoint_p20260312",
        "tracking_datapoint_p20260313",
    ]
    assert partitions_ensure(today=TODAY, days_ahead=3) == []


def test_by_default_tomorrow_and_one_day_of_slack_are_created_ahead():
    assert partitions_ensure(today=TODAY) == [
        "tracking_datapoint_p20260309",
        "tracking_datapoint_p20260310",
        "tracking_datapoint_p20260311",
        "tracking_datapoint_p20260312",
    ]


@pytest.mark.parametrize(
    ("ahead", "tolerance", "ids"),
    [
        (2, 86_400, []),
        (1, 86_400, ["tracking.W002"]),
        (1, 0, []),
        (2, 86_401, ["tracking.W002"]),
        (3, 86_401, []),
    ],
)
def test_the_days_ahead_must_cover_the_future_tolerance_and_a_day_for_beat(settings, ahead: int, tolerance: int, ids: list[str]):
    settings.TRACKING_PARTITION_DAYS_AHEAD = ahead
    settings.TRACKING_FUTURE_TOLERANCE_SECONDS = tolerance

    assert [message.id for message in check_partitions_ahead()] == ids


def test_the_table_has_no_default_partition():
    partitions_ensure(today=TODAY, days_ahead=0)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_partitioned_table WHERE partrelid = 'tracking_datapoint'::regclass "
            "AND partdefid <> 0"
        )
        assert cursor.fetchone()[0] == 0


def test_partitions_past_every_retention_are_dropped_whole():
    Dataset.objects.all().delete()  # the longest retention of all datasets decides: make it this one's
    dataset = DatasetFactory(retention_days=5)
    for offset in range(8, -1, -1):
        day = TODAY - timedelta(days=offset)
        db.partition_create(day)
        _insert(dataset.id, datetime(day.year, day.month, day.day, 6, tzinfo=UTC))

    result = retention_apply(now=NOW)

    assert result.dropped_partitions == [
        "tracking_datapoint_p20260302",
        "tracking_datapoint_p20260303",
        "tracking_datapoint_p20260304",
    ]
    assert result.finished is True
    assert "tracking_datapoint_p20260305" in db.partition_list()
    # 2026-03-05 06:00 is older than now - 5 days (03-05 12:00): deleted by rows inside the kept partition.
    assert result.deleted_rows == 1
    assert _count(dataset.id) == 5


def test_a_shorter_lived_dataset_is_trimmed_in_bounded_batches(settings):
    Dataset.objects.all().delete()
    settings.TRACKING_RETENTION_DELETE_BATCH = 10
    short = DatasetFactory(retention_days=2)
    long = DatasetFactory(retention_days=30)
    day = TODAY - timedelta(days=4)
    db.partition_create(day)
    old = datetime(day.year, day.month, day.day, 1, tzinfo=UTC)
    _insert(short.id, old, count=35)
    _insert(long.id, old, count=7)

    first = retention_apply(now=NOW, max_batches=2)
    assert (first.deleted_rows, first.finished) == (20, False)
    second = retention_apply(now=NOW, max_batches=10)
    assert (second.deleted_rows, second.finished) == (15, True)

    assert (_count(short.id), _count(long.id)) == (0, 7)
