from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.utils import timezone

from tracking.ingest.buffer import buffer_ensure_group
from tracking.services import partitions_ensure


class Command(BaseCommand):
    help = "Create the points table's partitions ahead of the data and the buffer's consumer group (run at start-up)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--days-ahead", type=int, default=None)

    def handle(self, *args: Any, days_ahead: int | None, **options: Any) -> None:
        created = partitions_ensure(today=timezone.now().date(), days_ahead=days_ahead)
        buffer_ensure_group()
        self.stdout.write(f"partitions created: {len(created)}")
