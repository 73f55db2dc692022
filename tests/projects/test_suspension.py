"""Suspending a project from admin: its writes get 403 project_suspended, reads keep working, both audited."""

import json

import pytest
from django.contrib.auth.models import Permission
from django.test import Client

from projects.governance.models import AuditAction, AuditEvent
from projects.models import Project
from tests.factories import ProjectFactory, UserFactory, key_for
from tests.tracking.helpers import post_points
from tracking.ingest import buffer
from tracking.services import buffer_drain

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def superuser_client(client: Client) -> Client:
    client.force_login(UserFactory(username="root", is_staff=True, is_superuser=True))
    return client


def staff_client_with(*codenames: str) -> Client:
    user = UserFactory(is_staff=True)
    user.user_permissions.set(Permission.objects.filter(codename__in=codenames))
    client = Client()
    client.force_login(user)
    return client


def sql_count(client: Client, key: str, dataset: str) -> str:
    response = client.post(
        "/api/v1/sql", data=json.dumps({"query": f"SELECT count() AS n FROM {dataset}"}),
        content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {key}",
    )
    assert response.status_code == 200, response.content
    return response.json()["data"][0]["n"]


def test_a_suspended_project_refuses_writes_keeps_reads_and_resume_restores_them(superuser_client, partitions):
    project = ProjectFactory()
    write, read = key_for(project, "write").secret, key_for(project, "read").secret
    assert post_points(superuser_client, write, "events", [{"blobs": ["a"]}, {"blobs": ["b"]}]).status_code == 202
    buffer_drain(time_budget=5, block_ms=10)

    page = superuser_client.post(f"/admin/projects/project/{project.pk}/suspend/", {"reason": "unpaid invoice 42"})

    assert page.status_code == 302
    depth = buffer.buffer_depth()
    refused = post_points(superuser_client, write, "events", [{"blobs": ["c"]}])
    assert refused.status_code == 403
    assert refused["Content-Type"] == "application/problem+json"
    assert refused.json()["code"] == "project_suspended"
    assert buffer.buffer_depth() == depth
    workerd = superuser_client.post(
        "/api/v1/workerd/analytics-engine", data=b"{}", content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {write}"
    )
    assert workerd.json()["code"] == "project_suspended"
    assert sql_count(superuser_client, read, "events") == "2"
    assert superuser_client.get("/api/v1/reports/usage", HTTP_AUTHORIZATION=f"Bearer {read}").status_code == 200

    assert superuser_client.post(f"/admin/projects/project/{project.pk}/resume/").status_code == 302

    assert post_points(superuser_client, write, "events", [{"blobs": ["d"]}]).status_code == 202
    buffer_drain(time_budget=5, block_ms=10)
    assert sql_count(superuser_client, read, "events") == "3"
    events = list(
        AuditEvent.objects.filter(project=project, action__in=[AuditAction.PROJECT_SUSPEND, AuditAction.PROJECT_RESUME])
        .order_by("id").values_list("action", "actor", "details")
    )
    assert events == [
        ("project.suspend", "user root", {"reason": "unpaid invoice 42"}),
        ("project.resume", "user root", {"was": "unpaid invoice 42"}),
    ]


def test_suspending_twice_records_once_and_keeps_the_first_reason(superuser_client):
    project = ProjectFactory()
    superuser_client.post(f"/admin/projects/project/{project.pk}/suspend/", {"reason": "abuse"})
    superuser_client.post(f"/admin/projects/project/{project.pk}/suspend/", {"reason": "again"})

    project.refresh_from_db()
    assert project.suspended_reason == "abuse"
    assert AuditEvent.objects.filter(project=project, action=AuditAction.PROJECT_SUSPEND).count() == 1


def test_a_suspension_needs_a_reason(superuser_client):
    project = ProjectFactory()

    page = superuser_client.post(f"/admin/projects/project/{project.pk}/suspend/", {"reason": ""})

    assert page.status_code == 200
    assert "This field is required." in page.content.decode()
    project.refresh_from_db()
    assert project.suspended_at is None


def test_bulk_suspend_asks_for_a_reason_then_suspends_the_selection(superuser_client):
    first, second, untouched = ProjectFactory(), ProjectFactory(), ProjectFactory()
    selection = {"action": "suspend", "_selected_action": [first.pk, second.pk]}

    confirm = superuser_client.post("/admin/projects/project/", selection)
    assert confirm.status_code == 200
    assert "reason" in confirm.content.decode()
    assert not Project.objects.filter(suspended_at__isnull=False).exists()

    superuser_client.post("/admin/projects/project/", {**selection, "apply": "1", "reason": "spam wave"})

    assert set(Project.objects.filter(suspended_at__isnull=False).values_list("pk", flat=True)) == {first.pk, second.pk}
    superuser_client.post("/admin/projects/project/", {"action": "resume", "_selected_action": [first.pk, untouched.pk]})
    assert list(Project.objects.filter(suspended_at__isnull=False).values_list("pk", flat=True)) == [second.pk]
    assert AuditEvent.objects.filter(action=AuditAction.PROJECT_RESUME).count() == 1


def test_staff_without_the_suspend_permission_cannot_suspend():
    project = ProjectFactory()
    viewer = staff_client_with("view_project")

    assert viewer.post(f"/admin/projects/project/{project.pk}/suspend/", {"reason": "x"}).status_code == 403
    assert viewer.post(f"/admin/projects/project/{project.pk}/resume/").status_code == 403
    changelist = viewer.get("/admin/projects/project/").content.decode()
    assert 'value="suspend"' not in changelist
    assert "Suspend…" not in viewer.get(f"/admin/projects/project/{project.pk}/change/").content.decode()
    project.refresh_from_db()
    assert project.suspended_at is None


def test_staff_with_the_suspend_permission_can_suspend():
    project = ProjectFactory()
    operator = staff_client_with("view_project", "suspend_project")

    assert "Suspend…" in operator.get(f"/admin/projects/project/{project.pk}/change/").content.decode()
    assert operator.post(f"/admin/projects/project/{project.pk}/suspend/", {"reason": "abuse"}).status_code == 302
    project.refresh_from_db()
    assert project.suspended_reason == "abuse"
