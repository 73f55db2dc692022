from django.db import migrations

from tracking.projections.db import TABLE, first_dimension_index_sql


class Migration(migrations.Migration):
    """Projection rows indexed by their first dimension (``tracking.projections.db.first_dimension_index_sql``)."""

    dependencies = [("tracking", "0020_rollups_paths_and_weeks")]

    operations = [
        migrations.RunSQL(sql=first_dimension_index_sql(), reverse_sql=f"DROP INDEX IF EXISTS {TABLE}_first_dimension;"),
    ]
