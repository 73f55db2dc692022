"""Celery tasks: thin, named, idempotent; they take no payloads."""

import logging

from celery import shared_task
from django.db import close_old_connections

from tracking.alerts import services
from tracking.conf import tracking_settings

logger = logging.getLogger(__name__)


def deliver_soon() -> None:
    """Ask a worker to send new deliveries now; beat sends them within 10 s anyway."""
    try:
        deliver.apply_async(queue=tracking_settings.DRAIN_QUEUE)
    except Exception as error:
        logger.warning("could not schedule alert delivery: %s", type(error).__name__)


@shared_task(name="alerts.evaluate", ignore_result=True, time_limit=300, soft_time_limit=240)
def evaluate() -> int:
    """Safe to run any number of times, even concurrently: state changes happen under row
    locks and every notification has a unique key."""
    close_old_connections()
    result = services.alerts_evaluate()
    logger.info("alerts evaluated: %d budgets, %d rules, %d events in %.2fs", result.budgets, result.rules, result.events, result.seconds)
    return result.events


@shared_task(name="alerts.deliver", ignore_result=True, time_limit=120, soft_time_limit=90)
def deliver() -> int:
    """Bounded per run; reschedules itself while deliveries remain due."""
    close_old_connections()
    sent = services.delivery_send_due()
    if sent >= 200:
        deliver_soon()
    return sent
