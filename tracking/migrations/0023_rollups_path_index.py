from django.db import migrations

from tracking.rollups.db import path_indexes_build, path_indexes_drop


def build(apps, schema_editor):
    path_indexes_build()


def drop(apps, schema_editor):
    path_indexes_drop()


class Migration(migrations.Migration):
    """Per-path rollup rows indexed by path (``tracking.rollups.db.path_indexes_build``): a report reads
    its top paths' measures and histograms without walking every path of the range."""

    atomic = False  # CREATE INDEX CONCURRENTLY cannot run in a transaction
    dependencies = [("tracking", "0022_saved_query_plural_name")]

    operations = [migrations.RunPython(build, drop)]
