"""The audit log: keys, members, retention and SQL are recorded with their actor; members read their project's log."""

import csv
import io

import pytest
from django.test import Client

from projects.governance.audit import Actor, audit_record
from projects.governance.models import AuditAction, AuditEvent, AuditOutcome
from projects.models import Role
from projects.services import api_key_create, api_key_revoke, membership_remove, membership_set
from tests.factories import DatasetFactory, MembershipFactory, ProjectFactory, UserFactory, key_for

pytestmark = pytest.mark.django_db


def _events(project, action: str) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(project=project, action=action).order_by("id"))


def test_key_creation_and_revocation_are_recorded_with_the_key_prefix(project):
    issued = api_key_create(project=project, name="ci", scopes=["write"])
    api_key_revoke(api_key=issued.api_key)
    api_key_revoke(api_key=issued.api_key)  # already revoked: not a second event

    created = _events(project, AuditAction.KEY_CREATE)
    revoked = _events(project, AuditAction.KEY_REVOKE)
    assert [(e.target, e.details, e.actor) for e in created] == [
        (issued.api_key.prefix, {"name": "ci", "scopes": ["write"]}, "system")
    ]
    assert [(e.target, e.actor, e.project_slug) for e in revoked] == [(issued.api_key.prefix, "system", project.slug)]


def test_member_role_changes_and_removal_are_recorded(project):
    user = UserFactory(username="carol")

    membership_set(project=project, user=user, role=Role.MEMBER)
    membership_set(project=project, user=user, role=Role.ADMIN)
    membership_remove(project=project, user=user)

    assert [(e.action, e.target, e.details) for e in AuditEvent.objects.filter(project=project).order_by("id")] == [
        (AuditAction.MEMBER_SET, "carol", {"role": "member", "created": True}),
        (AuditAction.MEMBER_SET, "carol", {"role": "admin", "created": False}),
        (AuditAction.MEMBER_REMOVE, "carol", {"role": "admin"}),
    ]


def test_retention_change_is_recorded_with_before_and_after(project):
    dataset = DatasetFactory(project=project, name="web", retention_days=92)

    dataset.retention_days = 30
    dataset.save()
    dataset.labels = {"blob1": "path"}
    dataset.save()

    assert [(e.target, e.details) for e in _events(project, AuditAction.DATASET_RETENTION)] == [
        ("web", {"from_days": 92, "to_days": 30})
    ]


def test_admin_edits_are_attributed_to_the_signed_in_user(client: Client, project):
    admin_user = UserFactory(username="root", is_staff=True, is_superuser=True)
    dataset = DatasetFactory(project=project, name="web", retention_days=92)
    client.force_login(admin_user)

    response = client.post(
        f"/admin/tracking/dataset/{dataset.pk}/change/",
        {"project": project.pk, "name": "web", "retention_days": 7, "labels": "{}"},
    )

    assert response.status_code == 302
    event = _events(project, AuditAction.DATASET_RETENTION)[0]
    assert (event.actor, event.user_id, event.ip) == ("user root", admin_user.id, "127.0.0.1")


def test_sql_queries_are_recorded_with_text_key_rows_duration_and_outcome(client: Client, project, partitions):
    issued = key_for(project, "read")
    headers = {"HTTP_AUTHORIZATION": f"Bearer {issued.secret}"}

    ok = client.post("/api/v1/sql", data="SELECT 1 AS one", content_type="text/plain", **headers)
    bad = client.post("/api/v1/sql", data="SELECT nope FROM nowhere", content_type="text/plain", **headers)

    assert (ok.status_code, bad.status_code) == (200, 422)
    first, second = _events(project, AuditAction.SQL_RUN)
    assert (first.actor, first.api_key_prefix, first.outcome) == (f"key {issued.api_key.prefix}", issued.api_key.prefix, "ok")
    assert (first.details["sql"], first.details["rows"]) == ("SELECT 1 AS one", 1)
    assert first.details["duration_ms"] >= 0
    assert (second.outcome, second.details["sql"]) == ("error", "SELECT nope FROM nowhere")
    assert second.details["error"] != ""
    assert "rows" not in second.details


def test_members_read_their_projects_log_filtered_and_never_another_projects(client: Client, project):
    other = ProjectFactory()
    audit_record(project=project, action=AuditAction.KEY_CREATE, target="mc_mine")
    audit_record(project=project, action=AuditAction.KEY_REVOKE, target="mc_mine")
    audit_record(project=other, action=AuditAction.KEY_CREATE, target="mc_theirs")
    member = MembershipFactory(project=project, role=Role.VIEWER).user
    client.force_login(member)

    everything = client.get(f"/api/v1/audit?project={project.slug}")
    revocations = client.get(f"/api/v1/audit?project={project.slug}&action=key.revoke")
    foreign = client.get(f"/api/v1/audit?project={other.slug}")

    assert [e["target"] for e in everything.json()["events"] if e["action"].startswith("key.")] == ["mc_mine", "mc_mine"]
    assert [(e["action"], e["target"]) for e in revocations.json()["events"]] == [("key.revoke", "mc_mine")]
    assert foreign.status_code == 404


def test_read_key_reads_the_log_and_csv_export_neutralises_formulas(client: Client, project, read_key):
    audit_record(project=project, action=AuditAction.DATA_DELETE_REQUEST, target="=HYPERLINK(\"x\")")

    response = client.get("/api/v1/audit?action=data.delete_request&output=csv", HTTP_AUTHORIZATION=f"Bearer {read_key}")

    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0] == ["id", "created_at", "project_slug", "action", "actor", "api_key_prefix", "ip", "target", "outcome", "details"]
    assert rows[1][3:] == ["data.delete_request", "system", "", "", "'=HYPERLINK(\"x\")", "ok", "{}"]


