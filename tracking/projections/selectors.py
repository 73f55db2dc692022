"""Reads of projections: the drain's list of what to maintain, and the planner's candidates."""

from __future__ import annotations

from tracking.models import Projection, ProjectionState
from tracking.projections.db import Spec


def projection_specs(*, dataset_ids: list[int]) -> list[Spec]:
    """Every projection of these datasets, backfilling ones included (the drain maintains both)."""
    rows = Projection.objects.filter(dataset_id__in=dataset_ids).order_by("id").values_list(
        "id", "dataset_id", "grain", "dimensions", "doubles"
    )
    return [Spec(id=i, dataset_id=d, grain=g, dimensions=tuple(dims), doubles=tuple(dbls)) for i, d, g, dims, dbls in rows]


def projections_ready(*, dataset_id: int) -> list[Spec]:
    """The projections that may answer queries, the narrowest first (fewest dimensions, then doubles)."""
    rows = Projection.objects.filter(dataset_id=dataset_id, state=ProjectionState.READY).values_list(
        "id", "dataset_id", "grain", "dimensions", "doubles", "name"
    )
    specs = [
        Spec(id=i, dataset_id=d, grain=g, dimensions=tuple(dims), doubles=tuple(dbls), name=name)
        for i, d, g, dims, dbls, name in rows
    ]
    specs.sort(key=lambda spec: (len(spec.dimensions), len(spec.doubles), spec.grain, spec.name))
    return specs
