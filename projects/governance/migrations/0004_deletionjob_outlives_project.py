import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    """A deletion job survives its project's deletion: the reference becomes nullable, the slug is copied."""

    dependencies = [
        ("governance", "0003_audit_alerts_actions"),
        ("projects", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="deletionjob",
            name="project_slug",
            field=models.CharField(default="", help_text="Copied, so the job still names a deleted project.", max_length=64),
            preserve_default=False,
        ),
        migrations.RunSQL(
            "UPDATE governance_deletionjob j SET project_slug = p.slug FROM projects_project p WHERE p.id = j.project_id",
            reverse_sql=migrations.RunSQL.noop,
        ),
        migrations.AlterField(
            model_name="deletionjob",
            name="project",
            field=models.ForeignKey(
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="deletion_jobs",
                to="projects.project",
            ),
        ),
    ]
