import json as jsonlib
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from projects.models import Scope
from projects.services import api_key_create, project_create


class Command(BaseCommand):
    help = "Create a project with one write, one read and one admin key (secrets are printed once)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug")
        parser.add_argument("--name", default="")
        parser.add_argument("--owner", help="username of an existing user to make owner")
        parser.add_argument("--json", action="store_true", help="print exactly one JSON object")

    def handle(self, *args: Any, slug: str, name: str, owner: str | None, json: bool, **options: Any) -> None:
        owner_user = None
        if owner:
            owner_user = get_user_model().objects.filter(username=owner).first()
            if owner_user is None:
                raise CommandError(f"No user named {owner!r}.")
        try:
            with transaction.atomic():
                project = project_create(slug=slug, name=name, owner=owner_user)
                write_key = api_key_create(project=project, name="default write key", scopes=[Scope.WRITE])
                read_key = api_key_create(project=project, name="default read key", scopes=[Scope.READ])
                admin_key = api_key_create(project=project, name="default admin key", scopes=[Scope.ADMIN])
        except Exception as error:
            raise CommandError(f"Could not create project {slug!r}: {error}") from error
        result = {
            "project": project.slug,
            "write_key": write_key.secret,
            "read_key": read_key.secret,
            "admin_key": admin_key.secret,
        }
        if json:
            self.stdout.write(jsonlib.dumps(result))
        else:
            self.stdout.write(
                f"Project {project.slug} created.\nwrite key: {write_key.secret}\nread key:  {read_key.secret}\n"
                f"admin key: {admin_key.secret}"
            )
