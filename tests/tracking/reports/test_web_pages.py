"""Report pages and project settings: who may see and change what, and what they get."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from projects.models import ApiKey, Membership, Role
from tests.factories import DatasetFactory, MembershipFactory, ProjectFactory, UserFactory
from tests.tracking.reports.helpers import Point, points_store
from tracking.models import Dataset

pytestmark = pytest.mark.django_db


@pytest.fixture
def shop(project):
    dataset = DatasetFactory(project=project, name="meauxcloud_analytics")
    now = timezone.now()
    points_store(
        dataset,
        [
            Point(now - timedelta(minutes=30), ["GET", "/orders/17", "200", "production", "/orders/:id"], [12.0, 1, 100]),
            Point(now - timedelta(minutes=20), ["GET", "/orders/18", "500", "production", "/orders/:id"], [30.0, 1, 100]),
            Point(now - timedelta(minutes=10), ["web", "compute", "cost"], [0.25, 1]),
        ],
    )
    return project


def _member(project, role):
    user = UserFactory()
    MembershipFactory(project=project, user=user, role=role)
    return user


def test_pages_need_a_login(client, shop):
    response = client.get(f"/projects/{shop.slug}/")

    assert response.status_code == 302
    assert response["Location"] == f"/accounts/login/?next=/projects/{shop.slug}/"


def test_the_root_address_leads_to_the_login_page_then_the_users_projects(client, shop):
    """``make run`` prints ``http://127.0.0.1:8000/``: it answered 404 before."""
    response = client.get("/")
    assert (response.status_code, response["Location"]) == (302, "/projects/")
    assert client.get("/projects/")["Location"] == "/accounts/login/?next=/projects/"

    client.force_login(_member(shop, Role.VIEWER))
    followed = client.get("/", follow=True)
    assert (followed.redirect_chain, followed.status_code) == ([("/projects/", 302)], 200)
    assert shop.slug in followed.content.decode()


def test_project_list_shows_only_the_users_projects(client, shop):
    other = ProjectFactory(name="Other shop")
    client.force_login(_member(shop, Role.VIEWER))

    response = client.get("/projects/")

    assert response.status_code == 200
    assert shop.name in response.content.decode()
    assert other.name not in response.content.decode()


@pytest.mark.parametrize("page", ["", "usage/", "costs/", "errors/", "ai/", "realtime/"])
def test_a_viewer_reads_every_report_page(client, shop, page):
    client.force_login(_member(shop, Role.VIEWER))

    response = client.get(f"/projects/{shop.slug}/{page}")

    assert response.status_code == 200
    assert response.context["report"].has_data is True
    assert 'id="charts-data"' in response.content.decode()


def test_a_member_of_another_project_gets_not_found_for_pages_csv_and_settings(client, shop):
    outsider = _member(ProjectFactory(), Role.OWNER)
    client.force_login(outsider)

    statuses = [
        client.get(f"/projects/{shop.slug}/").status_code,
        client.get(f"/projects/{shop.slug}/usage/tables/top_paths.csv").status_code,
        client.get(f"/projects/{shop.slug}/settings/").status_code,
        client.post(f"/projects/{shop.slug}/settings/keys/", {"name": "x", "scopes": ["read"]}).status_code,
    ]

    assert statuses == [404, 404, 404, 404]
    assert ApiKey.objects.filter(project=shop).count() == 0


def test_csv_download_of_a_page_table(client, shop):
    client.force_login(_member(shop, Role.VIEWER))

    response = client.get(f"/projects/{shop.slug}/errors/tables/server_errors_by_path.csv?range=1h")

    assert response.status_code == 200
    assert response.content.decode().splitlines() == ["Path,Requests,5xx,5xx share", "/orders/18,1,1,1"]


@pytest.mark.parametrize("role", [Role.VIEWER, Role.MEMBER])
def test_viewers_and_members_cannot_manage_keys(client, shop, role):
    client.force_login(_member(shop, role))

    page = client.get(f"/projects/{shop.slug}/settings/")
    create = client.post(f"/projects/{shop.slug}/settings/keys/", {"name": "sneaky", "scopes": ["write"]})

    assert (page.status_code, create.status_code) == (403, 403)
    assert ApiKey.objects.filter(project=shop).count() == 0


def test_an_admin_creates_a_key_shown_once_and_revokes_it(client, shop):
    client.force_login(_member(shop, Role.ADMIN))

    created = client.post(f"/projects/{shop.slug}/settings/keys/", {"name": "ci", "scopes": ["read"]})
    key = ApiKey.objects.get(project=shop)
    secret = created.context["new_key"].secret
    listed = client.get(f"/projects/{shop.slug}/settings/")
    revoked = client.post(f"/projects/{shop.slug}/settings/keys/{key.id}/revoke/")

    assert created.status_code == 201
    assert secret in created.content.decode()
    assert secret not in listed.content.decode()
    assert key.prefix in listed.content.decode()
    assert revoked.status_code == 302
    key.refresh_from_db()
    assert key.revoked_at is not None
    assert key.scopes == ["read"]


