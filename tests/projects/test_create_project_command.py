import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from projects.models import ApiKey, Membership, Project
from projects.selectors import api_key_get_active
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def test_create_project_prints_one_json_object_with_working_keys():
    out = StringIO()

    call_command("create_project", "acme", "--name", "Acme", "--json", stdout=out)

    result = json.loads(out.getvalue())
    assert sorted(result) == ["admin_key", "project", "read_key", "write_key"]
    assert result["project"] == "acme"
    assert api_key_get_active(secret=result["write_key"]).scopes == ["write"]
    assert api_key_get_active(secret=result["read_key"]).scopes == ["read"]
    assert api_key_get_active(secret=result["admin_key"]).scopes == ["admin"]
    assert Project.objects.get(slug="acme").name == "Acme"


def test_create_project_makes_the_owner_a_member():
    owner = UserFactory(username="ada")

    call_command("create_project", "acme", "--owner", "ada", "--json", stdout=StringIO())

    assert Membership.objects.get(project__slug="acme").user == owner


def test_create_project_refuses_a_taken_slug_and_creates_no_keys():
    call_command("create_project", "acme", "--json", stdout=StringIO())

    with pytest.raises(CommandError):
        call_command("create_project", "acme", "--json", stdout=StringIO())
    assert ApiKey.objects.filter(project__slug="acme").count() == 3
