"""The projections API: members read, owners and admins add and drop; errors name the field and the limit."""

from __future__ import annotations

import json

import pytest
from django.core.management import call_command
from django.test import Client

from projects.governance.models import AuditEvent
from projects.models import ApiKey, Role
from tests.factories import ProjectFactory, key_for
from tests.tracking.projections.conftest import START, member
from tracking.models import Dataset, Projection
from tracking.projections.services import projection_backfill_step

pytestmark = pytest.mark.django_db

PROBLEM = "application/problem+json"
URL = "/api/v1/datasets/web/projections"


def _post(client: Client, key: str, body: object, url: str = URL):
    return client.post(url, data=body, content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {key}")


def test_an_admin_key_adds_a_projection_that_backfills_in_day_steps_and_reports_progress(
    client: Client, dataset: Dataset, stored: int, admin_key: str, read_key: str
) -> None:
    created = _post(client, admin_key, {"name": "by_path", "dimensions": ["blob2", "blob1"], "doubles": ["double1"]})
    listed_before = client.get(URL, HTTP_AUTHORIZATION=f"Bearer {read_key}").json()
    projection = Projection.objects.get(dataset=dataset, name="by_path")
    projection_backfill_step(projection_id=projection.id)
    halfway = client.get(f"{URL}/by_path", HTTP_AUTHORIZATION=f"Bearer {read_key}").json()
    projection_backfill_step(projection_id=projection.id)
    done = client.get(f"{URL}/by_path", HTTP_AUTHORIZATION=f"Bearer {read_key}").json()

    assert stored == 36
    assert created.status_code == 201
    body = created.json()
    assert {k: body[k] for k in ("name", "dataset", "dimensions", "doubles", "grain", "state", "ready_at")} == {
        "name": "by_path", "dataset": "web", "dimensions": ["blob2", "blob1"], "doubles": ["double1"], "grain": 3600,
        "state": "backfilling", "ready_at": None,
    }
    assert body["backfill"]["progress"] == 0.0
    assert body["backfill"]["through"] == START.replace(hour=0).isoformat().replace("+00:00", "Z")
    assert [p["name"] for p in listed_before] == ["by_path"]
    assert (halfway["state"], halfway["backfill"]["progress"]) == ("backfilling", round(24 / 47, 4))  # the first day of 47 hours
    assert (done["state"], done["backfill"]["progress"]) == ("ready", 1.0)
    assert done["ready_at"] is not None


def test_a_projection_of_an_empty_dataset_is_ready_at_once(client: Client, dataset: Dataset, admin_key: str) -> None:
    created = _post(client, admin_key, {"name": "totals", "grain": 86400})

    assert created.status_code == 201
    assert (created.json()["state"], created.json()["backfill"]["progress"], created.json()["dimensions"]) == ("ready", 1.0, [])


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        ({"name": "p", "dimensions": ["blob21"]}, "dimensions", '"blob21" is not a column a projection groups by (index1, blob1..blob20).'),
        ({"name": "p", "dimensions": ["double1"]}, "dimensions", '"double1" is not a column a projection groups by'),
        ({"name": "p", "doubles": ["blob1"]}, "doubles", '"blob1" is not a column a projection aggregates (double1..double20).'),
        ({"name": "p", "dimensions": ["blob1", "blob2", "blob3", "blob4", "blob5"]}, "dimensions", "At most 4 dimensions per projection."),
        ({"name": "p", "dimensions": ["blob1", "blob1"]}, "dimensions", "a column is listed twice"),
        ({"name": "p", "doubles": ["double2", "double2"]}, "doubles", "a column is listed twice"),
        ({"name": "1p"}, "name", "Letters, digits and underscores, not starting with a digit; 64 at most."),
        ({"name": "p" * 65}, "name", "no more than 64 characters"),
        ({"name": "p", "grain": 5}, "grain", '"5" is not a valid choice.'),
        ({"dimensions": ["blob1"]}, "name", "This field is required."),
    ],
)
def test_an_invalid_projection_is_a_400_problem_naming_the_field_and_the_limit(
    client: Client, dataset: Dataset, admin_key: str, body: dict, field: str, words: str
) -> None:
    response = _post(client, admin_key, body)

    assert response.status_code == 400
    assert response["Content-Type"] == PROBLEM
    problem = response.json()
    assert field in problem["errors"]
    assert words in str(problem["errors"][field])
    assert not Projection.objects.filter(dataset=dataset).exists()


