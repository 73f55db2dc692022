from django.core.management.base import BaseCommand, CommandError

from projects.models import Project
from tracking.reports.demo import reports_demo_generate


class Command(BaseCommand):
    help = "Fill a project's dataset with demo points of every event kind and build its rollups."

    def add_arguments(self, parser):
        parser.add_argument("slug")
        parser.add_argument("--dataset", default="meauxcloud_analytics")
        parser.add_argument("--days", type=float, default=30)
        parser.add_argument("--points", type=int, default=200_000)

    def handle(self, *args, slug: str, dataset: str, days: float, points: int, **options):
        project = Project.objects.filter(slug=slug).first()
        if project is None:
            raise CommandError(f"No project '{slug}'.")
        result = reports_demo_generate(project=project, dataset_name=dataset, days=days, points=points)
        self.stdout.write(f"{points} points over {days:g} days in {result}")
