"""Raw SQL of the SQL API: the sandboxed execution of one translated query.

Each query runs in a transaction of its own (or a savepoint, when the caller is already
inside a transaction: tests, management commands) that is always rolled back, so the
transaction-local settings (READ ONLY, role, timeouts, the RLS dataset list) never outlive
the query.
"""

import json
import logging
import math
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from django.db import DatabaseError, connection

from tracking.conf import tracking_settings
from tracking.models import ProjectionState
from tracking.sql.errors import SqlError
from tracking.sql.schema import (
    AGGREGATE_INPUT_SQLSTATE,
    CATALOG_CHANGED_SQLSTATE,
    DATASET_IDS_SETTING,
    PINS_MISSED_SQLSTATE,
    POOL_BUSY_SQLSTATE,
    PROJECT_BUSY_SQLSTATE,
    ROLE,
)

FETCH_ROWS = 1_000
CURSOR = "meaux_sql_result"

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SandboxLimits:
    """``deadline`` (``time.monotonic()``) is the request's one time budget, shared by all its statements."""

    statement_timeout_ms: int
    work_mem: str
    max_rows: int
    deadline: float = math.inf


def _remaining_ms(limits: SandboxLimits) -> int:
    remaining = (limits.deadline - time.monotonic()) * 1000
    if remaining <= 0:
        raise SqlError("Query exceeded the time limit", status=422)
    return int(min(remaining, limits.statement_timeout_ms))


@dataclass(frozen=True)
class CatalogCheck:
    """What a query compiled from a cached catalog assumed: the catalog's fingerprint and a clock no later
    than the query's ``NOW()`` (``schema.CATALOG_CHECK_SQL``)."""

    project_id: int
    fingerprint: str
    clock: datetime


class CatalogChanged(Exception):
    """The cached catalog a query was compiled from is stale; the caller reads it again and recompiles."""


class PinsMissed(Exception):
    """The query's window has moved past the values its plan was given (``ir.Pins``); the caller compiles it without them."""


@dataclass(frozen=True)
class Slots:
    """The advisory locks a query's transaction takes one of before it runs (``schema.SLOTS_TAKE_SQL``): one of
    ``project`` (none when the project's concurrency is unlimited), then one of ``pool``."""

    project: range | None
    pool: range


class SlotTaken(Exception):
    """Every slot of the project (``project``) or of the pool was taken; the query did not run."""

    def __init__(self, *, project: bool) -> None:
        super().__init__()
        self.project = project


@dataclass(frozen=True)
class SandboxResult:
    """``rows`` holds the rows only when ``sql_sandbox_run`` had no sink to stream them to."""

    rows: list[tuple[Any, ...]]
    rows_before_limit: int | None


_SQLSTATE_MESSAGES = {
    "22012": "Division by zero",
    "22003": "Numeric value out of range",
    "22007": "Cannot parse the value as a date/time",
    "22008": "Date/time value out of range",
    "22P02": "Cannot parse the value as a number",
    "22023": None,
    "2201E": "Invalid argument for a logarithm or power",
    "2201F": "Invalid argument for power",
    "42803": "Every selected column must be aggregated or listed in GROUP BY",
    "42883": "No function matches the given argument types",
    "42804": "Argument types do not match",
    "42725": "Ambiguous function call",
    "21000": "A scalar subquery returned more than one row",
    "54001": "Query is too complex",
    "53200": "Query ran out of memory",
    "53400": "Query exceeded a resource limit",
    "54000": "Query exceeded a resource limit",
}


