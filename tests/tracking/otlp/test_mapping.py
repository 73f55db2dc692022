"""The per-dataset OTLP mapping: validation that names the field, and editing it in settings."""

import pytest
from django.core.exceptions import ValidationError

from projects.models import Membership, Role
from tests.factories import UserFactory
from tracking.models import Dataset
from tracking.otlp.mapping import mapping_effective, mapping_resolve
from tracking.otlp.services import dataset_otlp_mapping_set

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("mapping", "message"),
    [
        ([], "The OTLP mapping must be a JSON object."),
        ({"traces": {}}, "OTLP mapping: Object contains unknown field `traces`"),
        ({"logs": {"enabled": "yes"}}, "OTLP mapping: Expected `bool`, got `str` - at `logs.enabled`"),
        ({"requests": {"columns": {"blob21": "x"}}},
         "requests.columns: 'blob21' is not a column (blob1..blob20, double1..double20, index1)."),
        ({"requests": {"columns": {"blob2": "url.full"}}},
         "requests.columns: blob2 is filled by the requests layout (blob1, blob2, blob3, double1, double2, double3)."),
        ({"errors": {"columns": {"blob7": ""}}}, "errors.columns.blob7: name an attribute (1 to 255 characters)."),
        ({"errors": {"min_log_severity": 30}}, "errors.min_log_severity: a severity number is 1 (TRACE) to 24 (FATAL4); it was 30."),
        ({"requests": {"span_kinds": ["server", "edge"]}},
         "requests.span_kinds: 'edge' is not one of unspecified, internal, server, client, producer, consumer."),
    ],
)
def test_an_invalid_mapping_is_refused_naming_the_field(project, mapping, message):
    dataset = Dataset.objects.create(project=project, name="shop")

    with pytest.raises(ValidationError) as refused:
        dataset_otlp_mapping_set(dataset=dataset, mapping=mapping)

    assert refused.value.messages == [message]
    dataset.refresh_from_db()
    assert dataset.otlp_mapping == {}


def test_a_stored_mapping_overrides_only_the_sections_it_names(project):
    dataset = Dataset.objects.create(project=project, name="shop")

    dataset_otlp_mapping_set(dataset=dataset, mapping={"logs": {"enabled": True}, "dedup": False})

    dataset.refresh_from_db()
    resolved = mapping_resolve(dataset.otlp_mapping)
    assert (resolved.logs.enabled, resolved.logs.min_severity, resolved.dedup) == (True, 1, False)
    assert mapping_effective(dataset.otlp_mapping)["requests"] == {
        "enabled": True,
        "span_kinds": ["server"],
        "columns": {"blob4": "deployment.environment", "blob5": "service.name", "index1": "trace_id"},
    }


def test_the_mapping_is_edited_in_the_dataset_settings(client, project):
    owner = UserFactory()
    Membership.objects.create(project=project, user=owner, role=Role.OWNER)
    dataset = Dataset.objects.create(project=project, name="shop")
    client.force_login(owner)
    url = f"/projects/{project.slug}/settings/datasets/{dataset.id}/"
    fields = {f"d{dataset.id}-retention_days": 92, f"d{dataset.id}-labels": "{}"}

    client.post(url, {**fields, f"d{dataset.id}-otlp_mapping": '{"logs": {"enabled": true}}'})
    refused = client.post(url, {**fields, f"d{dataset.id}-otlp_mapping": '{"logs": {"colour": 1}}'}, follow=True)

    dataset.refresh_from_db()
    assert dataset.otlp_mapping == {"logs": {"enabled": True}}
    assert "shop: OTLP mapping: Object contains unknown field `colour` - at `logs`" in refused.content.decode()
    page = client.get(f"/projects/{project.slug}/settings/").content.decode()
    assert "OTLP mapping (JSON)" in page


def test_the_mapping_is_edited_in_django_admin_and_validated_there(admin_client, project):
    dataset = Dataset.objects.create(project=project, name="shop")
    url = f"/admin/tracking/dataset/{dataset.id}/change/"
    fields = {"project": project.id, "name": "shop", "retention_days": 92, "labels": "{}"}

    refused = admin_client.post(url, {**fields, "otlp_mapping": '{"requests": {"columns": {"blob1": "x"}}}'})
    saved = admin_client.post(url, {**fields, "otlp_mapping": '{"dedup": false}'})

    assert refused.status_code == 200
    assert "requests.columns: blob1 is filled by the requests layout" in refused.content.decode()
    assert saved.status_code == 302
    dataset.refresh_from_db()
    assert dataset.otlp_mapping == {"dedup": False}
