from django.conf import settings
from django.db import models
from django.db.models import Q

from meauxcloud.columns import BLOB_COLUMNS, INDEX_COLUMN
from projects.models import Project


class ProjectQuota(models.Model):
    """Per-project limits, enforced atomically in Redis; an empty field means unlimited."""

    project = models.OneToOneField(Project, on_delete=models.CASCADE, related_name="quota")
    points_per_day = models.PositiveBigIntegerField(null=True, blank=True, help_text="Accepted points per UTC day.")
    bytes_per_day = models.PositiveBigIntegerField(
        null=True, blank=True, help_text="Accepted point data (index, blob bytes, 8 per double) per UTC day."
    )
    queries_per_minute = models.PositiveIntegerField(null=True, blank=True)
    concurrent_queries = models.PositiveIntegerField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"quota of {self.project}"


class AuditAction(models.TextChoices):
    KEY_CREATE = "key.create", "API key created"
    KEY_REVOKE = "key.revoke", "API key revoked"
    MEMBER_SET = "member.set", "Member added or role changed"
    MEMBER_REMOVE = "member.remove", "Member removed"
    DATASET_RETENTION = "dataset.retention", "Dataset retention changed"
    DATA_DELETE_REQUEST = "data.delete_request", "Data deletion requested"
    DATA_DELETE_DONE = "data.delete_done", "Data deletion finished"
    SQL_RUN = "sql.run", "SQL query run"
    SAVED_QUERY = "sql.saved", "Saved SQL query changed"
    PROJECT_SUSPEND = "project.suspend", "Project suspended"
    PROJECT_RESUME = "project.resume", "Project resumed"
    ALERTS_CHANGE = "alerts.change", "Budget, alert rule or channel changed"
    ALERTS_EVENT = "alerts.event", "Budget or alert notification"
    DEAD_LETTER_REPLAY = "dead_letter.replay", "Dead letter replayed"
    DEAD_LETTER_DISCARD = "dead_letter.discard", "Dead letter discarded"
    PROJECTION_CHANGE = "projection.change", "Projection added or dropped"


class AuditOutcome(models.TextChoices):
    OK = "ok", "OK"
    ERROR = "error", "Error"
    REFUSED = "refused", "Refused"


class AuditEvent(models.Model):
    """One compliance-relevant action: who did what to which project, and how it ended.

    Append-only; the project slug is copied so the trail outlives a deleted project.
    """

    # No database constraint: an event written while its project or user is being deleted
    # (a membership cascade) must not abort that deletion; the copied slug and actor remain.
    # No index of its own either: ``audit_project_time`` leads with it, and every SQL query
    # writes an event, so each index is paid for on every query.
    project = models.ForeignKey(
        Project, null=True, on_delete=models.DO_NOTHING, db_constraint=False, db_index=False, related_name="audit_events"
    )
    project_slug = models.CharField(max_length=64)
    action = models.CharField(max_length=32, choices=AuditAction.choices)
    actor = models.CharField(max_length=200, help_text='"user alice", "key mc_1a2b3c4d" or "system".')
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.DO_NOTHING, db_constraint=False, related_name="+"
    )
    api_key_prefix = models.CharField(max_length=16, blank=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    target = models.CharField(max_length=200, blank=True)
    outcome = models.CharField(max_length=8, choices=AuditOutcome.choices, default=AuditOutcome.OK)
    details = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["project", "-created_at"], name="audit_project_time")]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M:%S} {self.project_slug} {self.action} by {self.actor}"


class DeletionKind(models.TextChoices):
    DATASET = "dataset", "Whole dataset"
    FILTER = "filter", "Points matching a filter"


class DeletionStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"


#: The columns a filtered deletion can match on.
FILTER_COLUMNS = [INDEX_COLUMN, *BLOB_COLUMNS]


class DeletionJob(models.Model):
    """A deletion carried out in bounded batches by a Celery task, resumable after any crash.

    ``buffer_marker`` is the last buffer entry id when the job (or its current phase)
    started: the job waits until every entry up to it is stored, so points accepted
    before the request cannot land after the deletion.
    """

    # A job outlives its project: deleting a project schedules the deletion of its datasets' points,
    # which takes longer than the request that deleted the project.
    project = models.ForeignKey(Project, null=True, on_delete=models.SET_NULL, related_name="deletion_jobs")
    project_slug = models.CharField(max_length=64, help_text="Copied, so the job still names a deleted project.")
    dataset_id_value = models.BigIntegerField(help_text="Id of the dataset (kept after the dataset row is gone).")
    dataset_name = models.CharField(max_length=64)
    kind = models.CharField(max_length=8, choices=DeletionKind.choices)
    column = models.CharField(max_length=8, blank=True, choices=[(c, c) for c in FILTER_COLUMNS])
    value = models.TextField(blank=True)
    status = models.CharField(max_length=8, choices=DeletionStatus.choices, default=DeletionStatus.PENDING)
    phase = models.CharField(max_length=16, default="wait_buffer")
    buffer_marker = models.CharField(max_length=40, default="0-0")
    partitions_done_through = models.CharField(
        max_length=64, blank=True, help_text="Partitions up to this name are clean; a resumed job starts after it."
    )
    deleted_rows = models.BigIntegerField(default=0)
    requested_by = models.CharField(max_length=200)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(kind="dataset") | (Q(kind="filter") & ~Q(column="")),
                name="deletion_filter_has_column",
            ),
        ]

    def __str__(self) -> str:
        scope = self.dataset_name if self.kind == DeletionKind.DATASET else f"{self.dataset_name} where {self.column}"
        return f"delete {scope} ({self.status})"
