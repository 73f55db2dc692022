"""bootstrap_demo: `make run`'s admin and demo project, kept in a credentials file while they still work."""

import json
import secrets
import stat
from io import StringIO
from pathlib import Path

import pytest
from django.contrib.auth import authenticate, get_user_model
from django.core.management import call_command

from projects.models import ApiKey, Project
from projects.selectors import api_key_get_active

pytestmark = pytest.mark.django_db


def _bootstrap(*args: str) -> dict[str, str]:
    out = StringIO()
    call_command("bootstrap_demo", *args, "--json", stdout=out)
    return json.loads(out.getvalue())


def test_bootstrap_generates_a_password_that_signs_in_and_keys_of_the_demo_project(tmp_path: Path):
    credentials_file = tmp_path / "credentials.json"

    result = _bootstrap(f"--credentials={credentials_file}")

    assert sorted(result) == ["password", "project", "read_key", "username", "write_key"]
    assert result["username"] == "admin" and result["project"] == "demo"
    assert len(result["password"]) == 16
    assert authenticate(username="admin", password=result["password"]).is_superuser
    assert api_key_get_active(secret=result["write_key"]).scopes == ["write"]
    assert api_key_get_active(secret=result["read_key"]).project.slug == "demo"
    assert json.loads(credentials_file.read_text()) == result
    assert stat.S_IMODE(credentials_file.stat().st_mode) == 0o600


def test_a_generated_password_starting_with_a_dash_is_never_parsed_as_an_option(tmp_path: Path, monkeypatch):
    generate = secrets.token_urlsafe
    monkeypatch.setattr(secrets, "token_urlsafe", lambda n=None: "-" + generate(n)[1:])

    result = _bootstrap(f"--credentials={tmp_path / 'credentials.json'}")

    assert result["password"].startswith("-")
    assert authenticate(username="admin", password=result["password"]) is not None


def test_credentials_that_still_work_are_printed_again_without_new_keys(tmp_path: Path):
    credentials_file = tmp_path / "credentials.json"
    first = _bootstrap(f"--credentials={credentials_file}")
    keys = ApiKey.objects.count()

    again = _bootstrap(f"--credentials={credentials_file}")

    assert again == first
    assert ApiKey.objects.count() == keys


def test_credentials_of_a_recreated_database_are_replaced(tmp_path: Path):
    """The file outlives a database that was dropped and recreated: its user and keys are gone."""
    credentials_file = tmp_path / "credentials.json"
    stale = _bootstrap(f"--credentials={credentials_file}")
    Project.objects.all().delete()
    get_user_model().objects.all().delete()

    fresh = _bootstrap(f"--credentials={credentials_file}")

    assert fresh["write_key"] != stale["write_key"] and fresh["password"] != stale["password"]
    assert Project.objects.get(slug="demo")
    assert api_key_get_active(secret=fresh["write_key"]).project.slug == "demo"
    assert authenticate(username="admin", password=fresh["password"]) is not None
    assert json.loads(credentials_file.read_text()) == fresh


@pytest.mark.parametrize("damage", ["revoke", "password", "garbage"])
def test_credentials_that_no_longer_work_are_replaced(tmp_path: Path, damage: str):
    credentials_file = tmp_path / "credentials.json"
    stale = _bootstrap(f"--credentials={credentials_file}")
    if damage == "revoke":
        ApiKey.objects.filter(name="demo read key").update(revoked_at="2026-01-01T00:00:00Z")
    elif damage == "password":
        credentials_file.write_text(json.dumps({**stale, "password": "not-the-password"}))
    else:
        credentials_file.write_text("{not json")

    fresh = _bootstrap(f"--credentials={credentials_file}")

    assert fresh["read_key"] != stale["read_key"]
    assert api_key_get_active(secret=fresh["read_key"]).scopes == ["read"]
    assert authenticate(username="admin", password=fresh["password"]) is not None
    assert json.loads(credentials_file.read_text()) == fresh


def test_an_explicit_password_is_used(tmp_path: Path):
    result = _bootstrap("--password=-starts-with-a-dash", f"--credentials={tmp_path / 'c.json'}")

    assert result["password"] == "-starts-with-a-dash"
    assert authenticate(username="admin", password="-starts-with-a-dash") is not None
