"""Parse one Analytics Engine (ClickHouse dialect) query and translate it into tenant-scoped PostgreSQL.

Parsing refuses oversized and pathological input before anything recursive runs; the
translation itself is ``tracking.sql.compiler``'s.
"""

import logging
import re
from collections.abc import Hashable
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import sqlglot
from sqlglot import exp
from sqlglot.dialects.clickhouse import ClickHouse
from sqlglot.tokens import TokenType

from tracking.conf import tracking_settings
from tracking.projections.db import Spec
from tracking.sql.compiler import Compiler, dataset_named
from tracking.sql.errors import SqlError, sql_error_at
from tracking.sql.introspection import DEFAULT_DATABASE
from tracking.sql.ir import DatasetRef, NowShift, ShowStatement, Translation, steps_taken
from tracking.sql.lru import WeightedLRU
from tracking.sql.planner import PLACEHOLDER, NotCovered, ProjectionPlan, coarse_companion, fixed_moment, interval_step, now_shift

MAX_QUERY_BYTES = 64 * 1024
MAX_AST_DEPTH = 96
MAX_AST_NODES = 20_000
FORMATS = {
    "json": "JSON",
    "jsoneachrow": "JSONEachRow",
    "ndjson": "JSONEachRow",
    "jsonlines": "JSONEachRow",
    "jsoncompact": "JSONCompact",
    "jsoncompacteachrow": "JSONCompactEachRow",
    "tabseparated": "TabSeparated",
    "tsv": "TabSeparated",
    "tabseparatedwithnames": "TabSeparatedWithNames",
    "tsvwithnames": "TabSeparatedWithNames",
    "tabseparatedwithnamesandtypes": "TabSeparatedWithNamesAndTypes",
    "tsvwithnamesandtypes": "TabSeparatedWithNamesAndTypes",
    "csv": "CSV",
    "csvwithnames": "CSVWithNames",
    "native": "Native",
    "rowbinary": "RowBinary",
    "rowbinarywithnames": "RowBinaryWithNames",
    "rowbinarywithnamesandtypes": "RowBinaryWithNamesAndTypes",
}
logging.getLogger("sqlglot").setLevel(logging.ERROR)


class _Parser(ClickHouse.Parser):
    """ClickHouse parser that keeps every function call as written.

    sqlglot normally canonicalises calls (``toStartOfMonth`` → TimestampTrunc, ``log`` → Ln),
    which loses the spelling ClickHouse uses for column names and that our allowlist keys on.
    """

    FUNCTIONS: dict = {}


class AnalyticsEngineDialect(ClickHouse):
    parser_class = _Parser


