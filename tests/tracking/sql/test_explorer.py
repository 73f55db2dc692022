"""The SQL explorer page, its saved queries and the session path through POST /api/v1/sql."""

import pytest
from django.test import Client

from projects.governance.models import AuditAction, AuditEvent
from projects.models import Role
from tests.factories import MembershipFactory, UserFactory
from tests.tracking.sql.conftest import LoadedProject
from tracking.models import SavedQuery


def _member(loaded: LoadedProject, role: str, username: str) -> Client:
    user = UserFactory(username=username)
    MembershipFactory(project=loaded.project, user=user, role=role)
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    return client


def _csrf(client: Client, slug: str) -> str:
    client.get(f"/projects/{slug}/sql/")
    return client.cookies["csrftoken"].value


def test_a_member_runs_sql_with_the_session_and_a_csrf_header(loaded: LoadedProject) -> None:
    client = _member(loaded, Role.VIEWER, "viewer")
    token = _csrf(client, loaded.project.slug)
    for content_type, body in (("text/plain", "SELECT count() AS n FROM weather"), ("application/json", '{"query": "SELECT count() AS n FROM weather"}')):
        response = client.post(
            f"/api/v1/sql?project={loaded.project.slug}", data=body, content_type=content_type, HTTP_X_CSRFTOKEN=token
        )
        assert response.status_code == 200, response.content
        assert int(response.json()["data"][0]["n"]) > 0
    forged = client.post(f"/api/v1/sql?project={loaded.project.slug}", data="SELECT 1", content_type="text/plain")
    assert forged.status_code == 403


def test_the_page_shows_datasets_columns_and_labels(loaded: LoadedProject) -> None:
    client = _member(loaded, Role.VIEWER, "viewer")
    page = client.get(f"/projects/{loaded.project.slug}/sql/").content.decode()
    assert 'data-insert="weather"' in page and 'data-insert="meauxcloud_analytics"' in page
    assert 'data-insert="city"' in page and "String = blob1" in page
    assert 'data-insert="blob20"' in page
    assert "secrets" not in page
    assert 'id="save-form"' not in page


def test_owners_save_queries_and_viewers_only_read_them(loaded: LoadedProject) -> None:
    owner = _member(loaded, Role.OWNER, "owner")
    token = _csrf(owner, loaded.project.slug)
    saved = owner.post(
        f"/projects/{loaded.project.slug}/sql/saved/",
        {"name": "Hourly", "sql": "SELECT 1", "csrfmiddlewaretoken": token},
    )
    assert saved.status_code == 302
    replaced = owner.post(
        f"/projects/{loaded.project.slug}/sql/saved/",
        {"name": "Hourly", "sql": "SELECT 2", "csrfmiddlewaretoken": token},
    )
    assert replaced.status_code == 302
    assert list(SavedQuery.objects.filter(project=loaded.project).values_list("name", "sql")) == [("Hourly", "SELECT 2")]
    assert AuditEvent.objects.filter(project=loaded.project, action=AuditAction.SAVED_QUERY).count() == 2

    viewer = _member(loaded, Role.VIEWER, "viewer")
    viewer_token = _csrf(viewer, loaded.project.slug)
    assert 'data-name="Hourly"' in viewer.get(f"/projects/{loaded.project.slug}/sql/").content.decode()
    refused = viewer.post(
        f"/projects/{loaded.project.slug}/sql/saved/",
        {"name": "Mine", "sql": "SELECT 3", "csrfmiddlewaretoken": viewer_token},
    )
    assert refused.status_code == 403
    empty = owner.post(
        f"/projects/{loaded.project.slug}/sql/saved/", {"name": "", "sql": "SELECT 1", "csrfmiddlewaretoken": token}
    )
    assert empty.status_code == 302 and SavedQuery.objects.filter(project=loaded.project).count() == 1
    query_id = SavedQuery.objects.get(project=loaded.project).id
    assert viewer.post(
        f"/projects/{loaded.project.slug}/sql/saved/{query_id}/delete/", {"csrfmiddlewaretoken": viewer_token}
    ).status_code == 403
    owner.post(f"/projects/{loaded.project.slug}/sql/saved/{query_id}/delete/", {"csrfmiddlewaretoken": token})
    assert not SavedQuery.objects.filter(project=loaded.project).exists()


def test_history_shows_only_the_members_own_queries(loaded: LoadedProject) -> None:
    alice = _member(loaded, Role.MEMBER, "alice")
    bob = _member(loaded, Role.MEMBER, "bob")
    for client, sql in ((alice, "SELECT 'alice-query' AS q"), (bob, "SELECT 'bob-query' AS q")):
        token = _csrf(client, loaded.project.slug)
        response = client.post(
            f"/api/v1/sql?project={loaded.project.slug}", data=sql, content_type="text/plain", HTTP_X_CSRFTOKEN=token
        )
        assert response.status_code == 200
    page = alice.get(f"/projects/{loaded.project.slug}/sql/").content.decode()
    assert "alice-query" in page and "bob-query" not in page


def test_non_members_get_404(loaded: LoadedProject) -> None:
    stranger = Client()
    stranger.force_login(UserFactory(username="stranger"))
    assert stranger.get(f"/projects/{loaded.project.slug}/sql/").status_code == 404


@pytest.mark.parametrize("path", ["sql/", "sql/saved/"])
def test_anonymous_users_are_sent_to_log_in(loaded: LoadedProject, path: str) -> None:
    response = Client().get(f"/projects/{loaded.project.slug}/{path}")
    assert response.status_code in (302, 405)


def test_platform_admins_see_saved_queries_read_only(loaded: LoadedProject, admin_client: Client) -> None:
    SavedQuery.objects.create(project=loaded.project, name="Hourly", sql="SELECT 1")
    listing = admin_client.get("/admin/tracking/savedquery/")
    assert listing.status_code == 200 and "Hourly" in listing.content.decode()
    assert admin_client.get("/admin/tracking/savedquery/add/").status_code == 403
