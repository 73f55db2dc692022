import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db import transaction
from django.db.models import Exists, F, OuterRef, QuerySet, Value
from django.db.models.functions import Coalesce
from django.http import HttpRequest, HttpResponse
from django.template.defaultfilters import filesizeformat
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from projects.admin import ProjectAdmin
from projects.governance.models import FILTER_COLUMNS, DeletionJob, ProjectQuota
from projects.governance.quotas import quota_ingest_share
from projects.models import Project
from tracking import db, tasks
from tracking.alerts.models import AlertRule, Budget
from tracking.conf import tracking_settings
from tracking.deletion.services import DeletionInvalid, deletion_request
from tracking.models import Dataset, DeadLetter, DeadLetterResolution, Projection, SavedQuery
from tracking.otlp.services import dataset_otlp_mapping_set
from tracking.projections.selectors import projection_progress
from tracking.projections.services import projection_drop
from tracking.reports.selectors import REPORTS
from tracking.selectors import dataset_figures_annotate, project_list_with_figures
from tracking.services import dataset_labels_validate, dataset_update, dead_letter_discard, dead_letter_points

QUOTA_WARNING_SHARE = 0.8
#: Sorts projects that never wrote below every other (instead of PostgreSQL's NULLs first when descending).
NEVER = datetime(1970, 1, 1, tzinfo=UTC)


class DatasetAdminForm(forms.ModelForm):
    class Meta:
        model = Dataset
        fields = ["project", "name", "retention_days", "labels", "otlp_mapping"]

    def clean_labels(self) -> dict[str, str]:
        return dataset_labels_validate(labels=self.cleaned_data["labels"])


def _progress(projection: Projection) -> str:
    return f"{projection_progress(projection=projection):.0%}"


@admin.register(Projection)
class ProjectionAdmin(admin.ModelAdmin):
    """Read-mostly for platform admins: each projection's state and backfill, and a drop action.

    Adding one is the owners' choice (dataset page, API); a drop goes through the service, which
    deletes its rows too, so queries it answered read raw points again.
    """

    list_display = ["name", "dataset_name", "project", "dimensions", "doubles", "grain", "state", "progress", "created_at", "ready_at"]
    list_filter = ["state", "grain"]
    search_fields = ["name", "dataset__name", "dataset__project__slug"]
    fields = ("dataset", "name", "dimensions", "doubles", "grain", "state", "progress", "backfill_cursor", "backfill_until",
              "created_at", "ready_at", "bucket_rows", "bucket_points", "measured_at")
    readonly_fields = fields
    actions = ["drop"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Projection]:
        return super().get_queryset(request).select_related("dataset__project")

    def get_actions(self, request: HttpRequest) -> dict[str, Any]:
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Projection | None = None) -> bool:
        return False

    @admin.display(description="dataset", ordering="dataset__name")
    def dataset_name(self, obj: Projection) -> str:
        return obj.dataset.name

    @admin.display(description="project", ordering="dataset__project__slug")
    def project(self, obj: Projection) -> str:
        return obj.dataset.project.slug

    @admin.display(description="backfilled")
    def progress(self, obj: Projection) -> str:
        return _progress(obj)

    def delete_model(self, request: HttpRequest, obj: Projection) -> None:
        projection_drop(projection=obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Projection]) -> None:
        for projection in queryset:
            projection_drop(projection=projection)

    @admin.action(description="Drop selected projections (and their rows)", permissions=["delete"])
    def drop(self, request: HttpRequest, queryset: QuerySet[Projection]) -> None:
        names = [f"{projection.dataset}/{projection.name}" for projection in queryset]
        self.delete_queryset(request, queryset)
        self.message_user(request, f"Dropped {len(names)} projection(s): {', '.join(names)}.")


