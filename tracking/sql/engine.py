"""Public entry point of the SQL API: one query in, one formatted result out."""

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlglot import exp

from projects.models import Project
from tracking.conf import tracking_settings
from tracking.sql.catalog import ProjectCatalog, catalog_forget, catalog_kept, catalog_read
from tracking.sql.db import CatalogChanged, PinsMissed, SandboxLimits, SandboxResult, Slots, sql_sandbox_run
from tracking.sql.errors import SqlError
from tracking.sql.formats import CONTENT_TYPES, RowWriter, result_render
from tracking.sql.introspection import DATABASES, DEFAULT_DATABASE, SYSTEM_DATABASE, dataset_describe, system_table, system_table_names
from tracking.sql.ir import DEFAULT_TIMEZONE, TIMEZONES, DatasetRef, ShowStatement, Translation
from tracking.sql.pool import sql_pool_slot
from tracking.sql.translate import sql_parse, sql_translate

__all__ = ["PLANS", "SqlError", "SqlResult", "sql_execute"]

#: ``auto``: a projection answers where one covers the query and the raw scan is not cheaper;
#: ``projection``: a covering projection answers even where the raw scan is cheaper (to compare
#: the two, as the differential test does); ``raw``: always the raw scan.
PLANS = ("auto", "projection", "raw")


@dataclass(frozen=True)
class SqlResult:
    """A finished query: the rendered body; the typed rows only when asked for (``keep_rows``) or for Native."""

    format: str
    content_type: str
    body: bytes
    columns: list[tuple[str, str]]
    rows: list[tuple[Any, ...]]
    row_count: int
    rows_before_limit: int
    #: ``raw`` or ``projection=<name>``: which path answered (``X-Query-Plan``).
    plan: str = "raw"
    #: Whether ``sql_execute``'s ``then`` statement ran, with the query's rollback or after it, or was left
    #: for after the response (``then_later``).
    then_sent: bool = False


#: ``sql_execute``'s ``then``: given the rows returned and the plan, a statement and its parameters.
Finish = Callable[[int, str], tuple[str, Sequence[Any]]]


def sql_limits(*, started: float) -> SandboxLimits:
    timeout_ms = tracking_settings.SQL_STATEMENT_TIMEOUT_MS
    return SandboxLimits(
        statement_timeout_ms=timeout_ms,
        work_mem=tracking_settings.SQL_WORK_MEM,
        max_rows=tracking_settings.SQL_MAX_ROWS,
        deadline=started + timeout_ms / 1000,
    )


def sql_execute(
    *,
    project: Project,
    sql: str,
    params: dict[str, Any] | None = None,
    default_format: str = "JSON",
    database: str = DEFAULT_DATABASE,
    keep_rows: bool = False,
    plan: str = "auto",
    quotas: bool = False,
    then: Finish | None = None,
    then_later: bool = False,
) -> SqlResult:
    """Run one Analytics Engine SQL statement over ``project``'s datasets.

    ``plan="auto"`` answers from a ready projection that covers the query unless the raw scan
    is cheaper (a window within one bucket), ``plan="projection"`` from a covering one even
    then, ``plan="raw"`` always scans the raw points (for comparisons); ``SqlResult.plan``
    says which answered.

    The statement runs in a slot of the SQL pool (``PoolBusy``, a 429, when none is free) and
    within one time budget from the moment the request arrived, whatever it runs. ``quotas``
    also admits it under the project's query quota (``QuotaExceeded``): its rate before, its
    concurrency in the same statement as the pool's slot.
    ``default_format`` applies when the statement has no FORMAT clause; ``database`` is
    where unqualified names resolve (``default`` or ``system``). Rows stream from the
    database into the body (``formats.RowWriter``); ``keep_rows`` also keeps them typed.
    Raises ``SqlError`` (with line/column when known) for anything refused or failed;
    every other exception is a bug. ``then``, given the rows returned and the plan, returns a
    statement the database runs with the query's rollback once the query has succeeded
    (``sql_sandbox_run``); ``SqlResult.then_sent`` says whether it was sent (a SHOW has no query).
    ``then_later``: where the query answers in one round trip (``sql_sandbox_run``'s ``most_rows``), its
    ``then`` statement waits for ``db.sql_sandbox_finish``, which the caller runs once it has sent the result.

    This process's slot is taken first, so its refusal costs no parsing or database round trip:
    under a flood, 429s are most of the web tier's work (bench/fairness.py). The installation's
    and the project's are taken by the query's own first message (``pool.sql_pool_slot``).
    The project's catalog is the one this process read before, checked in the query's own message, and read again only
    when that check refuses it (``tracking.sql.catalog``). Inside a caller's transaction (tests, management
    commands) it is read afresh and the query compiled anew (``ProjectCatalog.versioned``).
    """
    started = time.monotonic()
    with sql_pool_slot(project=project if quotas else None) as slots:
        return _execute(
            project=project, sql=sql, params=params, default_format=default_format, database=database,
            keep_rows=keep_rows, plan=plan, started=started, then=then, slots=slots, then_later=then_later,
        )


