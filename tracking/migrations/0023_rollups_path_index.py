from django.db import migrations

from tracking.rollups.db import path_indexes_drop_sql, path_indexes_sql


class Migration(migrations.Migration):
    """Per-path rollup rows indexed by path (``tracking.rollups.db.path_indexes_sql``): a report reads
    its top paths' measures and histograms without walking every path of the range."""

    atomic = False  # CREATE INDEX CONCURRENTLY cannot run in a transaction
    dependencies = [("tracking", "0022_saved_query_plural_name")]

    operations = [
        migrations.RunSQL(sql=create, reverse_sql=drop) for create, drop in zip(path_indexes_sql(), path_indexes_drop_sql(), strict=True)
    ]
