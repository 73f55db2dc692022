from collections.abc import Iterable

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone

from tracking.models import Dataset
from tracking.rollups.services import rollups_rebuild


class Command(BaseCommand):
    help = "Recompute report rollups from raw points (after bulk loads or label edits made outside the settings page)."

    def add_arguments(self, parser):
        parser.add_argument("datasets", nargs="*", help="PROJECT/DATASET names; all datasets when omitted")

    def handle(self, *args, datasets: list[str], **options):
        chosen: Iterable[Dataset] = Dataset.objects.select_related("project").order_by("id")
        if datasets:
            pairs = [name.split("/", 1) for name in datasets]
            if any(len(pair) != 2 for pair in pairs):
                raise CommandError("Name datasets as PROJECT/DATASET.")
            chosen = [Dataset.objects.select_related("project").get(project__slug=p, name=d) for p, d in pairs]
        for dataset in chosen:
            with transaction.atomic():
                rollups_rebuild(dataset_id=dataset.id, labels=dataset.labels, now=timezone.now())
            self.stdout.write(f"rebuilt {dataset}")
