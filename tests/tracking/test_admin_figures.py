"""Admin's project list: 30-day figures from the day totals equal the reports' numbers, and sort."""

from __future__ import annotations

import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone

from projects.models import Project
from tests.factories import DatasetFactory, MembershipFactory, ProjectFactory, UserFactory, key_for
from tests.tracking.reports.helpers import Point, points_store
from tracking import db
from tracking.models import DatasetDay, DatasetStorage
from tracking.services import dataset_update, storage_estimate_refresh

pytestmark = pytest.mark.django_db

FIGURES = ("requests", "errors_5xx", "cost_usd", "ai_tokens")


@pytest.fixture
def admin_client(client: Client) -> Client:
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    return client


def request(at, status: str, path: str = "/a") -> Point:
    return Point(at, ["GET", path, status], [12.5, 1, 100])


def cost(at, amount: float) -> Point:
    return Point(at, ["proj", "compute", "cost"], [amount, 1])


def ai(at, tokens: float) -> Point:
    return Point(at, ["ai-usage", "gpt", ""], [tokens, 0.01, 1])


@pytest.fixture
def three_projects() -> dict[str, Project]:
    """Busy (two datasets, points over several days and one outside the window), light, silent."""
    tag = uuid.uuid4().hex[:8]
    now = timezone.now()
    busy, light, silent = (ProjectFactory(slug=f"fig-{tag}-{name}") for name in ("busy", "light", "silent"))
    api, jobs = DatasetFactory(project=busy, name="api"), DatasetFactory(project=busy, name="jobs")
    points_store(api, [
        request(now - timedelta(minutes=5), "200"), request(now - timedelta(hours=3), "500"),
        request(now - timedelta(days=2), "503"), request(now - timedelta(days=3), "200", "/b"),
        request(now - timedelta(days=29), "200"), request(now - timedelta(days=45), "500"),
        cost(now - timedelta(hours=1), 0.25), cost(now - timedelta(days=4), 1.5), cost(now - timedelta(days=40), 100.0),
        ai(now - timedelta(hours=2), 1200.0),
    ])
    points_store(jobs, [request(now - timedelta(minutes=1), "502"), request(now - timedelta(days=1), "201")])
    light_data = DatasetFactory(project=light, name="web")
    points_store(light_data, [
        request(now - timedelta(minutes=2), "200"), request(now - timedelta(minutes=3), "500"),
        request(now - timedelta(days=1), "200"), cost(now - timedelta(minutes=2), 0.1), ai(now - timedelta(days=5), 10.0),
    ])
    MembershipFactory(project=busy)
    MembershipFactory(project=busy)
    MembershipFactory(project=light)
    storage_estimate_refresh()
    return {"busy": busy, "light": light, "silent": silent, "tag": tag}


def report_totals(client: Client, project: Project) -> dict[str, Decimal]:
    """The reports' own 30-day totals, summed over the project's datasets."""
    key = key_for(project, "read").secret
    totals = dict.fromkeys(FIGURES, Decimal(0))
    for dataset in project.datasets.all():
        body = client.get(
            f"/api/v1/reports/overview?dataset={dataset.name}&range=30d", HTTP_AUTHORIZATION=f"Bearer {key}"
        ).json()
        for name in FIGURES:
            totals[name] += Decimal(str(body["totals"][name]))
    return totals


def listed(client: Client, tag: str, order: str = "") -> list[Project]:
    response = client.get("/admin/projects/project/", {"q": f"fig-{tag}", **({"o": order} if order else {})})
    assert response.status_code == 200
    return list(response.context["cl"].result_list)


def test_the_list_shows_each_projects_figures_equal_to_its_reports(admin_client, three_projects):
    rows = {project.slug.rsplit("-", 1)[1]: project for project in listed(admin_client, three_projects["tag"])}

    for name in ("busy", "light", "silent"):
        project, row = three_projects[name], rows[name]
        expected = report_totals(admin_client, project)
        assert (row.figures.requests, row.figures.errors_5xx, row.figures.cost_usd, row.figures.ai_tokens) == tuple(
            expected[figure] for figure in FIGURES
        ), name
    busy, light, silent = rows["busy"], rows["light"], rows["silent"]
    assert (busy.figures.requests, busy.figures.errors_5xx, busy.figures.cost_usd, busy.figures.ai_tokens) == (7, 3, Decimal("1.75"), 1200)
    assert busy.figures.points == 10 == sum(db.datapoint_count(dataset_id=d.id) for d in busy.datasets.all()) - 2
    assert (light.figures.points, silent.figures.points, silent.figures.requests, silent.figures.cost_usd) == (5, 0, 0, 0)
    assert busy.figures.errors_5xx_share == pytest.approx(3 / 7)
    assert silent.figures.errors_5xx_share is None
    assert (busy.figures.datasets, busy.figures.members, light.figures.datasets, silent.figures.members) == (2, 2, 1, 0)
    assert busy.figures.storage_bytes == sum(DatasetStorage.objects.filter(project=busy).values_list("bytes", flat=True))
    # The estimate shares out what is really on disk: every partition holding points, indexes included.
    shared_out = sum(DatasetStorage.objects.values_list("bytes", flat=True))
    assert abs(shared_out - bytes_of_partitions_with_points()) <= DatasetStorage.objects.count()
    assert busy.figures.storage_bytes > light.figures.storage_bytes > 0
    assert silent.figures.storage_bytes is None and silent.figures.last_write is None
    assert busy.figures.last_write == max(d.last_write_at for d in busy.datasets.all())


