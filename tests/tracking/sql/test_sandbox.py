"""The database-level backstops behind the allowlist: role, read-only transaction, RLS."""

import pytest
from django.db import connection, transaction

from projects.governance.models import AuditEvent, AuditOutcome
from tests.factories import DatasetFactory, ProjectFactory
from tests.tracking.sql.conftest import LoadedProject
from tests.tracking.sql.support import round_trips
from tracking.projections.services import projection_create
from tracking.sql.db import SandboxLimits, sql_catalog, sql_sandbox_run
from tracking.sql.engine import sql_execute
from tracking.sql.errors import SqlError
from tracking.sql.runner import query_run
from tracking.sql.schema import ROLE

LIMITS = SandboxLimits(statement_timeout_ms=2_000, work_mem="8MB", max_rows=1_000)


def test_query_role_is_nologin_without_superuser_or_rls_bypass(db: None) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT rolcanlogin, rolsuper, rolbypassrls, rolcreaterole, rolcreatedb FROM pg_roles WHERE rolname = %s",
            [ROLE],
        )
        assert cursor.fetchone() == (False, False, False, False, False)


def test_points_table_has_rls_with_the_dataset_policy(db: None) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT relrowsecurity FROM pg_class WHERE relname = 'tracking_datapoint'")
        assert cursor.fetchone() == (True,)
        cursor.execute(
            "SELECT polname, polcmd, polroles::regrole[]::text[] FROM pg_policy WHERE polrelid = 'tracking_datapoint'::regclass"
        )
        assert cursor.fetchall() == [("meaux_sql_project_datasets", "r", [ROLE])]


def test_query_role_may_select_only_the_points_table(db: None) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT has_table_privilege(%s, 'tracking_datapoint', 'SELECT'), has_table_privilege(%s, 'tracking_datapoint', 'INSERT'), "
            "has_table_privilege(%s, 'projects_apikey', 'SELECT'), has_table_privilege(%s, 'tracking_dataset', 'SELECT')",
            [ROLE] * 4,
        )
        assert cursor.fetchone() == (True, False, False, False)


def test_rls_hides_other_datasets_even_if_a_query_escaped_the_allowlist(loaded: LoadedProject) -> None:
    """A raw query over the physical table, run as the sandbox role, sees only the listed datasets."""
    own = [loaded.weather.id]
    result = sql_sandbox_run(
        query="SELECT count(*), count(DISTINCT dataset_id) FROM public.tracking_datapoint",
        params={},
        count_query=None,
        dataset_ids=own,
        limits=LIMITS,
    )
    assert result.rows == [(240, 1)]
    nothing = sql_sandbox_run(
        query="SELECT count(*) FROM public.tracking_datapoint",
        params={},
        count_query=None,
        dataset_ids=[],
        limits=LIMITS,
    )
    assert nothing.rows == [(0,)]


def test_sandbox_runs_nothing_but_reads(loaded: LoadedProject) -> None:
    """Behind the allowlist: a cursor takes only a SELECT, in a READ ONLY transaction as a role without write grants."""
    refusals = {}
    for query in (
        "DELETE FROM public.tracking_datapoint",
        "WITH gone AS (DELETE FROM public.tracking_datapoint RETURNING 1) SELECT count(*) FROM gone",
    ):
        with pytest.raises(SqlError) as error:
            sql_sandbox_run(query=query, params={}, count_query=None, dataset_ids=[loaded.weather.id], limits=LIMITS)
        refusals[query[:6]] = error.value.message
    assert refusals == {"DELETE": "Query failed (SQLSTATE 42601)", "WITH g": "Query failed (SQLSTATE 0A000)"}
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM tracking_datapoint WHERE dataset_id = %s", [loaded.weather.id])
        assert cursor.fetchone() == (240,)


def test_sandbox_role_cannot_read_other_tables_or_files(loaded: LoadedProject) -> None:
    for query in ("SELECT count(*) FROM public.projects_apikey", "SELECT pg_read_file('/etc/hostname')"):
        with pytest.raises(SqlError) as error:
            sql_sandbox_run(query=query, params={}, count_query=None, dataset_ids=[loaded.weather.id], limits=LIMITS)
        assert error.value.message == "Permission denied"


