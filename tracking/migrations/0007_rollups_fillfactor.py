from django.db import migrations

from tracking.rollups.db import TIER_TABLES

FORWARD = "\n".join(f"ALTER TABLE {table} SET (fillfactor = 70);" for table in TIER_TABLES.values())
BACKWARD = "\n".join(f"ALTER TABLE {table} RESET (fillfactor);" for table in TIER_TABLES.values())


class Migration(migrations.Migration):
    """Room on each rollup page for HOT upserts, so a time range's rows stay together."""

    dependencies = [("tracking", "0006_rollups_path_latency_pairs")]

    operations = [migrations.RunSQL(sql=FORWARD, reverse_sql=BACKWARD)]