def _execute(
    *,
    project: Project,
    sql: str,
    params: dict[str, Any] | None,
    default_format: str,
    database: str,
    keep_rows: bool,
    plan: str,
    started: float,
    then: Finish | None,
    slots: Slots,
    then_later: bool,
) -> SqlResult:
    statement = sql_parse(sql=sql, default_format=default_format)
    if isinstance(statement, ShowStatement):
        columns, rows = show_rows(statement, catalog_read(project_id=project.id).datasets, database=database)
        return _result(statement.format, columns, rows, len(rows), started)
    if plan not in PLANS:
        raise SqlError(f"plan must be one of {', '.join(PLANS)}, not {plan[:40]!r}")
    kept = catalog_kept(project_id=project.id)
    if kept is not None:
        try:
            return _run(statement, kept, kept=True, sql=sql, default_format=default_format, database=database,
                        keep_rows=keep_rows, plan=plan, started=started, params=params, then=then, slots=slots,
                        then_later=then_later)
        except CatalogChanged:
            catalog_forget(project_id=project.id)
    return _run(statement, catalog_read(project_id=project.id), kept=False, sql=sql, default_format=default_format,
                database=database, keep_rows=keep_rows, plan=plan, started=started, params=params, then=then, slots=slots,
                then_later=then_later)


def _run(
    statement: exp.Expression,
    catalog: ProjectCatalog,
    *,
    kept: bool,
    sql: str,
    params: dict[str, Any] | None,
    default_format: str,
    database: str,
    keep_rows: bool,
    plan: str,
    started: float,
    then: Finish | None,
    slots: Slots,
    then_later: bool,
) -> SqlResult:
    """Compile against ``catalog`` and run; a ``kept`` one travels with its check (``CatalogChanged``).

    A query a kept catalog cannot compile (a table created since it was read) is compiled again
    from a fresh one before its error counts. A text compiled before against the same catalog
    is not compiled again (``translate._TranslationCache``). A projection plan is compiled with
    what ``NOW()`` decides in it pinned (``ir.Pins``), and again without when its window has
    moved past them by the time it runs (``PinsMissed``) or an edge cannot be pinned.
    """
    now = catalog.clock_estimate() if kept else catalog.clock

    def translate(*, pinned: bool) -> Translation:
        try:
            return sql_translate(
                statement=statement,
                datasets=catalog.datasets,
                bound=params,
                default_format=default_format,
                database=database,
                projections=catalog.projections if plan != "raw" else None,
                cheapest=plan == "auto",
                now=now,
                cache_key=(catalog.project_id, catalog.fingerprint, sql, default_format) if catalog.versioned else None,
                pinned=pinned,
            )
        except SqlError:
            if kept:
                raise CatalogChanged() from None
            raise

    def attempt(translation: Translation, pin_params: dict[str, Any]) -> tuple[RowWriter, SandboxResult]:
        writer = RowWriter(
            output_format=translation.format,
            columns=translation.columns,
            max_bytes=tracking_settings.SQL_MAX_RESULT_BYTES,
            keep_rows=keep_rows,
        )
        query, count_query = translation.sql, translation.count_sql
        if translation.pins is not None and pin_params:
            query = translation.pins.pruned(query, pin_params)
            count_query = translation.pins.pruned(count_query, pin_params) if count_query is not None else None
        outcome = sql_sandbox_run(
            query=query,
            params=translation.params | pin_params,
            count_query=count_query,
            count_column=translation.count_column,
            dataset_ids=translation.dataset_ids,
            limits=sql_limits(started=started),
            sink=lambda batch: writer.write(_json_columns_decode(translation.columns, batch)),
            then=(lambda: then(writer.row_count, translation.plan)) if then is not None else None,
            check=catalog.check(clock=now) if kept else None,
            slots=slots,
            most_rows=translation.most_rows,
            then_later=then_later,
            guard=translation.pins.guard if translation.pins is not None else None,
        )
        return writer, outcome

    translation = translate(pinned=True)
    pin_params = translation.pins.params(now) if translation.pins is not None else {}
    if pin_params is None:
        translation, pin_params = translate(pinned=False), {}
    try:
        writer, outcome = attempt(translation, pin_params)
    except PinsMissed:
        translation = translate(pinned=False)
        writer, outcome = attempt(translation, {})
    rows_before_limit = outcome.rows_before_limit if outcome.rows_before_limit is not None else writer.row_count
    return SqlResult(
        format=translation.format,
        content_type=CONTENT_TYPES[translation.format],
        body=writer.finish(rows_before_limit=rows_before_limit, elapsed=time.monotonic() - started),
        columns=translation.columns,
        rows=writer.rows,
        row_count=writer.row_count,
        rows_before_limit=rows_before_limit,
        plan=translation.plan,
        then_sent=then is not None,
    )


