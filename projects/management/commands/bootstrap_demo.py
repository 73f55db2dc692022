import json
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandParser
from django.db import transaction

from projects.models import Project, Scope
from projects.services import api_key_create, project_create


class Command(BaseCommand):
    help = "Create the admin user and the demo project with keys (used by `make run`); prints them once."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--username", default="admin")
        parser.add_argument("--password", required=True)
        parser.add_argument("--project", default="demo")
        parser.add_argument("--json", action="store_true")

    @transaction.atomic
    def handle(self, *args: Any, username: str, password: str, project: str, json: bool, **options: Any) -> None:
        user_model = get_user_model()
        user = user_model.objects.filter(username=username).first()
        if user is None:
            user = user_model.objects.create_superuser(username=username, email=f"{username}@localhost")
        user.set_password(password)
        user.save()
        demo = Project.objects.filter(slug=project).first() or project_create(
            slug=project, name="MeauxCLOUD demo", owner=user
        )
        write_key = api_key_create(project=demo, name="demo write key", scopes=[Scope.WRITE], created_by=user)
        read_key = api_key_create(project=demo, name="demo read key", scopes=[Scope.READ], created_by=user)
        result = {
            "username": username,
            "password": password,
            "project": demo.slug,
            "write_key": write_key.secret,
            "read_key": read_key.secret,
        }
        self.stdout.write(_render(result, as_json=json))


def _render(result: dict[str, str], *, as_json: bool) -> str:
    if as_json:
        return json.dumps(result)
    return "\n".join(f"{key}: {value}" for key, value in result.items())
