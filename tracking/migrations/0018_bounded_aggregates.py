from django.db import migrations

from tracking.sql.schema import BOUNDED_AGGREGATES_REVERSE_SQL, BOUNDED_AGGREGATES_SQL


class Migration(migrations.Migration):
    """O(1)-state first/last aggregates and the input gate of the array-state aggregates (docs/sql.md)."""

    dependencies = [("tracking", "0017_rollups_compact_histograms")]

    operations = [migrations.RunSQL(sql=BOUNDED_AGGREGATES_SQL, reverse_sql=BOUNDED_AGGREGATES_REVERSE_SQL)]
