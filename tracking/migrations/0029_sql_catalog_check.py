from django.db import migrations

from tracking.sql.schema import CATALOG_CHECK_REVERSE_SQL, CATALOG_CHECK_SQL


class Migration(migrations.Migration):
    """The SQL engine's catalog fingerprint and the check a cached catalog travels with (``tracking.sql.schema``)."""

    dependencies = [("tracking", "0028_projection_measures_without_statistics")]

    operations = [migrations.RunSQL(sql=CATALOG_CHECK_SQL, reverse_sql=CATALOG_CHECK_REVERSE_SQL)]
