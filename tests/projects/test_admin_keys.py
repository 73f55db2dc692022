"""Issuing and revoking keys from a project's admin page: the secret is shown once, and it works end to end."""

import re

import pytest
from django.contrib.auth.models import Permission
from django.test import Client

from projects.governance.models import AuditAction, AuditEvent
from projects.models import ApiKey
from tests.factories import ProjectFactory, UserFactory
from tests.tracking.helpers import post_points, stored_rows
from tracking.models import Dataset
from tracking.services import buffer_drain

pytestmark = pytest.mark.django_db


def staff_client(*codenames: str, superuser: bool = False) -> Client:
    user = UserFactory(username=f"staff-{len(codenames)}-{superuser}", is_staff=True, is_superuser=superuser)
    user.user_permissions.set(Permission.objects.filter(codename__in=codenames))
    client = Client()
    client.force_login(user)
    return client


def issue(client: Client, project_pk: int, name: str, scopes: list[str]) -> str:
    page = client.post(f"/admin/projects/project/{project_pk}/keys/issue/", {"name": name, "scopes": scopes})
    assert page.status_code == 200
    assert "no-store" in page["Cache-Control"]
    return re.search(r'<code id="issued-secret">(mc_[^<]+)</code>', page.content.decode()).group(1)


def test_a_key_issued_on_the_project_page_writes_and_once_revoked_gets_401(partitions):
    project = ProjectFactory()
    admin = staff_client(superuser=True)

    secret = issue(admin, project.pk, "production web", ["write"])

    api_key = ApiKey.objects.get(project=project, name="production web")
    assert api_key.scopes == ["write"]
    assert secret.startswith(api_key.prefix + "_")
    assert secret not in admin.get(f"/admin/projects/project/{project.pk}/change/").content.decode()
    assert post_points(admin, secret, "events", [{"blobs": ["a"]}]).status_code == 202
    assert buffer_drain(time_budget=5, block_ms=10).points == 1
    assert stored_rows(Dataset.objects.get(project=project, name="events"), "blob1") == [("a",)]

    revoke_url = f"/admin/projects/project/{project.pk}/keys/{api_key.pk}/revoke/"
    assert revoke_url in admin.get(f"/admin/projects/project/{project.pk}/change/").content.decode()
    assert admin.get(revoke_url).status_code == 200
    assert admin.post(revoke_url).status_code == 302

    refused = post_points(admin, secret, "events", [{"blobs": ["b"]}])
    assert (refused.status_code, refused.json()["code"]) == (401, "authentication_failed")
    assert buffer_drain(time_budget=5, block_ms=10).points == 0
    assert list(
        AuditEvent.objects.filter(project=project).order_by("id").values_list("action", "actor", "target")
    ) == [(AuditAction.KEY_CREATE, "user staff-0-True", api_key.prefix), (AuditAction.KEY_REVOKE, "user staff-0-True", api_key.prefix)]


def test_issuing_needs_a_name_and_a_scope():
    project = ProjectFactory()
    page = staff_client(superuser=True).post(f"/admin/projects/project/{project.pk}/keys/issue/", {"name": "", "scopes": []})

    assert page.status_code == 200
    assert page.content.decode().count("This field is required.") == 2
    assert not ApiKey.objects.exists()


def test_a_key_of_another_project_cannot_be_revoked_through_this_one():
    project, other = ProjectFactory(), ProjectFactory()
    admin = staff_client(superuser=True)
    issue(admin, other.pk, "theirs", ["read"])
    key = ApiKey.objects.get(project=other)

    assert admin.post(f"/admin/projects/project/{project.pk}/keys/{key.pk}/revoke/").status_code == 404
    key.refresh_from_db()
    assert key.revoked_at is None


def test_view_only_staff_can_neither_issue_nor_revoke():
    project = ProjectFactory()
    issue(staff_client(superuser=True), project.pk, "ci", ["read"])
    key = ApiKey.objects.get(project=project)
    viewer = staff_client("view_project", "view_apikey")

    page = viewer.get(f"/admin/projects/project/{project.pk}/change/").content.decode()
    assert "Issue a key" not in page
    assert "Revoke…" not in page
    assert viewer.post(f"/admin/projects/project/{project.pk}/keys/issue/", {"name": "x", "scopes": ["write"]}).status_code == 403
    assert viewer.post(f"/admin/projects/project/{project.pk}/keys/{key.pk}/revoke/").status_code == 403
    assert ApiKey.objects.filter(project=project).count() == 1
    key.refresh_from_db()
    assert key.revoked_at is None
