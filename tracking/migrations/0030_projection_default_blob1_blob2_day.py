from django.db import migrations
from django.utils import timezone

# The definition as it was when this migration was written (tracking.projections.services.DEFAULT_PROJECTIONS).
NAME = "blob1_blob2_day"
DIMENSIONS = ["blob1", "blob2"]
DOUBLES = ["double1", "double2", "double3"]
DAY = 86400


def default_projection_add(apps, schema_editor):
    """Existing datasets get the day tier of ``blob1_blob2`` as new ones do (``projections_defaults_ensure``).

    As 0024 did for ``blob1_blob2``: ready at once where a dataset has no points, otherwise
    ``backfilling`` from the UTC midnight before its oldest point, one day per beat step, while the
    drain maintains it for new batches; the planner uses it only once it is ready. A dataset that
    already has a projection of that name keeps it. Backwards nothing is removed.
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
                dataset_id=dataset_id, name=NAME, dimensions=DIMENSIONS, doubles=DOUBLES, grain=DAY,
                state="ready" if ready else "backfilling", ready_at=timezone.now() if ready else None,
                backfill_from=low, backfill_cursor=low, backfill_until=high,
            )


class Migration(migrations.Migration):
    """The third default projection, ``blob1_blob2_day`` (``blob1_blob2`` per day, its coarse tier), for existing datasets."""

    dependencies = [("tracking", "0029_sql_catalog_check")]

    operations = [migrations.RunPython(default_projection_add, migrations.RunPython.noop)]
