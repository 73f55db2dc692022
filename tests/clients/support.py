"""Reading back what the clients wrote: drain the buffer in this process, then query."""

import time

from django.db import connection

from projects.models import Project
from tracking.models import Dataset
from tracking.services import buffer_drain


def stored_rows(project: Project, dataset: str, columns: str) -> list[tuple]:
    found = Dataset.objects.filter(project=project, name=dataset).first()
    if found is None:
        return []
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {columns} FROM tracking_datapoint WHERE dataset_id = %s ORDER BY timestamp, index1",
            [found.id],
        )
        return cursor.fetchall()


def drain_until_stored(project: Project, dataset: str, count: int, *, columns: str, timeout: float = 30) -> list[tuple]:
    """Drain until the dataset holds ``count`` rows (or the timeout), and return them all."""
    deadline = time.monotonic() + timeout
    while True:
        buffer_drain(time_budget=1, block_ms=50)
        rows = stored_rows(project, dataset, columns)
        if len(rows) >= count or time.monotonic() > deadline:
            return rows
        time.sleep(0.05)
