from django.db import migrations

from tracking.rollups.db import watermark_minute_sql


class Migration(migrations.Migration):
    """The hour tier is folded in behind the watermark too, a minute at a time
    (``tracking.rollups.db.rollup_coarse_advance``): the watermark moves by minutes."""

    dependencies = [("tracking", "0025_rollups_coarse_watermark")]

    operations = [migrations.RunSQL(sql=watermark_minute_sql(), reverse_sql=migrations.RunSQL.noop)]
