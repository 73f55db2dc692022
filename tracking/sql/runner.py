"""SQL queries as the API and ``manage.py ae_query`` run them: admitted by the project's query quotas, and audited.

Every query is recorded (text, key or user, rows, duration, outcome), whether it
succeeded, was refused by the engine, or hit a quota, because "which SQL ran against our
data" is the question an auditor asks first.
"""

import time
from collections.abc import Sequence
from typing import Any

from projects.governance.audit import audit_event_build
from projects.governance.conf import governance_settings
from projects.governance.db import audit_event_insert, audit_event_insert_sql
from projects.governance.models import AuditAction, AuditEvent, AuditOutcome
from projects.governance.quotas import QuotaExceeded
from projects.models import Project
from tracking.sql.engine import SqlError, SqlResult, sql_execute
from tracking.sql.introspection import DEFAULT_DATABASE


def query_run(
    *,
    project: Project,
    sql: str,
    params: dict[str, Any] | None = None,
    quotas: bool = True,
    default_format: str = "JSON",
    database: str = DEFAULT_DATABASE,
    interface: str = "",
    keep_rows: bool = False,
    plan: str = "auto",
    then_later: bool = False,
) -> SqlResult:
    """``sql_execute`` under quotas, with one audit event per query; raises what it raises.

    ``quotas=False`` is for operators' shell queries (``manage.py ae_query``): audited, not limited.
    ``default_format`` and ``database`` are the ClickHouse HTTP interface's defaults; ``interface``
    names where the query came from in the audit log (``clickhouse-http``, ``explorer``);
    ``keep_rows`` keeps the typed rows besides the body (the shell prints them as a table);
    ``plan`` is ``sql_execute``'s, and the audit event records the path that answered.
    ``then_later`` is ``sql_execute``'s: the caller sends the result, then calls ``db.sql_sandbox_finish``
    (``views.SqlHttpResponse`` does), which writes the OK event of a query that answered in one round trip.
    """
    started = time.monotonic()
    details: dict[str, Any] = {"sql": sql[: governance_settings.AUDIT_SQL_MAX_CHARS]}
    if params:
        details["params"] = sorted(params)
    if interface:
        details["interface"] = interface

    def audited(row_count: int, answered_by: str) -> tuple[str, Sequence[Any]]:
        """The OK event's INSERT, sent with the query's rollback: one round trip fewer per query."""
        details["rows"], details["plan"] = row_count, answered_by
        return audit_event_insert_sql(event=_event(project, details, started, AuditOutcome.OK))

    try:
        result = sql_execute(
            project=project,
            sql=sql,
            params=params,
            default_format=default_format,
            database=database,
            keep_rows=keep_rows,
            plan=plan,
            quotas=quotas,
            then=audited,
            then_later=then_later,
        )
    except QuotaExceeded as refusal:
        _record(project, details, started, AuditOutcome.REFUSED, error=str(refusal.detail))
        raise
    except SqlError as error:
        _record(project, details, started, AuditOutcome.ERROR, error=str(error))
        raise
    except Exception as error:
        _record(project, details, started, AuditOutcome.ERROR, error=type(error).__name__)
        raise
    if not result.then_sent:
        details["rows"], details["plan"] = result.row_count, result.plan
        _record(project, details, started, AuditOutcome.OK)
    return result


def _record(project: Project, details: dict[str, Any], started: float, outcome: str, error: str = "") -> None:
    audit_event_insert(event=_event(project, details, started, outcome, error))


def _event(project: Project, details: dict[str, Any], started: float, outcome: str, error: str = "") -> AuditEvent:
    details["duration_ms"] = round((time.monotonic() - started) * 1000, 1)
    if error:
        details["error"] = error
    return audit_event_build(project=project, action=AuditAction.SQL_RUN, outcome=outcome, details=details)