def sql_sandbox_run(
    *,
    query: str,
    params: dict[str, Any],
    count_query: str | None,
    dataset_ids: list[int],
    limits: SandboxLimits,
    count_column: bool = False,
    sink: Callable[[list[tuple[Any, ...]]], None] | None = None,
    then: Callable[[], tuple[str, Sequence[Any]]] | None = None,
    check: CatalogCheck | None = None,
    slots: Slots | None = None,
    most_rows: int | None = None,
    then_later: bool = False,
    guard: str | None = None,
) -> SandboxResult:
    """Run a translated SELECT as the restricted role, read only, under time, memory and row caps.

    Rows are streamed from a server-side cursor in batches of ``FETCH_ROWS`` to ``sink``
    (a ``formats.RowWriter``), so neither libpq nor Python ever holds the whole result, and
    the fetch stops at the row cap: a query is never read past ``max_rows`` + 1 rows.
    Without a sink the rows are collected into the result.
    ``count_column``: the query's last column is the row count before LIMIT; it is split off.
    JIT is off: on month-long scans over ~40 partitions LLVM compilation alone took longer
    than the query (docs/benchmarks.md: 33.4 s → 7.9 s at 10M points). No parallel workers:
    a query is one process, so it takes one of the pool's cores (``SQL_MAX_CONCURRENT``) and
    one ``work_mem`` per sort or hash, not one per worker as well.

    Round trips are the fixed cost of every query (docs/benchmarks.md, per-request fixed
    cost), so the statements travel together in one simple-protocol message: the read-only
    transaction, the settings, the role, the DECLARE and the first FETCH (PostgreSQL runs a
    message's statements in order and stops at the first error, so the query never runs
    without the role and settings before it); then one more for the rollback. Outside a
    transaction the query runs in its own ``BEGIN READ ONLY`` transaction, always rolled back;
    inside one (tests, management commands) in a savepoint, always rolled back to.
    ``then`` gives a statement to send with the rollback once the query has succeeded (the query's
    audit event, ``runner.query_run``): a round trip through gunicorn cost 0.5-1 ms here.
    ``check`` travels first in the query's message, so a query compiled from a cached catalog
    never runs against a different one (``CatalogChanged``). ``slots`` are taken before anything
    else in that message (``SlotTaken``), and freed by the rollback. ``guard``, a condition over ``params``,
    follows the settings (it reads ``NOW()`` in the sandbox's zone): a query whose pinned values it refuses is not
    run (``PinsMissed``, ``ir.Pins``).

    ``most_rows``, the most rows the query can return when known before it runs
    (``Translation.most_rows``): when the first FETCH is sure to hold them all, the rollback travels in
    its message too, so the query costs one round trip and its slots are freed as it answers. ``then``'s
    statement follows on its own then, or, with ``then_later``, is left for ``sql_sandbox_finish``, which
    the web calls once the response has been sent: the client does not wait for it (the second round
    trip was 0.35 ms of S4's 1.3 ms in process). The thread's next query sends it first.
    """
    sql_sandbox_finish()
    collected: list[tuple[Any, ...]] = []
    if sink is None:
        sink = collected.extend
    for name in params:
        if name.startswith(_OWN_PARAM):
            raise ValueError(f"query parameter {name!r} uses the sandbox's own prefix")
    remaining_ms = _remaining_ms(limits)
    setup: dict[str, Any] = {
        f"{_OWN_PARAM}timeout": str(remaining_ms),
        f"{_OWN_PARAM}idle": str(remaining_ms + _IDLE_MARGIN_MS),
        f"{_OWN_PARAM}work_mem": limits.work_mem,
        f"{_OWN_PARAM}setting": DATASET_IDS_SETTING,
        f"{_OWN_PARAM}datasets": ",".join(str(i) for i in dataset_ids),
    }
    own_transaction = connection.get_autocommit()
    begin = "BEGIN READ ONLY" if own_transaction else "SET TRANSACTION READ ONLY"
    if slots is not None:
        begin += (
            f"; SELECT public.meaux_sql_slots_take(%({_OWN_PARAM}project_first)s, %({_OWN_PARAM}project_slots)s, "
            f"%({_OWN_PARAM}pool_first)s, %({_OWN_PARAM}pool_slots)s)"
        )
        setup |= {
            f"{_OWN_PARAM}project_first": None if slots.project is None else slots.project.start,
            f"{_OWN_PARAM}project_slots": None if slots.project is None else len(slots.project),
            f"{_OWN_PARAM}pool_first": slots.pool.start,
            f"{_OWN_PARAM}pool_slots": len(slots.pool),
        }
    if check is not None:
        begin += f"; SELECT public.meaux_sql_catalog_check(%({_OWN_PARAM}project)s, %({_OWN_PARAM}fingerprint)s, %({_OWN_PARAM}clock)s)"
        setup |= {
            f"{_OWN_PARAM}project": check.project_id,
            f"{_OWN_PARAM}fingerprint": check.fingerprint,
            f"{_OWN_PARAM}clock": check.clock,
        }
    # One FETCH holds every row, and a LIMIT's count comes from its rows' own column (or is 0 when none came).
    one_fetch = (
        most_rows is not None
        and 1 <= most_rows < min(FETCH_ROWS, limits.max_rows + 1)
        and (count_query is None or count_column)
    )
    state = _Sandbox()
    with connection.cursor() as cursor:
        if not own_transaction:
            cursor.execute(f"SAVEPOINT {_SAVEPOINT}")
        try:
            try:
                rows_before_limit = _stream(
                    cursor, query, params | setup, limits, count_column, sink, begin=begin,
                    guard=f"SELECT public.meaux_sql_pins_check({guard}); " if guard is not None else "",
                    leave=_leave_sql(own_transaction=own_transaction) if one_fetch else None, state=state,
                )
                if state.left:
                    _left_check(own_transaction=own_transaction)
                    if rows_before_limit is None and count_query is not None:
                        rows_before_limit = 0
                if count_query is not None and rows_before_limit is None:
                    _execute_last(cursor, f"{_TIMEOUT_SQL}; {count_query}", params | _timeout(limits))
                    rows_before_limit = int(cursor.fetchone()[0])
            except (psycopg.Error, DatabaseError) as error:
                cause = error if isinstance(error, psycopg.Error) else error.__cause__
                failure = cause if isinstance(cause, psycopg.Error) else None
                sqlstate = failure.sqlstate if failure is not None else None
                if sqlstate == CATALOG_CHANGED_SQLSTATE:
                    raise CatalogChanged() from None
                if sqlstate == PINS_MISSED_SQLSTATE:
                    raise PinsMissed() from None
                if sqlstate in (POOL_BUSY_SQLSTATE, PROJECT_BUSY_SQLSTATE):
                    raise SlotTaken(project=sqlstate == PROJECT_BUSY_SQLSTATE) from None
                raise _sql_error_from(failure) from None
            closing = then() if then is not None else None
        except BaseException:
            if not state.left:
                _sandbox_leave(cursor, own_transaction=own_transaction)
            raise
        if not state.left:
            _sandbox_leave(cursor, own_transaction=own_transaction, then=closing)
        elif closing is not None and then_later and own_transaction:
            _pending.then = closing
        elif closing is not None:
            _then_send(cursor, closing, own_transaction=own_transaction)
    return SandboxResult(rows=collected, rows_before_limit=rows_before_limit)


