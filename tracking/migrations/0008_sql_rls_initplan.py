from django.db import migrations

from tracking.sql.schema import POLICY_SQL

PREVIOUS_POLICY_SQL = """
DROP POLICY IF EXISTS meaux_sql_project_datasets ON tracking_datapoint;
CREATE POLICY meaux_sql_project_datasets ON tracking_datapoint FOR SELECT TO meaux_sql_reader
  USING (dataset_id = ANY (string_to_array(
    coalesce(nullif(current_setting('meaux_sql.dataset_ids', true), ''), '0'), ',')::bigint[]));
"""


class Migration(migrations.Migration):
    """The SQL sandbox's RLS policy parses its dataset list once per query, not once per row."""

    dependencies = [("tracking", "0007_rollups_fillfactor")]

    operations = [migrations.RunSQL(sql=POLICY_SQL, reverse_sql=PREVIOUS_POLICY_SQL)]
