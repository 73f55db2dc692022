from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse

from projects.governance.audit import audit_csv
from projects.governance.deletion import DeletionInvalid, deletion_request
from projects.governance.models import FILTER_COLUMNS, AuditEvent, DeletionJob, ProjectQuota
from projects.governance.quotas import quota_limits_forget, quota_usage
from tracking.models import Dataset


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


class DeletionJobForm(forms.ModelForm):
    dataset = forms.ModelChoiceField(queryset=Dataset.objects.select_related("project").order_by("project__slug", "name"))
    column = forms.ChoiceField(
        choices=[("", "— the whole dataset —")] + [(c, c) for c in FILTER_COLUMNS], required=False
    )
    value = forms.CharField(required=False, help_text="Delete only the points whose column equals this value.", strip=False)

    class Meta:
        model = DeletionJob
        fields: list[str] = []


@admin.register(DeletionJob)
class DeletionJobAdmin(admin.ModelAdmin):
    list_display = ["id", "project", "dataset_name", "kind", "column", "status", "deleted_rows", "requested_by", "created_at", "finished_at"]
    list_filter = ["status", "kind"]
    search_fields = ["dataset_name", "project__slug", "value"]
    form = DeletionJobForm

    def get_fields(self, request: HttpRequest, obj: DeletionJob | None = None) -> list[str]:
        if obj is None:
            return ["dataset", "column", "value"]
        return ["project", "dataset_name", "kind", "column", "value", "status", "phase", "deleted_rows",
                "requested_by", "error", "created_at", "finished_at"]

    def get_readonly_fields(self, request: HttpRequest, obj: DeletionJob | None = None) -> list[str]:
        return [] if obj is None else self.get_fields(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: DeletionJob, form: DeletionJobForm, change: bool) -> None:
        dataset = form.cleaned_data["dataset"]
        try:
            job = deletion_request(
                project=dataset.project, dataset=dataset, column=form.cleaned_data["column"], value=form.cleaned_data["value"]
            )
        except DeletionInvalid as error:
            messages.error(request, str(error))
            return
        obj.pk = job.pk
        obj.__dict__.update({k: v for k, v in job.__dict__.items() if not k.startswith("_")})
