"""kill -9 of the worker during an evaluation cycle and during a delivery: no notification is
lost, none is invented, and the only repeat is the one documented (docs/alerts.md): the
delivery in flight at the kill, sent again under the same delivery id."""

from __future__ import annotations

import json
import signal
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal

import psycopg
import pytest
from django.db import connection
from django.utils import timezone

from tests.factories import DatasetFactory
from tests.support.processes import process_kill, wait_until, worker_start
from tests.support.processes import test_database_url as database_url
from tests.support.receivers import WebhookReceiver
from tests.tracking.reports.helpers import Point, points_store
from tracking.alerts.models import AlertEvent, Budget, Channel, Delivery, DeliveryStatus
from tracking.alerts.services import STATE_CHUNK, channel_test

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

#: Two chunks of the evaluation cycle; each budget notifies 50% and 80%.
BUDGETS = STATE_CHUNK + 100
WORKER_ENV = {"ALERTS_EVALUATION_SECONDS": "1", "ALERTS_ALLOW_PRIVATE_URLS": "1"}


@pytest.fixture
def receiver(settings) -> Iterator[WebhookReceiver]:
    settings.ALERTS_ALLOW_PRIVATE_URLS = True
    server = WebhookReceiver()
    yield server
    server.close()


@pytest.fixture
def hook(project, receiver) -> Channel:
    channel = Channel.objects.create(project=project, kind="webhook", url=receiver.url, secret="f" * 64)
    receiver.secret = channel.secret
    return channel


def test_kill9_during_delivery_loses_nothing_and_repeats_only_the_delivery_in_flight(
    project, hook, receiver, tmp_path, celery_queue
):
    deliveries = {str(channel_test(channel=hook).id) for _ in range(6)}
    receiver.delay = 5.0  # the first request is held open: the worker is mid-send when killed
    log = tmp_path / "worker.log"
    worker = worker_start(queue=celery_queue, log_path=log, **WORKER_ENV)
    try:
        assert wait_until(lambda: receiver.arrivals >= 1, timeout=60)
        process_kill(worker, signal.SIGKILL)
        in_flight = receiver.ids()
        receiver.delay = 0.0
        worker = worker_start(queue=celery_queue, log_path=log, **WORKER_ENV)
        assert wait_until(
            lambda: Delivery.objects.filter(status=DeliveryStatus.SENT).count() == 6, timeout=90, interval=0.5
        )
    finally:
        process_kill(worker, signal.SIGTERM)

    counts = Counter(receiver.ids())
    _ledger("kill9_during_delivery", expected=deliveries, counts=counts, in_flight_at_kill=len(in_flight))
    assert set(counts) == deliveries  # nothing lost, nothing invented
    assert {i for i, n in counts.items() if n > 1} <= set(in_flight)
    assert all(n <= 2 for n in counts.values()) and 1 <= len(in_flight) <= 2  # -c 2: two sends may be in flight
    assert all(r.signature_ok for r in receiver.received)


def test_kill9_during_evaluation_writes_each_notification_and_its_outbox_row_exactly_once(
    project, hook, receiver, partitions, tmp_path, celery_queue
):
    dataset = DatasetFactory(project=project, name="costs")
    points_store(dataset, [Point(timezone.now() - timedelta(minutes=1), ["proj-a", "llm", "cost"], [85, 1])])
    budgets = [
        Budget(project=project, name=f"b{i:03}", dataset="costs", amount_usd=Decimal(100), thresholds=[50, 80, 100])
        for i in range(BUDGETS)
    ]
    Budget.objects.bulk_create(budgets)
    for budget in Budget.objects.filter(project=project):
        budget.channels.add(hook)
    # The last budget's row lock, held here, stops the cycle inside its second chunk's transaction
    # (STATE_CHUNK budgets per chunk): the first chunk's notifications are committed, the rest are not.
    holder = psycopg.connect(database_url())
    holder.execute("SELECT 1 FROM alerts_budget WHERE id = %s FOR UPDATE", [Budget.objects.last().pk])
    log = tmp_path / "worker.log"
    worker = worker_start(queue=celery_queue, log_path=log, **WORKER_ENV)
    try:
        assert wait_until(lambda: AlertEvent.objects.count() == 2 * STATE_CHUNK and _lock_waiters() > 0, timeout=60, interval=0.1)
        process_kill(worker, signal.SIGKILL)
        holder.rollback()
        at_kill = AlertEvent.objects.count()
        worker = worker_start(queue=celery_queue, log_path=log, **WORKER_ENV)
        assert wait_until(lambda: AlertEvent.objects.count() == 2 * BUDGETS, timeout=120, interval=0.5)
        assert wait_until(lambda: len(set(receiver.ids())) == 2 * BUDGETS, timeout=120, interval=0.5)
    finally:
        process_kill(worker, signal.SIGTERM)
        holder.close()

    expected = {str(i) for i in Delivery.objects.values_list("id", flat=True)}
    _ledger("kill9_during_evaluation", expected=expected, counts=Counter(receiver.ids()), events_at_kill=at_kill,
            events=AlertEvent.objects.count(), notification_keys=len(set(AlertEvent.objects.values_list("key", flat=True))))
    assert at_kill == 2 * STATE_CHUNK, "the kill landed inside the cycle's second chunk"
    pairs = Counter(AlertEvent.objects.values_list("budget_id", "threshold"))
    assert len(pairs) == 2 * BUDGETS and set(pairs.values()) == {1}
    assert sorted({t for _, t in pairs}) == [Decimal(50), Decimal(80)]
    assert Delivery.objects.count() == 2 * BUDGETS and not AlertEvent.objects.filter(deliveries__isnull=True).exists()
    counts = Counter(receiver.ids())
    assert set(counts) == {str(i) for i in Delivery.objects.values_list("id", flat=True)}
    assert sum(n - 1 for n in counts.values()) <= 1  # at most the one in flight at the kill


def _lock_waiters() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'")
        return cursor.fetchone()[0]


def _ledger(fault: str, *, expected: set[str], counts: Counter[str], **figures: int) -> None:
    """One JSON line per fault, as tests/faults/run.py prints for points (shown with ``pytest -s``)."""
    print("alerts fault ledger:", json.dumps({
        "fault": fault, "notifications": len(expected), "received_distinct": len(set(counts) & expected),
        "lost": len(expected - set(counts)), "invented": len(set(counts) - expected),
        "resent_same_id": sum(n - 1 for n in counts.values()), **figures,
    }))
