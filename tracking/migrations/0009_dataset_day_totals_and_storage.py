"""Day totals per dataset (kept with the rollups) and the storage estimate view, for the admin."""

import django.db.models.deletion
from django.db import migrations, models

from tracking.db import STORAGE_VIEW, storage_view_sql
from tracking.rollups.db import DAY_TOTALS_TABLE, day_totals_backfill_sql, day_totals_table_sql


class Migration(migrations.Migration):

    dependencies = [
        ('tracking', '0008_sql_rls_initplan'),
    ]

    operations = [
        migrations.RunSQL(
            sql=day_totals_table_sql() + day_totals_backfill_sql(), reverse_sql=f"DROP TABLE {DAY_TOTALS_TABLE};"
        ),
        migrations.RunSQL(sql=storage_view_sql(), reverse_sql=f"DROP MATERIALIZED VIEW {STORAGE_VIEW};"),
        migrations.CreateModel(
            name='DatasetDay',
            fields=[
                ('pk', models.CompositePrimaryKey('dataset', 'day', blank=True, editable=False, primary_key=True, serialize=False)),
                ('day', models.DateField()),
                ('points', models.BigIntegerField()),
                ('requests', models.BigIntegerField()),
                ('errors_5xx', models.BigIntegerField()),
                ('cost_usd', models.DecimalField(decimal_places=30, max_digits=65)),
                ('ai_tokens', models.DecimalField(decimal_places=30, max_digits=65)),
            ],
            options={
                'db_table': 'tracking_dataset_day',
                'managed': False,
            },
        ),
        migrations.CreateModel(
            name='DatasetStorage',
            fields=[
                ('dataset', models.OneToOneField(db_constraint=False, on_delete=django.db.models.deletion.DO_NOTHING, primary_key=True, related_name='storage', serialize=False, to='tracking.dataset')),
                ('bytes', models.BigIntegerField()),
                ('refreshed_at', models.DateTimeField()),
            ],
            options={
                'db_table': 'tracking_dataset_storage',
                'managed': False,
            },
        ),
    ]
