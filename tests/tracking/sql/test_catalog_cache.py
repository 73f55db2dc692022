"""A process keeps each project's catalog and checks it in the query's own message instead of reading it again.

Every test runs outside a caller's transaction (the web path), where a query whose rows one FETCH
holds (an aggregate with no GROUP BY, a small LIMIT) costs ["SELECT", "BEGIN"] with a fresh catalog and
["BEGIN"] with a kept one, its rollback in its own message; any other adds a "ROLLBACK".
"""

import datetime as dt

import psycopg
import pytest
from django.db import connection, transaction

from projects.models import Project
from tests.factories import DatasetFactory, ProjectFactory
from tests.tracking.sql.support import Point, points_insert, round_trips
from tracking.models import Dataset
from tracking.projections.services import projection_backfill, projection_create, projection_reset
from tracking.services import dataset_update
from tracking.sql import catalog as catalog_module
from tracking.sql.engine import sql_execute
from tracking.sql.errors import SqlError
from tracking.sql.schema import CATALOG_CHANGED_SQLSTATE, ROLE

pytestmark = pytest.mark.django_db(transaction=True)


def _web(project, *, points: int, method: str = "GET") -> Dataset:
    dataset = DatasetFactory(project=project, name="web")
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    points_insert(dataset=dataset, points=[Point(now - dt.timedelta(minutes=i), "", [method, f"/p{i % 3}"], [float(i)]) for i in range(points)])
    return dataset


@pytest.fixture
def kept() -> tuple[Project, Dataset]:
    """A project whose dataset ``web`` holds 3 points, and whose catalog this process has read and kept."""
    project = ProjectFactory()
    web = _web(project, points=3)
    sql_execute(project=project, sql="SELECT count() FROM web")
    return project, web


def test_a_second_query_of_a_project_reads_no_catalog() -> None:
    project = ProjectFactory()
    _web(project, points=5)

    first, first_sent = round_trips(lambda: sql_execute(project=project, sql="SELECT count() AS n FROM web", keep_rows=True))
    second, second_sent = round_trips(lambda: sql_execute(project=project, sql="SELECT count() AS n FROM web", keep_rows=True))

    assert (first.rows, first_sent) == ([(5,)], ["SELECT", "BEGIN"])
    assert (second.rows, second_sent) == ([(5,)], ["BEGIN"])


def test_a_dataset_created_after_the_catalog_was_kept_is_queryable_at_once() -> None:
    project = ProjectFactory()
    _web(project, points=2)
    sql_execute(project=project, sql="SELECT count() FROM web")
    logs = DatasetFactory(project=project, name="logs")
    points_insert(dataset=logs, points=[Point(dt.datetime.now(dt.UTC), "", ["x"], [1.0])])

    result, sent = round_trips(lambda: sql_execute(project=project, sql="SELECT count() AS n FROM logs", keep_rows=True))

    assert (result.rows, sent) == ([(1,)], ["SELECT", "BEGIN"])


def test_a_projection_reset_after_the_catalog_was_kept_is_not_read_and_the_query_runs_raw() -> None:
    """The kept catalog still lists the projection as ready and compiles over it; the check in the query's
    message refuses it, and the query is compiled again from the catalog as it now is."""
    project = ProjectFactory()
    web = _web(project, points=40)
    projection = projection_create(dataset=web, name="by_method", dimensions=["blob1"], doubles=["double1"])
    assert projection_backfill(projection_id=projection.id) is True
    query = "SELECT blob1, count() AS n, sum(double1) AS s FROM web WHERE timestamp > NOW() - INTERVAL '1' DAY GROUP BY blob1"
    before = sql_execute(project=project, sql=query, keep_rows=True)
    projection_reset(projection=projection)

    after, sent = round_trips(lambda: sql_execute(project=project, sql=query, keep_rows=True))

    assert (before.plan, before.rows) == ("projection=by_method", [("GET", 40, 780.0)])
    assert (after.plan, after.rows) == ("raw", [("GET", 40, 780.0)])
    assert sent == ["BEGIN", "ROLLBACK", "SELECT", "BEGIN", "ROLLBACK"]


