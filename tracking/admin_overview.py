"""A staff page in Django admin: usage, errors and cost of every project, and the busiest datasets.

Reads the hour rollup tier only, so it costs milliseconds however many points exist.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils import timezone

from projects.models import Project
from tracking.models import Dataset
from tracking.reports import db as reports_db

OVERVIEW_DAYS = 30
TOP_DATASETS = 20


def admin_overview_data(*, now) -> dict[str, object]:
    since = now - timedelta(days=OVERVIEW_DAYS)
    totals = {row[0]: row[1:] for row in reports_db.project_totals(since=since)}
    projects: list[dict[str, Any]] = []
    for project in Project.objects.order_by("slug"):
        requests, fives, errors, cost = totals.get(project.id, (0, 0, 0, Decimal(0)))
        projects.append(
            {
                "project": project,
                "requests": requests,
                "errors_5xx": fives,
                "error_rate": (fives / requests) if requests else None,
                "error_events": errors,
                "cost_usd": cost,
            }
        )
    projects.sort(key=lambda row: (-row["cost_usd"], -row["requests"], row["project"].slug))
    volumes = reports_db.dataset_volumes(since=since)[:TOP_DATASETS]
    datasets = Dataset.objects.select_related("project").in_bulk([dataset_id for dataset_id, _ in volumes])
    return {
        "days": OVERVIEW_DAYS,
        "projects": projects,
        "datasets": [{"dataset": datasets[i], "points": n} for i, n in volumes if i in datasets],
    }


OVERVIEW_PERMISSION = "tracking.view_platform_overview"


def admin_overview(request: HttpRequest) -> HttpResponse:
    """Every tenant's figures: staff status alone is not enough, the permission (or superuser) is."""
    if not request.user.has_perm(OVERVIEW_PERMISSION):
        raise PermissionDenied
    context = {**admin.site.each_context(request), "title": "Reports overview", **admin_overview_data(now=timezone.now())}
    return TemplateResponse(request, "admin/overview.html", context)


admin_overview_view = admin.site.admin_view(admin_overview)
