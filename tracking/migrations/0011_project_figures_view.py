"""Every project's 30-day figures in one view, for admin's project list (tracking.db.figures_view_sql)."""

import django.db.models.deletion
from django.db import migrations, models

# The view as first created; 0014 replaces it (frozen here: tracking.db.figures_view_sql changes).
VIEW_SQL = """
CREATE VIEW tracking_project_figures AS
SELECT p.id AS project_id,
    coalesce(t.points, 0) AS points, coalesce(t.requests, 0) AS requests, coalesce(t.errors_5xx, 0) AS errors_5xx,
    t.errors_5xx::float8 / nullif(t.requests, 0) AS errors_5xx_share,
    coalesce(t.cost_usd, 0) AS cost_usd, coalesce(t.ai_tokens, 0) AS ai_tokens,
    s.bytes AS storage_bytes, coalesce(d.datasets, 0) AS datasets, d.last_write, coalesce(m.members, 0) AS members
FROM projects_project AS p
LEFT JOIN (
    SELECT project_id, sum(points) AS points, sum(requests) AS requests, sum(errors_5xx) AS errors_5xx,
        sum(cost_usd) AS cost_usd, sum(ai_tokens) AS ai_tokens
    FROM tracking_dataset_day WHERE day >= CURRENT_DATE - 30 GROUP BY project_id
) AS t ON t.project_id = p.id
LEFT JOIN (SELECT project_id, sum(bytes)::bigint AS bytes FROM tracking_dataset_storage GROUP BY project_id) AS s ON s.project_id = p.id
LEFT JOIN (
    SELECT project_id, count(*) AS datasets, max(last_write_at) AS last_write FROM tracking_dataset GROUP BY project_id
) AS d ON d.project_id = p.id
LEFT JOIN (SELECT project_id, count(*) AS members FROM projects_membership GROUP BY project_id) AS m ON m.project_id = p.id;
"""


class Migration(migrations.Migration):

    dependencies = [
        ("projects", "0003_project_suspension"),
        ("tracking", "0010_dataset_otlp_mapping"),
    ]

    operations = [
        migrations.RunSQL(sql=VIEW_SQL, reverse_sql="DROP VIEW tracking_project_figures;"),
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
