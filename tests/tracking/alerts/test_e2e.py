"""Ingest API → a real Celery worker and beat → evaluation → a real webhook receiver and SMTP server."""

from __future__ import annotations

import signal
import time
import urllib.request
from collections.abc import Iterator

import orjson
import pytest

from tests.factories import key_for
from tests.support.processes import process_kill, wait_until, worker_start
from tests.support.receivers import SmtpServer, WebhookReceiver
from tracking.alerts.models import Budget

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

EVALUATION_SECONDS = 2


def _post(url: str, key: str, body: object) -> dict:
    request = urllib.request.Request(
        url, data=orjson.dumps(body), method="POST",
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return orjson.loads(response.read())


@pytest.fixture
def receivers() -> Iterator[tuple[WebhookReceiver, SmtpServer]]:
    hook, smtp = WebhookReceiver(), SmtpServer()
    yield hook, smtp
    hook.close()
    smtp.close()


def test_a_budget_crossing_sends_exactly_two_webhooks_and_two_mails_then_one_more_at_100(
    live_server, project, partitions, tmp_path, celery_queue, receivers, settings
):
    hook, smtp = receivers
    settings.ALERTS_ALLOW_PRIVATE_URLS = True
    admin = key_for(project, "admin").secret
    write = key_for(project, "write").secret
    base = live_server.url
    channel = _post(f"{base}/api/v1/alerts/channels", admin, {"kind": "webhook", "url": hook.url})
    hook.secret = channel["secret"]
    mail = _post(f"{base}/api/v1/alerts/channels", admin, {"kind": "email", "to": ["finance@example.com"]})
    budget = _post(f"{base}/api/v1/budgets", admin, {
        "name": "monthly", "dataset": "costs", "period": "month", "amount_usd": "100.00",
        "thresholds": [50, 80, 100], "channels": [channel["id"], mail["id"]],
    })
    worker = worker_start(
        queue=celery_queue, log_path=tmp_path / "worker.log", ALERTS_EVALUATION_SECONDS=str(EVALUATION_SECONDS),
        ALERTS_ALLOW_PRIVATE_URLS="1", EMAIL_URL=smtp.url, TRACKING_DRAIN_QUEUE=celery_queue,
    )
    points_url = f"{base}/api/v1/datasets/costs/datapoints"
    try:
        amounts = [12.5, 20, 7.5, 15, 30]  # $85
        _post(points_url, write, [{"blobs": ["proj-a", "llm", "cost"], "doubles": [amount]} for amount in amounts])
        posted = time.monotonic()

        assert wait_until(lambda: len(hook.received) >= 2 and len(smtp.messages) >= 2, timeout=90, interval=0.5)
        first_two_s = time.monotonic() - posted
        evaluated = Budget.objects.get(pk=budget["id"]).evaluated_at
        assert wait_until(
            lambda: _cycles_since(budget["id"], evaluated) >= 3, timeout=60, interval=0.5
        ), "three more evaluation cycles"
        assert (len(hook.received), len(smtp.messages)) == (2, 2)

        _post(points_url, write, [{"blobs": ["proj-a", "llm", "cost"], "doubles": [20]}])
        posted = time.monotonic()
        assert wait_until(lambda: len(hook.received) >= 3 and len(smtp.messages) >= 3, timeout=90, interval=0.5)
        third_s = time.monotonic() - posted
        evaluated = Budget.objects.get(pk=budget["id"]).evaluated_at
        assert wait_until(lambda: _cycles_since(budget["id"], evaluated) >= 2, timeout=60, interval=0.5)
    finally:
        process_kill(worker, signal.SIGTERM)

    print(f"budget e2e: 50% and 80% received {first_two_s:.1f} s after the $85 was posted, 100% {third_s:.1f} s after the $20")
    assert [r.body["threshold"] for r in hook.received] == [50, 80, 100]
    assert all(r.signature_ok for r in hook.received)
    assert len(set(hook.ids())) == 3
    assert sorted(m["Subject"].split(": ")[0].split("crossed ")[1] for m in smtp.messages) == ["100%", "50%", "80%"]
    assert len(smtp.messages) == 3
    status = _get(f"{base}/api/v1/budgets/{budget['id']}/status", admin)
    assert (status["spent_usd"], status["crossed"]) == ("105.000000", [50, 80, 100])


_seen: dict[int, list] = {}


def _cycles_since(budget_id: int, moment) -> int:
    """Evaluation cycles that stamped the budget after ``moment`` (sampled; beat runs every 2 s)."""
    stamps = _seen.setdefault(budget_id, [])
    current = Budget.objects.get(pk=budget_id).evaluated_at
    if current and current > moment and current not in stamps:
        stamps.append(current)
    return len([s for s in stamps if s > moment])


def _get(url: str, key: str) -> dict:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {key}"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return orjson.loads(response.read())
