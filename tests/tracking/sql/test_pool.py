"""Fair sharing of SQL (issue 14): a bounded pool per process and per installation, a per-project
default share, and one time budget per request."""

import time
from collections.abc import Callable, Iterator

import psycopg
import pytest
from django.db import connection
from django.http import HttpResponse
from django.test import Client

from meauxcloud.redis import redis_client
from projects.governance.db import query_slots_held
from projects.governance.models import AuditEvent, ProjectQuota
from projects.governance.quotas import MAX_QUERY_SLOTS, QUERY_LOCK, query_slot_locks, quota_limits_forget, quota_usage
from tests.support import processes
from tracking.checks import check_sql_pool
from tracking.db import ANALYZE_LOCK, VACUUM_LOCK
from tracking.models import Dataset
from tracking.sql import pool
from tracking.sql.db import SandboxLimits, Slots, SlotTaken, sql_sandbox_run
from tracking.sql.engine import sql_execute
from tracking.sql.errors import SqlError

pytestmark = pytest.mark.django_db

QUERY = "SELECT count() AS n FROM web"
LIMITS = SandboxLimits(statement_timeout_ms=10_000, work_mem="8MB", max_rows=10)
UNUSED_PROJECT = 4_000_000_007


class OtherProcess:
    """Another web process's connection, holding slots as its running queries would."""

    def __init__(self) -> None:
        self.connection = psycopg.connect(processes.test_database_url(), autocommit=True)

    def hold(self, *keys: int) -> None:
        for key in keys:
            assert self.connection.execute("SELECT pg_try_advisory_lock(%s)", [key]).fetchone() == (True,)

    def free(self, key: int) -> None:
        self.connection.execute("SELECT pg_advisory_unlock(%s)", [key])


@pytest.fixture
def other() -> Iterator[OtherProcess]:
    process = OtherProcess()
    yield process
    process.connection.close()


@pytest.fixture
def web(project) -> Dataset:
    quota_limits_forget(project_id=project.id)
    stale = list(redis_client().scan_iter(match=f"meauxcloud:quota:{project.id}:*"))
    if stale:
        redis_client().delete(*stale)
    return Dataset.objects.get_or_create(project=project, name="web")[0]


def _run(client: Client, key: str):
    return client.post("/api/v1/sql", data=QUERY, content_type="text/plain", HTTP_AUTHORIZATION=f"Bearer {key}")


def _pool_held() -> int:
    return query_slots_held(locks=range(pool.POOL_LOCK, pool.POOL_LOCK + 1001))


def test_a_query_beyond_the_process_limit_gets_429_with_retry_after(client: Client, web, read_key: str, settings) -> None:
    settings.SQL_PROCESS_CONCURRENCY = 1

    with pool.sql_pool_slot():
        busy = _run(client, read_key)
    after = _run(client, read_key)

    assert (busy.status_code, busy["Content-Type"], busy["Retry-After"]) == (429, "application/problem+json", "2")
    assert busy.json()["code"] == "sql_pool_busy"
    assert busy.json()["detail"] == "This server is running its 1 SQL queries at once; retry in 2 s."
    assert after.status_code == 200


def test_the_installation_limit_counts_other_processes_slots(client: Client, web, read_key: str, settings, other) -> None:
    settings.SQL_MAX_CONCURRENT = 2
    other.hold(pool.POOL_LOCK, pool.POOL_LOCK + 1)

    busy = _run(client, read_key)
    other.free(pool.POOL_LOCK + 1)
    admitted = _run(client, read_key)

    assert (busy.status_code, busy.json()["detail"]) == (429, "The platform is running its 2 SQL queries at once; retry in 2 s.")
    assert admitted.status_code == 200
    assert _pool_held() == 1


