from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from tracking.services import buffer_drain


class Command(BaseCommand):
    help = "Write everything buffered in Redis into PostgreSQL now (what the Celery task does)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--seconds", type=float, default=60.0)

    def handle(self, *args: Any, seconds: float, **options: Any) -> None:
        result = buffer_drain(time_budget=seconds)
        self.stdout.write(f"entries: {result.entries} points: {result.points} dead letters: {result.dead_letters}")
