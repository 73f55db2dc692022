from django.core.management.base import BaseCommand, CommandError

from tracking.models import Dataset
from tracking.services import points_bulk_loaded


class Command(BaseCommand):
    help = (
        "After writing a dataset's points around the drain (COPY, a restore): refresh planner statistics and "
        "rebuild its projections from the points. Run rollups_rebuild too if its reports should include them."
    )

    def add_arguments(self, parser):
        parser.add_argument("dataset", help="PROJECT/DATASET")

    def handle(self, *args, dataset: str, **options):
        project_slug, _, name = dataset.partition("/")
        target = Dataset.objects.filter(project__slug=project_slug, name=name).first()
        if target is None:
            raise CommandError(f"No dataset {dataset!r}; name it as PROJECT/DATASET.")
        analyzed = points_bulk_loaded(dataset_id=target.id)
        self.stdout.write(f"analyzed {len(analyzed)} tables, rebuilt the projections of {dataset}")
