from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from projects.governance.models import FILTER_COLUMNS, DeletionJob
from tracking import db
from tracking.deletion.services import DeletionInvalid, deletion_request
from tracking.models import Dataset, DeadLetter
from tracking.services import dataset_labels_validate, dataset_update


class DatasetAdminForm(forms.ModelForm):
    class Meta:
        model = Dataset
        fields = ["project", "name", "retention_days", "labels"]

    def clean_labels(self) -> dict[str, str]:
        return dataset_labels_validate(labels=self.cleaned_data["labels"])


@admin.register(Dataset)
class DatasetAdmin(admin.ModelAdmin):
    form = DatasetAdminForm
    list_display = ["name", "project", "retention_days", "last_write_at", "created_at"]
    list_filter = ["project"]
    search_fields = ["name", "project__slug"]
    readonly_fields = ["created_at", "last_write_at", "row_estimate"]
    fields = ["project", "name", "retention_days", "labels", "row_estimate", "last_write_at", "created_at"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Dataset]:
        return super().get_queryset(request).select_related("project")

    def save_model(self, request: HttpRequest, obj: Dataset, form: Any, change: bool) -> None:
        """Through the service, so a label change rebuilds the dataset's rollups."""
        if not change:
            super().save_model(request, obj, form, change)
            return
        stored = Dataset.objects.get(pk=obj.pk)
        dataset_update(dataset=stored, retention_days=obj.retention_days, labels=obj.labels)

    @admin.display(description="rows")
    def row_estimate(self, obj: Dataset) -> int:
        """Counted exactly on the dataset's own page only: a count per row of a list would be slow."""
        return db.datapoint_count(dataset_id=obj.id) if obj.pk else 0


@admin.register(DeadLetter)
class DeadLetterAdmin(admin.ModelAdmin):
    list_display = ["entry_id", "dataset", "error", "created_at"]
    readonly_fields = ["entry_id", "dataset", "error", "created_at"]
    exclude = ["payload"]


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

    def get_fields(self, request: HttpRequest, obj: DeletionJob | None = None) -> list[str]:
        if obj is None:
            return ["dataset", "column", "value"]
        return ["project_slug", "dataset_name", "kind", "column", "value", "status", "phase", "deleted_rows",
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
