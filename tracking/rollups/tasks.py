"""Celery tasks of the rollups: folding finished minutes into the hour, day and week tiers, and hourly
pruning of rollup rows no report reads any more.

Found by the worker through ``app.autodiscover_tasks(["tracking.rollups"])`` (meauxcloud/celery.py).
"""

from celery import shared_task
from django.db import close_old_connections, transaction
from django.utils import timezone

from tracking.rollups.services import rollups_coarse_advance, rollups_prune


@shared_task(name="tracking.prune_rollups", ignore_result=True, time_limit=600, soft_time_limit=540)
def prune_rollups() -> int:
    """Idempotent: deletes by a horizon computed from now, so a repeated run finds nothing left."""
    close_old_connections()
    with transaction.atomic():
        return rollups_prune(now=timezone.now())


@shared_task(name="tracking.advance_rollups", ignore_result=True, time_limit=600, soft_time_limit=540)
def advance_rollups() -> None:
    """Idempotent: the watermark only moves forward, to a finished minute, a day at a time per
    transaction; a run finding it there does nothing."""
    close_old_connections()
    reached = None
    while True:
        with transaction.atomic():
            moved = rollups_coarse_advance(now=timezone.now())
        if moved == reached:
            return
        reached = moved
