import django.contrib.postgres.fields
import django.core.validators
import django.db.models.deletion
import django.utils.timezone
from django.db import migrations, models

from tracking.projections.db import rows_table_drop_sql, rows_table_sql

DEFAULT_NAME = "dashboard"
DEFAULT_DIMENSIONS = ["blob1", "blob2", "blob3"]
DEFAULT_DOUBLES = ["double1", "double2", "double3"]


def default_projections(apps, schema_editor):
    """Existing datasets get the default projection, to be backfilled by the
    ``tracking.projections_backfill`` task (or ``manage.py projections_backfill``)."""
    Dataset = apps.get_model("tracking", "Dataset")
    Projection = apps.get_model("tracking", "Projection")
    with schema_editor.connection.cursor() as cursor:
        for dataset_id in Dataset.objects.values_list("id", flat=True):
            cursor.execute(
                'SELECT date_bin(INTERVAL \'1 day\', min("timestamp"), TIMESTAMPTZ \'1970-01-01 00:00:00+00\'), '
                'max("timestamp") FROM tracking_datapoint WHERE dataset_id = %s',
                [dataset_id],
            )
            low, high = cursor.fetchone()
            ready = low is None
            Projection.objects.create(
                dataset_id=dataset_id, name=DEFAULT_NAME, dimensions=DEFAULT_DIMENSIONS, doubles=DEFAULT_DOUBLES,
                grain=3600, state="ready" if ready else "backfilling", ready_at=django.utils.timezone.now() if ready else None,
                backfill_cursor=low, backfill_until=high,
            )


class Migration(migrations.Migration):
    """Aggregate projections (tracking/projections/): the model, the shared rows table, defaults for existing datasets."""

    dependencies = [
        ('tracking', '0015_platform_overview_permission'),
    ]

    operations = [
        migrations.CreateModel(
            name='Projection',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('name', models.CharField(max_length=64, validators=[django.core.validators.RegexValidator('^[A-Za-z_][A-Za-z0-9_]{0,63}$', 'Letters, digits and underscores; 64 at most.')])),
                ('dimensions', django.contrib.postgres.fields.ArrayField(base_field=models.CharField(max_length=8), blank=True, default=list, size=None)),
                ('doubles', django.contrib.postgres.fields.ArrayField(base_field=models.CharField(max_length=8), blank=True, default=list, size=None)),
                ('grain', models.PositiveIntegerField(choices=[(60, 'Minute'), (3600, 'Hour'), (86400, 'Day')], default=3600)),
                ('state', models.CharField(choices=[('backfilling', 'Backfilling'), ('ready', 'Ready')], default='backfilling', max_length=16)),
                ('backfill_cursor', models.DateTimeField(blank=True, help_text='Chunks before this are recomputed from raw points.', null=True)),
                ('backfill_until', models.DateTimeField(blank=True, help_text='The newest point stored when the projection was made.', null=True)),
                ('created_at', models.DateTimeField(auto_now_add=True)),
                ('ready_at', models.DateTimeField(blank=True, null=True)),
                ('dataset', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='projections', to='tracking.dataset')),
            ],
            options={
                'ordering': ['dataset_id', 'name'],
                'constraints': [models.UniqueConstraint(fields=('dataset', 'name'), name='projection_unique_name_per_dataset'), models.CheckConstraint(condition=models.Q(('name__regex', '^[A-Za-z_][A-Za-z0-9_]{0,63}$')), name='projection_name_valid'), models.CheckConstraint(condition=models.Q(('dimensions__contained_by', ['index1', 'blob1', 'blob2', 'blob3', 'blob4', 'blob5', 'blob6', 'blob7', 'blob8', 'blob9', 'blob10', 'blob11', 'blob12', 'blob13', 'blob14', 'blob15', 'blob16', 'blob17', 'blob18', 'blob19', 'blob20']), ('dimensions__len__lte', 4)), name='projection_dimensions_valid'), models.CheckConstraint(condition=models.Q(('doubles__contained_by', ['double1', 'double2', 'double3', 'double4', 'double5', 'double6', 'double7', 'double8', 'double9', 'double10', 'double11', 'double12', 'double13', 'double14', 'double15', 'double16', 'double17', 'double18', 'double19', 'double20'])), name='projection_doubles_valid'), models.CheckConstraint(condition=models.Q(('grain__in', [60, 3600, 86400])), name='projection_grain_valid'), models.CheckConstraint(condition=models.Q(models.Q(('state', 'ready'), ('ready_at__isnull', False)), models.Q(('state', 'backfilling'), ('ready_at__isnull', True)), _connector='OR'), name='projection_ready_consistently')],
            },
        ),
        migrations.RunSQL(sql=rows_table_sql(), reverse_sql=rows_table_drop_sql()),
        migrations.RunPython(default_projections, migrations.RunPython.noop),
    ]
