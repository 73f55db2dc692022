from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from projects.models import Project
from tracking.demo import demo_load
from tracking.selectors import dataset_get


class Command(BaseCommand):
    help = "Buffer demo points in the seed's six event layouts; the workers store them. Skips a dataset that has data."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--project", required=True)
        parser.add_argument("--dataset", default="meauxcloud_analytics")
        parser.add_argument("--days", type=int, default=30)
        parser.add_argument("--requests-per-hour", type=int, default=120)
        parser.add_argument("--force", action="store_true")

    def handle(self, *args: Any, project: str, dataset: str, days: int, requests_per_hour: int, force: bool,
               **options: Any) -> None:
        target = Project.objects.filter(slug=project).first()
        if target is None:
            raise CommandError(f"No project {project!r}.")
        existing = dataset_get(project=target, name=dataset)
        if existing is not None and existing.last_write_at is not None and not force:
            self.stdout.write(f"{project}/{dataset} already has data; use --force to add more.")
            return
        count = demo_load(
            project=target, dataset_name=dataset, now=timezone.now(), days=days, requests_per_hour=requests_per_hour
        )
        self.stdout.write(f"buffered {count} demo points into {project}/{dataset}")