@dataclass
class _Sandbox:
    """A sandbox transaction as it goes: ``left`` once its rollback has run."""

    left: bool = False


#: The ``then`` statement of a query that answered in one round trip, left for after its response
#: (``then_later``); per thread, as Django's connections are.
_pending = threading.local()


def sql_sandbox_finish() -> None:
    """Send the ``then`` statement this thread's last query left for later (``then_later``), if any.

    Never raises: the query has answered by then. What a failure loses is that statement (the query's
    audit event); the log says so, and the connection is closed (``_then_send``). Inside a caller's
    transaction the statement joins it, as ``sql_sandbox_run`` would have sent it there.
    """
    then = getattr(_pending, "then", None)
    if then is None:
        return
    _pending.then = None
    try:
        with connection.cursor() as cursor:
            _then_send(cursor, then, own_transaction=connection.get_autocommit())
    except Exception:
        logger.exception("The statement a SQL query left for after its response failed: %s", then[0][:200])


def _then_send(cursor: Any, then: tuple[str, Sequence[Any]], *, own_transaction: bool) -> None:
    """``then``'s statement on its own once the query's transaction has ended (``_then_sql``). A failure closes the
    connection, as a failed leave does (``_sandbox_leave``)."""
    statement, params = then
    try:
        _execute_last(cursor, _then_sql(statement, own_transaction=own_transaction), params)
    except BaseException:
        connection.close()
        raise


