"""Dead letters in admin: replay once the cause is fixed (stored once however often), or discard with a reason."""

import re
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.db import connection
from django.test import Client

from projects.governance.audit import Actor
from projects.governance.models import AuditAction, AuditEvent
from tests.factories import UserFactory
from tests.support.processes import process_kill, wait_until, worker_start
from tests.tracking.helpers import post_points, stored_rows
from tracking.deletion.services import deletion_request
from tracking.models import Dataset, DeadLetter, IngestedEntry
from tracking.services import buffer_drain, dead_letter_points, dead_letter_replay

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def refusing_table(partitions: None) -> Iterator[None]:
    """A cause retrying cannot fix, until an operator fixes it: a trigger refusing blob1 = 'refused'."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            CREATE OR REPLACE FUNCTION test_refuse_points() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN IF NEW.blob1 = 'refused' THEN RAISE EXCEPTION 'points refused by the test trigger'; END IF; RETURN NEW; END $$;
            CREATE TRIGGER test_refuse_points BEFORE INSERT ON tracking_datapoint FOR EACH ROW EXECUTE FUNCTION test_refuse_points();
            """
        )
    yield
    cause_fix()


def cause_fix() -> None:
    with connection.cursor() as cursor:
        cursor.execute("DROP TRIGGER IF EXISTS test_refuse_points ON tracking_datapoint; DROP FUNCTION IF EXISTS test_refuse_points();")


@pytest.fixture
def admin_client(client: Client) -> Client:
    client.force_login(UserFactory(username="operator", is_staff=True, is_superuser=True))
    return client


def dead_letter_made(client: Client, write_key: str) -> DeadLetter:
    post_points(client, write_key, "events", [{"blobs": ["refused", "a"]}, {"blobs": ["refused", "b"], "id": "p-2"}])
    post_points(client, write_key, "events", [{"blobs": ["fine"]}])
    result = buffer_drain(time_budget=5, block_ms=10)
    assert (result.points, result.dead_letters) == (1, 1)
    return DeadLetter.objects.get()


def replays_finished(log: Path) -> list[str]:
    """What each replay task returned, from the worker's log."""
    return re.findall(r"Task tracking\.replay_dead_letter\[[^\]]+\] succeeded in [\d.]+s: (\d+)", log.read_text())


@pytest.mark.slow
def test_a_dead_letter_replayed_twice_by_a_real_worker_stores_its_points_once(
    admin_client, write_key, refusing_table, tmp_path, celery_queue
):
    letter = dead_letter_made(admin_client, write_key)
    page = admin_client.get(f"/admin/tracking/deadletter/{letter.pk}/change/").content.decode()
    assert "points refused by the test trigger" in page
    assert "&quot;refused&quot;," in page or '"refused",' in page
    cause_fix()
    for _ in range(2):  # both queued before a worker runs: two replay tasks of one open dead letter
        page = admin_client.post("/admin/tracking/deadletter/", {"action": "replay", "_selected_action": [letter.pk]}, follow=True)
        assert [str(m) for m in page.context["messages"]] == ["Queued 1 dead letter(s) for replay; resolved ones were skipped."]
    log = tmp_path / "worker.log"
    worker = worker_start(queue=celery_queue, log_path=log, beat=False)
    try:
        assert wait_until(lambda: len(replays_finished(log)) == 2, timeout=60)
    finally:
        process_kill(worker, signal.SIGTERM)

    assert sorted(replays_finished(log)) == ["0", "2"]  # points each replay stored

    dataset = Dataset.objects.get(name="events")
    assert sorted((row[2] or "") for row in stored_rows(dataset)) == ["", "a", "b"]
    letter.refresh_from_db()
    assert (letter.replayed_points, letter.resolved_by) == (2, "user operator")
    assert IngestedEntry.objects.filter(entry_id=letter.entry_id).count() == 1
    assert list(AuditEvent.objects.filter(action=AuditAction.DEAD_LETTER_REPLAY).values_list("actor", "details")) == [
        ("user operator", {"dataset": "events", "points": 2})
    ]


def test_the_ledger_stores_a_replay_once_even_past_the_resolved_check(admin_client, write_key, refusing_table):
    letter = dead_letter_made(admin_client, write_key)
    cause_fix()

    first = dead_letter_replay(dead_letter_id=letter.pk, actor=Actor(label="system"))
    DeadLetter.objects.filter(pk=letter.pk).update(resolution="", resolved_at=None)
    second = dead_letter_replay(dead_letter_id=letter.pk, actor=Actor(label="system"))

    assert (first.points, second.points) == (2, 0)
    assert len(stored_rows(Dataset.objects.get(name="events"))) == 3


def test_a_replay_that_still_fails_keeps_the_dead_letter_with_the_new_error(admin_client, write_key, refusing_table):
    letter = dead_letter_made(admin_client, write_key)

    outcome = dead_letter_replay(dead_letter_id=letter.pk, actor=Actor(label="system"))

    letter.refresh_from_db()
    assert (outcome.replayed, letter.resolution) == (False, "")
    assert "points refused by the test trigger" in letter.error
    assert len(stored_rows(Dataset.objects.get(name="events"))) == 1


