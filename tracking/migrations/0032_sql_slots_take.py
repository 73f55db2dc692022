from django.db import migrations

from tracking.sql.schema import SLOTS_TAKE_REVERSE_SQL, SLOTS_TAKE_SQL


class Migration(migrations.Migration):
    """SQL query slots as advisory locks of the query's own transaction, instead of leases in Redis (``tracking.sql.schema``)."""

    dependencies = [("tracking", "0031_points_first_blob_index")]

    operations = [migrations.RunSQL(sql=SLOTS_TAKE_SQL, reverse_sql=SLOTS_TAKE_REVERSE_SQL)]
