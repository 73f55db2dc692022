"""Celery tasks of projections: backfilling new ones, compacting appended rows, pruning orphans, measuring them.

Found by the worker through ``app.autodiscover_tasks(["tracking.projections"])`` (meauxcloud/celery.py).
Each is idempotent and bounded; beat runs them (meauxcloud/settings.py), and
``projection_backfill`` is also sent when an owner adds a projection.
"""

import time
from datetime import timedelta

from celery import shared_task
from django.db import close_old_connections
from django.utils import timezone

from tracking.models import Projection, ProjectionState
from tracking.projections import services

#: Backfill steps (one day of points each) one task run takes before giving way.
BACKFILL_STEPS_PER_RUN = 30
#: Projections measured per batch (one selection of the due ones), and how long a run goes on taking batches.
MEASURE_BATCH = 100
MEASURE_SECONDS = 120.0
#: How long ingest must have been quiet before a catch-up compaction, and how long one run merges.
COMPACT_IDLE_QUIET = timedelta(seconds=20)
COMPACT_IDLE_SECONDS = 50.0


@shared_task(name="tracking.projection_backfill", ignore_result=True, time_limit=600, soft_time_limit=540)
def projection_backfill(projection_id: int) -> bool:
    """Advance one projection's backfill by a bounded number of steps; True once it is ready."""
    close_old_connections()
    return services.projection_backfill(projection_id=projection_id, max_steps=BACKFILL_STEPS_PER_RUN)


@shared_task(name="tracking.projections_backfill", ignore_result=True, time_limit=600, soft_time_limit=540)
def projections_backfill() -> int:
    """Resume every backfilling projection (after a restart, or ones made by the migration); returns how many."""
    close_old_connections()
    pending = list(Projection.objects.filter(state=ProjectionState.BACKFILLING).order_by("id").values_list("id", flat=True))
    for projection_id in pending:
        services.projection_backfill(projection_id=projection_id, max_steps=BACKFILL_STEPS_PER_RUN)
    return len(pending)


@shared_task(name="tracking.projections_compact", ignore_result=True, time_limit=600, soft_time_limit=540)
def projections_compact() -> int:
    """Merge the partial rows of buckets closed for a while; then drop rows of deleted projections."""
    close_old_connections()
    removed = services.projections_compact(before=timezone.now() - timedelta(hours=1))
    return removed + services.projections_prune()


@shared_task(name="tracking.projections_compact_idle", ignore_result=True, time_limit=120, soft_time_limit=90)
def projections_compact_idle() -> int:
    """Merge what a burst left once ingest is quiet (``services.projections_compact_idle``); beat runs it every
    minute, and it returns at once while drains are committing."""
    close_old_connections()
    return services.projections_compact_idle(quiet=COMPACT_IDLE_QUIET, seconds=COMPACT_IDLE_SECONDS)


@shared_task(name="tracking.projections_measure", ignore_result=True, time_limit=600, soft_time_limit=540)
def projections_measure() -> int:
    """Measure the projections due for it (``services.projections_measure``) a batch at a time until none is left
    or ``MEASURE_SECONDS`` have passed: each measure is saved as it is taken, and beat's next run carries on. A
    few milliseconds each, so an installation with thousands of projections is measured hourly all the same."""
    close_old_connections()
    deadline = time.monotonic() + MEASURE_SECONDS
    measured = 0
    while time.monotonic() < deadline:
        batch = services.projections_measure(now=timezone.now(), max_projections=MEASURE_BATCH)
        measured += batch
        if batch < MEASURE_BATCH:
            break
    return measured
