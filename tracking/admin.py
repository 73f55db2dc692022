from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from tracking import db
from tracking.models import DeadLetter, Dataset


@admin.register(Dataset)
class DatasetAdmin(admin.ModelAdmin):
    list_display = ["name", "project", "retention_days", "last_write_at", "created_at"]
    list_filter = ["project"]
    search_fields = ["name", "project__slug"]
    readonly_fields = ["created_at", "last_write_at", "row_estimate"]
    fields = ["project", "name", "retention_days", "labels", "row_estimate", "last_write_at", "created_at"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Dataset]:
        return super().get_queryset(request).select_related("project")

    @admin.display(description="rows")
    def row_estimate(self, obj: Dataset) -> int:
        """Counted exactly on the dataset's own page only: a count per row of a list would be slow."""
        return db.datapoint_count(dataset_id=obj.id) if obj.pk else 0


@admin.register(DeadLetter)
class DeadLetterAdmin(admin.ModelAdmin):
    list_display = ["entry_id", "dataset", "error", "created_at"]
    readonly_fields = ["entry_id", "dataset", "error", "created_at"]
    exclude = ["payload"]
