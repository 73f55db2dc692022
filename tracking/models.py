import re

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.db.models import Q

from projects.models import Project
from tracking.otlp.mapping import mapping_validate

# The one naming rule of datasets, and of labels: both become SQL identifiers (the database checks it too).
DATASET_NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]{0,63}$"
DATASET_NAME_RE = re.compile(DATASET_NAME_PATTERN)
MAX_RETENTION_DAYS = 3650


def otlp_mapping_validator(value: object) -> None:
    mapping_validate(mapping=value)


class Dataset(models.Model):
    """A named table of data points inside a project, as an Analytics Engine dataset is.

    Created on the first write, like Analytics Engine, or ahead of time in admin to set
    retention and labels. The points themselves live in the partitioned
    ``tracking_datapoint`` table (see ``tracking/db.py``), keyed by this id.
    """

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="datasets")
    name = models.CharField(
        max_length=64,
        validators=[RegexValidator(DATASET_NAME_PATTERN, "Letters, digits and underscores; 64 at most.")],
    )
    retention_days = models.PositiveIntegerField(
        default=92, validators=[MinValueValidator(1), MaxValueValidator(MAX_RETENTION_DAYS)]
    )
    labels = models.JSONField(
        default=dict,
        blank=True,
        help_text='Column names for SQL and reports, e.g. {"blob2": "path", "double1": "duration_ms"}.',
    )
    otlp_mapping = models.JSONField(
        default=dict,
        blank=True,
        validators=[otlp_mapping_validator],
        help_text="How OTLP spans, logs and metrics become points; only what differs from the defaults (docs/otlp.md).",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    last_write_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["project_id", "name"]
        constraints = [
            models.UniqueConstraint(fields=["project", "name"], name="dataset_unique_name_per_project"),
            models.CheckConstraint(condition=Q(name__regex=DATASET_NAME_PATTERN), name="dataset_name_valid"),
            models.CheckConstraint(
                condition=Q(retention_days__gte=1, retention_days__lte=MAX_RETENTION_DAYS),
                name="dataset_retention_range",
            ),
        ]
        permissions = [("view_platform_overview", "Can view the reports overview of every project")]

    def __str__(self) -> str:
        return f"{self.project.slug}/{self.name}"


class IngestedEntry(models.Model):
    """Ledger of buffer entries whose points are committed, written in the same transaction.

    A worker killed after COMMIT but before XACK gets its entry delivered again; finding
    the entry here turns that redelivery into a plain acknowledgement, so nothing is
    stored twice without a unique index on the (large) points table.
    """

    entry_id = models.CharField(max_length=40, primary_key=True)
    points = models.PositiveIntegerField()
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)


class DeadLetterResolution(models.TextChoices):
    REPLAYED = "replayed", "Replayed"
    DISCARDED = "discarded", "Discarded"


class DeadLetter(models.Model):
    """A buffer entry that failed on its own for a reason retrying cannot fix.

    Kept after it is resolved (replayed once its cause is fixed, or discarded with a
    reason), so the record of what failed and what was done about it stays.
    """

    entry_id = models.CharField(max_length=40, unique=True)
    dataset = models.ForeignKey(Dataset, null=True, on_delete=models.SET_NULL, related_name="dead_letters")
    payload = models.BinaryField()
    skip = ArrayField(
        models.PositiveIntegerField(), default=list, blank=True,
        help_text="Positions of the entry's points that were repeats of earlier point ids, as buffered.",
    )
    error = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)
    resolution = models.CharField(max_length=16, choices=DeadLetterResolution.choices, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.CharField(max_length=200, blank=True)
    resolution_note = models.TextField(blank=True)
    replayed_points = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=(Q(resolution="") & Q(resolved_at__isnull=True)) | (~Q(resolution="") & Q(resolved_at__isnull=False)),
                name="dead_letter_resolved_consistently",
            ),
        ]

    def __str__(self) -> str:
        return self.entry_id


class DatasetDay(models.Model):
    """A dataset's figures for one UTC day, kept with the rollups (``tracking.rollups.db``).

    Read-only here: the drain adds to it in the transaction that stores the points, and
    rollup rebuilds (relabels, deletions) recompute it. Admin's project list sums 30 rows
    per dataset instead of scanning points or the rollup tiers.
    """

    pk = models.CompositePrimaryKey("dataset", "day")
    dataset = models.ForeignKey(Dataset, on_delete=models.DO_NOTHING, db_constraint=False, related_name="days")
    day = models.DateField()
    project = models.ForeignKey(Project, on_delete=models.DO_NOTHING, db_constraint=False, related_name="+")
    points = models.BigIntegerField()
    requests = models.BigIntegerField()
    errors_5xx = models.BigIntegerField()
    cost_usd = models.DecimalField(max_digits=65, decimal_places=30)
    ai_tokens = models.DecimalField(max_digits=65, decimal_places=30)

    class Meta:
        managed = False
        db_table = "tracking_dataset_day"


class DatasetStorage(models.Model):
    """Estimated bytes on disk per dataset: each day partition's size shared by its points.

    A materialized view (``tracking.db.storage_view_sql``) refreshed every 10 minutes by the
    ``tracking.refresh_storage`` task: sizes change slowly, and asking PostgreSQL for a
    partition's size per list row would cost a catalog lookup each.
    """

    dataset = models.OneToOneField(
        Dataset, primary_key=True, on_delete=models.DO_NOTHING, db_constraint=False, related_name="storage"
    )
    project = models.ForeignKey(Project, on_delete=models.DO_NOTHING, db_constraint=False, related_name="+")
    bytes = models.BigIntegerField()
    refreshed_at = models.DateTimeField()

    class Meta:
        managed = False
        db_table = "tracking_dataset_storage"