def test_settings_do_not_outlive_the_query(loaded: LoadedProject) -> None:
    sql_sandbox_run(query="SELECT 1", params={}, count_query=None, dataset_ids=[loaded.weather.id], limits=LIMITS)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT current_user = session_user, current_setting('meaux_sql.dataset_ids', true), "
            "current_setting('transaction_read_only')"
        )
        same_user, dataset_ids, read_only = cursor.fetchone()
    assert (same_user, dataset_ids or "", read_only) == (True, "", "off")


def test_sandbox_runs_without_jit_or_parallel_workers_as_the_restricted_role(loaded: LoadedProject) -> None:
    """One process per query: the pool's SQL_MAX_CONCURRENT counts cores, and work_mem is not multiplied by workers."""
    result = sql_sandbox_run(
        query="SELECT current_setting('jit'), current_setting('max_parallel_workers_per_gather'), current_user, "
        "current_setting('transaction_read_only')",
        params={},
        count_query=None,
        dataset_ids=[loaded.weather.id],
        limits=LIMITS,
    )
    assert result.rows == [("off", "0", ROLE, "on")]


def test_rls_policy_reads_the_dataset_list_once_per_query(db: None) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_get_expr(polqual, polrelid) FROM pg_policy WHERE polname = 'meaux_sql_project_datasets'"
        )
        (qual,) = cursor.fetchone()
    assert qual.startswith("(dataset_id = ANY (ARRAY( SELECT (unnest(string_to_array(COALESCE(NULLIF(current_setting(")


@pytest.mark.django_db(transaction=True)
def test_outside_a_transaction_a_query_runs_in_its_own_read_only_transaction_in_tworound_trips() -> None:
    """The web path: no caller transaction, so BEGIN READ ONLY, settings, role, DECLARE and FETCH go as one message."""
    result, sent = round_trips(
        lambda: sql_sandbox_run(
            query="SELECT current_user, current_setting('transaction_read_only'), current_setting('jit'), "
            "current_setting('meaux_sql.dataset_ids'), current_setting('statement_timeout')",
            params={},
            count_query=None,
            dataset_ids=[7, 9],
            limits=LIMITS,
        )
    )

    assert result.rows == [(ROLE, "on", "off", "7,9", "2s")]
    assert sent == ["BEGIN", "ROLLBACK"]
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_user = session_user, current_setting('meaux_sql.dataset_ids', true)")
        assert cursor.fetchone() in ((True, ""), (True, None))
    assert connection.get_autocommit() and connection.connection.info.transaction_status.name == "IDLE"


@pytest.mark.django_db(transaction=True)
def test_outside_a_transaction_a_failed_or_refused_query_leaves_the_connection_clean() -> None:
    with pytest.raises(SqlError, match="Division by zero"):
        sql_sandbox_run(query="SELECT 1 / 0", params={}, count_query=None, dataset_ids=[], limits=LIMITS)
    with pytest.raises(SqlError, match="Result exceeds 1000 rows"):
        sql_sandbox_run(query="SELECT generate_series(1, 2000)", params={}, count_query=None, dataset_ids=[], limits=LIMITS)
    with pytest.raises(SqlError, match="Permission denied"):
        sql_sandbox_run(query="SELECT count(*) FROM public.projects_apikey", params={}, count_query=None, dataset_ids=[], limits=LIMITS)

    with connection.cursor() as cursor:
        cursor.execute("SELECT current_user = session_user, current_setting('transaction_read_only')")
        assert cursor.fetchone() == (True, "off")
    assert connection.connection.info.transaction_status.name == "IDLE"


class _Interrupted(Exception):
    """Stands for a worker's soft time limit landing while the ROLLBACK is on its way."""


