from django.db import migrations

from tracking.sql.schema import HELPER_FUNCTIONS_SQL, ROLE_REVERSE_SQL, ROLE_SQL


class Migration(migrations.Migration):
    dependencies = [("tracking", "0002_datapoint_table")]

    operations = [
        migrations.RunSQL(sql=HELPER_FUNCTIONS_SQL + ROLE_SQL, reverse_sql=ROLE_REVERSE_SQL),
    ]
