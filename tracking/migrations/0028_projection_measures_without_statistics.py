from django.db import migrations

from tracking.projections.db import measures_statistics_sql


class Migration(migrations.Migration):
    """No planner statistics for the projection rows' measures (``tracking.projections.db.measures_statistics_sql``)."""

    dependencies = [("tracking", "0027_projection_dirty_buckets")]

    operations = [migrations.RunSQL(sql=measures_statistics_sql(0), reverse_sql=measures_statistics_sql(-1))]
