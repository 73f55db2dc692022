from django.db import migrations

from tracking.projections.db import dirty_table_drop_sql, dirty_table_sql


class Migration(migrations.Migration):
    """The buckets drains appended to, for compaction (``tracking.projections.db.dirty_table_sql``)."""

    dependencies = [("tracking", "0026_rollups_coarse_watermark_minutes")]

    operations = [migrations.RunSQL(sql=dirty_table_sql(), reverse_sql=dirty_table_drop_sql())]