def test_audit_pages_with_before_id(client: Client, project, read_key):
    for number in range(5):
        audit_record(project=project, action=AuditAction.KEY_CREATE, target=f"k{number}")
    headers = {"HTTP_AUTHORIZATION": f"Bearer {read_key}"}

    first = client.get("/api/v1/audit?action=key.create&limit=3", **headers).json()
    second = client.get(f"/api/v1/audit?action=key.create&limit=3&before_id={first['next_before_id']}", **headers).json()

    assert [e["target"] for e in first["events"]] == ["k4", "k3", "k2"]
    assert [e["target"] for e in second["events"]] == ["k1", "k0", read_key[:11]]  # the key's own creation
    assert second["next_before_id"] is not None


def test_audit_events_cannot_be_edited_or_deleted_in_admin(client: Client, project):
    event = audit_record(project=project, action=AuditAction.KEY_CREATE, target="mc_x")
    client.force_login(UserFactory(username="root", is_staff=True, is_superuser=True))

    page = client.get(f"/admin/governance/auditevent/{event.pk}/change/")
    delete = client.post(f"/admin/governance/auditevent/{event.pk}/delete/", {"post": "yes"})

    assert page.status_code == 200
    assert b'name="_save"' not in page.content
    assert delete.status_code == 403
    assert AuditEvent.objects.filter(pk=event.pk).exists()


def test_query_text_postgresql_cannot_store_is_audited_with_replacements(project):
    event = audit_record(project=project, action=AuditAction.SQL_RUN, details={"sql": "SELECT '\x00' \ud800"})

    event.refresh_from_db()
    assert event.details == {"sql": "SELECT '\ufffd' ?"}


def test_members_see_their_projects_audit_page_and_strangers_get_404(client: Client, project):
    audit_record(project=project, action=AuditAction.SQL_RUN, details={"sql": "SELECT count() FROM web", "rows": 1, "duration_ms": 2.5})
    audit_record(project=project, action=AuditAction.KEY_REVOKE, target="mc_gone")
    member = MembershipFactory(project=project, role=Role.VIEWER).user
    stranger = UserFactory(username="mallory")

    client.force_login(member)
    page = client.get(f"/projects/{project.slug}/audit/")
    filtered = client.get(f"/projects/{project.slug}/audit/?action=key.revoke")
    client.force_login(stranger)
    hidden = client.get(f"/projects/{project.slug}/audit/")

    assert page.status_code == 200
    assert "SELECT count() FROM web → 1 rows, 2.5 ms" in page.content.decode()
    assert "mc_gone" in filtered.content.decode() and "SELECT count()" not in filtered.content.decode()
    assert hidden.status_code == 404


def test_operator_shell_queries_are_audited_as_system(project, partitions):
    from django.core.management import call_command

    call_command("ae_query", "--project", project.slug, "SELECT 1 AS one")

    event = _events(project, AuditAction.SQL_RUN)[0]
    assert (event.actor, event.outcome, event.details["sql"], event.details["rows"]) == ("system", "ok", "SELECT 1 AS one", 1)


@pytest.mark.parametrize("model", ["auditevent", "deletionjob", "projectquota"])
def test_governance_admin_lists_render(client: Client, project, model):
    audit_record(project=project, action=AuditAction.KEY_CREATE, target="mc_x")
    client.force_login(UserFactory(username="root", is_staff=True, is_superuser=True))

    response = client.get(f"/admin/governance/{model}/?q=mc")

    assert response.status_code == 200


def test_admin_exports_selected_events_as_csv(client: Client, project):
    first = audit_record(project=project, action=AuditAction.KEY_CREATE, target="mc_one")
    audit_record(project=project, action=AuditAction.KEY_REVOKE, target="mc_two")
    client.force_login(UserFactory(username="root", is_staff=True, is_superuser=True))

    response = client.post(
        "/admin/governance/auditevent/", {"action": "export_csv", "_selected_action": [first.pk], "index": 0}
    )

    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert response["Content-Disposition"] == 'attachment; filename="audit.csv"'
    assert [row[7] for row in rows[1:]] == ["mc_one"]


def test_a_recorded_event_reads_back_exactly_as_returned(project):
    """The audit INSERT is one raw statement (projects/governance/db.py): every field the ORM would write, typed alike."""
    user = UserFactory(username="alice")
    actor = Actor(label="user alice", user=user, api_key_prefix="mc_1a2b3c4d", ip="203.0.113.9")
    details = {"sql": "SELECT 'é' \x00", "rows": 3, "duration_ms": 2.5, "plan": "raw", "params": ["a", "b"],
               "nested": {"none": None, "list": [1, 2.5, True]}}

    event = audit_record(project=project, action=AuditAction.SQL_RUN, target="x" * 300, outcome=AuditOutcome.ERROR,
                         details=details, actor=actor)
    stored = AuditEvent.objects.get(pk=event.pk)

    fields = ["project_id", "project_slug", "action", "actor", "user_id", "api_key_prefix", "ip", "target", "outcome",
              "details", "created_at"]
    assert [getattr(stored, name) for name in fields] == [getattr(event, name) for name in fields]
    assert (stored.user_id, stored.ip, len(stored.target), stored.details["sql"]) == (user.pk, "203.0.113.9", 200, "SELECT 'é' \ufffd")
