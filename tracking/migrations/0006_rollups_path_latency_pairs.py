from django.db import migrations

from tracking.rollups.db import TIER_TABLES

LATENCY = 10

FORWARD = "\n".join(
    f"""
CREATE TEMP TABLE merged_{tier} ON COMMIT DROP AS
    SELECT dataset_id, kind, bucket, k1, (k2::int / 2)::text AS k2, sum(n) AS n
    FROM {table} WHERE kind = {LATENCY} GROUP BY 1, 2, 3, 4, 5;
DELETE FROM {table} WHERE kind = {LATENCY};
INSERT INTO {table} (dataset_id, kind, bucket, k1, k2, n, s1, s2, s3)
    SELECT dataset_id, kind, bucket, k1, k2, n, 0, 0, 0 FROM merged_{tier};
"""
    for tier, table in TIER_TABLES.items()
)


class Migration(migrations.Migration):
    """Per-path latency histograms merge bins in pairs (reports_layout.PATH_LATENCY_BOUNDS).

    Existing per-path rows are regrouped from bin b to b // 2, exactly what the new write
    path computes, so no rebuild from raw points is needed.
    """

    dependencies = [("tracking", "0005_rollups_key_by_kind")]

    operations = [migrations.RunSQL(sql=FORWARD, reverse_sql=migrations.RunSQL.noop)]
