from django.db import migrations

from tracking.rollups.db import rollup_tables_drop_sql, rollup_tables_sql


class Migration(migrations.Migration):
    """Rollup tiers for reports (tracking/rollups/services.py); plain tables, no Django models."""

    dependencies = [("tracking", "0003_sql_sandbox")]

    operations = [
        migrations.RunSQL(sql=rollup_tables_sql(), reverse_sql=rollup_tables_drop_sql()),
    ]