def bytes_of_partitions_with_points() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname, pg_total_relation_size(c.oid) FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = %s AND c.relname LIKE %s",
            [db.TABLE, f"{db.PARTITION_PREFIX}%"],
        )
        partitions = cursor.fetchall()
        total = 0
        for name, size in partitions:
            cursor.execute(f'SELECT EXISTS (SELECT 1 FROM "{name}")')
            total += size if cursor.fetchone()[0] else 0
        return total


def test_the_list_renders_the_figures(admin_client, three_projects):
    page = admin_client.get("/admin/projects/project/", {"q": f"fig-{three_projects['tag']}"}).content.decode()

    assert '<td class="field-requests">7</td>' in page
    assert '<td class="field-errors_5xx_share">42.9%</td>' in page
    assert '<td class="field-cost">1.75</td>' in page
    assert '<td class="field-ai_tokens">1,200</td>' in page


SORTABLE = ["points", "requests", "errors_5xx", "errors_5xx_share", "cost", "ai_tokens", "storage", "dataset_count", "member_count"]


def test_the_list_sorts_by_each_figure(admin_client, three_projects):
    from tracking.admin import ProjectConsoleAdmin

    for column in [*SORTABLE, "last_write"]:
        index = ProjectConsoleAdmin.list_display.index(column) + 1  # column 0 is the action checkbox
        descending = [p.slug.rsplit("-", 1)[1] for p in listed(admin_client, three_projects["tag"], f"-{index}")]
        ascending = [p.slug.rsplit("-", 1)[1] for p in listed(admin_client, three_projects["tag"], f"{index}")]
        if column == "last_write":  # light wrote last; a project that never wrote sorts below all
            assert (descending, ascending) == (["light", "busy", "silent"], ["silent", "busy", "light"])
            continue
        assert (descending, ascending) == (["busy", "light", "silent"], ["silent", "light", "busy"]), column


def test_a_relabel_rebuilds_the_day_totals_with_the_rollups(three_projects):
    api = three_projects["busy"].datasets.get(name="api")
    before = sorted(DatasetDay.objects.filter(dataset=api).values_list("day", "points", "requests"))

    dataset_update(dataset=api, retention_days=api.retention_days, labels={"blob7": "method"})

    after = sorted(DatasetDay.objects.filter(dataset=api).values_list("day", "points", "requests"))
    assert [row[:2] for row in after] == [row[:2] for row in before]
    assert sum(row[2] for row in before) == 6
    assert sum(row[2] for row in after) == 0


def test_filters_activity_suspension_and_quota(admin_client, three_projects):
    from meauxcloud.redis import redis_client
    from projects.governance.models import ProjectQuota
    from projects.governance.quotas import KEY_PREFIX, ingest_quota, quota_limits_forget
    from projects.services import project_suspend

    busy, light = three_projects["busy"], three_projects["light"]
    ProjectQuota.objects.create(project=busy, points_per_day=10)
    ProjectQuota.objects.create(project=light, points_per_day=100)
    for project, used in ((busy, 9), (light, 50)):
        stale = list(redis_client().scan_iter(match=f"{KEY_PREFIX}:{project.pk}:*"))  # ids repeat after --create-db
        if stale:
            redis_client().delete(*stale)
        quota_limits_forget(project_id=project.pk)
        with ingest_quota(project_id=project.pk, points=used, size=lambda: 0):
            pass
    project_suspend(project=light, reason="test")

    def names(**params: str) -> list[str]:
        response = admin_client.get("/admin/projects/project/", {"q": f"fig-{three_projects['tag']}", **params})
        return sorted(p.slug.rsplit("-", 1)[1] for p in response.context["cl"].result_list)

    assert names(activity="day") == ["busy", "light"]
    assert names(activity="silent") == ["silent"]
    assert names(status="suspended") == ["light"]
    assert names(status="active") == ["busy", "silent"]
    assert names(quota="over80") == ["busy"]
    page = admin_client.get("/admin/projects/project/", {"q": f"fig-{three_projects['tag']}"}).content.decode()
    assert '<strong class="quota-warning">90%</strong>' in page
    assert '<td class="field-quota_use">50%</td>' in page