def test_a_crashed_process_slot_is_freed_with_its_connection(client: Client, web, read_key: str, settings, other) -> None:
    """No lease to wait out: PostgreSQL ends the dead process's session, and with it the lock."""
    settings.SQL_MAX_CONCURRENT = 1
    other.hold(pool.POOL_LOCK)
    busy = _run(client, read_key)

    pid = other.connection.info.backend_pid
    with psycopg.connect(processes.test_database_url(), autocommit=True) as killer:
        killer.execute("SELECT pg_terminate_backend(%s, 5000)", [pid])

    assert busy.status_code == 429
    assert _run(client, read_key).status_code == 200


def test_a_refused_query_leaves_no_slot_taken(client: Client, web, read_key: str, settings) -> None:
    settings.SQL_PROCESS_CONCURRENCY = 1
    settings.SQL_MAX_CONCURRENT = 1

    for _ in range(3):
        client.post("/api/v1/sql", data="SELECT nope FROM web", content_type="text/plain", HTTP_AUTHORIZATION=f"Bearer {read_key}")
        client.post("/api/v1/sql", data="SELECT 1 / 0 AS x FROM web", content_type="text/plain", HTTP_AUTHORIZATION=f"Bearer {read_key}")
    locks = query_slot_locks(project_id=web.project_id)

    assert (pool._process_running, _pool_held(), query_slots_held(locks=locks)) == (0, 0, 0)
    assert _run(client, read_key).status_code == 200


def test_a_project_runs_two_queries_at_once_by_default(client: Client, web, read_key: str, other) -> None:
    first = query_slot_locks(project_id=web.project_id).start
    other.hold(first, first + 1)

    third = _run(client, read_key)
    running = quota_usage(project=web.project).running_queries
    other.free(first + 1)
    second = _run(client, read_key)

    assert (third.status_code, third.json()["code"], third["Retry-After"]) == (429, "too_many_concurrent_queries", "1")
    assert third.json()["detail"] == "The project may run 2 queries at once; retry when one finishes."
    assert (running, second.status_code) == (2, 200)


def test_another_projects_slots_do_not_count(client: Client, web, read_key: str, other) -> None:
    neighbour = query_slot_locks(project_id=web.project_id + 1).start
    other.hold(neighbour, neighbour + 1)

    assert _run(client, read_key).status_code == 200
    assert quota_usage(project=web.project).running_queries == 0


@pytest.mark.django_db(transaction=True)
def test_a_running_query_holds_the_first_free_slot_of_each_range_until_its_rollback(other) -> None:
    """Outside a caller's transaction: the sandbox's own BEGIN READ ONLY ... ROLLBACK."""
    slots = Slots(project=query_slot_locks(project_id=UNUSED_PROJECT, slots=3), pool=range(pool.POOL_LOCK, pool.POOL_LOCK + 2))
    other.hold(slots.project.start, pool.POOL_LOCK)
    connection.ensure_connection()
    ours = connection.connection.info.backend_pid
    held: list[list[int]] = []

    def sink(rows) -> None:
        held.append(sorted(key for (key,) in other.connection.execute(
            "SELECT classid::bigint << 32 | objid::bigint FROM pg_locks WHERE locktype = 'advisory' AND pid = %s", [ours]
        )))

    sql_sandbox_run(query="SELECT 1", params={}, count_query=None, dataset_ids=[], limits=LIMITS, sink=sink, slots=slots)

    assert held == [[pool.POOL_LOCK + 1, slots.project.start + 1]]
    assert (query_slots_held(locks=slots.project), _pool_held()) == (1, 1)


def test_a_query_finding_every_slot_taken_does_not_run(db: None, other) -> None:
    slots = Slots(project=query_slot_locks(project_id=UNUSED_PROJECT, slots=1), pool=range(pool.POOL_LOCK, pool.POOL_LOCK + 1))
    other.hold(pool.POOL_LOCK)

    with pytest.raises(SlotTaken) as refused:
        sql_sandbox_run(query="SELECT 1 / 0", params={}, count_query=None, dataset_ids=[], limits=LIMITS, slots=slots)

    assert refused.value.project is False
    assert query_slots_held(locks=slots.project) == 0


