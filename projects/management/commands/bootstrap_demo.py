import dataclasses
import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from projects.selectors import demo_credentials_valid
from projects.services import DemoCredentials, demo_bootstrap


class Command(BaseCommand):
    help = (
        "Create the admin user (with a generated password unless --password) and the demo project with a write "
        "and a read key; prints them. With --credentials FILE (what `make run` uses), credentials kept in FILE "
        "that still work against this database are printed again unchanged; otherwise new ones replace them."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--username", default="admin")
        parser.add_argument("--password", help="the admin's password (default: generated)")
        parser.add_argument("--project", default="demo")
        parser.add_argument("--credentials", type=Path, help="JSON file to reuse when still valid, else to write")
        parser.add_argument("--json", action="store_true")

    def handle(
        self,
        *args: Any,
        username: str,
        password: str | None,
        project: str,
        credentials: Path | None,
        json: bool,
        **options: Any,
    ) -> None:
        kept = _read(credentials) if credentials is not None and password is None else None
        if kept is None or kept.username != username or kept.project != project or not demo_credentials_valid(credentials=kept):
            kept = demo_bootstrap(username=username, project_slug=project, password=password)
            if credentials is not None:
                _write(credentials, kept)
        self.stdout.write(_render(kept, as_json=json))


def _read(path: Path) -> DemoCredentials | None:
    """The kept credentials; a missing or unreadable file counts as stale (it is only ever generated)."""
    try:
        data = json.loads(path.read_text())
        return DemoCredentials(**{field.name: str(data[field.name]) for field in dataclasses.fields(DemoCredentials)})
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _write(path: Path, credentials: DemoCredentials) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600)
    path.chmod(0o600)
    path.write_text(json.dumps(dataclasses.asdict(credentials), indent=2) + "\n")


def _render(credentials: DemoCredentials, *, as_json: bool) -> str:
    result = dataclasses.asdict(credentials)
    if as_json:
        return json.dumps(result)
    return "\n".join(f"{key}: {value}" for key, value in result.items())
