from django.db import migrations

from tracking.rollups.db import path_5xx_indexes_build, path_5xx_indexes_drop


def build(apps, schema_editor):
    path_5xx_indexes_build()


def drop(apps, schema_editor):
    path_5xx_indexes_drop()


class Migration(migrations.Migration):
    """Path rows with 5xx indexed by bucket with their path and count (``tracking.rollups.db.path_5xx_indexes_build``):
    the Errors report ranks its paths by 5xx without reading every path row's histogram."""

    atomic = False  # CREATE INDEX CONCURRENTLY cannot run in a transaction
    dependencies = [("tracking", "0032_sql_slots_take")]

    operations = [migrations.RunPython(build, drop)]