class ProjectFigures(models.Model):
    """A project's last 30 days for admin's list: the view ``tracking.db.figures_view_sql``."""

    project = models.OneToOneField(
        Project, primary_key=True, on_delete=models.DO_NOTHING, db_constraint=False, related_name="figures"
    )
    points = models.BigIntegerField()
    requests = models.BigIntegerField()
    errors_5xx = models.BigIntegerField()
    errors_5xx_share = models.FloatField(null=True)
    cost_usd = models.DecimalField(max_digits=65, decimal_places=30)
    ai_tokens = models.DecimalField(max_digits=65, decimal_places=30)
    storage_bytes = models.BigIntegerField(null=True)
    datasets = models.BigIntegerField()
    last_write = models.DateTimeField(null=True)
    members = models.BigIntegerField()

    class Meta:
        managed = False
        db_table = "tracking_project_figures"


class SavedQuery(models.Model):
    """A named SQL query shared within a project: owners and admins save, every member reads and runs."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="saved_queries")
    name = models.CharField(max_length=120)
    sql = models.TextField()
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "saved queries"
        constraints = [
            models.UniqueConstraint(fields=["project", "name"], name="saved_query_unique_name"),
            models.CheckConstraint(condition=~Q(name=""), name="saved_query_name_not_empty"),
            models.CheckConstraint(condition=~Q(sql=""), name="saved_query_sql_not_empty"),
        ]

    def __str__(self) -> str:
        return f"{self.project.slug}/{self.name}"


#: What a projection may group by and aggregate (``tracking.projections``); the database checks it too.
PROJECTION_DIMENSIONS = ("index1", *(f"blob{i}" for i in range(1, 21)))
PROJECTION_DOUBLES = tuple(f"double{i}" for i in range(1, 21))
PROJECTION_MAX_DIMENSIONS = 4


class ProjectionGrain(models.IntegerChoices):
    MINUTE = 60, "Minute"
    HOUR = 3600, "Hour"
    SIX_HOURS = 21600, "6 hours"
    DAY = 86400, "Day"


class ProjectionState(models.TextChoices):
    BACKFILLING = "backfilling", "Backfilling"
    READY = "ready", "Ready"


class Projection(models.Model):
    """Exact pre-aggregates of a dataset's points that the SQL engine answers covered queries from.

    Per time bucket of ``grain`` and distinct values of ``dimensions`` it keeps the point count,
    the sum of ``_sample_interval``, and per double of ``doubles`` the exact (numeric) sum, the
    exact sum of ``_sample_interval * x``, the minimum and the maximum. Rows live in
    ``tracking_projection_row`` (``tracking.projections.db``) and change in the transaction that
    stores, deletes or expires points. A projection made for points already stored is
    ``backfilling`` until ``projection_backfill_step`` has recomputed every chunk from
    ``backfill_cursor`` through ``backfill_until``; only ``ready`` ones answer queries.
    """

    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="projections")
    name = models.CharField(
        max_length=64,
        validators=[RegexValidator(DATASET_NAME_PATTERN, "Letters, digits and underscores; 64 at most.")],
    )
    dimensions = ArrayField(models.CharField(max_length=8), default=list, blank=True)
    doubles = ArrayField(models.CharField(max_length=8), default=list, blank=True)
    grain = models.PositiveIntegerField(choices=ProjectionGrain.choices, default=ProjectionGrain.HOUR)
    state = models.CharField(max_length=16, choices=ProjectionState.choices, default=ProjectionState.BACKFILLING)
    backfill_from = models.DateTimeField(null=True, blank=True, help_text="Where the backfill started: its progress is measured from here.")
    backfill_cursor = models.DateTimeField(null=True, blank=True, help_text="Chunks before this are recomputed from raw points.")
    backfill_until = models.DateTimeField(null=True, blank=True, help_text="The newest point stored when the projection was made.")
    created_at = models.DateTimeField(auto_now_add=True)
    ready_at = models.DateTimeField(null=True, blank=True)
    bucket_rows = models.FloatField(
        null=True, blank=True, help_text="Rows a bucket held on average over the last two whole days (the SQL planner's estimate)."
    )
    bucket_points = models.FloatField(
        null=True, blank=True, help_text="Points a bucket stood for on average over the same buckets (the SQL planner's estimate)."
    )
    measured_at = models.DateTimeField(null=True, blank=True, help_text="When bucket_rows was last measured.")

    class Meta:
        ordering = ["dataset_id", "name"]
        constraints = [
            models.UniqueConstraint(fields=["dataset", "name"], name="projection_unique_name_per_dataset"),
            models.CheckConstraint(condition=Q(name__regex=DATASET_NAME_PATTERN), name="projection_name_valid"),
            models.CheckConstraint(
                condition=Q(dimensions__contained_by=list(PROJECTION_DIMENSIONS))
                & Q(dimensions__len__lte=PROJECTION_MAX_DIMENSIONS),
                name="projection_dimensions_valid",
            ),
            models.CheckConstraint(condition=Q(doubles__contained_by=list(PROJECTION_DOUBLES)), name="projection_doubles_valid"),
            models.CheckConstraint(condition=Q(grain__in=ProjectionGrain.values), name="projection_grain_valid"),
            models.CheckConstraint(
                condition=(Q(state=ProjectionState.READY) & Q(ready_at__isnull=False))
                | (Q(state=ProjectionState.BACKFILLING) & Q(ready_at__isnull=True)),
                name="projection_ready_consistently",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.dataset_id}/{self.name}"
