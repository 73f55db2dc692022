from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse

from projects.governance.audit import audit_csv
from projects.governance.models import AuditEvent, ProjectQuota
from projects.governance.quotas import quota_limits_forget, quota_usage


@admin.register(ProjectQuota)
class ProjectQuotaAdmin(admin.ModelAdmin):
    list_display = ["project", "points_per_day", "bytes_per_day", "queries_per_minute", "concurrent_queries", "updated_at"]
    search_fields = ["project__slug"]
    autocomplete_fields = ["project"]
    readonly_fields = ["usage_now"]

    @admin.display(description="usage now")
    def usage_now(self, obj: ProjectQuota) -> str:
        if obj.pk is None:
            return "-"
        usage = quota_usage(project=obj.project)
        return (
            f"{usage.points_today} points and {usage.bytes_today} bytes today (UTC); "
            f"{usage.queries_this_minute} queries this minute; {usage.running_queries} running"
        )

    def save_model(self, request: HttpRequest, obj: ProjectQuota, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        quota_limits_forget(project_id=obj.project_id)


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    """Read-only: an audit trail nobody can edit from the UI."""

    list_display = ["created_at", "project_slug", "action", "actor", "target", "outcome"]
    list_filter = ["action", "outcome", "project_slug"]
    search_fields = ["actor", "target", "project_slug", "api_key_prefix"]
    date_hierarchy = "created_at"
    actions = ["export_csv"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.action(description="Export selected events as CSV")
    def export_csv(self, request: HttpRequest, queryset: QuerySet[AuditEvent]) -> HttpResponse:
        response = HttpResponse(audit_csv(queryset.order_by("-id")), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = 'attachment; filename="audit.csv"'
        return response
