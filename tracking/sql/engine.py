"""Public entry point of the SQL API: one query in, one formatted result out."""

import time
from dataclasses import dataclass
from typing import Any

from projects.models import Project
from tracking.conf import tracking_settings
from tracking.models import Dataset
from tracking.sql.db import SandboxLimits, sql_sandbox_run
from tracking.sql.errors import SqlError
from tracking.sql.formats import CONTENT_TYPES, result_render
from tracking.sql.ir import DEFAULT_TIMEZONE, TIMEZONES, DatasetRef, ShowStatement
from tracking.sql.pool import sql_pool_slot
from tracking.sql.translate import sql_parse, sql_translate

__all__ = ["SqlError", "SqlResult", "sql_execute"]


@dataclass(frozen=True)
class SqlResult:
    """A finished query: the rendered body plus the typed rows for callers that print tables."""

    format: str
    content_type: str
    body: bytes
    columns: list[tuple[str, str]]
    rows: list[tuple[Any, ...]]
    rows_before_limit: int


def sql_limits(*, started: float) -> SandboxLimits:
    timeout_ms = tracking_settings.SQL_STATEMENT_TIMEOUT_MS
    return SandboxLimits(
        statement_timeout_ms=timeout_ms,
        work_mem=tracking_settings.SQL_WORK_MEM,
        max_rows=tracking_settings.SQL_MAX_ROWS,
        deadline=started + timeout_ms / 1000,
    )


def _project_datasets(project: Project) -> list[DatasetRef]:
    return [
        DatasetRef(id=row["id"], name=row["name"], labels=row["labels"] or {})
        for row in Dataset.objects.filter(project=project).values("id", "name", "labels").order_by("name")
    ]


def sql_execute(*, project: Project, sql: str, params: dict[str, Any] | None = None) -> SqlResult:
    """Run one Analytics Engine SQL statement over ``project``'s datasets.

    The statement runs in a slot of the SQL pool (``PoolBusy``, a 429, when none is free) and
    within one time budget from the moment the request arrived, whatever it runs.
    Raises ``SqlError`` (with line/column when known) for anything refused or failed;
    every other exception is a bug.
    """
    started = time.monotonic()
    datasets = _project_datasets(project)
    statement = sql_parse(sql=sql)
    if isinstance(statement, ShowStatement):
        columns, rows = _show(statement, datasets)
        return _result(statement.format, columns, rows, len(rows), started)
    translation = sql_translate(statement=statement, datasets=datasets, bound=params)
    with sql_pool_slot():
        outcome = sql_sandbox_run(
            query=translation.sql,
            params=translation.params,
            count_query=translation.count_sql,
            count_column=translation.count_column,
            dataset_ids=translation.dataset_ids,
            limits=sql_limits(started=started),
        )
    rows_before_limit = outcome.rows_before_limit if outcome.rows_before_limit is not None else len(outcome.rows)
    return _result(translation.format, translation.columns, outcome.rows, rows_before_limit, started)


def _show(statement: ShowStatement, datasets: list[DatasetRef]) -> tuple[list[tuple[str, str]], list[tuple[Any, ...]]]:
    if statement.what == "TABLES":
        return [("name", "String")], [(dataset.name,) for dataset in datasets]
    if statement.what == "TIMEZONES":
        return [("name", "String")], [(name,) for name in sorted(TIMEZONES)]
    return [("timezone", "String")], [(DEFAULT_TIMEZONE,)]


def _result(
    output_format: str,
    columns: list[tuple[str, str]],
    rows: list[tuple[Any, ...]],
    rows_before_limit: int,
    started: float,
) -> SqlResult:
    body = result_render(
        output_format=output_format,
        columns=columns,
        rows=rows,
        rows_before_limit=rows_before_limit,
        elapsed=time.monotonic() - started,
    )
    max_bytes = tracking_settings.SQL_MAX_RESULT_BYTES
    if len(body) > max_bytes:
        raise SqlError(f"Result exceeds {max_bytes} bytes: add a LIMIT or aggregate")
    return SqlResult(
        format=output_format,
        content_type=CONTENT_TYPES[output_format],
        body=body,
        columns=columns,
        rows=rows,
        rows_before_limit=rows_before_limit,
    )
