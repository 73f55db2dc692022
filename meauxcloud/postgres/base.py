"""Django's PostgreSQL backend with one change: the health check of a persistent connection.

With ``CONN_HEALTH_CHECKS`` Django sends ``SELECT 1`` before the first query of every request
that reuses a connection. Through gunicorn that round trip cost 0.7-1.1 ms of a SQL API request
that took 3.4-5.5 ms for ``SELECT 1`` (medians of 150 kept-alive requests, checks on and off
alternated three times), on every dashboard query. Like PgBouncer's ``server_check_delay``, a
connection that served a query less than ``HEALTH_CHECK_IDLE_SECONDS`` ago (the database
setting, ``DB_HEALTH_CHECK_IDLE_SECONDS``) is taken as alive. One that broke within that moment
fails one query, as it would have if it had broken during the request, and Django closes it at
the end of that request (``errors_occurred``), so the next request connects again. A connection
idle for longer is checked as before: those are the ones a server restart or an idle timeout
leaves broken.
"""

import time
from typing import Any

from django.db.backends.postgresql import base


class DatabaseWrapper(base.DatabaseWrapper):
    used_at = float("-inf")

    def create_cursor(self, name: str | None = None) -> Any:
        cursor = super().create_cursor(name)
        self.used_at = time.monotonic()
        return cursor

    def close_if_health_check_failed(self) -> None:
        if time.monotonic() - self.used_at < self.settings_dict["HEALTH_CHECK_IDLE_SECONDS"]:
            self.health_check_done = True
            return
        super().close_if_health_check_failed()