@admin.register(Dataset)
class DatasetAdmin(admin.ModelAdmin):
    form = DatasetAdminForm
    list_display = ["name", "project", "retention_days", "last_write_at", "created_at"]
    list_filter = ["project"]
    search_fields = ["name", "project__slug"]
    readonly_fields = ["created_at", "last_write_at", "row_estimate", "projections"]
    fields = ["project", "name", "retention_days", "labels", "otlp_mapping", "row_estimate", "projections", "last_write_at", "created_at"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Dataset]:
        return super().get_queryset(request).select_related("project")

    def save_model(self, request: HttpRequest, obj: Dataset, form: Any, change: bool) -> None:
        """Through the service, so a label change rebuilds the dataset's rollups."""
        if not change:
            super().save_model(request, obj, form, change)
            return
        stored = Dataset.objects.get(pk=obj.pk)
        with transaction.atomic():
            dataset_otlp_mapping_set(dataset=stored, mapping=obj.otlp_mapping)
            dataset_update(dataset=stored, retention_days=obj.retention_days, labels=obj.labels)

    @admin.display(description="projections")
    def projections(self, obj: Dataset) -> str:
        """Read-only here: owners add them on the dataset's page or through the API (docs/projections.md)."""
        found = list(obj.projections.order_by("name")) if obj.pk else []
        if not found:
            return "none"
        return format_html_join(
            ", ",
            '<a href="{}">{}</a> ({}, {})',
            (
                (reverse("admin:tracking_projection_change", args=[p.pk]), p.name, p.get_state_display(), _progress(p))
                for p in found
            ),
        )

    @admin.display(description="rows")
    def row_estimate(self, obj: Dataset) -> int:
        """Counted exactly on the dataset's own page only: a count per row of a list would be slow."""
        return db.datapoint_count(dataset_id=obj.id) if obj.pk else 0


class DiscardForm(forms.Form):
    reason = forms.CharField(max_length=500, widget=forms.Textarea(attrs={"rows": 3}), help_text="Goes to the audit log.")


class ResolvedFilter(admin.SimpleListFilter):
    title = "state"
    parameter_name = "state"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("open", "Open"), *DeadLetterResolution.choices]

    def queryset(self, request: HttpRequest, queryset: QuerySet[DeadLetter]) -> QuerySet[DeadLetter]:
        if self.value() == "open":
            return queryset.filter(resolution="")
        if self.value():
            return queryset.filter(resolution=self.value())
        return queryset


@admin.register(SavedQuery)
class SavedQueryAdmin(admin.ModelAdmin):
    """Read-only for platform admins: members save queries in the explorer, where saving is audited."""

    list_display = ["name", "project", "created_by", "updated_at"]
    list_filter = ["project"]
    search_fields = ["name", "sql", "project__slug"]
    readonly_fields = ["project", "name", "sql", "created_by", "created_at", "updated_at"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: SavedQuery | None = None) -> bool:
        return False