@pytest.mark.django_db(transaction=True)
def test_an_interrupted_rollback_closes_the_connection_instead_of_leaving_it_in_the_sandbox() -> None:
    def interrupt_rollback(execute, sql, params, many, context):
        if sql == "ROLLBACK":
            raise _Interrupted()
        return execute(sql, params, many, context)

    with pytest.raises(_Interrupted), connection.execute_wrapper(interrupt_rollback):
        sql_sandbox_run(query="SELECT 1", params={}, count_query=None, dataset_ids=[7], limits=LIMITS)

    assert connection.connection is None
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_user = session_user, current_setting('meaux_sql.dataset_ids', true)")
        assert cursor.fetchone() in ((True, ""), (True, None))


@pytest.mark.django_db(transaction=True)
def test_outside_a_transaction_more_batches_and_the_count_add_one_round_trip_each() -> None:
    result, sent = round_trips(
        lambda: sql_sandbox_run(
            query="SELECT n FROM generate_series(1, 1500) AS n LIMIT 1500",
            params={},
            count_query="SELECT 4000",
            dataset_ids=[],
            limits=SandboxLimits(statement_timeout_ms=2_000, work_mem="8MB", max_rows=2_000),
        )
    )

    assert (len(result.rows), result.rows[-1], result.rows_before_limit) == (1500, (1500,), 4000)
    assert sent == ["BEGIN", "SELECT", "SELECT", "ROLLBACK"]


def test_inside_a_transaction_a_query_runs_in_a_savepoint_that_is_rolled_back(loaded: LoadedProject) -> None:
    result, sent = round_trips(
        lambda: sql_sandbox_run(
            query="SELECT current_user", params={}, count_query=None, dataset_ids=[loaded.weather.id], limits=LIMITS
        )
    )

    assert (result.rows, sent) == ([(ROLE,)], ["SAVEPOINT", "SET", "ROLLBACK"])


@pytest.mark.django_db(transaction=True)
def test_a_query_whose_rows_one_fetch_holds_costs_two_round_trips_and_another_three() -> None:
    """The per-request fixed cost (docs/benchmarks.md): the datasets with their ready projections in one
    statement, then the sandboxed query in one message, with its rollback when that message's FETCH is
    sure to hold every row (an aggregate with no GROUP BY, a LIMIT under ``FETCH_ROWS``), else the
    rollback in a message of its own."""
    project = ProjectFactory()
    DatasetFactory(project=project, name="zeta")
    web = DatasetFactory(project=project, name="web")
    projection_create(dataset=web, name="by_method", dimensions=["blob1"], doubles=[])
    query = "SELECT count() AS n FROM web WHERE timestamp > NOW() - INTERVAL '24' HOUR AND blob1 = 'GET'"

    result, sent = round_trips(lambda: sql_execute(project=project, sql=query, keep_rows=True))
    grouped, grouped_sent = round_trips(lambda: sql_execute(project=project, sql="SELECT blob1, count() FROM web GROUP BY blob1"))
    limited, limited_sent = round_trips(lambda: sql_execute(project=project, sql="SELECT blob1 FROM web LIMIT 999"))
    paged, paged_sent = round_trips(lambda: sql_execute(project=project, sql="SELECT blob1 FROM web LIMIT 1000"))
    tables = sql_execute(project=project, sql="SHOW TABLES", keep_rows=True)

    assert (result.plan, result.rows) == ("projection=by_method", [(0,)])
    assert sent == ["SELECT", "BEGIN"]
    # LIMIT 1000 returned no row, so no row carried the count before it: the count query ran in the transaction.
    assert (grouped_sent, limited_sent, paged_sent) == (["BEGIN", "ROLLBACK"], ["BEGIN"], ["BEGIN", "SELECT", "ROLLBACK"])
    assert (limited.rows_before_limit, paged.rows_before_limit) == (0, 0)
    assert tables.rows == [("web",), ("zeta",)]
    assert connection.connection.info.transaction_status.name == "IDLE"


