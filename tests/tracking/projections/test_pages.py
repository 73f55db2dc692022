"""The dataset's settings page: owners and admins see, add and drop projections; CSRF-checked forms."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from projects.models import Role
from tests.factories import ProjectFactory
from tests.tracking.projections.conftest import member
from tracking.models import Dataset, Projection

pytestmark = pytest.mark.django_db


def _page(project, dataset: Dataset) -> str:
    return f"/projects/{project.slug}/settings/datasets/{dataset.id}/"


def test_an_owner_adds_a_projection_sees_it_backfilling_and_drops_it(client: Client, project, dataset: Dataset, stored: int) -> None:
    client.force_login(member(project, Role.OWNER))
    base = _page(project, dataset)

    added = client.post(f"{base}projections/", {"name": "by_path", "dimensions": ["blob1", "blob2"], "doubles": ["double1"], "grain": "3600"}, follow=True)
    projection = Projection.objects.get(dataset=dataset)
    row = re.search(r'<tr data-projection="by_path" data-state-value="backfilling">.*?</tr>', added.content.decode(), re.S)
    dropped = client.post(f"{base}projections/{projection.id}/drop/", follow=True)

    assert added.redirect_chain == [(base, 302)]
    assert "Projection by_path added; backfilling from the stored points." in added.content.decode()
    assert (projection.dimensions, projection.doubles, projection.grain, projection.state) == (["blob1", "blob2"], ["double1"], 3600, "backfilling")
    assert row is not None
    assert "<code>blob2</code> (path)" in row.group(0) and "Backfilling" in row.group(0)
    assert 'value="0"' in row.group(0)
    assert "Projection by_path dropped" in dropped.content.decode()
    assert not Projection.objects.filter(dataset=dataset).exists()


def test_a_refused_projection_shows_the_reason_by_its_field(client: Client, project, dataset: Dataset) -> None:
    client.force_login(member(project, Role.ADMIN))
    base = _page(project, dataset)
    client.post(f"{base}projections/", {"name": "p", "grain": "3600"})

    taken = client.post(f"{base}projections/", {"name": "p", "grain": "3600"})
    too_many = client.post(f"{base}projections/", {"name": "q", "grain": "3600", "dimensions": ["blob1", "blob2", "blob3", "blob4", "blob5"]})
    unknown = client.post(f"{base}projections/", {"name": "r", "grain": "3600", "dimensions": ["blob99"]})

    assert (taken.status_code, too_many.status_code, unknown.status_code) == (400, 400, 400)
    assert "the dataset already has a projection named p" in taken.content.decode()
    assert "At most 4 dimensions; 5 chosen." in too_many.content.decode()
    assert "Select a valid choice. blob99 is not one of the available choices." in unknown.content.decode()
    assert list(Projection.objects.filter(dataset=dataset).values_list("name", flat=True)) == ["p"]


@pytest.mark.parametrize("role", [Role.MEMBER, Role.VIEWER])
def test_members_and_viewers_can_neither_see_the_page_nor_change_projections(client: Client, project, dataset: Dataset, role: str) -> None:
    projection = Projection.objects.create(dataset=dataset, name="kept", state="ready", ready_at="2026-01-01T00:00:00Z")
    client.force_login(member(project, role))
    base = _page(project, dataset)

    answers = [
        client.get(base).status_code,
        client.post(f"{base}projections/", {"name": "p", "grain": "3600"}).status_code,
        client.post(f"{base}projections/{projection.id}/drop/").status_code,
    ]

    assert answers == [403, 403, 403]
    assert list(Projection.objects.filter(dataset=dataset).values_list("name", flat=True)) == ["kept"]


def test_the_forms_are_csrf_checked(project, dataset: Dataset) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(member(project, Role.OWNER))
    base = _page(project, dataset)

    refused = client.post(f"{base}projections/", {"name": "p", "grain": "3600"})
    page = client.get(base)
    token = page.cookies["csrftoken"].value
    accepted = client.post(f"{base}projections/", {"name": "p", "grain": "3600", "csrfmiddlewaretoken": token})

    assert refused.status_code == 403
    assert accepted.status_code == 302
    assert list(Projection.objects.filter(dataset=dataset).values_list("name", flat=True)) == ["p"]


def test_another_projects_owner_gets_a_404(client: Client, project, dataset: Dataset) -> None:
    other = ProjectFactory()
    client.force_login(member(other, Role.OWNER))

    assert client.get(f"/projects/{other.slug}/settings/datasets/{dataset.id}/").status_code == 404
    assert client.post(f"/projects/{other.slug}/settings/datasets/{dataset.id}/projections/", {"name": "p", "grain": "3600"}).status_code == 404
    assert not Projection.objects.filter(dataset=dataset).exists()
