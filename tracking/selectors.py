"""Reads of the tracking app."""

from datetime import date, timedelta

from django.db import connection
from django.db.models import Count, F, FloatField, Max, OuterRef, QuerySet, Subquery, Sum, Value
from django.db.models.functions import Cast, Coalesce, NullIf

from projects.models import Membership, Project
from tracking.conf import tracking_settings
from tracking.ingest import buffer
from tracking.models import Dataset, DatasetDay, DatasetStorage

#: Admin figures cover this many UTC days before today, and today: the reports' "30d" window.
FIGURE_DAYS = 30
DAY_FIGURES = ("points", "requests", "errors_5xx", "cost_usd", "ai_tokens")

WORKER_STALE_SECONDS = 30


def dataset_list(*, project: Project) -> QuerySet[Dataset]:
    return Dataset.objects.filter(project=project)


def dataset_get(*, project: Project, name: str) -> Dataset | None:
    return Dataset.objects.filter(project=project, name=name).first()


def _summed(model: type, field: str, *, key: str, **filters: object) -> Subquery:
    rows = model.objects.filter(**{key: OuterRef("pk")}, **filters).values(key).annotate(total=Sum(field)).values("total")
    return Subquery(rows)


def figures_since(*, today: date) -> date:
    return today - timedelta(days=FIGURE_DAYS)


def project_figures_annotate(queryset: QuerySet[Project], *, today: date) -> QuerySet[Project]:
    """Projects with their figures of the last 30 days, sortable in SQL (staff only).

    From the day totals kept with the rollups and the hourly storage estimate, never the
    points: each figure is one index range scan per project shown (or per project, when
    sorting by it).
    """
    since = figures_since(today=today)
    day_figures = {
        f"{name}_30d": Coalesce(_summed(DatasetDay, name, key="project", day__gte=since), Value(0), output_field=DatasetDay._meta.get_field(name))
        for name in DAY_FIGURES
    }
    counts = {
        "datasets_count": Coalesce(
            Subquery(Dataset.objects.filter(project=OuterRef("pk")).values("project").annotate(n=Count("pk")).values("n")), 0
        ),
        "members_count": Coalesce(
            Subquery(Membership.objects.filter(project=OuterRef("pk")).values("project").annotate(n=Count("pk")).values("n")), 0
        ),
        "last_write": Subquery(
            Dataset.objects.filter(project=OuterRef("pk")).values("project").annotate(at=Max("last_write_at")).values("at")
        ),
        "storage_bytes": _summed(DatasetStorage, "bytes", key="project"),
    }
    return queryset.annotate(**day_figures, **counts).annotate(
        errors_5xx_share=Cast(F("errors_5xx_30d"), FloatField()) / NullIf(Cast(F("requests_30d"), FloatField()), 0.0)
    )


def dataset_figures_annotate(queryset: QuerySet[Dataset], *, today: date) -> QuerySet[Dataset]:
    """Datasets with their points of the last 30 days and estimated bytes on disk."""
    since = figures_since(today=today)
    return queryset.annotate(
        points_30d=Coalesce(_summed(DatasetDay, "points", key="dataset", day__gte=since), 0),
        storage_bytes=F("storage__bytes"),
    )


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
