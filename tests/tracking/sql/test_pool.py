"""Fair sharing of SQL (issue 14): a bounded pool per process and per installation, a per-project
default share, and one time budget per request."""

import time

import pytest
from django.test import Client

from meauxcloud.redis import redis_client
from projects.governance.models import AuditEvent
from projects.governance.quotas import quota_limits_forget
from tracking.models import Dataset
from tracking.sql import pool
from tracking.sql.db import SandboxLimits, sql_sandbox_run
from tracking.sql.errors import SqlError

pytestmark = pytest.mark.django_db

QUERY = "SELECT count() AS n FROM web"


@pytest.fixture(autouse=True)
def empty_pool() -> None:
    redis_client().delete(pool.KEY)
    yield
    redis_client().delete(pool.KEY)


@pytest.fixture
def web(project) -> Dataset:
    quota_limits_forget(project_id=project.id)
    return Dataset.objects.get_or_create(project=project, name="web")[0]


def _run(client: Client, key: str):
    return client.post("/api/v1/sql", data=QUERY, content_type="text/plain", HTTP_AUTHORIZATION=f"Bearer {key}")


def test_a_query_beyond_the_process_limit_gets_429_with_retry_after(client: Client, web, read_key: str, settings) -> None:
    settings.SQL_PROCESS_CONCURRENCY = 1

    with pool.sql_pool_slot():
        busy = _run(client, read_key)
    after = _run(client, read_key)

    assert (busy.status_code, busy["Content-Type"], busy["Retry-After"]) == (429, "application/problem+json", "2")
    assert busy.json()["code"] == "sql_pool_busy"
    assert busy.json()["detail"] == "This server is running its 1 SQL queries at once; retry in 2 s."
    assert after.status_code == 200


def test_the_installation_limit_counts_other_processes_leases(client: Client, web, read_key: str, settings) -> None:
    settings.SQL_MAX_CONCURRENT = 2
    now_ms = int(time.time() * 1000)
    redis_client().zadd(pool.KEY, {"other-process-1": now_ms, "other-process-2": now_ms})

    busy = _run(client, read_key)
    redis_client().zrem(pool.KEY, "other-process-2")
    admitted = _run(client, read_key)

    assert (busy.status_code, busy.json()["detail"]) == (429, "The platform is running its 2 SQL queries at once; retry in 2 s.")
    assert admitted.status_code == 200
    assert redis_client().zrange(pool.KEY, 0, -1) == [b"other-process-1"]


def test_a_crashed_process_lease_expires(client: Client, web, read_key: str, settings) -> None:
    settings.SQL_MAX_CONCURRENT = 1
    settings.SQL_LEASE_SECONDS = 5
    redis_client().zadd(pool.KEY, {"crashed": int(time.time() * 1000) - 6_000})

    assert _run(client, read_key).status_code == 200


def test_a_refused_query_leaves_no_slot_taken(client: Client, web, read_key: str, settings) -> None:
    settings.SQL_PROCESS_CONCURRENCY = 1
    settings.SQL_MAX_CONCURRENT = 1

    for _ in range(3):
        client.post("/api/v1/sql", data="SELECT nope FROM web", content_type="text/plain", HTTP_AUTHORIZATION=f"Bearer {read_key}")
        client.post("/api/v1/sql", data="SELECT 1 / 0 AS x FROM web", content_type="text/plain", HTTP_AUTHORIZATION=f"Bearer {read_key}")

    assert (pool._process_running, redis_client().zcard(pool.KEY), _run(client, read_key).status_code) == (0, 0, 200)


def test_a_project_runs_two_queries_at_once_by_default(client: Client, web, read_key: str) -> None:
    running = f"meauxcloud:quota:{web.project_id}:running"
    now_ms = int(time.time() * 1000)
    redis_client().zadd(running, {"first": now_ms, "second": now_ms})

    third = _run(client, read_key)
    redis_client().zrem(running, "second")
    second = _run(client, read_key)

    assert (third.status_code, third.json()["code"]) == (429, "too_many_concurrent_queries")
    assert third.json()["detail"] == "The project may run 2 queries at once; retry when one finishes."
    assert second.status_code == 200


def test_a_query_is_admitted_in_one_redis_round_trip_and_freed_in_one(client: Client, web, read_key: str) -> None:
    """The project's quota and the installation's lease share one script and one pipelined release."""
    import redis.connection

    sent: list[bytes] = []
    original = redis.connection.AbstractConnection.send_packed_command

    def record(self, command, check_health=True):
        sent.append(b"".join(command) if isinstance(command, list) else command)
        return original(self, command, check_health)

    _run(client, read_key)  # warm: the scripts are loaded
    redis.connection.AbstractConnection.send_packed_command = record
    try:
        answer = _run(client, read_key)
    finally:
        redis.connection.AbstractConnection.send_packed_command = original

    assert answer.status_code == 200
    assert [b"EVALSHA" in command for command in sent] == [True, False]
    assert sent[1].count(b"ZREM") == 2
    running = f"meauxcloud:quota:{web.project_id}:running"
    assert (redis_client().zcard(pool.KEY), redis_client().zcard(running)) == (0, 0)


def test_a_query_the_full_platform_refuses_charges_the_project_nothing(client: Client, web, read_key: str, settings) -> None:
    settings.SQL_MAX_CONCURRENT = 1
    redis_client().zadd(pool.KEY, {"other-process": int(time.time() * 1000)})
    minute = time.strftime("%Y%m%d%H%M", time.gmtime())

    busy = _run(client, read_key)

    assert (busy.status_code, busy.json()["code"]) == (429, "sql_pool_busy")
    assert redis_client().get(f"meauxcloud:quota:{web.project_id}:queries:{minute}") is None
    assert redis_client().zcard(f"meauxcloud:quota:{web.project_id}:running") == 0


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