@pytest.mark.django_db(transaction=True)
def test_an_audited_query_writes_its_event_after_a_one_message_query_or_with_the_rollback_and_a_failed_one_after_it() -> None:
    """query_run's audit INSERT follows a query that answered in one message, and travels with the sandbox's
    ROLLBACK otherwise (a round trip cost 0.5-1 ms through gunicorn); a query that failed is rolled back
    first and audited on its own, as before."""
    project = ProjectFactory()
    DatasetFactory(project=project, name="web")

    result, sent = round_trips(lambda: query_run(project=project, sql="SELECT count() AS n FROM web", quotas=False))
    grouped, grouped_sent = round_trips(lambda: query_run(project=project, sql="SELECT blob1 FROM web GROUP BY blob1", quotas=False))
    with pytest.raises(SqlError):
        query_run(project=project, sql="SELECT intDiv(count(), 0) AS n FROM web", quotas=False)

    assert (result.plan, result.row_count, sent) == ("raw", 1, ["SELECT", "BEGIN", "BEGIN"])
    assert (grouped.row_count, grouped_sent) == (0, ["BEGIN", "ROLLBACK"])
    ok, grouped_ok, failed = AuditEvent.objects.filter(project=project).order_by("id")
    assert (ok.outcome, ok.details["rows"], ok.details["plan"], ok.details["sql"]) == (
        AuditOutcome.OK, 1, "raw", "SELECT count() AS n FROM web"
    )
    assert (grouped_ok.outcome, grouped_ok.details["rows"]) == (AuditOutcome.OK, 0)
    assert (failed.outcome, failed.details["error"]) == (AuditOutcome.ERROR, "Division by zero")
    assert connection.get_autocommit() and connection.connection.info.transaction_status.name == "IDLE"


@pytest.mark.django_db(transaction=True)
def test_a_querys_audit_event_commits_without_waiting_for_the_disk_and_a_callers_transaction_keeps_its_own() -> None:
    project = ProjectFactory()
    DatasetFactory(project=project, name="web")
    messages: list[str] = []

    def record(execute, sql, params, many, context):
        messages.append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(record):
        query_run(project=project, sql="SELECT count() AS n FROM web", quotas=False)
        one_message = messages[-1]
        query_run(project=project, sql="SELECT blob1 FROM web GROUP BY blob1", quotas=False)
    with transaction.atomic(), connection.cursor() as cursor:
        query_run(project=project, sql="SELECT count() AS n FROM web", quotas=False)
        query_run(project=project, sql="SELECT blob1 FROM web GROUP BY blob1", quotas=False)
        cursor.execute("SHOW synchronous_commit")
        callers = cursor.fetchone()[0]
        cursor.execute("SELECT current_user")
        user = cursor.fetchone()[0]

    assert one_message.startswith("BEGIN; SET LOCAL synchronous_commit = off; INSERT INTO ")
    assert messages[-1].startswith("ROLLBACK; BEGIN; SET LOCAL synchronous_commit = off; INSERT INTO ")
    assert one_message.endswith("; COMMIT") and messages[-1].endswith("; COMMIT")
    assert (callers, user) == ("on", connection.settings_dict["USER"])
    assert AuditEvent.objects.filter(project=project, outcome=AuditOutcome.OK).count() == 4
    assert connection.connection.info.transaction_status.name == "IDLE"


@pytest.mark.django_db
def test_the_catalog_lists_a_datasets_ready_projections_narrowest_first() -> None:
    """The planner takes the first that covers a query: fewest dimensions, then doubles, then the
    finest grain, then the name in code-point order."""
    project = ProjectFactory()
    web = DatasetFactory(project=project, name="web")
    for name, dimensions, doubles, grain in [
        ("wide", ["blob1", "blob2"], [], 60),
        ("b_day", ["blob1"], ["double1"], 86400),
        ("b_hour", ["blob1"], ["double1"], 3600),
        ("B_hour", ["blob1"], ["double1"], 3600),
        ("lean", ["blob2"], [], 86400),
    ]:
        projection_create(dataset=web, name=name, dimensions=dimensions, doubles=doubles, grain=grain)

    [(dataset_id, name, _, ready)] = sql_catalog(project_id=project.id).datasets

    assert (dataset_id, name) == (web.id, "web")
    assert [row[4] for row in ready] == ["lean", "B_hour", "b_hour", "b_day", "wide"]
