from django.db import migrations, models

from tracking.sql.schema import CATALOG_MEASURED_POINTS_REVERSE_SQL, CATALOG_MEASURED_POINTS_SQL


class Migration(migrations.Migration):
    """Projections keep the points a bucket stands for beside its rows, which size the raw cut (``tracking.sql.planner``)."""

    dependencies = [("tracking", "0036_projection_grain_six_hours")]

    operations = [
        migrations.AddField(
            model_name="projection",
            name="bucket_points",
            field=models.FloatField(
                blank=True,
                help_text="Points a bucket stood for on average over the same buckets (the SQL planner's estimate).",
                null=True,
            ),
        ),
        migrations.RunSQL(sql=CATALOG_MEASURED_POINTS_SQL, reverse_sql=CATALOG_MEASURED_POINTS_REVERSE_SQL),
    ]
