from django.db import migrations, models
from django.utils import timezone

# The definition as it was when this migration was written (tracking.projections.services.DEFAULT_PROJECTIONS).
NAME = "blob1_blob2_6h"
DIMENSIONS = ["blob1", "blob2"]
DOUBLES = ["double1", "double2", "double3"]
SIX_HOURS = 21600


def default_projection_add(apps, schema_editor):
    """Existing datasets get the six-hour tier of ``blob1_blob2`` as new ones do (``projections_defaults_ensure``).

    As 0030 did for the day tier: ready at once where a dataset has no points, otherwise
    ``backfilling`` from the UTC midnight before its oldest point while the drain maintains it for
    new batches; the planner uses it only once it is ready. A dataset that already has a
    projection of that name keeps it. Backwards nothing is removed.
    """
    Dataset = apps.get_model("tracking", "Dataset")
    Projection = apps.get_model("tracking", "Projection")
    taken = set(Projection.objects.filter(name=NAME).values_list("dataset_id", flat=True))
    with schema_editor.connection.cursor() as cursor:
        for dataset_id in Dataset.objects.exclude(id__in=taken).order_by("id").values_list("id", flat=True):
            cursor.execute(
                "SELECT date_bin(INTERVAL '1 day', min(\"timestamp\"), TIMESTAMPTZ '1970-01-01 00:00:00+00'), "
                "max(\"timestamp\") FROM tracking_datapoint WHERE dataset_id = %s",
                [dataset_id],
            )
            low, high = cursor.fetchone()
            ready = low is None
            Projection.objects.create(
                dataset_id=dataset_id, name=NAME, dimensions=DIMENSIONS, doubles=DOUBLES, grain=SIX_HOURS,
                state="ready" if ready else "backfilling", ready_at=timezone.now() if ready else None,
                backfill_from=low, backfill_cursor=low, backfill_until=high,
            )


class Migration(migrations.Migration):
    """A six-hour grain, and the fourth default projection ``blob1_blob2_6h`` (``blob1_blob2`` per six
    hours, the tier between its hours and its days) for existing datasets."""

    dependencies = [("tracking", "0035_projection_bucket_rows")]

    operations = [
        migrations.RemoveConstraint(model_name="projection", name="projection_grain_valid"),
        migrations.AlterField(
            model_name="projection",
            name="grain",
            field=models.PositiveIntegerField(
                choices=[(60, "Minute"), (3600, "Hour"), (21600, "6 hours"), (86400, "Day")], default=3600
            ),
        ),
        migrations.AddConstraint(
            model_name="projection",
            constraint=models.CheckConstraint(
                condition=models.Q(("grain__in", [60, 3600, 21600, 86400])), name="projection_grain_valid"
            ),
        ),
        migrations.RunPython(default_projection_add, migrations.RunPython.noop),
    ]
