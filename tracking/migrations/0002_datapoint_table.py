from django.db import migrations

from tracking.db import TABLE, datapoint_table_sql


class Migration(migrations.Migration):
    dependencies = [("tracking", "0001_initial")]

    operations = [
        migrations.RunSQL(sql=datapoint_table_sql(), reverse_sql=f"DROP TABLE IF EXISTS {TABLE} CASCADE;"),
    ]
