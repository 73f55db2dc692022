from django.db import migrations

from tracking.db import PARTITION_PREFIX
from tracking.rollups.db import WATERMARK_TABLE, watermark_table_sql


class Migration(migrations.Migration):
    """The day and week tiers are built from the hour tier behind a watermark instead of being
    upserted by every drain (``tracking.rollups.db.rollup_coarse_advance``)."""

    dependencies = [("tracking", "0024_projection_default_blob1_blob2")]

    operations = [
        migrations.RunSQL(sql=watermark_table_sql(PARTITION_PREFIX), reverse_sql=f"DROP TABLE {WATERMARK_TABLE};"),
    ]
