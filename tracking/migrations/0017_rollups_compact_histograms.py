from django.db import migrations

LATENCY, LATENCY_ALL, REQUEST, STATUS = 10, 11, 1, 12
TIER_TABLES = {"minute": "tracking_rollup_minute", "hour": "tracking_rollup_hour", "day": "tracking_rollup_day"}

FORWARD = "\n".join(
    f"""
ALTER TABLE {table} ADD COLUMN bins smallint[], ADD COLUMN counts bigint[];
CREATE TEMP TABLE compact_{tier} ON COMMIT DROP AS
    SELECT dataset_id, bucket, kind, k1, sum(n)::bigint AS n,
           array_agg(k2::smallint ORDER BY k2::smallint) AS bins, array_agg(n ORDER BY k2::smallint) AS counts
    FROM {table} WHERE kind IN ({LATENCY}, {LATENCY_ALL}) GROUP BY 1, 2, 3, 4;
DELETE FROM {table} WHERE kind IN ({LATENCY}, {LATENCY_ALL});
INSERT INTO {table} (dataset_id, bucket, kind, k1, k2, n, s1, s2, s3, bins, counts)
    SELECT dataset_id, bucket, kind, k1, '', n, 0, 0, 0, bins, counts FROM compact_{tier};
INSERT INTO {table} (dataset_id, bucket, kind, k1, k2, n, s1, s2, s3)
    SELECT dataset_id, bucket, {STATUS}, '', k2, sum(n), sum(s1), sum(s2), sum(s3)
    FROM {table} WHERE kind = {REQUEST} GROUP BY 1, 2, 5;
"""
    for tier, table in TIER_TABLES.items()
)


class Migration(migrations.Migration):
    """Latency histograms become one row per key and bucket (``bins``/``counts`` arrays) and
    requests get path-less ``STATUS`` rows (tracking/rollups/layout.py).

    Both are regrouped from the existing rows, exactly what the new write path computes, so
    no rebuild from raw points is needed.
    """

    dependencies = [("tracking", "0016_projections")]

    operations = [migrations.RunSQL(sql=FORWARD, reverse_sql=migrations.RunSQL.noop)]