@admin.register(DeadLetter)
class DeadLetterAdmin(admin.ModelAdmin):
    """Replay re-writes an entry through the drain's path in a worker; discard records why not."""

    list_display = ["entry_id", "dataset", "error", "created_at", "resolution", "resolved_by"]
    list_filter = [ResolvedFilter]
    search_fields = ["entry_id", "error", "dataset__name", "dataset__project__slug"]
    fields = ("entry_id", "dataset", "error", "first_points", "created_at", "resolution", "resolved_at", "resolved_by",
              "resolution_note", "replayed_points")
    readonly_fields = fields
    actions = ["replay", "discard"]
    PREVIEW_POINTS = 5

    def get_queryset(self, request: HttpRequest) -> QuerySet[DeadLetter]:
        return super().get_queryset(request).select_related("dataset__project")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description=f"first {PREVIEW_POINTS} points")
    def first_points(self, obj: DeadLetter) -> str:
        points = dead_letter_points(dead_letter=obj, limit=self.PREVIEW_POINTS)
        return format_html("<pre>{}</pre>", json.dumps(points, indent=1, ensure_ascii=False))

    @admin.action(description="Replay selected dead letters (stores each once)", permissions=["change"])
    def replay(self, request: HttpRequest, queryset: QuerySet[DeadLetter]) -> None:
        open_ids = list(queryset.filter(resolution="").values_list("pk", flat=True))
        for pk in open_ids:
            tasks.replay_dead_letter.apply_async(args=(pk, request.user.pk), queue=tracking_settings.DRAIN_QUEUE)
        self.message_user(request, f"Queued {len(open_ids)} dead letter(s) for replay; resolved ones were skipped.")

    @admin.action(description="Discard selected dead letters…", permissions=["change"])
    def discard(self, request: HttpRequest, queryset: QuerySet[DeadLetter]) -> HttpResponse | None:
        form = DiscardForm(request.POST if "apply" in request.POST else None)
        letters = list(queryset)
        if form.is_bound and form.is_valid():
            count = sum(dead_letter_discard(dead_letter=letter, reason=form.cleaned_data["reason"]) for letter in letters)
            self.message_user(request, f"Discarded {count} dead letter(s).")
            return None
        context = {
            **self.admin_site.each_context(request),
            "title": "Discard dead letters",
            "opts": self.model._meta,
            "letters": letters,
            "form": form,
            "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(request, "admin/tracking/deadletter/discard.html", context)


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
    list_display = ["id", "project_slug", "dataset_name", "kind", "column", "status", "deleted_rows", "requested_by", "created_at", "finished_at"]
    list_filter = ["status", "kind"]
    search_fields = ["dataset_name", "project_slug", "value"]
    form = DeletionJobForm

    def get_fields(self, request: HttpRequest, obj: DeletionJob | None = None) -> tuple[str, ...]:
        if obj is None:
            return ("dataset", "column", "value")
        return ("project_slug", "dataset_name", "kind", "column", "value", "status", "phase", "deleted_rows",
                "requested_by", "error", "created_at", "finished_at")

    def get_readonly_fields(self, request: HttpRequest, obj: DeletionJob | None = None) -> tuple[str, ...]:
        return () if obj is None else self.get_fields(request, obj)

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


class DatasetInline(admin.TabularInline):
    """Read-only: retention and labels change on the dataset's own page, through the service
    (a label change rebuilds the dataset's rollups)."""

    model = Dataset
    extra = 0
    fields = ("name", "retention_days", "labels", "points_30d", "storage", "last_write_at", "reports")
    readonly_fields = fields
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_queryset(self, request: HttpRequest) -> QuerySet[Dataset]:
        return dataset_figures_annotate(super().get_queryset(request), today=timezone.now().date())

    @admin.display(description="points (30 d)")
    def points_30d(self, obj: Dataset) -> int:
        return obj.points_30d

    @admin.display(description="on disk (est.)")
    def storage(self, obj: Dataset) -> str:
        return "–" if obj.storage_bytes is None else filesizeformat(obj.storage_bytes)

    @admin.display(description="reports")
    def reports(self, obj: Dataset) -> str:
        url = reverse("web:overview", args=[obj.project.slug])
        return format_html('<a href="{}?dataset={}">reports</a>', url, obj.name)


class ReadOnlyInline(admin.TabularInline):
    """Budgets and alert rules change through the API or the project's pages, whose services
    validate them and keep the audit log (tracking/alerts/admin.py); admin shows them."""

    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class BudgetInline(ReadOnlyInline):
    model = Budget
    fields = ("name", "dataset", "period", "amount_usd", "spent_usd", "forecast_usd", "crossed", "evaluated_at")
    readonly_fields = fields


class AlertRuleInline(ReadOnlyInline):
    model = AlertRule
    fields = ("name", "dataset", "metric", "op", "threshold", "window_minutes", "state", "last_value", "evaluated_at")
    readonly_fields = fields


class ActivityFilter(admin.SimpleListFilter):
    title = "last write"
    parameter_name = "activity"
    WINDOWS = {"day": timedelta(days=1), "week": timedelta(days=7)}

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("day", "In the last day"), ("week", "In the last week"), ("silent", "Silent for a week")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Project]) -> QuerySet[Project]:
        value = self.value()
        if value is None:
            return queryset
        since = timezone.now() - self.WINDOWS.get(value, self.WINDOWS["week"])
        recent = Exists(Dataset.objects.filter(project=OuterRef("pk"), last_write_at__gte=since))
        return queryset.filter(~recent if value == "silent" else recent)


class QuotaFilter(admin.SimpleListFilter):
    title = "quota"
    parameter_name = "quota"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("over80", "Over 80% of a daily quota")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Project]) -> QuerySet[Project]:
        if self.value() != "over80":
            return queryset
        shares = quota_ingest_share(quotas=ProjectQuota.objects.all())
        return queryset.filter(pk__in=[pk for pk, share in shares.items() if share >= QUOTA_WARNING_SHARE])


def _count(value: int | Decimal) -> str:
    return f"{value:,.0f}" if value else "0"