def _left_check(*, own_transaction: bool) -> None:
    """After the sandbox's rollback, the connection must be out of any transaction of ours; if it is not,
    closing it is the only safe way on (``_sandbox_leave``)."""
    if own_transaction and connection.connection.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
        connection.close()


def _sandbox_leave(cursor: Any, *, own_transaction: bool, then: tuple[str, Sequence[Any]] | None = None) -> None:
    """Roll the sandbox back, and run ``then``'s statement in the same message, or close the connection if the
    rollback cannot be confirmed.

    Django does not know of the transaction the sandbox began itself, so a connection whose
    ROLLBACK failed or was interrupted (a worker's soft time limit) would be reused by the next
    request still in it: as the reader role, with this query's datasets. Closing is the only
    safe way out.
    """
    leave = _leave_sql(own_transaction=own_transaction)
    try:
        if then is None:
            cursor.execute(leave)
        else:
            _execute_last(cursor, f"{leave}; {_then_sql(then[0], own_transaction=own_transaction)}", then[1])
    except BaseException:
        connection.close()
        raise
    _left_check(own_transaction=own_transaction)


def _leave_sql(*, own_transaction: bool) -> str:
    """What ends the sandbox: its own transaction's ROLLBACK, or back to its savepoint in a caller's."""
    return "ROLLBACK" if own_transaction else f"ROLLBACK TO SAVEPOINT {_SAVEPOINT}; RELEASE SAVEPOINT {_SAVEPOINT}"


def _then_sql(statement: str, *, own_transaction: bool) -> str:
    """``then``'s statement once the sandbox has ended: committed on its own without waiting for the WAL
    (``_ASYNC_COMMIT_BEGIN``), or inside the caller's transaction."""
    return f"{_ASYNC_COMMIT_BEGIN}; {statement}; COMMIT" if own_transaction else statement


#: ``then`` records a query that succeeded (its audit event), and outside a caller's transaction it
#: commits without waiting for the WAL to reach the disk: that wait was 0.24 ms of S4's 2.44 ms in
#: process. A PostgreSQL or server crash may lose the events of the last fraction of a second
#: (three ``wal_writer_delay``, 0.6 s by default) and never makes a table inconsistent;
#: ClickHouse flushes its own query_log every 7.5 s. Inside a caller's transaction nothing changes.
_ASYNC_COMMIT_BEGIN = "BEGIN; SET LOCAL synchronous_commit = off"
#: A sandbox transaction is idle only between its messages, for as long as Python takes with a batch of
#: rows, while it holds its query's slots (``schema.SLOTS_TAKE_SQL``): a web process that freezes there
#: (stopped, its host gone, a partition) loses its session, and the slots, once the request's
#: budget and this margin are spent, instead of when TCP keepalive gives up (two hours by default).
_IDLE_MARGIN_MS = 5_000
_OWN_PARAM = "meaux_sandbox_"
_SAVEPOINT = "meaux_sql_sandbox"
_SETUP_SQL = (
    f"SELECT set_config('statement_timeout', %({_OWN_PARAM}timeout)s, true), set_config('lock_timeout', '1000', true), "
    f"set_config('idle_in_transaction_session_timeout', %({_OWN_PARAM}idle)s, true), "
    f"set_config('work_mem', %({_OWN_PARAM}work_mem)s, true), set_config('TimeZone', 'UTC', true), "
    "set_config('search_path', 'pg_catalog', true), set_config('jit', 'off', true), "
    "set_config('cursor_tuple_fraction', '1', true), "
    "set_config('max_parallel_workers_per_gather', '0', true), "
    f"set_config(%({_OWN_PARAM}setting)s, %({_OWN_PARAM}datasets)s, true); "
    f"SET LOCAL ROLE {ROLE}"
)
_TIMEOUT_SQL = f"SELECT set_config('statement_timeout', %({_OWN_PARAM}timeout)s, true)"


