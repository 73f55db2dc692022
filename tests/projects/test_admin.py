"""Django admin for platform admins: keys are shown once at creation and can be revoked."""

import re

import pytest

from projects.models import ApiKey
from projects.selectors import api_key_get_active
from tests.factories import DatasetFactory, ProjectFactory, UserFactory, key_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(client):
    admin = UserFactory(is_staff=True, is_superuser=True)
    client.force_login(admin)
    return client


def test_creating_a_key_in_admin_shows_its_secret_once(staff_client):
    project = ProjectFactory()

    response = staff_client.post(
        "/admin/projects/apikey/add/",
        {"project": project.pk, "name": "ci", "scopes": "read,write"},
        follow=True,
    )

    api_key = ApiKey.objects.get(project=project)
    [message] = [str(m) for m in response.context["messages"] if str(m).startswith("Copy this key now")]
    assert message.startswith("Copy this key now, it is not shown again: mc_")
    secret = message.rsplit(" ", 1)[1]
    assert api_key_get_active(secret=secret) == api_key
    assert api_key.scopes == ["read", "write"]
    assert secret not in staff_client.get(f"/admin/projects/apikey/{api_key.pk}/change/").content.decode()


def test_revoke_action_revokes_the_selected_keys(staff_client):
    project = ProjectFactory()
    keep, revoke = key_for(project, "read"), key_for(project, "write")

    staff_client.post(
        "/admin/projects/apikey/",
        {"action": "revoke", "_selected_action": [revoke.api_key.pk]},
    )

    assert api_key_get_active(secret=revoke.secret) is None
    assert api_key_get_active(secret=keep.secret) == keep.api_key


def test_project_and_dataset_pages_render(staff_client):
    dataset = DatasetFactory(labels={"blob2": "path"})

    assert staff_client.get(f"/admin/projects/project/{dataset.project.pk}/change/").status_code == 200
    page = staff_client.get(f"/admin/tracking/dataset/{dataset.pk}/change/")
    assert page.status_code == 200
    assert "rows" in page.content.decode()


def test_dataset_changes_in_admin_go_through_the_service(staff_client):
    dataset = DatasetFactory()
    response = staff_client.post(
        f"/admin/tracking/dataset/{dataset.pk}/change/",
        {"project": dataset.project.pk, "name": dataset.name, "retention_days": 30, "labels": '{"blob2": "route"}'},
    )

    assert response.status_code == 302
    dataset.refresh_from_db()
    assert (dataset.retention_days, dataset.labels) == (30, {"blob2": "route"})


def test_invalid_labels_are_a_form_error_in_admin(staff_client):
    dataset = DatasetFactory()
    response = staff_client.post(
        f"/admin/tracking/dataset/{dataset.pk}/change/",
        {"project": dataset.project.pk, "name": dataset.name, "retention_days": 30, "labels": '{"blob99": "x"}'},
    )

    assert response.status_code == 200
    assert "&#x27;blob99&#x27; is not a column" in response.content.decode()


def test_the_admin_index_names_each_model_in_english(staff_client):
    from django.contrib import admin

    names = {str(model._meta.verbose_name_plural) for model in admin.site._registry}
    index = staff_client.get("/admin/").content.decode()

    assert {"saved queries", "deliveries", "API keys"} <= names
    assert [name for name in names if re.search(r"[^aeiou]ys$|ss$", name)] == []  # "querys", "figuress"
    assert "Saved queries" in index and "Deliveries" in index and "API keys" in index and "Api keys" not in index
