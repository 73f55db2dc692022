from django.db import migrations

from tracking.rollups.db import COARSE_TABLES, TIER_COLUMNS, coarse_tables_sql, compact_sql, expanded_tier_sql

REQUEST, LATENCY, PATH = 1, 10, 13
FIVE_XX = "k2 ~ '^5[0-9][0-9]$'"
BASE_TABLES = {"minute": "tracking_rollup_minute", "hour": "tracking_rollup_hour", "day": "tracking_rollup_day"}

TO_PATHS = "\n".join(
    f"""
INSERT INTO {table} ({TIER_COLUMNS})
    SELECT p.dataset_id, p.bucket, {PATH}, p.k1, '', p.n, p.s1, p.s2, p.s3, l.bins, l.counts
    FROM (
        SELECT dataset_id, bucket, k1, sum(n)::bigint AS n, sum(s1) AS s1,
               coalesce(sum(n) FILTER (WHERE {FIVE_XX}), 0) AS s2, sum(s3) AS s3
        FROM {table} WHERE kind = {REQUEST} GROUP BY 1, 2, 3
    ) AS p LEFT JOIN (SELECT dataset_id, bucket, k1, bins, counts FROM {table} WHERE kind = {LATENCY}) AS l
    USING (dataset_id, bucket, k1);
DELETE FROM {table} WHERE kind IN ({LATENCY}, {REQUEST});
"""
    for table in BASE_TABLES.values()
)

WEEKS = "\n".join(
    f"INSERT INTO {COARSE_TABLES[tier]} ({TIER_COLUMNS}) "
    f"{compact_sql(expanded_tier_sql(BASE_TABLES['day'], 'true'), grain)};"
    for tier, grain in (("week", "7 days"), ("weeks4", "28 days"))
)


class Migration(migrations.Migration):
    """Requests are kept per status (kind 12, since 0017) and per path (kind 13, with the path's
    latency histogram), no longer per path and status (kind 1) nor per path and bin (kind 10);
    the week tiers (tracking/rollups/layout.py COARSE_TIERS). All regrouped from existing rows."""

    dependencies = [("tracking", "0019_projection_backfill_from")]

    operations = [
        migrations.RunSQL(
            sql=coarse_tables_sql() + TO_PATHS + WEEKS,
            reverse_sql="\n".join(f"DROP TABLE {table};" for table in COARSE_TABLES.values()),
        )
    ]