def test_a_name_already_taken_is_a_409_problem_naming_it(client: Client, dataset: Dataset, admin_key: str) -> None:
    assert _post(client, admin_key, {"name": "p", "dimensions": ["blob1"]}).status_code == 201

    again = _post(client, admin_key, {"name": "p", "dimensions": ["blob2"]})

    assert again.status_code == 409 and again["Content-Type"] == PROBLEM
    assert again.json()["errors"] == {"name": ["the dataset already has a projection named p"]}
    assert list(Projection.objects.filter(dataset=dataset).values_list("dimensions", flat=True)) == [["blob1"]]


def test_dropping_removes_the_projection_and_a_second_drop_is_a_404(client: Client, dataset: Dataset, admin_key: str) -> None:
    _post(client, admin_key, {"name": "p", "dimensions": ["blob1"]})

    dropped = client.delete(f"{URL}/p", HTTP_AUTHORIZATION=f"Bearer {admin_key}")
    again = client.delete(f"{URL}/p", HTTP_AUTHORIZATION=f"Bearer {admin_key}")

    assert dropped.status_code == 204
    assert (again.status_code, again["Content-Type"]) == (404, PROBLEM)
    assert again.json()["detail"] == "Dataset 'web' has no projection named 'p'."
    assert not Projection.objects.filter(dataset=dataset).exists()


def test_read_and_write_keys_cannot_add_or_drop(client: Client, dataset: Dataset, admin_key: str, read_key: str, write_key: str) -> None:
    _post(client, admin_key, {"name": "p"})

    answers = [
        _post(client, read_key, {"name": "q"}),
        _post(client, write_key, {"name": "q"}),
        client.delete(f"{URL}/p", HTTP_AUTHORIZATION=f"Bearer {read_key}"),
        client.get(URL, HTTP_AUTHORIZATION=f"Bearer {write_key}"),
    ]

    assert [(a.status_code, a["Content-Type"]) for a in answers] == [(403, PROBLEM)] * 4
    assert list(Projection.objects.filter(dataset=dataset).values_list("name", flat=True)) == ["p"]


def test_another_projects_key_sees_no_dataset(client: Client, dataset: Dataset) -> None:
    other = key_for(ProjectFactory(), "read", "admin").secret

    listed = client.get(URL, HTTP_AUTHORIZATION=f"Bearer {other}")
    created = _post(client, other, {"name": "p"})

    assert [(r.status_code, r.json()["code"]) for r in (listed, created)] == [(404, "dataset_not_found")] * 2
    assert not Projection.objects.filter(dataset=dataset).exists()


def test_with_a_session_members_read_and_only_owners_and_admins_change(client: Client, project, dataset: Dataset) -> None:
    query = f"?project={project.slug}"
    answers = {}
    for role in (Role.VIEWER, Role.MEMBER, Role.ADMIN, Role.OWNER):
        client.force_login(member(project, role))
        answers[role] = (
            client.get(URL + query).status_code,
            client.post(URL + query, data={"name": f"by_{role}"}, content_type="application/json").status_code,
        )

    assert answers == {Role.VIEWER: (200, 403), Role.MEMBER: (200, 403), Role.ADMIN: (200, 201), Role.OWNER: (200, 201)}
    assert sorted(Projection.objects.filter(dataset=dataset).values_list("name", flat=True)) == ["by_admin", "by_owner"]


def test_the_openapi_schema_documents_the_endpoints_and_validates_without_warnings(tmp_path) -> None:
    out = tmp_path / "schema.json"

    call_command("spectacular", "--validate", "--fail-on-warn", "--format", "openapi-json", "--file", str(out))

    schema = json.loads(out.read_text())
    operations = {op["operationId"] for path in schema["paths"].values() for op in path.values()}
    assert {"projections_list", "projections_create", "projections_retrieve", "projections_drop"} <= operations
    assert schema["components"]["schemas"]["ProjectionInput"]["properties"]["dimensions"]["maxItems"] == 4


def test_adding_and_dropping_are_in_the_audit_log_with_the_key(client: Client, project, dataset: Dataset, admin_key: str) -> None:
    _post(client, admin_key, {"name": "p", "dimensions": ["blob1"], "doubles": ["double2"], "grain": 86400})
    client.delete(f"{URL}/p", HTTP_AUTHORIZATION=f"Bearer {admin_key}")

    events = list(AuditEvent.objects.filter(project=project, action="projection.change").order_by("id"))
    actor = f"key {ApiKey.objects.get(project=project, scopes=['admin']).prefix}"

    assert [(e.target, e.details, e.actor) for e in events] == [
        ("web.p", {"added": {"dimensions": ["blob1"], "doubles": ["double2"], "grain": 86400}}, actor),
        ("web.p", {"dropped": {"dimensions": ["blob1"], "doubles": ["double2"], "grain": 86400}}, actor),
    ]
