"""The outbox against real receivers: a signed webhook, real SMTP, retries with backoff, giving up."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from tests.support.receivers import SmtpServer, WebhookReceiver
from tests.tracking.alerts.conftest import NOW, cost, store
from tracking.alerts.models import Channel, Delivery, DeliveryStatus
from tracking.alerts.services import alerts_evaluate, budget_create, channel_test, delivery_send_due, delivery_send_one

pytestmark = pytest.mark.django_db


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    server = WebhookReceiver()
    yield server
    server.close()


@pytest.fixture
def smtp(settings) -> Iterator[SmtpServer]:
    server = SmtpServer()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", server.port
    yield server
    server.close()


@pytest.fixture
def channels(project, receiver, settings) -> tuple[Channel, Channel]:
    settings.ALERTS_ALLOW_PRIVATE_URLS = True
    hook = Channel.objects.create(project=project, kind="webhook", url=receiver.url, secret="k" * 64)
    receiver.secret = hook.secret
    mail = Channel.objects.create(project=project, kind="email", to=["ops@example.com", "cfo@example.com"])
    return hook, mail


def test_a_crossing_is_delivered_once_to_a_signed_webhook_and_by_smtp(project, dataset, channels, receiver, smtp):
    hook, mail = channels
    budget = budget_create(
        project=project, name="monthly", dataset="costs", period="month", amount_usd=Decimal(100),
        channel_ids=[hook.pk, mail.pk],
    )
    store(dataset, [cost(NOW - timedelta(minutes=10), 55)])
    alerts_evaluate(now=NOW)

    assert delivery_send_due() == 2
    assert delivery_send_due() == 0

    (got,) = receiver.received
    delivery = Delivery.objects.get(channel=hook)
    assert got.signature_ok and got.delivery_header == str(delivery.id)
    assert got.body == {
        "type": "budget.threshold",
        "project": project.slug,
        "id": str(delivery.id),
        "threshold": 50,
        "text": f"[{project.slug}] Budget 'monthly' crossed 50%: $55 of $100 spent this month.",
        "created_at": got.body["created_at"],
        "budget": {"id": budget.pk, "name": "monthly", "dataset": "costs", "period": "month"},
        "spent_usd": "55.000000",
        "amount_usd": "100.000000",
        "percent": "55.00",
        "forecast_usd": got.body["forecast_usd"],
        "period_start": "2026-11-01T00:00:00+00:00",
    }
    (message,) = smtp.messages
    mailed = Delivery.objects.get(channel=mail)
    assert message["Subject"] == got.body["text"]
    assert message["Message-ID"] == f"<{mailed.id}@meauxcloud.alerts>"
    assert message["X-Rcpt-To"] == "ops@example.com, cfo@example.com"
    assert (delivery.status, delivery.attempts, mailed.status, mailed.attempts) == ("sent", 1, "sent", 1)
    assert [a.ok for a in delivery.attempt_log.all()] == [True]


def test_a_failing_receiver_is_retried_with_backoff_and_the_same_delivery_id(project, channels, receiver, settings):
    hook, _ = channels
    settings.ALERTS_DELIVERY_RETRY_SECONDS = 30
    receiver.fail_first = 2


    delivery = channel_test(channel=hook)

    first = delivery_send_one()
    assert (first.status, first.attempts, first.last_error) == ("pending", 1, "HTTP 500")
    assert delivery_send_one() is None  # not due yet
    assert timedelta(seconds=29) < first.next_attempt_at - timezone.now() <= timedelta(seconds=30)
    second = delivery_send_one(now=first.next_attempt_at)
    assert second.next_attempt_at - timezone.now() > timedelta(seconds=59)  # doubled
    third = delivery_send_one(now=second.next_attempt_at)

    assert (third.status, third.attempts) == ("sent", 3)
    assert receiver.ids() == [str(delivery.id)]
    assert [(a.ok, a.status_code) for a in third.attempt_log.all()] == [(False, 500), (False, 500), (True, 200)]


def test_a_delivery_gives_up_after_the_configured_time_and_says_why(project, channels, settings):
    hook, _ = channels
    settings.ALERTS_DELIVERY_RETRY_SECONDS = 60
    settings.ALERTS_DELIVERY_GIVE_UP_SECONDS = 100
    hook.url = "http://127.0.0.1:8199/nobody-listens"
    hook.save()


    channel_test(channel=hook)
    first = delivery_send_one()
    second = delivery_send_one(now=first.next_attempt_at)

    assert (first.status, second.status, second.attempts) == (DeliveryStatus.PENDING, DeliveryStatus.FAILED, 2)
    assert "ConnectionRefusedError" in second.last_error or "Connection refused" in second.last_error
    assert delivery_send_one(now=second.next_attempt_at + timedelta(days=1)) is None


def test_a_private_url_is_refused_again_at_send_time(project, channels, receiver, settings):
    hook, _ = channels


    channel_test(channel=hook)
    settings.ALERTS_ALLOW_PRIVATE_URLS = False

    attempt = delivery_send_one()

    assert "loopback or private" in attempt.last_error and receiver.received == []
