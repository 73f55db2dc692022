from django.db import migrations, models

from tracking.sql.schema import CATALOG_MEASURED_REVERSE_SQL, CATALOG_MEASURED_SQL


class Migration(migrations.Migration):
    """Projections keep their measured rows per bucket, which the SQL planner sizes its cuts from (``tracking.sql.planner``)."""

    dependencies = [("tracking", "0034_sql_catalog_version")]

    operations = [
        migrations.AddField(
            model_name="projection",
            name="bucket_rows",
            field=models.FloatField(
                blank=True,
                help_text="Rows a bucket held on average over the last two whole days (the SQL planner's estimate).",
                null=True,
            ),
        ),
        migrations.AddField(
            model_name="projection",
            name="measured_at",
            field=models.DateTimeField(blank=True, help_text="When bucket_rows was last measured.", null=True),
        ),
        migrations.RunSQL(sql=CATALOG_MEASURED_SQL, reverse_sql=CATALOG_MEASURED_REVERSE_SQL),
    ]