def test_relabelling_a_dataset_refuses_the_kept_catalog(kept) -> None:
    project, web = kept
    dataset_update(dataset=web, retention_days=web.retention_days, labels={"blob1": "verb"})

    result, sent = round_trips(lambda: sql_execute(project=project, sql="SELECT verb, count() AS n FROM web GROUP BY verb", keep_rows=True))
    again, sent_again = round_trips(lambda: sql_execute(project=project, sql="SELECT blob1 FROM web LIMIT 1", keep_rows=True))

    assert (result.rows, sent) == ([("GET", 3)], ["SELECT", "BEGIN", "ROLLBACK"])
    assert (again.rows, sent_again) == ([("GET",)], ["BEGIN"])


def test_a_label_change_the_kept_catalog_can_still_compile_is_refused_by_the_fingerprint(kept) -> None:
    project, web = kept
    dataset_update(dataset=web, retention_days=web.retention_days, labels={"blob2": "path"})

    result, sent = round_trips(lambda: sql_execute(project=project, sql="SELECT min(blob2) AS p FROM web", keep_rows=True))

    assert (result.rows, sent) == ([("/p0",)], ["BEGIN", "ROLLBACK", "SELECT", "BEGIN"])


def test_a_clock_estimate_later_than_the_querys_transaction_is_refused(kept, monkeypatch) -> None:
    """``translate.time_floor`` must never be later than the query's ``NOW()``: a kept clock estimate ahead of
    the database's is refused in the message, and the catalog's own clock is used."""
    project, _ = kept
    monkeypatch.setattr(catalog_module, "CLOCK_MARGIN", dt.timedelta(days=-3))

    result, sent = round_trips(lambda: sql_execute(
        project=project, sql="SELECT count() AS n FROM web WHERE timestamp > NOW() - INTERVAL '1' HOUR", keep_rows=True
    ))

    assert (result.rows, sent) == ([(3,)], ["BEGIN", "ROLLBACK", "SELECT", "BEGIN"])


def test_each_project_reads_its_own_datasets_through_kept_catalogs() -> None:
    first, second = ProjectFactory(), ProjectFactory()
    _web(first, points=2)
    _web(second, points=7, method="POST")

    answers = [
        sql_execute(project=project, sql="SELECT blob1, count() AS n FROM web GROUP BY blob1", keep_rows=True).rows
        for project in (first, second, first, second)
    ]

    assert answers == [[("GET", 2)], [("POST", 7)], [("GET", 2)], [("POST", 7)]]


def test_the_reader_role_cannot_call_the_catalog_functions() -> None:
    project = ProjectFactory()

    with connection.cursor() as cursor:
        cursor.execute("BEGIN")
        try:
            cursor.execute(f"SET LOCAL ROLE {ROLE}")
            with pytest.raises(Exception, match="permission denied for function meaux_sql_catalog_fingerprint"):
                cursor.execute("SELECT public.meaux_sql_catalog_fingerprint(%s)", [project.id])
        finally:
            cursor.execute("ROLLBACK")


def test_the_check_passes_the_catalogs_own_fingerprint_and_refuses_another() -> None:
    project = ProjectFactory()
    DatasetFactory(project=project, name="web")
    kept = catalog_module.catalog_read(project_id=project.id)

    with connection.cursor() as cursor:
        cursor.execute("SELECT public.meaux_sql_catalog_check(%s, %s, %s)", [project.id, kept.fingerprint, kept.clock])
        with pytest.raises(Exception) as refused:
            cursor.execute("SELECT public.meaux_sql_catalog_check(%s, %s, %s)", [project.id, "0" * 64, kept.clock])

    assert isinstance(refused.value.__cause__, psycopg.Error)
    assert refused.value.__cause__.sqlstate == CATALOG_CHANGED_SQLSTATE


def test_a_repeated_query_is_compiled_once_and_again_after_its_catalog_changed(kept, monkeypatch) -> None:
    from tracking.sql import translate as translate_module

    project, web = kept
    compiled: list[int] = []
    compile_real = translate_module._translate

    def counted(statement, **kwargs):
        compiled.append(1)
        return compile_real(statement, **kwargs)

    monkeypatch.setattr(translate_module, "_translate", counted)
    query = "SELECT blob1, count() AS n FROM web GROUP BY blob1 FORMAT JSONCompact"
    answers = [sql_execute(project=project, sql=query, keep_rows=True).rows for _ in range(3)]
    dataset_update(dataset=web, retention_days=web.retention_days, labels={"blob1": "verb"})
    answers.append(sql_execute(project=project, sql=query, keep_rows=True).rows)

    assert answers == [[("GET", 3)]] * 4
    assert len(compiled) == 2  # once; after the relabel the refused attempt reuses the old translation, the fresh one compiles


