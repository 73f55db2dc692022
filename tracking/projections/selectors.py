"""Reads of projections: the drain's list of what to maintain, and the planner's candidates."""

from __future__ import annotations

from django.db.models import QuerySet

from tracking.models import Dataset, Projection, ProjectionState
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
