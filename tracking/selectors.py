"""Reads of the tracking app."""

from django.db import connection
from django.db.models import QuerySet

from projects.models import Project
from tracking.conf import tracking_settings
from tracking.ingest import buffer
from tracking.models import Dataset

WORKER_STALE_SECONDS = 30


def dataset_list(*, project: Project) -> QuerySet[Dataset]:
    return Dataset.objects.filter(project=project)


def dataset_get(*, project: Project, name: str) -> Dataset | None:
    return Dataset.objects.filter(project=project, name=name).first()


def health_report() -> dict[str, object]:
    """State of the database, the buffer and the workers, for /healthz and operators."""
    report: dict[str, object] = {}
    healthy = True
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT current_setting('transaction_read_only')")
            read_only = cursor.fetchone()[0] == "on"
        report["database"] = {"status": "read_only" if read_only else "ok"}
        healthy = not read_only
    except Exception as error:
        report["database"] = {"status": "down", "error": type(error).__name__}
        healthy = False
    try:
        depth = buffer.buffer_depth()
        age = buffer.worker_heartbeat_age()
        report["redis"] = {"status": "ok"}
        high_water = tracking_settings.BUFFER_HIGH_WATER
        report["buffer"] = {"status": "ok", "depth": depth, "high_water": high_water, "accepting": depth < high_water}
        workers_ok = age is not None and age < WORKER_STALE_SECONDS
        report["workers"] = {"status": "ok" if workers_ok else "down", "last_heartbeat_seconds_ago": None if age is None else round(age, 1)}
        healthy = healthy and workers_ok
    except Exception as error:
        report["redis"] = {"status": "down", "error": type(error).__name__}
        healthy = False
    report["status"] = "ok" if healthy else "down"
    return report
