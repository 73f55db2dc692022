"""Reads of projections: the drain's list of what to maintain, and the planner's candidates."""

from __future__ import annotations

from datetime import timedelta

from django.db.models import QuerySet
from django.db.models.functions import Now

from tracking.models import Dataset, IngestedEntry, Projection, ProjectionState
from tracking.projections.db import Spec


def projection_specs(*, dataset_ids: list[int]) -> list[Spec]:
    """Every projection of these datasets, backfilling ones included (the drain maintains both)."""
    rows = Projection.objects.filter(dataset_id__in=dataset_ids).order_by("id").values_list(
        "id", "dataset_id", "grain", "dimensions", "doubles"
    )
    return [Spec(id=i, dataset_id=d, grain=g, dimensions=tuple(dims), doubles=tuple(dbls)) for i, d, g, dims, dbls in rows]


def projection_list(*, dataset: Dataset) -> QuerySet[Projection]:
    return Projection.objects.filter(dataset=dataset).select_related("dataset").order_by("name")


def projection_get(*, dataset: Dataset, name: str) -> Projection | None:
    return projection_list(dataset=dataset).filter(name=name).first()


def projection_progress(*, projection: Projection) -> float:
    """The share of the backfill's time range recomputed, from 0 to 1 (the cursor moves a chunk a step)."""
    if projection.state == ProjectionState.READY:
        return 1.0
    start, cursor, until = projection.backfill_from, projection.backfill_cursor, projection.backfill_until
    if start is None or cursor is None or until is None or until <= start:
        return 0.0
    return round(min(max((cursor - start) / (until - start), 0.0), 1.0), 4)


def ingest_idle(*, for_at_least: timedelta) -> bool:
    """Whether no drain of any dataset has written points for ``for_at_least``: no ledger entry that recent, one index
    probe. ``IngestedEntry.created_at`` is the database's ``now()`` of the drain's transaction (``db.ledger_record``),
    so it is compared with that clock, not the worker's. The whole installation's, not a dataset's: merging a quiet
    tenant's buckets would take CPU beside the others' drains."""
    return not IngestedEntry.objects.filter(created_at__gt=Now() - for_at_least).exists()