def _timeout(limits: SandboxLimits) -> dict[str, str]:
    return {f"{_OWN_PARAM}timeout": str(_remaining_ms(limits))}


def _execute_last(cursor: Any, statements: str, params: dict[str, Any] | Sequence[Any]) -> None:
    """Send ``statements`` as one message and leave the cursor on the last one's result."""
    cursor.execute(statements, params)
    while cursor.nextset():
        pass


def _fetched(cursor: Any, statements: str, params: dict[str, Any]) -> list[tuple[Any, ...]]:
    """Send ``statements`` as one message: the rows of its FETCH, whatever statements follow it."""
    cursor.execute(statements, params)
    while not (cursor.statusmessage or "").startswith("FETCH"):
        if not cursor.nextset():
            raise AssertionError("the message holds no FETCH")
    rows = cursor.fetchall()
    while cursor.nextset():
        pass
    return rows


def _stream(
    cursor: Any,
    query: str,
    params: dict[str, Any],
    limits: SandboxLimits,
    count_column: bool,
    sink: Callable[[list[tuple[Any, ...]]], None],
    *,
    begin: str,
    guard: str,
    leave: str | None,
    state: _Sandbox,
) -> int | None:
    """DECLARE the query and FETCH it batch by batch, each FETCH within what is left of the time budget.

    The first FETCH travels with ``begin``, the settings, ``guard``'s statement and the DECLARE; each later one with
    its own statement timeout. ``leave`` ends the first message when the caller knows that FETCH
    holds every row; ``state.left`` says once it has run (PostgreSQL skips what follows a failed
    statement of a message). Returns the row count before the LIMIT when the rows carried it.
    """
    fetched = 0
    rows_before_limit = None
    statements = f"{begin}; {_SETUP_SQL}; {guard}DECLARE {CURSOR} NO SCROLL CURSOR FOR {query}; "
    tail = f"; {leave}" if leave is not None else ""
    while True:
        size = min(FETCH_ROWS, limits.max_rows + 1 - fetched)
        batch = _fetched(cursor, f"{statements}FETCH FORWARD {size} FROM {CURSOR}{tail}", params)
        if tail:
            state.left, tail = True, ""
        statements, params = f"{_TIMEOUT_SQL}; ", _timeout(limits)
        fetched += len(batch)
        if fetched > limits.max_rows:
            raise SqlError(f"Result exceeds {limits.max_rows} rows: add a LIMIT or aggregate")
        if count_column:
            if batch and rows_before_limit is None:
                rows_before_limit = int(batch[0][-1])
            batch = [row[:-1] for row in batch]
        sink(batch)
        if len(batch) < size:
            return rows_before_limit


@dataclass(frozen=True)
class Catalog:
    """A project's datasets by name, as (id, name, labels, ready projections as [id, grain, dimensions,
    doubles, name, bucket_rows, bucket_points]); the database's clock when they were read; their fingerprint (``CatalogCheck``)."""

    clock: datetime
    fingerprint: str
    datasets: list[tuple[int, str, dict[str, Any], list[list[Any]]]]


