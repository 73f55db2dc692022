from django.db import migrations

from tracking.sql.schema import PINS_CHECK_REVERSE_SQL, PINS_CHECK_SQL


class Migration(migrations.Migration):
    """A projection plan's values computed from ``NOW()`` are checked by the query's own message (``tracking.sql.ir.Pins``)."""

    dependencies = [("tracking", "0037_projection_bucket_points")]

    operations = [migrations.RunSQL(sql=PINS_CHECK_SQL, reverse_sql=PINS_CHECK_REVERSE_SQL)]