class ProjectConsoleAdmin(ProjectAdmin):
    """The project list with each project's last 30 days, and its datasets on its page.

    Figures come from ``tracking_dataset_day`` (kept by the drain with the rollups) and the
    storage estimate (refreshed every 10 minutes); quota use from Redis, one round trip per page. docs/admin.md
    defines each column.
    """

    list_display = [
        "slug", "name", "status", "points", "requests", "errors_5xx", "errors_5xx_share", "cost", "ai_tokens",
        "storage", "last_write", "dataset_count", "member_count", "quota_use",
    ]
    list_filter = [*ProjectAdmin.list_filter, ActivityFilter, QuotaFilter]
    inlines = [*ProjectAdmin.inlines, DatasetInline, BudgetInline, AlertRuleInline]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Project]:
        return project_list_with_figures(super().get_queryset(request))

    def get_readonly_fields(self, request: HttpRequest, obj: Project | None = None) -> list[str]:
        return [*super().get_readonly_fields(request, obj), "links"]

    def get_fields(self, request: HttpRequest, obj: Project | None = None) -> tuple[str, ...]:
        fields = super().get_fields(request, obj)
        return fields if obj is None else (*fields, "links")

    def changelist_view(self, request: HttpRequest, extra_context: dict | None = None) -> HttpResponse:
        response = super().changelist_view(request, extra_context)
        changelist = getattr(response, "context_data", {}).get("cl")
        if changelist is not None:
            rows = list(changelist.result_list)
            shares = quota_ingest_share(quotas=ProjectQuota.objects.filter(project__in=rows))
            for project in rows:
                project.quota_share = shares.get(project.pk)
        return response

    @admin.display(description="points (30 d)", ordering="figures__points")
    def points(self, obj: Project) -> str:
        return _count(obj.figures.points)

    @admin.display(description="requests", ordering="figures__requests")
    def requests(self, obj: Project) -> str:
        return _count(obj.figures.requests)

    @admin.display(description="5xx", ordering="figures__errors_5xx")
    def errors_5xx(self, obj: Project) -> str:
        return _count(obj.figures.errors_5xx)

    @admin.display(description="5xx share", ordering=Coalesce(F("figures__errors_5xx_share"), Value(-1.0)))
    def errors_5xx_share(self, obj: Project) -> str:
        share = obj.figures.errors_5xx_share
        return "–" if share is None else f"{share:.1%}"

    @admin.display(description="cost (USD)", ordering="figures__cost_usd")
    def cost(self, obj: Project) -> str:
        return f"{obj.figures.cost_usd:,.2f}"

    @admin.display(description="AI tokens", ordering="figures__ai_tokens")
    def ai_tokens(self, obj: Project) -> str:
        return _count(obj.figures.ai_tokens)

    @admin.display(description="on disk (est.)", ordering=Coalesce(F("figures__storage_bytes"), Value(-1)))
    def storage(self, obj: Project) -> str:
        size = obj.figures.storage_bytes
        return "–" if size is None else filesizeformat(size)

    @admin.display(description="last write", ordering=Coalesce(F("figures__last_write"), Value(NEVER)))
    def last_write(self, obj: Project) -> str:
        moment = obj.figures.last_write
        return "never" if moment is None else f"{moment:%Y-%m-%d %H:%M}"

    @admin.display(description="datasets", ordering="figures__datasets")
    def dataset_count(self, obj: Project) -> int:
        return obj.figures.datasets

    @admin.display(description="members", ordering="figures__members")
    def member_count(self, obj: Project) -> int:
        return obj.figures.members

    @admin.display(description="quota today")
    def quota_use(self, obj: Project) -> str:
        share = getattr(obj, "quota_share", None)
        if share is None:
            return "–"
        if share >= QUOTA_WARNING_SHARE:
            return format_html('<strong class="quota-warning">{}%</strong>', round(share * 100))
        return f"{round(share * 100)}%"

    @admin.display(description="links")
    def links(self, obj: Project) -> str:
        reports = format_html_join(
            " · ",
            '<a href="{}">{}</a>',
            ((reverse("web:overview" if name == "overview" else "web:report", args=[obj.slug] + ([] if name == "overview" else [name])), name) for name in REPORTS),
        )
        audit = reverse("admin:governance_auditevent_changelist") + f"?project_slug={obj.slug}"
        return format_html('Reports: {} — <a href="{}">audit log</a>', reports, audit)


admin.site.unregister(Project)
admin.site.register(Project, ProjectConsoleAdmin)
