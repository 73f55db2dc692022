from typing import Any

from django import forms
from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from tracking import db
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