def test_a_point_deduplicated_at_ingest_stays_skipped_on_replay(admin_client, write_key, refusing_table):
    post_points(admin_client, write_key, "events", [{"blobs": ["first"], "id": "same"}])
    post_points(admin_client, write_key, "events", [{"blobs": ["refused", "x"]}, {"blobs": ["again"], "id": "same"}])
    buffer_drain(time_budget=5, block_ms=10)
    letter = DeadLetter.objects.get()
    assert letter.skip == [1]
    cause_fix()

    assert dead_letter_replay(dead_letter_id=letter.pk, actor=Actor(label="system")).points == 1
    assert sorted(row[1] for row in stored_rows(Dataset.objects.get(name="events"))) == ["first", "refused"]


def test_discard_asks_for_a_reason_and_audits_it(admin_client, write_key, refusing_table):
    letter = dead_letter_made(admin_client, write_key)
    selection = {"action": "discard", "_selected_action": [letter.pk]}

    confirm = admin_client.post("/admin/tracking/deadletter/", selection)
    assert "reason" in confirm.content.decode()
    admin_client.post("/admin/tracking/deadletter/", {**selection, "apply": "1", "reason": "test traffic, not needed"})

    letter.refresh_from_db()
    assert (letter.resolution, letter.resolved_by, letter.resolution_note) == ("discarded", "user operator", "test traffic, not needed")
    event = AuditEvent.objects.get(action=AuditAction.DEAD_LETTER_DISCARD)
    assert (event.actor, event.target, event.details["reason"]) == ("user operator", letter.entry_id, "test traffic, not needed")
    assert dead_letter_replay(dead_letter_id=letter.pk, actor=Actor(label="system")).replayed is False


def test_view_only_staff_cannot_replay_or_discard(write_key, refusing_table, client):
    from django.contrib.auth.models import Permission

    letter = dead_letter_made(client, write_key)
    viewer = UserFactory(is_staff=True)
    viewer.user_permissions.set(Permission.objects.filter(codename="view_deadletter"))
    client.force_login(viewer)

    page = client.get("/admin/tracking/deadletter/").content.decode()
    assert 'value="replay"' not in page and 'value="discard"' not in page
    client.post("/admin/tracking/deadletter/", {"action": "discard", "_selected_action": [letter.pk], "apply": "1", "reason": "x"})
    letter.refresh_from_db()
    assert letter.resolution == ""


def test_deleting_a_dataset_erases_the_points_of_its_dead_letters_and_keeps_the_record(admin_client, write_key, refusing_table):
    letter = dead_letter_made(admin_client, write_key)
    post_points(admin_client, write_key, "other", [{"blobs": ["refused", "kept"]}])
    buffer_drain(time_budget=5, block_ms=10)
    kept = DeadLetter.objects.get(dataset__name="other")
    kept_payload = bytes(kept.payload)
    events = Dataset.objects.get(name="events")

    response = admin_client.post(f"/admin/tracking/dataset/{events.pk}/delete/", {"post": "yes"})

    letter.refresh_from_db()
    kept.refresh_from_db()
    assert response.status_code == 302
    assert (bytes(letter.payload), letter.skip, letter.dataset_id) == (b"", [], None)
    assert (letter.resolution, letter.resolved_by, letter.resolution_note) == (
        "discarded", "data deletion", "dataset events deleted: its points were erased"
    )
    assert "points refused by the test trigger" in letter.error
    assert dead_letter_points(dead_letter=letter, limit=10) == []
    assert admin_client.get(f"/admin/tracking/deadletter/{letter.pk}/change/").status_code == 200
    assert (kept.resolution, bytes(kept.payload), kept.dataset_id) == ("", kept_payload, Dataset.objects.get(name="other").id)


def test_a_replay_leaves_out_the_points_a_later_filter_deletion_asked_to_erase(admin_client, write_key, refusing_table):
    letter = dead_letter_made(admin_client, write_key)
    events = Dataset.objects.get(name="events")
    deletion_request(project=events.project, dataset=events, column="blob2", value="a")
    deletion_request(project=events.project, dataset=events, column="blob7", value="a")  # a blob the points never set
    cause_fix()

    outcome = dead_letter_replay(dead_letter_id=letter.pk, actor=Actor(label="system"))

    assert (outcome.replayed, outcome.points) == (True, 1)
    assert sorted((row[2] or "") for row in stored_rows(events)) == ["", "b"]


def test_a_filter_deletion_asked_before_the_entry_was_accepted_does_not_touch_its_replay(admin_client, write_key, refusing_table):
    post_points(admin_client, write_key, "events", [{"blobs": ["fine"]}])
    buffer_drain(time_budget=5, block_ms=10)
    events = Dataset.objects.get(name="events")
    deletion_request(project=events.project, dataset=events, column="blob2", value="a")
    DeadLetter.objects.all().delete()
    letter = dead_letter_made(admin_client, write_key)
    cause_fix()

    assert dead_letter_replay(dead_letter_id=letter.pk, actor=Actor(label="system")).points == 2