def sql_catalog(*, project_id: int) -> Catalog:
    """What the planner needs of a project, in one round trip.

    The projections come in the order the planner tries them, the narrowest first: fewest
    dimensions, then doubles, then the finest grain (the fewest raw points at ragged edges),
    then by name in code-point order. The clock is this transaction's start: the query's own
    transaction starts later (or is this one, inside a caller's transaction), so it is no later
    than the query's ``NOW()`` (``translate.time_floor``). The fingerprint is read in the same
    statement, so it describes exactly these rows.

    Raw SQL rather than the ORM: compiling the aggregate took longer than running it. One row per
    dataset and projection, grouped here: aggregating them into JSON in the query took twice as
    long (0.27 against 0.15 ms a query). A project without datasets still gets its clock and
    fingerprint, from the one row of the outer side.
    """
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT c.clock, c.fingerprint, d.id, d.name, d.labels::text, p.id, p.grain, p.dimensions, p.doubles, p.name, p.bucket_rows, p.bucket_points
            FROM (SELECT transaction_timestamp() AS clock, public.meaux_sql_catalog_fingerprint(%s) AS fingerprint) AS c
            LEFT JOIN public.tracking_dataset d ON d.project_id = %s
            LEFT JOIN public.tracking_projection p ON p.dataset_id = d.id AND p.state = %s
            ORDER BY d.name, d.id, cardinality(p.dimensions), cardinality(p.doubles), p.grain, p.name COLLATE "C"
            """,
            [project_id, project_id, ProjectionState.READY],
        )
        rows = cursor.fetchall()
    datasets: dict[int, tuple[int, str, dict[str, Any], list[list[Any]]]] = {}
    for _, _, dataset_id, name, labels, projection_id, grain, dimensions, doubles, projection_name, bucket_rows, bucket_points in rows:
        if dataset_id is None:
            continue
        dataset = datasets.setdefault(dataset_id, (dataset_id, name, json.loads(labels) or {}, []))
        if projection_id is not None:
            dataset[3].append([projection_id, grain, dimensions, doubles, projection_name, bucket_rows, bucket_points])
    return Catalog(clock=rows[0][0], fingerprint=rows[0][1], datasets=list(datasets.values()))


def _sql_error_from(error: psycopg.Error | None) -> SqlError:
    """A caller-safe message: PostgreSQL texts can name internal aliases, so most are replaced."""
    sqlstate = getattr(error, "sqlstate", None) or ""
    if not sqlstate and isinstance(error, psycopg.DataError):
        # Raised by psycopg while loading a row, e.g. a timestamp past Python's years 1 to 9999.
        if any(word in str(error) for word in ("timestamp", "date")):
            return SqlError("Date/time value out of range: results can hold years 0001 to 9999")
        return SqlError("A result value cannot be represented")
    if sqlstate == "57014":
        return SqlError("Query exceeded the time limit", status=422)
    if sqlstate == AGGREGATE_INPUT_SQLSTATE:
        return SqlError(
            "Aggregate state exceeds SQL_MAX_AGGREGATE_BYTES "
            f"({tracking_settings.SQL_MAX_AGGREGATE_BYTES} bytes): topK, topKWeighted, groupArray and "
            "quantileExactWeighted keep every value they read, and this query feeds them more. "
            "Narrow the time range or WHERE, or use quantileExact, uniq or count, which are not limited"
        )
    if sqlstate in _SQLSTATE_MESSAGES:
        message = _SQLSTATE_MESSAGES[sqlstate]
        if message is None:
            primary = (error.diag.message_primary if error is not None else None) or "Invalid argument"
            message = primary.split("\n")[0][:200]
        return SqlError(message)
    if sqlstate.startswith("22"):
        return SqlError("Invalid value in query data")
    if sqlstate == "42501":
        return SqlError("Permission denied")
    return SqlError(f"Query failed (SQLSTATE {sqlstate or 'unknown'})")
