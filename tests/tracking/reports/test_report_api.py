"""The reports API: JSON and CSV for keys and sessions, the seed's /metrics routes, problems."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from projects.models import Role
from tests.factories import DatasetFactory, MembershipFactory, ProjectFactory, UserFactory, key_for
from tests.tracking.reports.helpers import Point, points_store, raw

pytestmark = pytest.mark.django_db


@pytest.fixture
def live_dataset(project):
    """Points stamped seconds ago, so the wall-clock routes (/metrics/realtime) see them."""
    dataset = DatasetFactory(project=project, name="meauxcloud_analytics")
    now = timezone.now()
    points = [
        Point(now - timedelta(seconds=30), ["GET", "/a", "200"], [10.0, 1, 100]),
        Point(now - timedelta(seconds=20), ["GET", "/a", "500"], [30.0, 1, 10]),
        Point(now - timedelta(seconds=10), ["POST", "/b", "503"], [50.0, 1, 0]),
        Point(now - timedelta(minutes=9), ["GET", "/old", "200"], [99.0, 1, 0]),
        Point(now - timedelta(days=2, minutes=3), ["proj-a", "ai", "cost"], [1.25, 1]),
        Point(now - timedelta(days=2, minutes=1), ["proj-a", "time", "cost"], [0.5, 1]),
        Point(now - timedelta(hours=1), ["proj-b", "ai", "cost"], [0.75, 1]),
        Point(now - timedelta(days=40), ["proj-b", "ai", "cost"], [100.0, 1]),
    ]
    points_store(dataset, points)
    dataset.refresh_from_db()
    return dataset


def test_overview_with_a_read_key_counts_requests(client, read_key, live_dataset):
    response = client.get("/api/v1/reports/overview?range=1h", HTTP_AUTHORIZATION=f"Bearer {read_key}")

    assert response.status_code == 200
    body = response.json()
    assert body["dataset"] == "meauxcloud_analytics"
    assert body["interval"] == 60
    assert body["totals"]["requests"] == 4
    assert isinstance(body["totals"]["requests"], int)
    assert body["totals"]["errors_5xx"] == 2
    assert body["totals"]["error_rate"] == 0.5
    assert body["totals"]["avg_duration_ms"] == 47.25
    assert [row["path"] for row in body["tables"]["top_paths"]["rows"]] == ["/a", "/b", "/old"]
    assert sum(body["series"]["requests"]["lines"]["requests"]) == 4


def test_overview_with_a_session_needs_the_project(client, project, live_dataset):
    user = UserFactory()
    MembershipFactory(project=project, user=user, role=Role.VIEWER)
    client.force_login(user)

    missing = client.get("/api/v1/reports/overview")
    found = client.get(f"/api/v1/reports/overview?project={project.slug}&range=1h")

    assert missing.status_code == 400
    assert missing["Content-Type"] == "application/problem+json"
    assert found.status_code == 200
    assert found.json()["totals"]["requests"] == 4


def test_table_downloads_as_csv(client, read_key, live_dataset):
    response = client.get("/api/v1/reports/usage/tables/top_paths.csv?range=1h", HTTP_AUTHORIZATION=f"Bearer {read_key}")

    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    lines = response.content.decode().splitlines()
    assert lines[0] == "path,Requests,Avg ms,p95 ms,Bytes,Avg bytes"
    assert lines[1].startswith("/a,2,20,")
    assert len(lines) == 4


def test_invalid_range_is_a_problem(client, read_key, live_dataset):
    start = timezone.now() - timedelta(days=100)

    response = client.get(
        "/api/v1/reports/usage", {"from": start.isoformat()}, HTTP_AUTHORIZATION=f"Bearer {read_key}"
    )

    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["errors"] == {"from": ["The range must be between 5 minutes and 90 days."]}


def test_dates_past_the_calendar_are_a_problem_not_an_overflow(client, read_key, live_dataset):
    response = client.get(
        "/api/v1/reports/overview",
        {"from": "9999-12-30T00:00:00Z", "to": "9999-12-31T00:00:00Z"},
        HTTP_AUTHORIZATION=f"Bearer {read_key}",
    )

    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["errors"] == {"from": ["Dates must fall between 1970-01-01 and 9999-01-01."]}


def test_unknown_dataset_and_report_are_not_found(client, read_key, live_dataset):
    headers = {"HTTP_AUTHORIZATION": f"Bearer {read_key}"}

    assert client.get("/api/v1/reports/usage?dataset=nope", **headers).status_code == 404
    assert client.get("/api/v1/reports/nope", **headers).status_code == 404


def test_metrics_realtime_has_the_sql_api_shape(client, read_key, live_dataset):
    response = client.get("/metrics/realtime", HTTP_AUTHORIZATION=f"Bearer {read_key}")

    assert response.status_code == 200
    assert response.json() == {
        "meta": [
            {"name": "total_requests", "type": "UInt64"},
            {"name": "avg_response_time", "type": "Float64"},
            {"name": "error_count", "type": "UInt64"},
        ],
        "data": [{"total_requests": "3", "avg_response_time": 30.0, "error_count": "2"}],
        "rows": 1,
        "rows_before_limit_at_least": 1,
    }


def test_metrics_costs_equal_the_seed_query_on_raw_points(client, read_key, live_dataset):
    response = client.get("/metrics/costs", HTTP_AUTHORIZATION=f"Bearer {read_key}")

    expected = raw(
        """
        SELECT to_char(date_trunc('day', timestamp AT TIME ZONE 'UTC'), 'YYYY-MM-DD HH24:MI:SS'), blob2, sum(double1)
        FROM tracking_datapoint WHERE dataset_id = %s AND timestamp > now() - INTERVAL '30 days' AND blob3 = 'cost'
        GROUP BY 1, 2 ORDER BY 1 DESC, 2
        """,
        [live_dataset.id],
    )
    body = response.json()
    assert body["meta"] == [
        {"name": "date", "type": "DateTime"},
        {"name": "cost_type", "type": "String"},
        {"name": "total_cost", "type": "Float64"},
    ]
    assert [(r["date"], r["cost_type"], r["total_cost"]) for r in body["data"]] == expected
    assert body["rows"] == len(expected) >= 2


def test_a_key_of_one_project_cannot_read_another(client, read_key, live_dataset):
    other = ProjectFactory()

    response = client.get(f"/api/v1/reports/overview?project={other.slug}", HTTP_AUTHORIZATION=f"Bearer {read_key}")
    csv = client.get(f"/api/v1/reports/usage/tables/top_paths.csv?project={other.slug}", HTTP_AUTHORIZATION=f"Bearer {read_key}")

    assert response.status_code == 403
    assert csv.status_code == 403


def test_a_member_of_one_project_cannot_read_another(client, project, live_dataset):
    other = ProjectFactory()
    user = UserFactory()
    MembershipFactory(project=other, user=user, role=Role.OWNER)
    client.force_login(user)

    response = client.get(f"/api/v1/reports/overview?project={project.slug}")
    csv = client.get(f"/api/v1/reports/usage/tables/top_paths.csv?project={project.slug}")
    metrics = client.get(f"/metrics/costs?project={project.slug}")

    assert (response.status_code, csv.status_code, metrics.status_code) == (404, 404, 404)


def test_a_write_only_key_cannot_read_reports(client, project, live_dataset):
    write_only = key_for(project, "write").secret

    response = client.get("/api/v1/reports/overview", HTTP_AUTHORIZATION=f"Bearer {write_only}")

    assert response.status_code == 403


def test_openapi_schema_lists_the_report_routes(client):
    response = client.get("/api/schema/", HTTP_ACCEPT="application/json")

    assert response.status_code == 200
    paths = response.json()["paths"]
    assert {"/api/v1/reports/{name}", "/metrics/realtime", "/metrics/costs"} <= set(paths)


def test_interactive_docs_load_swagger_ui_from_our_static_files(client):
    response = client.get("/api/docs/")

    assert response.status_code == 200
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in response.content.decode()
    assert "cdn." not in response.content.decode()