def test_an_admin_cannot_grant_ownership_but_an_owner_can(client, shop):
    newcomer = UserFactory(username="newcomer")
    admin = _member(shop, Role.ADMIN)
    owner = _member(shop, Role.OWNER)

    client.force_login(admin)
    client.post(f"/projects/{shop.slug}/settings/members/", {"username": "newcomer", "role": Role.OWNER})
    refused = Membership.objects.filter(project=shop, user=newcomer).exists()
    client.force_login(owner)
    client.post(f"/projects/{shop.slug}/settings/members/", {"username": "newcomer@example.com", "role": Role.OWNER})

    assert refused is False
    assert Membership.objects.get(project=shop, user=newcomer).role == Role.OWNER


def test_the_last_owner_can_be_neither_demoted_nor_removed(client, shop):
    owner = _member(shop, Role.OWNER)
    membership = Membership.objects.get(project=shop, user=owner)
    client.force_login(owner)

    client.post(f"/projects/{shop.slug}/settings/members/{membership.id}/role/", {"role": Role.VIEWER})
    client.post(f"/projects/{shop.slug}/settings/members/{membership.id}/remove/")

    membership.refresh_from_db()
    assert membership.role == Role.OWNER


def test_relabelling_a_column_as_path_regroups_reports(client, shop):
    dataset = Dataset.objects.get(project=shop)
    client.force_login(_member(shop, Role.OWNER))
    before = client.get(f"/projects/{shop.slug}/usage/?range=1h").context["report"].tables["top_paths"].rows

    response = client.post(
        f"/projects/{shop.slug}/settings/datasets/{dataset.id}/",
        {f"d{dataset.id}-retention_days": 30, f"d{dataset.id}-labels": '{"blob5": "path"}'},
    )
    report = client.get(f"/projects/{shop.slug}/usage/?range=1h").context["report"]

    assert response.status_code == 302
    assert [(row["path"], row["requests"]) for row in before] == [("/orders/17", 1), ("/orders/18", 1)]
    assert [(row["path"], row["requests"]) for row in report.tables["top_paths"].rows] == [("/orders/:id", 2)]
    assert report.tables["top_paths"].columns[0] == ("path", "path")
    dataset.refresh_from_db()
    assert (dataset.retention_days, dataset.labels) == (30, {"blob5": "path"})


def test_invalid_labels_are_refused(client, shop):
    dataset = Dataset.objects.get(project=shop)
    client.force_login(_member(shop, Role.OWNER))

    client.post(
        f"/projects/{shop.slug}/settings/datasets/{dataset.id}/",
        {f"d{dataset.id}-retention_days": 30, f"d{dataset.id}-labels": '{"blob99": "path"}'},
    )

    dataset.refresh_from_db()
    assert (dataset.retention_days, dataset.labels) == (92, {})


def test_staff_overview_lists_projects_with_their_numbers(client, shop):
    staff = UserFactory(is_staff=True, is_superuser=True)
    client.force_login(staff)

    response = client.get("/admin/overview/")

    assert response.status_code == 200
    row = next(row for row in response.context["projects"] if row["project"] == shop)
    assert (row["requests"], row["errors_5xx"], row["cost_usd"]) == (2, 1, 0.25)
    assert response.context["datasets"][0]["points"] == 3


def test_staff_overview_is_closed_to_non_staff(client, shop):
    client.force_login(_member(shop, Role.OWNER))

    response = client.get("/admin/overview/")

    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


def test_a_custom_range_is_used_exactly_and_a_bad_one_explained(client, shop):
    client.force_login(_member(shop, Role.VIEWER))
    now = timezone.now().replace(second=0, microsecond=0)
    start, end = now - timedelta(minutes=25), now - timedelta(minutes=15)

    custom = client.get(
        f"/projects/{shop.slug}/usage/",
        {"range": "custom", "start": start.strftime("%Y-%m-%dT%H:%M"), "end": end.strftime("%Y-%m-%dT%H:%M")},
    )
    backwards = client.get(
        f"/projects/{shop.slug}/usage/",
        {"range": "custom", "start": end.strftime("%Y-%m-%dT%H:%M"), "end": start.strftime("%Y-%m-%dT%H:%M")},
    )

    window = custom.context["report"].window
    assert (window.start, window.end, window.step) == (start, end, timedelta(seconds=10))
    assert custom.context["report"].totals["requests"] == 1
    assert backwards.context["problem"] == "'from' must be before 'to'."
    assert backwards.context["report"].window.end - backwards.context["report"].window.start >= timedelta(hours=24)


def test_a_viewer_can_neither_add_members_nor_change_datasets(client, shop):
    dataset = Dataset.objects.get(project=shop)
    UserFactory(username="friend")
    client.force_login(_member(shop, Role.VIEWER))

    member = client.post(f"/projects/{shop.slug}/settings/members/", {"username": "friend", "role": Role.ADMIN})
    settings = client.post(
        f"/projects/{shop.slug}/settings/datasets/{dataset.id}/",
        {f"d{dataset.id}-retention_days": 1, f"d{dataset.id}-labels": "{}"},
    )

    assert (member.status_code, settings.status_code) == (403, 403)
    assert not Membership.objects.filter(project=shop, user__username="friend").exists()
    dataset.refresh_from_db()
    assert dataset.retention_days == 92
