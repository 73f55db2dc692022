"""Django admin: platform admins see every projection's dataset, project, state and backfill, and drop them."""

from __future__ import annotations

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.test import Client

from tracking.models import Dataset, Projection
from tracking.projections.services import projection_backfill_step, projection_create

pytestmark = pytest.mark.django_db


def test_the_list_shows_dataset_project_state_and_progress(admin_client: Client, project, dataset: Dataset, stored: int) -> None:
    backfilling = projection_create(dataset=dataset, name="by_path", dimensions=["blob2"], doubles=["double1"])
    projection_backfill_step(projection_id=backfilling.id)

    page = admin_client.get("/admin/tracking/projection/")
    detail = admin_client.get(f"/admin/tracking/projection/{backfilling.id}/change/")
    on_dataset = admin_client.get(f"/admin/tracking/dataset/{dataset.id}/change/")

    assert page.status_code == 200
    (row,) = page.context["cl"].result_list
    admin = page.context["cl"].model_admin
    assert (admin.dataset_name(row), admin.project(row), row.state, admin.progress(row)) == ("web", project.slug, "backfilling", "51%")  # 24 of 47 hours
    assert detail.status_code == 200 and b"by_path" in detail.content
    assert on_dataset.status_code == 200 and b"by_path" in on_dataset.content and b"51%" in on_dataset.content
    assert [value for value, _ in page.context["action_form"].fields["action"].choices] == ["", "drop"]


def test_the_drop_action_drops_through_the_service(admin_client: Client, dataset: Dataset) -> None:
    kept = projection_create(dataset=dataset, name="kept", dimensions=["blob1"], doubles=[])
    dropped = projection_create(dataset=dataset, name="dropped", dimensions=["blob2"], doubles=[])

    response = admin_client.post(
        "/admin/tracking/projection/", {"action": "drop", ACTION_CHECKBOX_NAME: [dropped.id]}, follow=True
    )

    assert response.status_code == 200
    assert f"Dropped 1 projection(s): {dataset}/dropped." in response.content.decode()
    assert list(Projection.objects.filter(dataset=dataset).values_list("id", flat=True)) == [kept.id]


def test_admins_cannot_add_or_edit_projections(admin_client: Client, dataset: Dataset) -> None:
    projection = projection_create(dataset=dataset, name="p", dimensions=[], doubles=[])

    add = admin_client.get("/admin/tracking/projection/add/")
    edit = admin_client.post(f"/admin/tracking/projection/{projection.id}/change/", {"name": "renamed"})

    assert add.status_code == 403
    assert edit.status_code == 403
    projection.refresh_from_db()
    assert projection.name == "p"


def test_a_projections_page_shows_its_measured_rows_per_bucket(admin_client: Client, dataset: Dataset) -> None:
    projection = projection_create(dataset=dataset, name="measured", dimensions=["blob1"], doubles=[])
    Projection.objects.filter(id=projection.id).update(bucket_rows=1234.5)

    detail = admin_client.get(f"/admin/tracking/projection/{projection.id}/change/")

    assert detail.status_code == 200
    assert b"Bucket rows" in detail.content and b"1234.5" in detail.content
