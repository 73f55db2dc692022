"""``manage.py ae_query --project SLUG "SQL"``: run Analytics Engine SQL from a shell, like ``wrangler analytics-engine run``."""

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from projects.models import Project
from tracking.sql.engine import SqlError, SqlResult
from tracking.sql.formats import text_value
from tracking.sql.runner import query_run


def result_table(result: SqlResult) -> str:
    """A plain aligned text table: header, rule, one line per row."""
    headers = [name for name, _ in result.columns]
    cells = [[text_value(value, ch_type) for value, (_, ch_type) in zip(row, result.columns)] for row in result.rows]
    widths = [max([len(header)] + [len(row[i]) for row in cells]) for i, header in enumerate(headers)]
    lines = ["  ".join(header.ljust(width) for header, width in zip(headers, widths)).rstrip()]
    lines.append("  ".join("-" * width for width in widths))
    lines += ["  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() for row in cells]
    lines.append(f"({len(cells)} row{'s' if len(cells) != 1 else ''})")
    return "\n".join(lines)


class Command(BaseCommand):
    help = "Run one Analytics Engine SQL statement over a project's datasets and print the result."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("sql", help='The statement, e.g. "SELECT blob1, count() FROM my_dataset GROUP BY blob1"')
        parser.add_argument("--project", required=True, help="Project slug (the Cloudflare account id).")
        parser.add_argument(
            "--format",
            choices=["table", "json"],
            default="table",
            help="table (default) or the raw FORMAT JSON body; a FORMAT clause in the SQL wins.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        project = Project.objects.filter(slug=options["project"]).first()
        if project is None:
            raise CommandError(f"No project with slug {options['project']!r}.")
        try:
            result = query_run(project=project, sql=options["sql"], quotas=False, keep_rows=True)
        except SqlError as error:
            raise CommandError(f"Input was invalid: {error}") from None
        if result.format != "JSON" or options["format"] == "json":
            self.stdout.write(result.body.decode(), ending="" if result.body.endswith(b"\n") else "\n")
            return
        self.stdout.write(result_table(result))