def _fingerprint(project: Project) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT public.meaux_sql_catalog_fingerprint(%s)", [project.id])
        return cursor.fetchone()[0]


def test_the_fingerprint_moves_with_every_change_the_catalog_reads_and_with_nothing_else() -> None:
    project, other = ProjectFactory(), ProjectFactory()
    DatasetFactory(project=other, name="theirs")
    seen: list[tuple[str, bool, bool]] = []

    def change(name: str, action) -> None:
        before, theirs = _fingerprint(project), _fingerprint(other)
        action()
        seen.append((name, _fingerprint(project) != before, _fingerprint(other) != theirs))

    web = _web(project, points=4)
    change("a second dataset", lambda: DatasetFactory(project=project, name="logs"))
    change("a write to the dataset", lambda: Dataset.objects.filter(pk=web.pk).update(last_write_at=dt.datetime.now(dt.UTC)))
    change("the dataset saved unchanged", web.save)
    change("new labels", lambda: dataset_update(dataset=web, retention_days=web.retention_days, labels={"blob1": "method"}))
    projection = projection_create(dataset=web, name="by_method", dimensions=["blob1"], doubles=["double1"])
    change("its backfill's progress", lambda: type(projection).objects.filter(pk=projection.pk).update(backfill_cursor=dt.datetime.now(dt.UTC)))
    change("the projection ready", lambda: projection_backfill(projection_id=projection.id))
    change("a dataset renamed", lambda: Dataset.objects.filter(pk=web.pk).update(name="site"))
    change("the projection reset", lambda: projection_reset(projection=projection))
    change("the projection, backfilling, deleted", projection.delete)
    change("a dataset moved to the other project", lambda: Dataset.objects.filter(project=project, name="logs").update(project=other))
    empty = DatasetFactory(project=project, name="empty")
    projection_create(dataset=empty, name="ready_at_once", dimensions=["blob1"], doubles=[])
    change("a dataset with a ready projection deleted", empty.delete)

    assert seen == [
        ("a second dataset", True, False),
        ("a write to the dataset", False, False),
        ("the dataset saved unchanged", False, False),
        ("new labels", True, False),
        ("its backfill's progress", False, False),
        ("the projection ready", True, False),
        ("a dataset renamed", True, False),
        ("the projection reset", True, False),
        ("the projection, backfilling, deleted", False, False),
        ("a dataset moved to the other project", True, True),
        ("a dataset with a ready projection deleted", True, False),
    ]


def test_a_catalog_kept_before_a_truncate_is_refused_after_it() -> None:
    """TRUNCATE fires no row trigger, so it bumps every version: a project kept at version 0 (no
    dataset then) that has datasets since must not be back at 0 after it."""
    empty = ProjectFactory()
    kept_empty = catalog_module.catalog_read(project_id=empty.id)
    DatasetFactory(project=empty, name="web")
    project = ProjectFactory()
    DatasetFactory(project=project, name="web")
    kept = catalog_module.catalog_read(project_id=project.id)

    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE tracking_projection")
        refusals = []
        for check in (kept_empty, kept):
            with pytest.raises(Exception) as refused:
                cursor.execute("SELECT public.meaux_sql_catalog_check(%s, %s, %s)", [check.project_id, check.fingerprint, check.clock])
            refusals.append(refused.value.__cause__.sqlstate)

    assert kept_empty.fingerprint == "0"
    assert refusals == [CATALOG_CHANGED_SQLSTATE, CATALOG_CHANGED_SQLSTATE]


def test_a_query_inside_a_callers_transaction_sees_that_transactions_changes_and_keeps_nothing(kept) -> None:
    """The version moves only when the change commits: the transaction's own queries read the catalog afresh."""
    project, web = kept

    with transaction.atomic():
        logs = DatasetFactory(project=project, name="logs")
        points_insert(dataset=logs, points=[Point(dt.datetime.now(dt.UTC), "", ["x"], [1.0])])
        inside = sql_execute(project=project, sql="SELECT count() AS n FROM logs", keep_rows=True)
        transaction.set_rollback(True)
    with pytest.raises(SqlError, match="logs"):
        sql_execute(project=project, sql="SELECT count() AS n FROM logs")

    assert inside.rows == [(1,)]