def _around(request: Callable[[], HttpResponse]) -> tuple[set[str], HttpResponse]:
    """The clock minutes a request may have been charged in."""
    before = time.strftime("%Y%m%d%H%M", time.gmtime())
    answer = request()
    return {before, time.strftime("%Y%m%d%H%M", time.gmtime())}, answer


def _charged(project_id: int, minutes: set[str]) -> int:
    return sum(int(redis_client().get(f"meauxcloud:quota:{project_id}:queries:{minute}") or 0) for minute in minutes)


def _send_commands(client: Client, key: str) -> tuple[int, list[bytes]]:
    import redis.connection

    sent: list[bytes] = []
    original = redis.connection.AbstractConnection.send_packed_command

    def record(self, command, check_health=True):
        sent.append(b"".join(command) if isinstance(command, list) else command)
        return original(self, command, check_health)

    _run(client, key)  # warm: the scripts are loaded
    redis.connection.AbstractConnection.send_packed_command = record
    try:
        answer = _run(client, key)
    finally:
        redis.connection.AbstractConnection.send_packed_command = original
    return answer.status_code, sent


def test_a_query_of_a_project_without_a_rate_sends_nothing_to_redis(client: Client, web, read_key: str) -> None:
    """Its slots are taken in the query's own message and freed by its rollback: no round trip of their own."""
    status, sent = _send_commands(client, read_key)

    assert (status, sent) == (200, [])


def test_a_projects_rate_costs_one_redis_round_trip(client: Client, web, read_key: str) -> None:
    ProjectQuota.objects.create(project=web.project, queries_per_minute=100)
    quota_limits_forget(project_id=web.project_id)

    status, sent = _send_commands(client, read_key)

    assert status == 200
    assert [b"EVALSHA" in command for command in sent] == [True]


def test_a_query_the_full_platform_refuses_charges_the_project_nothing(client: Client, web, read_key: str, settings,
                                                                       other) -> None:
    ProjectQuota.objects.create(project=web.project, queries_per_minute=100)
    quota_limits_forget(project_id=web.project_id)
    settings.SQL_MAX_CONCURRENT = 1
    other.hold(pool.POOL_LOCK)

    minutes, busy = _around(lambda: _run(client, read_key))

    assert (busy.status_code, busy.json()["code"]) == (429, "sql_pool_busy")
    assert _charged(web.project_id, minutes) == 0


def test_a_query_its_full_project_refuses_charges_the_project_nothing(client: Client, web, read_key: str, other) -> None:
    ProjectQuota.objects.create(project=web.project, queries_per_minute=100, concurrent_queries=1)
    quota_limits_forget(project_id=web.project_id)
    other.hold(query_slot_locks(project_id=web.project_id).start)

    minutes, busy = _around(lambda: _run(client, read_key))

    assert (busy.status_code, busy.json()["detail"]) == (429, "The project may run 1 queries at once; retry when one finishes.")
    assert _charged(web.project_id, minutes) == 0


def test_an_operators_query_is_held_to_the_pool_only(web, settings, other) -> None:
    """``manage.py ae_query`` runs without quotas: no project slot, but still one of the installation's."""
    settings.SQL_MAX_CONCURRENT = 1
    first = query_slot_locks(project_id=web.project_id).start
    other.hold(first, first + 1)

    admitted = sql_execute(project=web.project, sql=QUERY, keep_rows=True)
    other.hold(pool.POOL_LOCK)
    with pytest.raises(pool.PoolBusy):
        sql_execute(project=web.project, sql=QUERY)

    assert admitted.rows == [(0,)]


def test_the_slot_ranges_are_apart_from_every_other_advisory_lock() -> None:
    """Bigint keys: the statistics locks and the partition lock (hashtext, within 32 bits) share the space."""
    pool_range = range(pool.POOL_LOCK, pool.POOL_LOCK + MAX_QUERY_SLOTS)
    projects_range = range(QUERY_LOCK, query_slot_locks(project_id=2**32).start)
    others = [ANALYZE_LOCK, VACUUM_LOCK, -(2**31), 2**31 - 1]

    assert [key for key in others if key in pool_range or key in projects_range] == []
    assert projects_range.stop <= 2**63 - 1
    assert pool_range.stop <= projects_range.start or projects_range.stop <= pool_range.start


