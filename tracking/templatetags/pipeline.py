"""The pipeline panel of admin's index: what /healthz knows, and what an operator asks next."""

from django import template
from django.utils import timezone

from tracking.selectors import pipeline_report

register = template.Library()

#: Admin's index shows the panel and the staff overview only to holders of this permission
#: (superusers hold every permission).
PLATFORM_PERMISSION = "tracking.view_platform_overview"


@register.inclusion_tag("admin/pipeline_panel.html", takes_context=True)
def pipeline_panel(context: template.Context) -> dict[str, object]:
    user = context["request"].user
    if not user.has_perm(PLATFORM_PERMISSION):
        return {"visible": False}
    report = pipeline_report(today=timezone.now().date())
    health = report["health"]
    now = timezone.now().timestamp()

    def ago(event: dict | None) -> float | None:
        return None if not event else max(0.0, now - float(event["at"]))

    return {
        "visible": True,
        "report": report,
        "health": health,
        "database_red": health.get("database", {}).get("status") != "ok",
        "redis_red": health.get("redis", {}).get("status") != "ok",
        "buffer_red": not health.get("buffer", {}).get("accepting", False),
        "workers_red": health.get("workers", {}).get("status") != "ok",
        "drain_seconds_ago": ago(report["last_drain"]),
        "retention_seconds_ago": ago(report["last_retention"]),
    }