def _json_columns_decode(columns: list[tuple[str, str]], rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """Tuples travel as jsonb, which Django's connection hands over as text: decode those columns."""
    indexes = [index for index, (_, ch_type) in enumerate(columns) if "Tuple(" in ch_type]
    if not indexes:
        return rows
    decoded = []
    for row in rows:
        values = list(row)
        for index in indexes:
            if isinstance(values[index], str):
                values[index] = json.loads(values[index])
        decoded.append(tuple(values))
    return decoded


def show_rows(
    statement: ShowStatement, datasets: list[DatasetRef], *, database: str
) -> tuple[list[tuple[str, str]], list[tuple[Any, ...]]]:
    """SHOW TABLES/DATABASES/TIMEZONE(S), DESCRIBE TABLE and EXISTS TABLE, from the dataset list."""
    target_database = statement.database or database
    if statement.what in ("TABLES", "DESCRIBE", "EXISTS") and target_database not in DATABASES:
        raise SqlError(f"Unknown database {target_database}: the project's datasets are in default")
    if statement.what == "DATABASES":
        return [("name", "String")], [(name,) for name in DATABASES]
    if statement.what == "TABLES":
        if target_database == SYSTEM_DATABASE:
            return [("name", "String")], [(name,) for name in system_table_names()]
        return [("name", "String")], [(dataset.name,) for dataset in datasets]
    if statement.what in ("DESCRIBE", "EXISTS"):
        dataset = next((d for d in datasets if d.name == statement.target), None)
        if target_database == SYSTEM_DATABASE:
            virtual = system_table(statement.target, datasets)
            described = [(name, ch_type, "", "", "") for name, ch_type in virtual.columns] if virtual else None
        else:
            described = dataset_describe(dataset) if dataset else None
        if statement.what == "EXISTS":
            return [("result", "UInt8")], [(int(described is not None),)]
        if described is None:
            raise SqlError(f"Unknown table {target_database}.{statement.target}")
        columns = [
            ("name", "String"),
            ("type", "String"),
            ("default_type", "String"),
            ("default_expression", "String"),
            ("comment", "String"),
            ("codec_expression", "String"),
            ("ttl_expression", "String"),
        ]
        return columns, [(*row, "", "") for row in described]
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
        row_count=len(rows),
        rows_before_limit=rows_before_limit,
    )
