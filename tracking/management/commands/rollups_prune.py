from django.core.management.base import BaseCommand
from django.utils import timezone

from tracking.rollups.services import rollups_prune


class Command(BaseCommand):
    help = "Delete per-minute rollup rows older than the minute tier's horizon (reports then read raw edges)."

    def handle(self, *args, **options):
        self.stdout.write(f"pruned {rollups_prune(now=timezone.now())} minute rows")
