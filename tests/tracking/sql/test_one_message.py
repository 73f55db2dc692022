"""A query whose rows one FETCH is sure to hold answers in one message, rollback included, and the web
sends its result before its audit event (``sql_sandbox_run``'s ``most_rows`` and ``then_later``)."""

import datetime as dt

import pytest
from django.core.signals import request_finished
from django.db import connection, transaction
from django.http import HttpResponse
from django.test import RequestFactory

from projects.governance.models import AuditAction, AuditEvent, AuditOutcome
from projects.models import Project
from tests.factories import DatasetFactory, ProjectFactory, key_for
from tests.tracking.sql.support import Point, points_insert, round_trips
from tracking.models import Dataset
from tracking.sql.catalog import catalog_read
from tracking.sql.engine import sql_execute
from tracking.sql.errors import SqlError
from tracking.sql.runner import query_run
from tracking.sql.translate import sql_parse, sql_translate
from tracking.sql.views import CloudflareSqlView


def _web_with_points(points: int = 3) -> tuple[Project, Dataset]:
    project = ProjectFactory()
    web = DatasetFactory(project=project, name="web")
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    points_insert(dataset=web, points=[Point(now - dt.timedelta(minutes=i), "", ["GET", f"/p{i}"], [float(i)]) for i in range(points)])
    return project, web


def _advisory_locks_held() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()")
        return cursor.fetchone()[0]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("sql", "most_rows"),
    [
        ("SELECT count() FROM web", 1),
        ("SELECT count() FROM web HAVING count() > 0", 1),
        ("SELECT count() FROM web LIMIT 5", 1),
        ("SELECT blob1 FROM web LIMIT 7", 7),
        ("SELECT blob1, count() FROM web GROUP BY blob1 LIMIT 3", 3),
        ("SELECT blob1 FROM web UNION ALL SELECT blob2 FROM web LIMIT 4", None),  # the last SELECT's LIMIT
        ("SELECT blob1 FROM web LIMIT 7 OFFSET 1", None),
        ("SELECT blob1 FROM web LIMIT ALL", None),
        ("SELECT blob1, count() FROM web GROUP BY blob1", None),
        ("SELECT blob1 FROM web", None),
        ("SELECT * FROM (SELECT blob1 FROM web LIMIT 2)", None),
    ],
)
def test_a_translation_knows_the_most_rows_its_statement_can_return(sql: str, most_rows: int | None) -> None:
    project = ProjectFactory()
    DatasetFactory(project=project, name="web")
    catalog = catalog_read(project_id=project.id)

    translation = sql_translate(statement=sql_parse(sql=sql), datasets=catalog.datasets, now=catalog.clock)

    assert translation.most_rows == most_rows


@pytest.mark.django_db(transaction=True)
def test_a_limit_that_returns_no_row_counts_none_before_it_without_a_count_query_and_limit_0_still_counts() -> None:
    project, _ = _web_with_points(3)
    sql_execute(project=project, sql="SELECT count() FROM web")

    empty, empty_sent = round_trips(lambda: sql_execute(project=project, sql="SELECT blob2 FROM web WHERE blob1 = 'POST' LIMIT 5"))
    none, none_sent = round_trips(lambda: sql_execute(project=project, sql="SELECT blob2 FROM web LIMIT 0"))

    assert (empty.row_count, empty.rows_before_limit, empty_sent) == (0, 0, ["BEGIN"])
    assert (none.row_count, none.rows_before_limit, none_sent) == (0, 3, ["BEGIN", "SELECT", "ROLLBACK"])


@pytest.mark.django_db(transaction=True)
def test_the_web_sends_a_one_message_result_before_its_audit_event_and_holds_no_slot_meanwhile() -> None:
    """The view returns its response with the query's transaction ended (its advisory-lock slots freed) and the
    event unwritten; the server's close of the response, after the body is written, writes it. A grouped query's
    event goes with its rollback, before the response."""
    project, _ = _web_with_points(3)
    key = key_for(project, "read").secret
    view = CloudflareSqlView.as_view()

    def post(sql: str) -> HttpResponse:
        request = RequestFactory().post(
            f"/client/v4/accounts/{project.slug}/analytics_engine/sql", data=sql, content_type="text/plain",
            HTTP_AUTHORIZATION=f"Bearer {key}",
        )
        return view(request, project_slug=project.slug)

    events = AuditEvent.objects.filter(project=project, action=AuditAction.SQL_RUN)
    response = post("SELECT count() AS n FROM web")
    events_before_close = events.count()
    state_before_close = (connection.connection.info.transaction_status.name, _advisory_locks_held())
    response.close()
    grouped = post("SELECT blob1, count() AS n FROM web GROUP BY blob1")
    events_before_grouped_close = events.count()
    grouped.close()

    assert (response.status_code, b'"data": [{"n": "3"}]' in response.content) == (200, True)
    assert (events_before_close, state_before_close) == (0, ("IDLE", 0))
    first, second = events.order_by("id")
    assert (first.outcome, first.details["rows"], first.details["sql"]) == (AuditOutcome.OK, 1, "SELECT count() AS n FROM web")
    assert (grouped.status_code, events_before_grouped_close, second.details["rows"]) == (200, 2, 1)


@pytest.mark.django_db(transaction=True)
def test_an_event_left_for_later_is_written_before_the_threads_next_query_and_when_its_request_ends() -> None:
    project, _ = _web_with_points(2)
    events = AuditEvent.objects.filter(project=project)

    query_run(project=project, sql="SELECT count() AS n FROM web", quotas=False, then_later=True)
    after_first = events.count()
    query_run(project=project, sql="SELECT max(double1) AS m FROM web", quotas=False, then_later=True)
    after_second = events.count()
    request_finished.send(sender=None)

    assert (after_first, after_second, events.count()) == (0, 1, 2)
    assert [event.details["sql"] for event in events.order_by("id")] == [
        "SELECT count() AS n FROM web", "SELECT max(double1) AS m FROM web"
    ]


@pytest.mark.django_db
def test_a_result_refused_after_its_one_message_query_ended_leaves_the_callers_transaction_as_it_was(settings) -> None:
    """The writer refuses rows past ``SQL_MAX_RESULT_BYTES`` after the rollback to the savepoint already ran
    in the query's message: nothing is rolled back twice, and the caller's transaction goes on as its own role."""
    project, web = _web_with_points(3)
    settings.SQL_MAX_RESULT_BYTES = 30

    with pytest.raises(SqlError, match="Result exceeds 30 bytes"):
        sql_execute(project=project, sql="SELECT blob2 FROM web ORDER BY blob2 LIMIT 3")
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_user, count(*) FROM tracking_datapoint WHERE dataset_id = %s", [web.id])
        after = cursor.fetchone()

    assert after == (connection.settings_dict["USER"], 3)


@pytest.mark.django_db(transaction=True)
def test_an_event_left_for_later_joins_a_callers_transaction_instead_of_committing_it() -> None:
    project, _ = _web_with_points(2)
    events = AuditEvent.objects.filter(project=project, action=AuditAction.SQL_RUN)

    query_run(project=project, sql="SELECT count() AS n FROM web", quotas=False, then_later=True)
    with pytest.raises(RuntimeError), transaction.atomic():
        query_run(project=project, sql="SELECT max(double1) AS m FROM web", quotas=False)
        inside = events.count()
        raise RuntimeError("the caller's transaction rolls back")

    assert (inside, events.count()) == (2, 0)
    assert connection.get_autocommit() and connection.connection.info.transaction_status.name == "IDLE"