class _ParsedCache(WeightedLRU[exp.Expression | ShowStatement]):
    """Parsed statements of recent queries, by text and default format, within a budget of syntax nodes.

    Dashboards send the same text on every refresh (``NOW()``-relative windows), and parsing
    was a fifth of a small query's CPU. Every use shares the one tree, across requests and
    threads: translation never changes a statement (``sql_translate``). A copy for each use
    cost 80-90 µs of a 3.4 ms request (the seed's realtime query, in process). Memory is
    bounded by construction: an entry weighs its syntax nodes (about 650 bytes each) plus one
    per ``CHARS_PER_NODE`` characters of its text (kept as the key and again in the tree's
    literals, up to 4 bytes a character: a 64 KB string literal is one node but not 650 bytes),
    an entry of more than a fortieth of the budget is not kept, and the least recently used go
    first: ~13 MB per process at most. Refused queries are never kept.
    """

    CHARS_PER_NODE = 80

    def __init__(self, max_nodes: int) -> None:
        super().__init__(max_weight=max_nodes)

    def put(self, key: Hashable, value: exp.Expression | ShowStatement, weight: int | None = None) -> None:
        """``weight``: the statement's syntax nodes; its text's length is added here."""
        text, _ = cast(tuple[str, str], key)
        super().put(key, value, (weight or 0) + len(text) // self.CHARS_PER_NODE)

    @property
    def nodes(self) -> int:
        return self.weight


_parsed = _ParsedCache(max_nodes=20_000)


def sql_parse(*, sql: str, default_format: str = "JSON") -> exp.Expression | ShowStatement:
    """Parse exactly one statement; SHOW statements are recognised from the token stream.

    ``default_format`` is the output format when the statement names none: JSON for the
    Analytics Engine endpoints, TabSeparated (or the ``default_format`` parameter) for the
    ClickHouse HTTP interface. A text parsed recently is not parsed again (``_ParsedCache``).
    """
    key = (sql, default_format)
    cached = _parsed.get(key)
    if cached is not None:
        return cached
    statement, nodes = _parse(sql, default_format)
    _parsed.put(key, statement, nodes)
    return statement


def _parse(sql: str, default_format: str) -> tuple[exp.Expression | ShowStatement, int]:
    """The statement and its number of syntax nodes."""
    if len(sql.encode("utf-8", "surrogatepass")) > MAX_QUERY_BYTES:
        raise SqlError(f"Query is longer than {MAX_QUERY_BYTES} bytes")
    if not sql.strip():
        raise SqlError("Empty query")
    dialect = AnalyticsEngineDialect()
    try:
        tokens = dialect.tokenize(sql)
    except sqlglot.errors.TokenError as error:
        raise SqlError(f"Cannot tokenize query: {str(error)[:200]}") from None
    except RecursionError:
        raise SqlError("Query is nested too deeply") from None
    _interval_strings_check(tokens)
    significant = [token for token in tokens if token.token_type != TokenType.SEMICOLON]
    if significant and (
        significant[0].token_type in (TokenType.SHOW, TokenType.DESCRIBE)
        or significant[0].text.upper() in ("DESC", "EXISTS")
    ):
        return _show_parse(significant, default_format), 1
    try:
        # From the tokens already made: tokenizing again took a fifth of the parse.
        statements = [statement for statement in dialect.parser().parse(tokens, sql) if statement is not None]
    except sqlglot.errors.ParseError as error:
        detail = error.errors[0] if error.errors else {}
        message = str(detail.get("description") or error).split("\n")[0]
        raise SqlError(f"Syntax error: {message}", line=detail.get("line"), column=detail.get("col")) from None
    except RecursionError:
        raise SqlError("Query is nested too deeply") from None
    except (IndexError, KeyError, TypeError, ValueError, AttributeError):
        # sqlglot's ClickHouse parser has a few unguarded paths on malformed input.
        raise SqlError("Syntax error: the query cannot be parsed") from None
    if len(statements) != 1:
        raise SqlError("Exactly one statement is allowed per query")
    statement = statements[0]
    nodes = _shape_check(statement)
    _function_positions_fill(statement, tokens)
    if not isinstance(statement, (exp.Select, exp.Union)):
        if isinstance(statement, exp.Command):
            kind = str(statement.this).upper()
        elif isinstance(
            statement, (exp.Insert, exp.Update, exp.Delete, exp.Drop, exp.Create, exp.Copy, exp.Alter, exp.Set)
        ):
            kind = statement.key.upper()
        else:
            raise sql_error_at("Syntax error: a query starts with SELECT, WITH or SHOW", statement)
        raise sql_error_at(f"Only SELECT and SHOW statements are allowed, not {kind}", statement)
    return statement, nodes


_INTERVAL_TEXT = re.compile(r"\s*[+-]?\d+(\s+[A-Za-z]+)?\s*")


def _interval_strings_check(tokens: list) -> None:
    """``INTERVAL '1 day; SELECT 1' DAY``: sqlglot keeps the leading ``1 day`` and drops the rest silently."""
    for previous, token in zip(tokens, tokens[1:], strict=False):
        if previous.token_type == TokenType.INTERVAL and token.token_type == TokenType.STRING:
            if not _INTERVAL_TEXT.fullmatch(token.text):
                raise SqlError(
                    f"INTERVAL '{token.text[:40]}' is not an amount with an optional unit, such as '1' or '1 day'",
                    line=token.line,
                    column=max(1, token.col - len(token.text) - 1),
                )


def _show_parse(tokens: list, default_format: str) -> ShowStatement:
    """SHOW, DESCRIBE and EXISTS, read from the token stream.

    sqlglot keeps everything after SHOW as one raw string; that remainder is tokenized again.
    """
    words: list[str] = []
    for token in tokens:
        if token.token_type == TokenType.STRING and tokens[0].token_type == TokenType.SHOW:
            words += [
                inner.text
                for inner in AnalyticsEngineDialect().tokenize(token.text)
                if inner.token_type != TokenType.SEMICOLON
            ]
        else:
            words.append(token.text)
    output_format = default_format
    if len(words) >= 2 and words[-2].upper() == "FORMAT":
        output_format = format_name(words[-1])
        words = words[:-2]
    upper = [word.upper() for word in words]
    if upper in (["SHOW", "TIMEZONES"], ["SHOW", "TIMEZONE"], ["SHOW", "DATABASES"], ["SHOW", "TABLES"]):
        return ShowStatement(what=upper[1], format=output_format)
    if len(upper) == 4 and upper[:2] == ["SHOW", "TABLES"] and upper[2] in ("FROM", "IN"):
        return ShowStatement(what="TABLES", format=output_format, database=words[3])
    if upper and upper[0] in ("DESCRIBE", "DESC", "EXISTS"):
        rest = words[2:] if len(upper) > 1 and upper[1] == "TABLE" else words[1:]
        if len(rest) == 1:
            return ShowStatement(what="EXISTS" if upper[0] == "EXISTS" else "DESCRIBE", format=output_format, target=rest[0])
        if len(rest) == 3 and rest[1] == ".":
            return ShowStatement(
                what="EXISTS" if upper[0] == "EXISTS" else "DESCRIBE",
                format=output_format,
                target=rest[2],
                database=rest[0],
            )
    raise SqlError(
        "Supported statements besides SELECT: SHOW TABLES [FROM db], SHOW DATABASES, SHOW TIMEZONE(S), "
        "DESCRIBE TABLE [db.]name and EXISTS TABLE [db.]name",
        line=1,
        column=1,
    )


def format_name(name: str) -> str:
    canonical = FORMATS.get(name.lower())
    if canonical is None:
        raise SqlError(f"Unknown format {name}: use one of {', '.join(sorted(set(FORMATS.values())))}")
    return canonical


def _function_positions_fill(statement: exp.Expression, tokens: list) -> None:
    """Give aggregate calls the position of their name, so errors point at ``uniqCombined(``, not its argument.

    sqlglot records positions on identifiers and literals but not on ClickHouse aggregate
    nodes; the name token is found by walking back from the first argument's token.
    """
    index_of = {token.start: i for i, token in enumerate(tokens)}
    for node in statement.walk():
        if isinstance(node, exp.Quantile):
            _quantile_spelling_fill(node, tokens, index_of)
            continue
        if not isinstance(node, exp.Func) or getattr(node, "_meta", None) or not isinstance(node.this, str):
            continue
        first = _first_positioned(node)
        position = index_of.get(first._meta["start"]) if first is not None else None
        if position is None:
            continue
        for token in reversed(tokens[max(0, position - 8) : position]):
            if token.text == node.this:
                node.meta.update(line=token.line, col=token.col, start=token.start, end=token.end)
                break


def _quantile_spelling_fill(node: exp.Quantile, tokens: list, index_of: dict[int, int]) -> None:
    """sqlglot parses ``median(x)`` as ``quantile(0.5)(x)``; remember which one was written."""
    first = _first_positioned(node)
    position = index_of.get(first._meta["start"]) if first is not None else None
    if position is None:
        return
    if position >= 2 and tokens[position - 2].text.lower() in ("median", "quantile"):
        node.meta["spelling"] = tokens[position - 2].text.lower()


def _first_positioned(node: exp.Expression) -> exp.Expression | None:
    """The leftmost descendant whose source position sqlglot recorded."""
    for candidate in node.walk(bfs=False):
        if candidate is not node and (getattr(candidate, "_meta", None) or {}).get("start") is not None:
            return candidate
    return None


def _shape_check(statement: exp.Expression) -> int:
    """Refuse pathological trees before any recursive translation can blow the stack; returns the node count."""
    depth_of: dict[int, int] = {id(statement): 0}
    count = 0
    stack = [statement]
    while stack:
        node = stack.pop()
        count += 1
        if count > MAX_AST_NODES:
            raise SqlError(f"Query has more than {MAX_AST_NODES} syntax nodes")
        depth = depth_of[id(node)]
        if depth > MAX_AST_DEPTH:
            raise SqlError(f"Query is nested deeper than {MAX_AST_DEPTH} levels")
        for child in node.iter_expressions():
            depth_of[id(child)] = depth + 1
            stack.append(child)
    return count


def sql_translate(
    *,
    statement: exp.Expression,
    datasets: list[DatasetRef],
    bound: dict[str, Any] | None = None,
    default_format: str = "JSON",
    database: str = "default",
    projections: dict[int, list[Spec]] | None = None,
    cheapest: bool = True,
    now: datetime | None = None,
    cache_key: Hashable | None = None,
    pinned: bool = False,
) -> Translation:
    """Translate a parsed SELECT/UNION for a project whose datasets are ``datasets``.

    ``database`` is where unqualified table names resolve: ``default`` (the datasets) or
    ``system`` (the introspection tables). ``projections`` (ready ones, per dataset id, the
    preferred first) may answer a query that reads one dataset: the first that covers it
    does (``tracking.sql.planner``), else the raw points.

    A projection is passed over when the query's time window fits in one of its buckets
    (``time_window_seconds``): its ragged edge bucket alone would be read raw, as many points
    as the raw scan reads, and the projection's rows on top (at 1M points the one-hour and
    five-minute seed queries took a fifth longer that way). Both paths answer exactly, so
    this only picks the cheaper one, and ``X-Query-Plan`` says ``raw``; ``cheapest=False``
    (``?plan=projection``) uses the projection all the same.

    ``now`` is no later than the query's ``NOW()`` (the database's clock at the catalog read, or
    a kept catalog's estimate of it, which the query's message checks: ``tracking.sql.catalog``): with it a
    ``NOW()``-relative window's raw scan names its first day partition as a constant
    (``time_floor``). The statement is never changed (its FORMAT is read, not removed), so
    the parse cache hands one tree to every request that sends the same text.
    ``cache_key`` names the statement's text and everything ``datasets`` and ``projections`` hold
    (``engine``: the project and its catalog's fingerprint); with it, and no ``bound`` parameters,
    a translation is kept and handed out again (``_TranslationCache``).
    ``pinned``: a projection plan takes what ``NOW()`` decides in it as parameters (``ir.Pins``), when it can.
    """
    format_node = statement.args.get("format")
    output_format = format_name(format_node.name) if format_node is not None else default_format
    floor = time_floor(statement, now=now)
    window = time_window_seconds(statement, now=datetime.now(UTC)) if projections and cheapest else None
    key = None
    if cache_key is not None and not bound:
        # The window counts only through which grains it fits in (``_translate``).
        fits = frozenset(spec.grain for specs in (projections or {}).values() for spec in specs if window is not None and window <= spec.grain)
        key = (cache_key, database, output_format, projections is None, cheapest, pinned, floor[1] if floor else None, fits, _compiled_settings())
        kept = _translations.get(key)
        if kept is not None:
            return kept
    translation = _translate(
        statement, datasets=datasets, bound=bound or {}, database=database, output_format=output_format,
        projections=projections, floor=floor, window=window, pinned=pinned,
    )
    if key is not None:
        _translations.put(key, translation)
    return translation


def _compiled_settings() -> tuple[int, ...]:
    """The settings a translation holds: the aggregate budget's parameter and ``system.settings``' rows."""
    return (
        tracking_settings.SQL_MAX_AGGREGATE_BYTES,
        tracking_settings.SQL_STATEMENT_TIMEOUT_MS,
        tracking_settings.SQL_MAX_ROWS,
        tracking_settings.SQL_MAX_RESULT_BYTES,
    )


class _TranslationCache(WeightedLRU[Translation]):
    """Translations of recent queries, within a budget of characters of SQL.

    A dashboard sends the same text on every refresh, and compiling it took 0.46-1.28 ms of the
    seed queries' requests (in process, 1M bench database; S4 4.0 ms over HTTP). A translation
    is a function of the statement, the catalog, the output format and database, the plan
    options, the time floor (a UTC day), which projection grains the query's window fits in
    (the planner leaves those projections to the raw scan) and the settings it holds
    (``_compiled_settings``); the key holds all of them, so a
    kept translation is the one the compiler would make.
    Translations are never changed once made (the executor copies ``params`` before adding to
    them). An entry weighs its SQL texts (``WeightedLRU``).
    """

    def __init__(self, max_chars: int) -> None:
        super().__init__(max_weight=max_chars, weigh=lambda value: len(value.sql) + len(value.count_sql or ""))


_translations = _TranslationCache(max_chars=4_000_000)


def _translate(
    statement: exp.Expression,
    *,
    datasets: list[DatasetRef],
    bound: dict[str, Any],
    database: str,
    output_format: str,
    projections: dict[int, list[Spec]] | None,
    floor: tuple[exp.Table, datetime] | None,
    window: float | None,
    pinned: bool,
) -> Translation:
    """``window``: the query's time window when the cheaper path is wanted (``time_window_seconds``), else None."""
    dataset_id = _dataset_read(statement, datasets, database=database) if projections else None
    candidates = (projections or {}).get(dataset_id, []) if dataset_id is not None else []
    tiers = {spec: coarse_companion(spec, candidates) for spec in candidates}
    coarse_tiers = {coarse for companions in tiers.values() for coarse in companions}
    for spec in candidates:
        # A coarse tier answers beside its finer projection, never alone: alone, its ragged
        # buckets would be read from raw points, a day of them where the finer one reads an hour.
        if (window is not None and window <= spec.grain) or spec in coarse_tiers:
            continue
        dataset = next(dataset for dataset in datasets if dataset.id == spec.dataset_id)
        # A tier never makes the plan read more rows: the window bounds each of its arms. So it is
        # tried first whatever the window, with the next finer tier whose buckets tile its own
        # between them (a day's six hours), and only a query it cannot answer (buckets finer than
        # its grain) is compiled over a finer tier, or the finer projection alone.
        companions = tiers[spec]
        for n, coarse in enumerate([*companions, None]):
            mid = None if coarse is None else next(
                (tier for tier in companions[n + 1 :] if tier.grain < coarse.grain and coarse.grain % tier.grain == 0), None
            )
            plan = ProjectionPlan(spec=spec, dataset=dataset, coarse=coarse, mid=mid, pinned=pinned)
            try:
                translation = _compile(
                    statement, datasets=datasets, bound=bound, database=database, output_format=output_format, plan=plan, floor=floor
                )
            except (NotCovered, SqlError):
                continue
            if translation.dataset_ids == [spec.dataset_id]:
                return translation
    return _compile(statement, datasets=datasets, bound=bound, database=database, output_format=output_format, floor=floor)


def _dataset_read(statement: exp.Expression, datasets: list[DatasetRef], *, database: str) -> int | None:
    """The dataset a statement's table names point to when they point to exactly one, else None.

    A guess from the names alone (a CTE may shadow a dataset), which the projection's compile
    confirms: its reads must be of that dataset only. It spares the raw compile that used to
    come first to find the dataset, a third of S1's translation.
    """
    by_name = {dataset.name: dataset for dataset in datasets}
    found = set()
    for table in statement.find_all(exp.Table):
        if (table.args["db"].name if table.args.get("db") is not None else database) != DEFAULT_DATABASE:
            continue
        dataset = dataset_named(by_name, table.name)
        if dataset is not None:
            found.add(dataset.id)
    return found.pop() if len(found) == 1 else None


def _compile(
    statement: exp.Expression,
    *,
    datasets: list[DatasetRef],
    bound: dict[str, Any],
    database: str,
    output_format: str,
    plan: ProjectionPlan | None = None,
    floor: tuple[exp.Table, datetime] | None = None,
) -> Translation:
    compiler = Compiler(datasets=datasets, bound=bound, database=database, plan=plan, time_floor=floor)
    compiled, count_sql, count_column = compiler.top(statement)
    sql = compiled.sql
    if plan is not None:
        if not plan.sources:
            raise NotCovered("the query does not read the dataset")
        source = plan.source_sql(compiler)
        sql = sql.replace(PLACEHOLDER, source)
        count_sql = count_sql.replace(PLACEHOLDER, source) if count_sql is not None else None
        plan.check(sql)
        plan.check(count_sql or "")
    return Translation(
        sql=sql,
        params=compiler.params,
        columns=[(name, typed.type) for name, typed in compiled.columns],
        count_sql=count_sql,
        count_column=count_column,
        format=output_format,
        dataset_ids=sorted(compiler.used_dataset_ids),
        plan=f"projection={plan.name}" if plan is not None else "raw",
        most_rows=compiler.most_rows,
        pins=plan.pins() if plan is not None else None,
    )


def time_window_seconds(statement: exp.Expression, *, now: datetime) -> float | None:
    """How long the time window of ``SELECT ... FROM <table> WHERE ...`` is, where Python can tell; else None.

    Read from the WHERE's top-level AND terms only (``_time_bounds``); without an upper bound
    the window ends now. A cost estimate only, never a filter: whichever path runs, the answer
    is the same.
    """
    bounds = _time_bounds(statement, now=now)
    if bounds is None or not bounds[0]:
        return None
    lower, upper = bounds
    return (min(upper or [now]) - max(lower)).total_seconds()


def time_floor(statement: exp.Expression, *, now: datetime | None) -> tuple[exp.Table, datetime] | None:
    """The FROM table of ``SELECT ... FROM <table> WHERE timestamp > ...`` and a UTC midnight no later than any
    point its WHERE keeps; else None.

    The compiler adds ``timestamp >= <that midnight>`` to the table's raw scan as a constant,
    so PostgreSQL prunes the day partitions when it plans (``NOW()`` is the transaction's clock,
    known only at execution: it then planned all ~32 partitions of a month to run one, 0.7-1.0
    ms of a 1-hour query). A redundant filter, never a narrower one: the floor is a whole day
    before the query's own lower bound, whose ``NOW()`` is read from ``now``, a moment no later
    than the query's transaction (``sql_translate``; the day also covers
    any time zone a literal's text may be read in). ``now`` None: only literal bounds count.
    A SELECT alias or WITH name ``timestamp`` could stand for something else in WHERE, so
    either leaves the query without a floor.
    """
    if not isinstance(statement, exp.Select) or statement.args.get("with_") is not None:
        return None
    if any(isinstance(item, exp.Alias) and item.alias.lower() == "timestamp" for item in statement.expressions):
        return None
    bounds = _time_bounds(statement, now=now)
    if bounds is None or not bounds[0]:
        return None
    source = statement.args["from_"].this
    try:
        floor = max(bounds[0]).astimezone(UTC) - timedelta(days=1)
    except OverflowError:
        return None
    return source, floor.replace(hour=0, minute=0, second=0, microsecond=0)


def _time_bounds(statement: exp.Expression, *, now: datetime | None) -> tuple[list[datetime], list[datetime]] | None:
    """The lower and upper bounds of ``timestamp`` that the WHERE of a one-table SELECT sets, or None for other queries.

    Read from the WHERE's top-level AND terms only: ``timestamp`` compared with (or BETWEEN)
    string literals, ``toDateTime('...')``, and what ``planner.now_shift`` reads (``NOW() ± INTERVAL``,
    ``today() - 7``, ``toStartOfDay(NOW())``...).
    """
    if not isinstance(statement, exp.Select) or statement.args.get("joins") or statement.args.get("where") is None:
        return None
    source = statement.args.get("from_")
    if source is None or not isinstance(source.this, exp.Table):
        return None
    lower: list[datetime] = []
    upper: list[datetime] = []
    for term in _conjuncts(statement.args["where"].this):
        if isinstance(term, exp.Between) and _is_timestamp(term.this):
            low, high = _moment(term.args.get("low"), now), _moment(term.args.get("high"), now)
            lower += [low] if low is not None else []
            upper += [high] if high is not None else []
        elif isinstance(term, (exp.GT, exp.GTE, exp.LT, exp.LTE)):
            column_left = _is_timestamp(term.this)
            if not column_left and not _is_timestamp(term.expression):
                continue
            moment = _moment(term.expression if column_left else term.this, now)
            if moment is not None:
                (lower if isinstance(term, (exp.GT, exp.GTE)) == column_left else upper).append(moment)
    return lower, upper


def _conjuncts(node: exp.Expression) -> list[exp.Expression]:
    while isinstance(node, exp.Paren):
        node = node.this
    if isinstance(node, exp.And):
        return _conjuncts(node.this) + _conjuncts(node.expression)
    return [node]


def _is_timestamp(node: exp.Expression | None) -> bool:
    return isinstance(node, exp.Column) and node.name == "timestamp"


def _moment(node: exp.Expression | None, now: datetime | None) -> datetime | None:
    """The instant a constant time expression stands for, or no later for a step by months (``NowShift.at``'s
    ``lower``), or None when it is not one of the simple shapes (or it is computed from ``NOW()`` and ``now`` is None).
    The time floor reads it: from a ``now`` no later than the query's, it is never later than the query's edge."""
    while isinstance(node, exp.Paren):
        node = node.this
    # A literal is read as the compiled SQL reads it: a floor from another reading could cut points the query keeps.
    moment = fixed_moment(node)
    if moment is not None or isinstance(node, exp.Literal):
        return moment
    shift = now_shift(node)
    try:
        if shift is not None:
            return None if now is None else shift.at(now, lower=True) if isinstance(shift, NowShift) else now + shift
        if not isinstance(node, (exp.Add, exp.Sub)):
            return None
        found = interval_step(node)
        if found is None:
            return None
        base = _moment(node.this, now)
        return None if base is None else steps_taken(base, (found[0],), lower=True)
    except OverflowError:
        return None
