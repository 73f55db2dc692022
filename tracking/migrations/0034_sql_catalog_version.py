from django.db import migrations

from tracking.sql.schema import CATALOG_VERSION_REVERSE_SQL, CATALOG_VERSION_SQL


class Migration(migrations.Migration):
    """The SQL engine's catalog fingerprint becomes a version its changes bump (``tracking.sql.schema``)."""

    dependencies = [("tracking", "0033_rollups_path_5xx_index")]

    operations = [migrations.RunSQL(sql=CATALOG_VERSION_SQL, reverse_sql=CATALOG_VERSION_REVERSE_SQL)]
