"""Every project's 30-day figures in one view, for admin's project list (tracking.db.figures_view_sql)."""

import django.db.models.deletion
from django.db import migrations, models

from tracking.db import FIGURES_VIEW, figures_view_sql


class Migration(migrations.Migration):

    dependencies = [
        ("projects", "0003_project_suspension"),
        ("tracking", "0010_dataset_otlp_mapping"),
    ]

    operations = [
        migrations.RunSQL(sql=figures_view_sql(), reverse_sql=f"DROP VIEW {FIGURES_VIEW};"),
        migrations.CreateModel(
            name='ProjectFigures',
            fields=[
                ('project', models.OneToOneField(db_constraint=False, on_delete=django.db.models.deletion.DO_NOTHING, primary_key=True, related_name='figures', serialize=False, to='projects.project')),
                ('points', models.BigIntegerField()),
                ('requests', models.BigIntegerField()),
                ('errors_5xx', models.BigIntegerField()),
                ('errors_5xx_share', models.FloatField(null=True)),
                ('cost_usd', models.DecimalField(decimal_places=30, max_digits=65)),
                ('ai_tokens', models.DecimalField(decimal_places=30, max_digits=65)),
                ('storage_bytes', models.BigIntegerField(null=True)),
                ('datasets', models.BigIntegerField()),
                ('last_write', models.DateTimeField(null=True)),
                ('members', models.BigIntegerField()),
            ],
            options={
                'db_table': 'tracking_project_figures',
                'managed': False,
            },
        ),
    ]
