"""A reused connection is checked before a request's first query unless it served one a moment ago."""

import psycopg
import pytest
from django.db import OperationalError, close_old_connections, connection

from tests.support import processes
from tests.support.processes import wait_until

pytestmark = pytest.mark.django_db(transaction=True)


def backend_pid() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]


def terminated(pid: int) -> None:
    """The server ends this connection's backend, as a restart or an idle timeout would."""
    with psycopg.connect(processes.test_database_url(), autocommit=True) as other:
        other.execute("SELECT pg_terminate_backend(%s)", [pid])
        assert wait_until(
            lambda: other.execute("SELECT count(*) FROM pg_stat_activity WHERE pid = %s", [pid]).fetchone()[0] == 0,
            timeout=10,
        )


@pytest.fixture
def idle_bound(monkeypatch):
    def set_bound(seconds: float) -> None:
        monkeypatch.setitem(connection.settings_dict, "HEALTH_CHECK_IDLE_SECONDS", seconds)

    return set_bound


def test_a_connection_idle_past_the_bound_is_checked_and_replaced_before_the_first_query(idle_bound):
    idle_bound(0)
    broken = backend_pid()
    terminated(broken)

    close_old_connections()  # a request starts

    assert backend_pid() != broken


def test_a_connection_used_within_the_bound_fails_one_query_and_the_next_request_reconnects(idle_bound):
    """The check's round trip is skipped for a connection that just served a query (0.7-1.1 ms of a SQL API
    request); one that broke in that moment fails as it would have mid-request, and is closed at its end."""
    idle_bound(60)
    broken = backend_pid()
    terminated(broken)

    close_old_connections()
    with pytest.raises(OperationalError):
        backend_pid()
    close_old_connections()  # that request ends

    assert backend_pid() != broken
