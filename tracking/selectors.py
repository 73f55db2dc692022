"""Reads of the tracking app."""

from datetime import date, timedelta
from typing import Any

import redis
from django.db import connection
from django.db.models import F, OuterRef, QuerySet, Subquery, Sum
from django.db.models.functions import Coalesce

from projects.governance.models import AuditAction, AuditEvent
from projects.models import Project
from tracking import db
from tracking.conf import tracking_settings
from tracking.ingest import buffer
from tracking.models import Dataset, DatasetDay, DeadLetter, SavedQuery

WORKER_STALE_SECONDS = 30


def dataset_list(*, project: Project) -> QuerySet[Dataset]:
    return Dataset.objects.filter(project=project)


def dataset_get(*, project: Project, name: str) -> Dataset | None:
    return Dataset.objects.filter(project=project, name=name).first()


def figures_since(*, today: date) -> date:
    return today - timedelta(days=db.FIGURE_DAYS)


def project_list_with_figures(queryset: QuerySet[Project]) -> QuerySet[Project]:
    """Projects with ``project.figures``: their last 30 days (staff only), one join whatever the sort."""
    return queryset.select_related("figures")


def dataset_figures_annotate(queryset: QuerySet[Dataset], *, today: date) -> QuerySet[Dataset]:
    """Datasets with their points of the last 30 days and estimated bytes on disk."""
    points = DatasetDay.objects.filter(dataset=OuterRef("pk"), day__gte=figures_since(today=today))
    return queryset.annotate(
        points_30d=Coalesce(Subquery(points.values("dataset").annotate(total=Sum("points")).values("total")), 0),
        storage_bytes=F("storage__bytes"),
    )


def health_report() -> dict[str, Any]:
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


def pipeline_report(*, today: date) -> dict[str, Any]:
    """What /healthz knows plus what an operator asks next: backlog age, last drain and
    retention run, partitions ahead, open dead letters (staff only; /healthz stays terse)."""
    health = health_report()
    report: dict[str, Any] = {
        "health": health, "oldest_entry_seconds": None, "last_drain": None, "last_retention": None,
        "partitions_ahead": None, "dead_letters_open": None,
    }
    if health.get("redis", {}).get("status") == "ok":
        try:
            report["oldest_entry_seconds"] = buffer.buffer_oldest_age()
            report["last_drain"] = buffer.event_last(topic="drain")
            report["last_retention"] = buffer.event_last(topic="retention")
        except redis.RedisError:
            pass
    if health.get("database", {}).get("status") != "down":
        report["partitions_ahead"] = sum(1 for name in db.partition_list() if db.partition_day(name) > today)
        report["dead_letters_open"] = DeadLetter.objects.filter(resolution="").count()
    return report


def saved_query_list(*, project: Project) -> QuerySet[SavedQuery]:
    return SavedQuery.objects.filter(project=project).order_by("name")


def sql_history_list(*, project: Project, user: Any, limit: int = 20) -> list[AuditEvent]:
    """The member's own recent SQL, from the audit log (every query is recorded there, whichever way it ran)."""
    return list(
        AuditEvent.objects.filter(project=project, action=AuditAction.SQL_RUN, user=user).order_by("-created_at", "-id")[
            :limit
        ]
    )