def test_the_count_statement_shares_the_request_time_budget(db: None) -> None:
    """The row count for rows_before_limit runs only in what is left of the one budget."""
    limits = SandboxLimits(statement_timeout_ms=10_000, work_mem="8MB", max_rows=10, deadline=time.monotonic() + 0.5)

    started = time.monotonic()
    with pytest.raises(SqlError) as refused:
        sql_sandbox_run(
            query="SELECT 1 FROM pg_sleep(0.3)",
            params={},
            count_query="SELECT count(*) FROM pg_sleep(1)",
            dataset_ids=[],
            limits=limits,
        )

    assert refused.value.message == "Query exceeded the time limit"
    assert time.monotonic() - started < 0.9


def test_a_query_transaction_left_idle_ends_once_the_budget_and_a_margin_are_spent(db: None) -> None:
    """A frozen web process holds its slots no longer than that (``db._IDLE_MARGIN_MS``)."""
    result = sql_sandbox_run(
        query="SELECT setting::int FROM pg_settings WHERE name = 'idle_in_transaction_session_timeout'",
        params={}, count_query=None, dataset_ids=[], limits=LIMITS,
    )

    assert 14_000 < result.rows[0][0] <= 15_000


def test_a_spent_budget_runs_nothing(db: None) -> None:
    limits = SandboxLimits(statement_timeout_ms=10_000, work_mem="8MB", max_rows=10, deadline=time.monotonic() - 0.01)

    with pytest.raises(SqlError, match="Query exceeded the time limit"):
        sql_sandbox_run(query="SELECT 1", params={}, count_query=None, dataset_ids=[], limits=limits)


def test_the_clickhouse_interface_answers_a_full_pool_with_its_own_429(client: Client, web, read_key: str, settings) -> None:
    settings.SQL_PROCESS_CONCURRENCY = 1

    with pool.sql_pool_slot():
        busy = client.get("/clickhouse/", {"query": QUERY}, HTTP_X_CLICKHOUSE_USER=web.project.slug,
                          HTTP_X_CLICKHOUSE_KEY=read_key)

    assert (busy.status_code, busy["Retry-After"], busy["X-ClickHouse-Exception-Code"]) == (429, "2", "202")
    assert b"TOO_MANY_SIMULTANEOUS_QUERIES" in busy.content


def test_a_full_process_refuses_before_authenticating_or_auditing(client: Client, web, read_key: str, settings) -> None:
    """The cheapest 429: no key lookup, quota round trip or audit row, so a flood leaves threads to /healthz."""
    settings.SQL_PROCESS_CONCURRENCY = 1
    audited = AuditEvent.objects.count()

    with pool.sql_pool_slot():
        unknown_key = _run(client, "not-a-key")
        cloudflare = client.post(f"/client/v4/accounts/{web.project.slug}/analytics_engine/sql", data=QUERY,
                                 content_type="text/plain", HTTP_AUTHORIZATION=f"Bearer {read_key}")

    assert (unknown_key.status_code, unknown_key.json()["code"]) == (429, "sql_pool_busy")
    assert (cloudflare.status_code, cloudflare["Retry-After"]) == (429, "2")
    assert AuditEvent.objects.count() == audited
    assert _run(client, "not-a-key").status_code == 401


@pytest.mark.parametrize(("size", "ids"), [(1, []), (MAX_QUERY_SLOTS, []), (0, ["tracking.E004"]), (MAX_QUERY_SLOTS + 1, ["tracking.E004"])])
def test_the_pool_size_is_checked_at_start(settings, size: int, ids: list[str]) -> None:
    settings.SQL_MAX_CONCURRENT = size

    assert [message.id for message in check_sql_pool()] == ids
