from django.db import migrations

from tracking.rollups.db import TIER_TABLES

FORWARD = "\n".join(
    f"ALTER TABLE {table} DROP CONSTRAINT {table}_pkey, ADD PRIMARY KEY (dataset_id, kind, bucket, k1, k2);"
    for table in TIER_TABLES.values()
)
BACKWARD = "\n".join(
    f"ALTER TABLE {table} DROP CONSTRAINT {table}_pkey, ADD PRIMARY KEY (dataset_id, bucket, kind, k1, k2);"
    for table in TIER_TABLES.values()
)


class Migration(migrations.Migration):
    """Rollup keys lead with (dataset_id, kind): reports ask for a few kinds over a time range."""

    dependencies = [("tracking", "0004_rollups")]

    operations = [migrations.RunSQL(sql=FORWARD, reverse_sql=BACKWARD)]
