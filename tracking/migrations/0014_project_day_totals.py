"""Day totals per project (tracking_project_day), filled from the dataset rows; the figures view reads them."""

from django.db import migrations

from tracking.db import figures_view_sql
from tracking.rollups.db import PROJECT_DAY_TABLE, project_day_backfill_sql, project_day_table_sql


class Migration(migrations.Migration):

    dependencies = [("tracking", "0013_saved_query")]

    operations = [
        migrations.RunSQL(sql=project_day_table_sql() + project_day_backfill_sql(), reverse_sql=f"DROP TABLE {PROJECT_DAY_TABLE};"),
        migrations.RunSQL(sql=figures_view_sql(), reverse_sql=migrations.RunSQL.noop),
    ]
