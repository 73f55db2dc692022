from django.db import migrations

from tracking.db import first_blob_index_build, first_blob_index_drop


def build(apps, schema_editor):
    first_blob_index_build()


def drop(apps, schema_editor):
    first_blob_index_drop()


class Migration(migrations.Migration):
    """The points indexed by dataset, blob1, time (``tracking.db.FIRST_BLOB_INDEX``)."""

    atomic = False  # CREATE INDEX CONCURRENTLY cannot run in a transaction
    dependencies = [("tracking", "0030_projection_default_blob1_blob2_day")]

    operations = [migrations.RunPython(build, drop)]
