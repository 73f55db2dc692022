"""Writing points through the real pipeline (buffer, then drain) and reading raw truth back."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from django.db import connection

from tracking.ingest import buffer
from tracking.ingest.decode import PointRow, epoch_us
from tracking.models import Dataset
from tracking.services import buffer_drain


@dataclass(frozen=True)
class Point:
    at: datetime
    blobs: list[str | None] = field(default_factory=list)
    doubles: list[float] = field(default_factory=list)
    index1: str = ""


def points_store(dataset: Dataset, points: Sequence[Point], *, batch: int = 50) -> int:
    """Buffer the points in batches and drain them, as the ingest API and the worker do."""
    buffer.buffer_ensure_group()
    for start in range(0, len(points), batch):
        rows = [PointRow(epoch_us(p.at), p.index1, list(p.blobs), list(p.doubles)) for p in points[start : start + batch]]
        buffer.buffer_append(dataset_id=dataset.id, rows=rows)
    return buffer_drain(time_budget=30, block_ms=10).points


def raw(sql: str, params: Sequence[object]) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()