def test_search_finds_a_project_by_member(admin_client, three_projects):
    member = UserFactory(username=f"carol-{three_projects['tag']}")
    MembershipFactory(project=three_projects["light"], user=member)

    response = admin_client.get("/admin/projects/project/", {"q": member.username})

    assert [p.pk for p in response.context["cl"].result_list] == [three_projects["light"].pk]


def test_the_project_page_shows_datasets_with_figures_and_links(admin_client, three_projects):
    busy = three_projects["busy"]

    page = " ".join(admin_client.get(f"/admin/projects/project/{busy.pk}/change/").content.decode().split())

    assert '<td class="field-points_30d"> <p>8</p> </td>' in page
    assert '<td class="field-points_30d"> <p>2</p> </td>' in page
    assert f'href="/projects/{busy.slug}/?dataset=api"' in page
    assert f'href="/projects/{busy.slug}/costs/"' in page
    assert f"/admin/governance/auditevent/?project_slug={busy.slug}" in page


def test_staff_without_the_view_permission_see_neither_projects_nor_figures(client):
    from django.contrib.auth.models import Permission

    staff = UserFactory(is_staff=True)
    staff.user_permissions.set(Permission.objects.filter(codename="view_dataset"))
    client.force_login(staff)

    assert client.get("/admin/projects/project/").status_code == 403
    index = client.get("/admin/").content.decode()
    assert "/admin/projects/project/" not in index
    assert "/admin/tracking/dataset/" in index


def test_view_only_staff_see_the_figures_but_no_actions(client, three_projects):
    from django.contrib.auth.models import Permission

    staff = UserFactory(is_staff=True)
    staff.user_permissions.set(Permission.objects.filter(codename="view_project"))
    client.force_login(staff)

    response = client.get("/admin/projects/project/", {"q": f"fig-{three_projects['tag']}"})

    assert '<td class="field-requests">7</td>' in response.content.decode()
    assert 'name="action"' not in response.content.decode()


def test_the_project_page_lists_budgets_and_alert_rules(admin_client):
    from tracking.alerts.models import AlertRule, Budget

    project = ProjectFactory()
    Budget.objects.create(project=project, name="monthly cap", dataset="api", amount_usd=Decimal("250"), thresholds=[50, 100])
    AlertRule.objects.create(project=project, name="errors up", dataset="api", metric="5xx_rate", window_minutes=10, threshold=Decimal("0.05"))

    page = " ".join(admin_client.get(f"/admin/projects/project/{project.pk}/change/").content.decode().split())

    assert '<td class="field-name"> <p>monthly cap</p>' in page
    assert '<td class="field-name"> <p>errors up</p>' in page
    assert 'name="budgets-0-name"' not in page


def project_days(project: Project) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT day, points, requests, errors_5xx, cost_usd, ai_tokens FROM tracking_project_day WHERE project_id = %s ORDER BY day",
            [project.pk],
        )
        return cursor.fetchall()


def dataset_days_summed(project: Project) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT day, sum(points), sum(requests), sum(errors_5xx), sum(cost_usd), sum(ai_tokens) FROM tracking_dataset_day "
            "WHERE project_id = %s GROUP BY day ORDER BY day",
            [project.pk],
        )
        return cursor.fetchall()


def test_project_day_totals_equal_their_datasets_through_drains_rebuilds_and_deletions(three_projects):
    from tracking.rollups.services import rollups_rebuild

    busy = three_projects["busy"]
    assert project_days(busy) == dataset_days_summed(busy) != []

    api = busy.datasets.get(name="api")
    dataset_update(dataset=api, retention_days=api.retention_days, labels={"blob7": "method"})
    assert project_days(busy) == dataset_days_summed(busy)

    jobs = busy.datasets.get(name="jobs")
    jobs_id = jobs.pk
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM tracking_dataset WHERE id = %s", [jobs_id])
    rollups_rebuild(dataset_id=jobs_id, labels=None, now=timezone.now())
    assert project_days(busy) == dataset_days_summed(busy)
    assert sum(row[1] for row in project_days(busy)) == 10  # api's points of every kind, two older than 30 days


def test_inlines_follow_their_own_models_view_permissions(client, three_projects):
    from django.contrib.auth.models import Permission

    staff = UserFactory(is_staff=True)
    staff.user_permissions.set(Permission.objects.filter(codename="view_project"))
    client.force_login(staff)
    url = f"/admin/projects/project/{three_projects['busy'].pk}/change/"

    assert "field-points_30d" not in client.get(url).content.decode()
    staff.user_permissions.add(Permission.objects.get(codename="view_dataset"))
    assert "field-points_30d" in client.get(url).content.decode()
