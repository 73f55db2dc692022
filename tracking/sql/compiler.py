"""The compiler: one statement's AST walked into tenant-scoped PostgreSQL.

The compiler is also the allowlist: it only knows how to emit the node types listed in
``_EXPRESSION_HANDLERS`` and the functions of ``tracking.sql.functions``, so anything else
(catalog tables, pg_sleep, set_config, window functions, DDL) fails with a ``SqlError``
naming the construct. Every dataset name becomes a subquery over ``tracking_datapoint``
filtered on a bound ``dataset_id`` of the caller's project, with unset columns read as
ClickHouse defaults. All user literals are bound parameters; the emitted SQL text contains
only identifiers this module generated.
"""

import json
import math
import re
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlglot import exp

from tracking.columns import BLOB_COLUMNS, DOUBLE_COLUMNS, SQL_COLUMNS, blob_read_sql
from tracking.conf import tracking_settings
from tracking.sql import chtypes as ct
from tracking.sql.errors import SqlError, sql_error_at
from tracking.sql.functions import (
    arithmetic,
    bound_parameter,
    compare,
    convert,
    date_part,
    function_call,
    multi_if,
    position,
    quantile,
    substring,
    to_string,
    window_call,
)
from tracking.sql.introspection import DEFAULT_DATABASE, SYSTEM_DATABASE, VirtualTable, system_table
from tracking.sql.ir import (
    BINARY_NAMES,
    EXTRACT_FUNCTIONS,
    NORMALISED_FUNCTIONS,
    Compiled,
    DatasetRef,
    Scope,
    Source,
    Typed,
    display_name,
    is_storable_text,
)
from tracking.sql.native import tuple_elements
from tracking.sql.planner import NotCovered, ProjectionPlan

INTERVAL_UNITS = {"SECOND", "MINUTE", "HOUR", "DAY", "WEEK", "MONTH", "QUARTER", "YEAR"}
_SELECT_ARGS = {
    "expressions",
    "from_",
    "where",
    "group",
    "having",
    "order",
    "limit",
    "offset",
    "distinct",
    "joins",
    "with_",
}
_COMPARISONS = {exp.EQ: "=", exp.NEQ: "<>", exp.GT: ">", exp.GTE: ">=", exp.LT: "<", exp.LTE: "<="}
_DISALLOWED_SELECT_ARGS_MESSAGE = "{} is not supported"
AGGREGATE_BUDGET_PARAM = "aggregate_budget"
# What the gate counts for one value besides its own bytes (array_agg's Datum and null flag,
# the palloc chunk header); it also caps the rows the gate reads. bench/aggregates.py measures
# the backend against the bytes so counted (docs/sql.md, "Bounded memory").
VALUE_OVERHEAD_BYTES = 32


def dataset_named(datasets: dict[str, DatasetRef], name: str) -> DatasetRef | None:
    """The dataset a table name reads: its exact name, else the only one equal to it ignoring case."""
    dataset = datasets.get(name)
    if dataset is None:
        folded = [candidate for key, candidate in datasets.items() if key.lower() == name.lower()]
        if len(folded) == 1:
            dataset = folded[0]
    return dataset


@dataclass(frozen=True)
class OrderTerm:
    """One ORDER BY key, compiled, with its direction and NULL placement."""

    typed: Typed
    desc: bool
    nulls_first: bool


class Compiler:
    """Translation state of one statement: the project's datasets, bound values and generated names.

    Methods compile clauses and expressions into ``Typed`` PostgreSQL fragments; function
    calls are delegated to ``tracking.sql.functions``.
    """

    def __init__(
        self,
        *,
        datasets: list[DatasetRef],
        bound: dict[str, Any],
        database: str = DEFAULT_DATABASE,
        plan: ProjectionPlan | None = None,
        time_floor: tuple[exp.Table, datetime] | None = None,
    ) -> None:
        self.plan = plan
        #: The top SELECT's FROM table and a moment before every point its WHERE keeps
        #: (``translate.time_floor``): that table's raw scan says so as a constant.
        self.time_floor = time_floor
        self.top_node: exp.Expression | None = None
        #: ``Translation.most_rows``, found as the top statement is compiled.
        self.most_rows: int | None = None
        self.datasets = {dataset.name: dataset for dataset in datasets}
        self.dataset_list = datasets
        self.database = database
        self.bound = bound
        self.params: dict[str, Any] = {}
        self._param_keys: dict[tuple[str, Any], str] = {}
        self._alias_counter = 0
        self.used_dataset_ids: set[int] = set()
        self.aggregate_gates = 0

    # ---- parameters and names -------------------------------------------------

    def param(self, value: Any, pg: str) -> str:
        key = (pg, value)
        name = self._param_keys.get(key)
        if name is None:
            name = f"p{len(self._param_keys)}"
            self._param_keys[key] = name
            self.params[name] = value
        return f"%({name})s::{pg}"

    def text(self, value: str) -> Typed:
        if not is_storable_text(value):
            raise SqlError("A string in the query holds a NUL character or a lone surrogate, which text cannot hold")
        return Typed(self.param(value, "text"), "String", const=value)

    def int_const(self, value: int) -> Typed:
        try:
            ch_type = ct.smallest_int_type(value)
        except ValueError:
            raise SqlError(f"Integer literal {value} is out of range") from None
        if value > 2**63 - 1:
            return Typed(f"{value}::numeric", ch_type, const=value)
        return Typed(f"({value})::bigint", ch_type, const=value)

    def float_const(self, value: float) -> Typed:
        if math.isnan(value):
            text = "'NaN'::float8"
        elif math.isinf(value):
            text = "'Infinity'::float8" if value > 0 else "'-Infinity'::float8"
        else:
            text = f"({value!r})::float8"
        return Typed(text, "Float64", const=value)

    def new_alias(self, prefix: str) -> str:
        self._alias_counter += 1
        return f"{prefix}{self._alias_counter}"

    # ---- statements -----------------------------------------------------------

    def top(self, node: exp.Expression) -> tuple[Compiled, str | None, bool]:
        """The statement's FORMAT, allowed on this node only, was read by ``sql_translate``."""
        self.top_node = node
        has_limit = node.args.get("limit") is not None or node.args.get("offset") is not None
        count_column = has_limit and isinstance(node, exp.Select) and node.args.get("distinct") is None
        compiled = self.select(node, ctes={}, count_window=True) if count_column else self.query(node, ctes={})
        if self.aggregate_gates:
            self.params[AGGREGATE_BUDGET_PARAM] = tracking_settings.SQL_MAX_AGGREGATE_BYTES // self.aggregate_gates
        count_sql = None
        if has_limit:
            unlimited = node.copy()
            for key in ("limit", "offset", "order", "format"):
                unlimited.set(key, None)
            if self.time_floor is not None and self.time_floor[0] is _from_table(node):
                self.time_floor = (_from_table(unlimited), self.time_floor[1])
            inner = self.query(unlimited, ctes={})
            count_sql = f"SELECT count(*) FROM ({inner.sql}) AS _rows_before_limit"
        return compiled, count_sql, count_column

    def query(self, node: exp.Expression, *, ctes: dict[str, Source]) -> Compiled:
        if isinstance(node, exp.Subquery):
            return self.query(node.this, ctes=ctes)
        if isinstance(node, exp.Select):
            return self.select(node, ctes=ctes)
        if isinstance(node, exp.Union) and type(node) is exp.Union:
            return self.union(node, ctes=ctes)
        raise sql_error_at(f"Unsupported query type: {type(node).__name__.upper()}", node)

    def with_clause(
        self, node: exp.Expression, ctes: dict[str, Source]
    ) -> tuple[str, dict[str, Source], dict[str, exp.Expression]]:
        """Table CTEs become PostgreSQL CTEs; ClickHouse's ``WITH <expr> AS name`` becomes an alias."""
        with_node = node.args.get("with_")
        if with_node is None:
            return "", ctes, {}
        if with_node.args.get("recursive"):
            raise sql_error_at("WITH RECURSIVE is not supported", with_node)
        visible = dict(ctes)
        scalars: dict[str, exp.Expression] = {}
        parts = []
        for cte in with_node.expressions:
            name = cte.alias
            if cte.args.get("scalar") or not isinstance(cte.this, (exp.Select, exp.Union, exp.Subquery)):
                scalars[name] = cte.this
                continue
            compiled = self.query(cte.this, ctes=visible)
            pg_name = self.new_alias("cte")
            parts.append(f"{pg_name} AS ({compiled.sql})")
            visible[name] = Source(name=name, columns={}, star=[], pg_name=pg_name, compiled=compiled)
        return ("WITH " + ", ".join(parts) + " " if parts else ""), visible, scalars

    def union(self, node: exp.Union, *, ctes: dict[str, Source]) -> Compiled:
        if node.args.get("distinct"):
            raise sql_error_at("Only UNION ALL is supported", node)
        prefix, ctes, scalars = self.with_clause(node, ctes)
        if scalars:
            raise sql_error_at("WITH <expression> AS <name> is not supported before UNION ALL", node)
        left = self.query(node.this, ctes=ctes)
        right = self.query(node.expression, ctes=ctes)
        if len(left.columns) != len(right.columns):
            raise sql_error_at("UNION ALL branches have different numbers of columns", node)
        columns: list[tuple[str, Typed]] = []
        for (name, left_typed), (_, right_typed) in zip(left.columns, right.columns):
            common = ct.supertype([left_typed.type, right_typed.type])
            if common is None:
                raise sql_error_at(f"No common type for {left_typed.type} and {right_typed.type} in UNION ALL", node)
            columns.append((name, Typed("", common)))
        left_sql = self._cast_columns(left, columns)
        right_sql = self._cast_columns(right, columns)
        body = f"({left_sql}) UNION ALL ({right_sql})"
        alias = self.new_alias("u")
        source = Source(
            name=alias,
            columns={
                name: Typed(f'{alias}."c{i}"', typed.type) for i, (name, typed) in reversed(list(enumerate(columns)))
            },
            star=[name for name, _ in columns],
        )
        scope = Scope(sources=[source], ctes=ctes)
        order_sql = self.order_by(scope, node, select_items=None)
        limit_sql = self.limit_offset(node)
        outputs = ", ".join(f'{alias}."c{i}" AS "c{i}"' for i in range(len(columns)))
        sql = f"{prefix}SELECT {outputs} FROM ({body}) AS {alias}{order_sql}{limit_sql}"
        return Compiled(sql, [(name, Typed(f'"c{i}"', typed.type)) for i, (name, typed) in enumerate(columns)])

    def _cast_columns(self, compiled: Compiled, columns: list[tuple[str, Typed]]) -> str:
        casts = [f'"c{i}"::{ct.pg_type(typed.type)} AS "c{i}"' for i, (_, typed) in enumerate(columns)]
        alias = self.new_alias("b")
        return f"SELECT {', '.join(casts)} FROM ({compiled.sql}) AS {alias}"

    def _derived_source(self, *, name: str, pg_alias: str, compiled: Compiled) -> Source:
        columns: dict[str, Typed] = {}
        for i, (column_name, typed) in enumerate(compiled.columns):
            columns.setdefault(column_name, Typed(f'{pg_alias}."c{i}"', typed.type))
        return Source(name=name, columns=columns, star=[column_name for column_name, _ in compiled.columns])

    def select(self, node: exp.Select, *, ctes: dict[str, Source], count_window: bool = False) -> Compiled:
        for key, value in node.args.items():
            if value and key not in _SELECT_ARGS and not (key == "format" and node is self.top_node):
                raise sql_error_at(_DISALLOWED_SELECT_ARGS_MESSAGE.format(key.upper().rstrip("_")), node)
        for clause in ("where", "group", "having"):
            window = _own_window(node, node.args.get(clause))
            if window is not None:
                raise sql_error_at(f"Window functions are not allowed in {clause.upper()}", window)
        prefix, ctes, scalars = self.with_clause(node, ctes)
        scope = Scope(sources=[], ctes=ctes, aliases=dict(scalars))
        from_sql = self.from_clause(scope, node)
        single_source = re.fullmatch(r" FROM (.*) AS (\w+)", from_sql, re.S)
        if single_source is not None and not node.args.get("joins"):
            scope.row_alias = single_source.group(2)

        items: list[tuple[str, exp.Expression | Typed]] = []
        for item in node.expressions:
            if isinstance(item, exp.Star) or (isinstance(item, exp.Column) and isinstance(item.this, exp.Star)):
                items.extend(self._star(scope, item))
                continue
            if isinstance(item, exp.Alias):
                if item.alias in scope.aliases:
                    raise sql_error_at(f"Alias {item.alias} is defined more than once", item)
                scope.aliases[item.alias] = item.this
                items.append((item.alias, item.this))
            else:
                items.append((display_name(item), item))
        if not items:
            raise sql_error_at("SELECT needs at least one expression", node)

        group = node.args.get("group")
        if group is None and node.args.get("order") is not None:
            scope.agg_order = self._agg_order(scope, node)

        compiled_items: list[tuple[str, Typed]] = []
        for name, item in items:
            typed = item if isinstance(item, Typed) else self._select_item(scope, name, item)
            if typed.type.startswith("Interval"):
                raise sql_error_at(
                    "An INTERVAL can only be added to or subtracted from a date",
                    item if isinstance(item, exp.Expression) else node,
                )
            compiled_items.append((name, typed))

        where_condition = ""
        if node.args.get("where") is not None:
            condition = self.cond(_without_hoisting(scope, "WHERE"), node.args["where"].this)
            if condition.aggregate:
                raise sql_error_at("Aggregate functions are not allowed in WHERE", node.args["where"])
            where_condition = condition.sql

        group_sql = ""
        if group is not None:
            for key in ("rollup", "cube", "totals", "grouping_sets"):
                if group.args.get(key):
                    raise sql_error_at(f"GROUP BY {key.upper()} is not supported", group)
            keys = []
            for key_node in group.expressions:
                keys.append(
                    self._positional(key_node, compiled_items) or self.expr(_without_hoisting(scope, "GROUP BY"), key_node)
                )
            if any(key.aggregate for key in keys):
                raise sql_error_at("Aggregate functions are not allowed in GROUP BY", group)
            group_sql = " GROUP BY " + ", ".join(key.sql for key in keys) if keys else ""

        having = []
        if node.args.get("having") is not None:
            having.append(self.cond(_without_hoisting(scope, "HAVING"), node.args["having"].this).sql)
        if group_sql and self.plan is not None and self.plan.reads(scope) and (guard := self.plan.group_guard(scope)):
            having = [guard, *(f"({term})" for term in having)]
        having_sql = f" HAVING {' AND '.join(having)}" if having else ""

        aggregate = group is not None or any(typed.aggregate for _, typed in compiled_items) or bool(having_sql)
        if node is self.top_node and aggregate and group is None:
            self.most_rows = 1
        if scope.hoisted:
            if aggregate:
                raise sql_error_at("arrayMap with a row-order function is not supported in an aggregating SELECT", node)
            # The row-order values are computed after WHERE and before this SELECT, under the same alias.
            inner_where = f" WHERE {where_condition}" if where_condition else ""
            alias = scope.row_alias
            from_sql = f" FROM (SELECT {alias}.*, {', '.join(scope.hoisted)}{from_sql}{inner_where}) AS {alias}"
            where_condition = ""
        if self.plan is not None and self.plan.reads(scope) and (not aggregate or len(scope.sources) > 1):
            raise NotCovered("a projection answers only an aggregating SELECT over the dataset alone")
        terms = []
        if not (aggregate and group is None):
            terms = self.order_terms(_without_hoisting(scope, "ORDER BY"), node, select_items=compiled_items)
        order_sql = self._order_sql(terms)
        limit_sql = self.limit_offset(node)
        where_sql = self.aggregate_gate(scope, from_sql, where_condition)
        distinct = node.args.get("distinct")
        if distinct is not None and distinct.args.get("on"):
            raise sql_error_at("DISTINCT ON is not supported", node)
        plain_outputs = [self.output(typed) for _, typed in compiled_items]
        outputs = ", ".join(f'{sql} AS "c{i}"' for i, sql in enumerate(plain_outputs))
        if count_window and group is not None and terms:
            grouped = f"{from_sql}{where_sql}{group_sql}{having_sql}"
            sql = prefix + self._sorted_groups(outputs=plain_outputs, grouped=grouped, terms=terms, limit_sql=limit_sql)
            return Compiled(sql, [(name, typed) for name, typed in compiled_items])
        if count_window:
            outputs += ', count(*) OVER () AS "rows_before_limit"'
        keyword = "SELECT DISTINCT " if distinct is not None else "SELECT "
        if distinct is not None and order_sql:
            inner_alias = self.new_alias("d")
            inner = Compiled(f"{keyword}{outputs}{from_sql}{where_sql}{group_sql}{having_sql}", compiled_items)
            source = self._derived_source(name=inner_alias, pg_alias=inner_alias, compiled=inner)
            outer_scope = Scope(sources=[source], ctes=ctes)
            order_sql = self.order_by(outer_scope, node, select_items=None)
            columns = ", ".join(f'{inner_alias}."c{i}"' for i in range(len(compiled_items)))
            sql = f"{prefix}SELECT {columns} FROM ({inner.sql}) AS {inner_alias}{order_sql}{limit_sql}"
        else:
            sql = f"{prefix}{keyword}{outputs}{from_sql}{where_sql}{group_sql}{having_sql}{order_sql}{limit_sql}"
        return Compiled(sql, [(name, typed) for name, typed in compiled_items])

    def aggregate_gate(self, scope: Scope, from_sql: str, where_condition: str) -> str:
        """The WHERE clause, gated when the SELECT has aggregates whose state is every value they read.

        PostgreSQL bounds sorts and hash tables by ``work_mem`` (they spill to disk), but not
        ``array_agg``: topK, groupArray and quantileExactWeighted would hold a whole group's
        values in the backend. The gate is an uncorrelated subquery, so PostgreSQL runs it once,
        as a one-time filter before the first row is aggregated, on the statement's snapshot:
        it reads the same rows, at most ``budget / VALUE_OVERHEAD_BYTES + 1`` of them, sums
        their arguments' sizes (plus the per-value overhead of the array state) and raises
        past the budget. Under the budget the aggregates then read exactly those rows.
        """
        where_sql = f" WHERE {where_condition}" if where_condition else ""
        if not scope.array_inputs:
            return where_sql
        self.aggregate_gates += 1
        size = " + ".join(f"coalesce(pg_column_size({sql}), 0) + {VALUE_OVERHEAD_BYTES}" for sql in scope.array_inputs)
        budget = f"%({AGGREGATE_BUDGET_PARAM})s::bigint"
        gate = (
            f"(SELECT meaux_ch.aggregate_input_check(sum(_bytes)::bigint, {budget}) FROM "
            f"(SELECT {size} AS _bytes{from_sql}{where_sql} LIMIT {budget} / {VALUE_OVERHEAD_BYTES} + 1) AS _aggregate_input)"
        )
        return f" WHERE ({where_condition}) AND {gate}" if where_condition else f" WHERE {gate}"

    def _select_item(self, scope: Scope, name: str, item: exp.Expression) -> Typed:
        """Inside ``expr AS name``, ``name`` means the source column, as in ClickHouse."""
        own = name in scope.aliases and name not in scope.expanding
        if own:
            scope.expanding.add(name)
        try:
            return self.expr(scope, item)
        finally:
            if own:
                scope.expanding.discard(name)

    def _agg_order(self, scope: Scope, node: exp.Select) -> list[str]:
        """ORDER BY of an aggregate query without GROUP BY orders first_value/last_value (AE docs)."""
        parts = []
        for ordered in node.args["order"].expressions:
            target = ordered.this
            if isinstance(target, exp.Literal) and not target.is_string:
                return []
            probe = Scope(sources=scope.sources, ctes=scope.ctes, aliases=scope.aliases)
            try:
                typed = self.expr(probe, target)
            except SqlError:
                return []
            if typed.aggregate:
                return []
            parts.append(self._order_item(typed, desc=bool(ordered.args.get("desc"))))
        return parts

    def _order_item(self, typed: Typed, *, desc: bool, nulls_first: bool = False, nan_last: bool = False) -> str:
        """One ORDER BY key with ClickHouse's placement: bytewise strings, NaN then NULL last."""
        sql = self.value(typed)
        if ct.is_string(typed.type):
            sql = f'({sql}) COLLATE "C"'
        item = f"{sql} {'DESC' if desc else 'ASC'} NULLS {'FIRST' if nulls_first else 'LAST'}"
        if nan_last and desc and ct.is_float(typed.type):
            return f"(({sql}) = 'NaN'::float8) ASC NULLS {'FIRST' if nulls_first else 'LAST'}, {item}"
        return item

    def _positional(self, node: exp.Expression, items: list[tuple[str, Typed]] | None) -> Typed | None:
        if items is None or not (isinstance(node, exp.Literal) and not node.is_string):
            return None
        index = int(node.this)
        if not 1 <= index <= len(items):
            raise sql_error_at(f"Positional argument {index} is out of range", node)
        return items[index - 1][1]

    def order_terms(self, scope: Scope, node: exp.Expression, *, select_items: list[tuple[str, Typed]] | None) -> list[OrderTerm]:
        order = node.args.get("order")
        terms = []
        for ordered in order.expressions if order is not None else []:
            if ordered.args.get("with_fill"):
                raise sql_error_at("ORDER BY ... WITH FILL is not supported", ordered)
            typed = self._positional(ordered.this, select_items) or self.expr(scope, ordered.this)
            terms.append(OrderTerm(typed, desc=bool(ordered.args.get("desc")), nulls_first=bool(ordered.args.get("nulls_first"))))
        return terms

    def order_by(self, scope: Scope, node: exp.Expression, *, select_items: list[tuple[str, Typed]] | None) -> str:
        terms = self.order_terms(scope, node, select_items=select_items)
        return self._order_sql(terms)

    def _order_sql(self, terms: list[OrderTerm]) -> str:
        if not terms:
            return ""
        items = [self._order_item(term.typed, desc=term.desc, nulls_first=term.nulls_first, nan_last=True) for term in terms]
        return " ORDER BY " + ", ".join(items)

    def _sorted_groups(
        self, *, outputs: list[str], grouped: str, terms: list[OrderTerm], limit_sql: str
    ) -> str:
        """The top groups of a grouping SELECT with a LIMIT, sorted and counted over its output columns.

        ``grouped`` is the SELECT's FROM to HAVING. Sorting the groups in the same SELECT
        evaluated each sort key again above ``count(*) OVER ()`` (the seed's requests by path
        turned every group's exact sum into a float three times); over a subquery each key is a
        column computed once per group (EXPLAIN ANALYZE at 1M points: 3.80 -> 3.49 ms). A key
        that is an output column is not repeated.
        """
        alias = self.new_alias("g")
        keys: list[str] = []
        order: list[OrderTerm] = []
        for term in terms:
            value = self.value(term.typed)
            column = next((f'"c{i}"' for i, sql in enumerate(outputs) if sql == value), None)
            if column is None:
                column = f'"k{len(keys)}"'
                keys.append(f", {value} AS {column}")
            order.append(OrderTerm(Typed(f"{alias}.{column}", term.typed.type), desc=term.desc, nulls_first=term.nulls_first))
        inner = ", ".join(f'{sql} AS "c{i}"' for i, sql in enumerate(outputs)) + "".join(keys)
        columns = ", ".join(f'{alias}."c{i}"' for i in range(len(outputs)))
        return (
            f'SELECT {columns}, count(*) OVER () AS "rows_before_limit" FROM (SELECT {inner}{grouped}) AS {alias}'
            f"{self._order_sql(order)}{limit_sql}"
        )

    def limit_offset(self, node: exp.Expression) -> str:
        sql = ""
        limit = node.args.get("limit")
        offset = node.args.get("offset")
        if limit is not None:
            if limit.args.get("expressions"):
                raise sql_error_at("LIMIT ... BY is not supported", limit)
            value = limit.expression
            if isinstance(value, exp.Column) and value.name.upper() == "ALL":
                sql += " LIMIT ALL"
            else:
                rows = self._non_negative_int(value, "LIMIT")
                sql += f" LIMIT {rows}"
                if node is self.top_node and offset is None:
                    self.most_rows = rows if self.most_rows is None else min(self.most_rows, rows)
        if offset is not None:
            sql += f" OFFSET {self._non_negative_int(offset.expression, 'OFFSET')}"
        return sql

    def _non_negative_int(self, node: exp.Expression, clause: str) -> int:
        if isinstance(node, exp.Literal) and not node.is_string and node.this.isdigit():
            return int(node.this)
        raise sql_error_at(f"{clause} must be a non-negative integer literal", node)

    # ---- FROM ---------------------------------------------------------------------

    def from_clause(self, scope: Scope, node: exp.Select) -> str:
        from_node = node.args.get("from_")
        if from_node is None:
            if node.args.get("joins"):
                raise sql_error_at("JOIN needs a FROM clause", node)
            return ""
        sql = " FROM " + self.source(scope, from_node.this, numbered=_groups_arrays(node))
        for join in node.args.get("joins") or []:
            sql += self.join(scope, join)
        return sql

    def join(self, scope: Scope, join: exp.Join) -> str:
        side = (join.side or "").upper()
        kind = (join.kind or "").upper()
        if join.args.get("method") or kind in {"SEMI", "ANTI", "ASOF", "ANY", "ARRAY"} or side in {"RIGHT", "FULL"}:
            raise sql_error_at("Only INNER, LEFT and CROSS joins are supported", join)
        left_sources = list(scope.sources)
        right_sql = self.source(scope, join.this)
        right = scope.sources[-1]
        right.outer = side == "LEFT"
        on = join.args.get("on")
        using = join.args.get("using")
        if kind == "CROSS" or (on is None and not using):
            if side == "LEFT":
                raise sql_error_at("LEFT JOIN needs ON or USING", join)
            return f" CROSS JOIN {right_sql}"
        keyword = " LEFT JOIN " if side == "LEFT" else " JOIN "
        if using:
            conditions = []
            for identifier in using:
                name = identifier.name
                left_matches = [
                    source for source in left_sources if name in source.columns and name not in source.hidden
                ]
                if len(left_matches) != 1 or name not in right.columns:
                    raise sql_error_at(f"USING column {name} must exist on both sides exactly once", identifier)
                left_typed = self.source_column(scope, left_matches[0], name)
                conditions.append(f"{self.value(left_typed)} = {right.columns[name].sql}")
                right.hidden.add(name)
            return f"{keyword}{right_sql} ON {' AND '.join(conditions)}"
        scope.raw_outer = True
        try:
            condition = self.cond(scope, on)
        finally:
            scope.raw_outer = False
        return f"{keyword}{right_sql} ON {condition.sql}"

    def source_column(self, scope: Scope, source: Source, name: str) -> Typed:
        """A column reference; the unmatched side of a LEFT JOIN reads as defaults (join_use_nulls=0)."""
        typed = source.columns[name]
        if source.outer and not scope.raw_outer:
            return replace(typed, sql=f"coalesce({typed.sql}, {ct.default_sql(typed.type)})")
        return typed

    def source(self, scope: Scope, node: exp.Expression, *, numbered: bool = False) -> str:
        if isinstance(node, exp.Subquery):
            compiled = self.query(node.this, ctes=scope.ctes)
            pg_alias = self.new_alias("s")
            name = node.alias or pg_alias
            source = self._derived_source(name=name, pg_alias=pg_alias, compiled=compiled)
            scope.sources.append(source)
            if numbered:
                # Numbered as they arrive, a sorted subquery's order kept (runningDifference relies on it too).
                inner_alias = self.new_alias("o")
                source.ordinal = f'{pg_alias}."ordinal"'
                return (
                    f'(SELECT {inner_alias}.*, row_number() OVER () AS "ordinal" FROM ({compiled.sql}) AS {inner_alias})'
                    f" AS {pg_alias}"
                )
            return f"({compiled.sql}) AS {pg_alias}"
        if not isinstance(node, exp.Table) or not isinstance(node.this, exp.Identifier):
            raise sql_error_at(f"Unsupported FROM source: {display_name(node)}", node)
        if node.args.get("catalog"):
            raise sql_error_at(f"Unknown table {node.sql(dialect='clickhouse')}: name a dataset or database.table", node)
        for key in ("joins", "laterals", "pivots", "sample", "version", "when", "changes"):
            if node.args.get(key):
                raise sql_error_at(f"{key.upper()} on a table is not supported", node)
        name = node.name
        visible_name = node.alias or name
        database = node.args["db"].name if node.args.get("db") else None
        cte = scope.ctes.get(name) if database is None else None
        if cte is not None and cte.compiled is not None:  # a CTE's source always carries its compiled query
            pg_alias = self.new_alias("t")
            source = self._derived_source(name=visible_name, pg_alias=pg_alias, compiled=cte.compiled)
            scope.sources.append(source)
            return f"{cte.pg_name} AS {pg_alias}"
        database = database or self.database
        if database == SYSTEM_DATABASE:
            virtual = system_table(name, self.dataset_list)
            if virtual is None:
                raise sql_error_at(f"Unknown table system.{name}", node)
            pg_alias = self.new_alias("t")
            scope.sources.append(self._virtual_source(virtual, visible_name=visible_name, pg_alias=pg_alias))
            return f"({self._virtual_sql(virtual)}) AS {pg_alias}"
        if database != DEFAULT_DATABASE:
            raise sql_error_at(f"Unknown database {database}: the project's datasets are in default", node)
        dataset = self._dataset(name, node)
        self.used_dataset_ids.add(dataset.id)
        pg_alias = self.new_alias("t")
        floor = self.time_floor[1] if self.time_floor is not None and node is self.time_floor[0] else None
        if self.plan is not None and self.plan.dataset.id == dataset.id:
            source, sql = self.plan.dataset_source(self, visible_name=visible_name, pg_alias=pg_alias, floor=floor)
            scope.sources.append(source)
            return sql
        scope.sources.append(self._dataset_source(dataset, visible_name=visible_name, pg_alias=pg_alias))
        return f"({self._dataset_sql(dataset, floor=floor)}) AS {pg_alias}"

    def _virtual_sql(self, table: VirtualTable) -> str:
        """A system table as one bound JSON document: its rows never enter the SQL text."""
        payload = json.dumps([dict(zip([name for name, _ in table.columns], row, strict=True)) for row in table.rows])
        definitions = ", ".join(f'"{name}" {ct.pg_type(ch_type)}' for name, ch_type in table.columns)
        return f"SELECT * FROM jsonb_to_recordset({self.param(payload, 'jsonb')}) AS v({definitions})"

    def _virtual_source(self, table: VirtualTable, *, visible_name: str, pg_alias: str) -> Source:
        columns = {name: Typed(f'{pg_alias}."{name}"', ch_type) for name, ch_type in table.columns}
        return Source(name=visible_name, columns=columns, star=[name for name, _ in table.columns])

    def _dataset(self, name: str, node: exp.Expression) -> DatasetRef:
        dataset = dataset_named(self.datasets, name)
        if dataset is None:
            raise sql_error_at(f"Unknown table {name}: not a dataset of this project", node)
        return dataset

    def _dataset_sql(self, dataset: DatasetRef, *, floor: datetime | None = None) -> str:
        """The dataset's points with AE's defaults; ``floor`` (a constant) lets PostgreSQL prune partitions as it plans."""
        columns = [
            f"{self.param(dataset.name, 'text')} AS dataset",
            '"timestamp"',
            "_sample_interval::bigint AS _sample_interval",
            "index1",
            *[f"{blob_read_sql(blob)} AS {blob}" for blob in BLOB_COLUMNS],
            *[f"coalesce({double}, 0) AS {double}" for double in DOUBLE_COLUMNS],
        ]
        return (
            f"SELECT {', '.join(columns)} FROM public.tracking_datapoint "
            f"WHERE dataset_id = {self.param(dataset.id, 'bigint')}"
            + (f' AND "timestamp" >= {self.param(floor, "timestamptz")}' if floor is not None else "")
        )

    def _dataset_source(self, dataset: DatasetRef, *, visible_name: str, pg_alias: str) -> Source:
        types = {"dataset": "String", "timestamp": "DateTime", "_sample_interval": "UInt32", "index1": "String"}
        types.update({blob: "String" for blob in BLOB_COLUMNS})
        types.update({double: "Float64" for double in DOUBLE_COLUMNS})
        columns = {name: Typed(f'{pg_alias}."{name}"', ch_type) for name, ch_type in types.items()}
        for physical, label in (dataset.labels or {}).items():
            if physical in columns and isinstance(label, str) and label and label not in types:
                columns[label] = columns[physical]
        return Source(name=visible_name, columns=columns, star=list(SQL_COLUMNS))

    def _star(self, scope: Scope, item: exp.Expression) -> list[tuple[str, Typed]]:
        table = item.table if isinstance(item, exp.Column) else ""
        sources = [source for source in scope.sources if not table or source.name == table]
        if not sources:
            raise sql_error_at("SELECT * needs a FROM clause" if not table else f"Unknown table {table}", item)
        result = []
        for source in sources:
            for name in source.star:
                if name in source.hidden and not table:
                    continue
                result.append((name, self.source_column(scope, source, name)))
        return result

    # ---- expressions --------------------------------------------------------------

    def value(self, typed: Typed) -> str:
        """SQL usable as a value: booleans become 0/1 integers as ClickHouse's UInt8."""
        if typed.boolean:
            return f"({typed.sql})::int::bigint"
        return typed.sql

    def output(self, typed: Typed) -> str:
        if typed.boolean and typed.type != "Bool":
            return f"({typed.sql})::int"
        return typed.sql

    def cond(self, scope: Scope, node: exp.Expression) -> Typed:
        typed = self.expr(scope, node)
        return self.as_cond(typed, node)

    def as_cond(self, typed: Typed, node: exp.Expression) -> Typed:
        if typed.boolean:
            return typed
        if ct.is_number(typed.type) or typed.type == ct.NOTHING:
            return Typed(f"(({typed.sql}) <> 0)", "UInt8", boolean=True, aggregate=typed.aggregate)
        raise sql_error_at(f"Illegal type {typed.type} of a filter condition: it must be a number", node)

    def expr(self, scope: Scope, node: exp.Expression | None) -> Typed:
        if node is None:
            raise SqlError("Syntax error: an expression is missing")
        typed = self._expression(scope, node)
        if scope.lambdas and ct.is_array(typed.type):
            # Per element, an array would make the result N x N (and PostgreSQL's ARRAY(SELECT array)
            # a flat 2-D array, not ClickHouse's array of arrays).
            raise sql_error_at(
                f"The body of arrayMap cannot read or return an array ({display_name(node)} is {typed.type}): "
                f"it may use its parameter {', '.join(scope.lambdas)} and numbers, strings or tuples",
                node,
            )
        return typed

    def _expression(self, scope: Scope, node: exp.Expression) -> Typed:
        if scope.substitutes and id(node) in scope.substitutes:
            return scope.substitutes[id(node)]
        handler = _EXPRESSION_HANDLERS.get(type(node))
        if handler is None:
            if isinstance(node, exp.Anonymous) and node.name.lower() == "arraymap":
                return self._array_map(scope, node)
            if isinstance(node, (exp.Anonymous, exp.AnonymousAggFunc, exp.CombinedAggFunc, exp.ParameterizedAgg)):
                return function_call(self, scope, node)
            raise sql_error_at(f"unsupported expression type: {display_name(node)}", node)
        return handler(self, scope, node)

    def _alias(self, scope: Scope, node: exp.Alias) -> Typed:
        return self.expr(scope, node.this)

    def _paren(self, scope: Scope, node: exp.Paren) -> Typed:
        inner = self.expr(scope, node.this)
        return replace(inner, sql=f"({inner.sql})")

    def _literal(self, scope: Scope, node: exp.Literal) -> Typed:
        if node.is_string:
            return self.text(node.this)
        text = node.this
        try:
            if text.isdigit():
                return self.int_const(int(text))
            if text.lower().startswith("0x"):
                return self.int_const(int(text, 16))
            return self.float_const(float(text))
        except ValueError:
            raise sql_error_at(f"Bad number literal {text}", node) from None

    def _hex_string(self, scope: Scope, node: exp.HexString) -> Typed:
        return self.int_const(int(node.this, 16))

    def _neg(self, scope: Scope, node: exp.Neg) -> Typed:
        inner = self.expr(scope, node.this)
        if isinstance(node.this, exp.Literal) and isinstance(inner.const, (int, float)):
            value = -inner.const
            return self.int_const(value) if isinstance(value, int) else self.float_const(value)
        if ct.is_float(inner.type):
            return Typed(f"(-{inner.sql})", "Float64", aggregate=inner.aggregate)
        info = ct.int_info(inner.type)
        if info is None and not inner.boolean:
            raise sql_error_at(f"Illegal type {inner.type} of argument of negate", node)
        bits, signed = info or (8, False)
        result = ct.int_type(bits=bits if signed else bits * 2, signed=True)
        return Typed(f"(-{self.value(inner)})", result, aggregate=inner.aggregate)

    def _boolean(self, scope: Scope, node: exp.Boolean) -> Typed:
        return Typed("true" if node.this else "false", "Bool", boolean=True, const=bool(node.this))

    def _null(self, scope: Scope, node: exp.Null) -> Typed:
        return Typed("NULL", ct.NOTHING, const=None)

    def _tuple(self, scope: Scope, node: exp.Tuple) -> Typed:
        """``(a, b)``: carried as a JSON array (Grafana's ``$columns`` groups ``(key, value)`` pairs)."""
        if not node.expressions:
            raise sql_error_at("An empty tuple () is not supported", node)
        elements = [self.expr(scope, item) for item in node.expressions]
        types = []
        for item, typed in zip(node.expressions, elements, strict=True):
            base = ct.strip_nullable(typed.type)
            if not (ct.is_number(base) or ct.is_string(base)) or typed.type.startswith("Interval"):
                raise sql_error_at(f"Tuples hold numbers and strings, not {typed.type}", item)
            types.append("UInt8" if typed.boolean and typed.type != "Bool" else typed.type)
        sql = "jsonb_build_array(" + ", ".join(self.value(typed) for typed in elements) + ")"
        return Typed(sql, f"Tuple({', '.join(types)})", aggregate=any(typed.aggregate for typed in elements))

    def _placeholder(self, scope: Scope, node: exp.Placeholder) -> Typed:
        name = node.name
        kind = node.args.get("kind")
        if not name or kind is None:
            raise sql_error_at("Query parameters are written {name:Type}", node)
        if name not in self.bound:
            raise sql_error_at(f"Query parameter {name} has no value", node)
        if not isinstance(kind, exp.DataType):
            raise sql_error_at(f"Query parameter type {kind} is not supported", node)
        ch_type = kind.sql(dialect="clickhouse")
        if ch_type == "DATE":  # sqlglot spells ClickHouse's Date in capitals
            ch_type = "Date"
        value = self.bound[name]
        return bound_parameter(self, name=name, ch_type=ch_type, value=value, node=node)

    def _column(self, scope: Scope, node: exp.Column) -> Typed:
        if node.args.get("db") or node.args.get("catalog"):
            raise sql_error_at(f"Unknown column {display_name(node)}", node)
        name = node.name
        table = node.table
        if isinstance(node.this, exp.Star):
            raise sql_error_at("* is only allowed directly in the SELECT list or in count(*)", node)
        if not table:
            if name in scope.aliases and name not in scope.expanding:
                scope.expanding.add(name)
                try:
                    return self.expr(scope, scope.aliases[name])
                finally:
                    scope.expanding.discard(name)
            matches = [source for source in scope.sources if name in source.columns and name not in source.hidden]
            if len(matches) > 1:
                raise sql_error_at(f"Column {name} is ambiguous: qualify it with a table name", node)
            if matches:
                return self.source_column(scope, matches[0], name)
            if name.lower() in ("nan", "inf") and not node.this.quoted:
                return self.float_const(float(name))
            raise sql_error_at(f"Unknown column {name}", node)
        for source in scope.sources:
            if source.name == table and name in source.columns:
                return self.source_column(scope, source, name)
        raise sql_error_at(f"Unknown column {table}.{name}", node)

    def _binary(self, scope: Scope, node: exp.Expression) -> Typed:
        op = BINARY_NAMES[type(node)]
        return arithmetic(self, op, self.expr(scope, node.this), self.expr(scope, node.expression), node)

    def _dpipe(self, scope: Scope, node: exp.DPipe) -> Typed:
        left = self.expr(scope, node.this)
        right = self.expr(scope, node.expression)
        return Typed(
            f"({to_string(self, left, node)} || {to_string(self, right, node)})",
            "String",
            aggregate=left.aggregate or right.aggregate,
        )

    def _comparison(self, scope: Scope, node: exp.Expression) -> Typed:
        return compare(
            self, _COMPARISONS[type(node)], self.expr(scope, node.this), self.expr(scope, node.expression), node
        )

    def _logical(self, scope: Scope, node: exp.Expression) -> Typed:
        left = self.cond(scope, node.this)
        right = self.cond(scope, node.expression)
        op = "AND" if isinstance(node, exp.And) else "OR"
        return Typed(
            f"({left.sql} {op} {right.sql})", "UInt8", boolean=True, aggregate=left.aggregate or right.aggregate
        )

    def _not(self, scope: Scope, node: exp.Not) -> Typed:
        inner = self.cond(scope, node.this)
        return Typed(f"(NOT {inner.sql})", "UInt8", boolean=True, aggregate=inner.aggregate)

    def _like(self, scope: Scope, node: exp.Expression) -> Typed:
        if node.args.get("escape"):
            raise sql_error_at("LIKE ... ESCAPE is not supported", node)
        left = self.expr(scope, node.this)
        pattern = self.expr(scope, node.expression)
        for side in (left, pattern):
            if not ct.is_string(side.type):
                raise sql_error_at(f"Illegal type {side.type} of argument of LIKE: it must be String", node)
        op = "LIKE" if isinstance(node, exp.Like) else "ILIKE"
        if node.args.get("negate"):
            op = "NOT " + op
        return Typed(
            f"({left.sql} {op} {pattern.sql})", "UInt8", boolean=True, aggregate=left.aggregate or pattern.aggregate
        )

    def _in(self, scope: Scope, node: exp.In) -> Typed:
        left = self.expr(scope, node.this)
        negate = bool(node.args.get("negate"))
        if node.args.get("query") is not None:
            compiled = self.query(
                node.args["query"].this if isinstance(node.args["query"], exp.Subquery) else node.args["query"],
                ctes=scope.ctes,
            )
            if len(compiled.columns) != 1:
                raise sql_error_at("The subquery of IN must return one column", node)
            op = "NOT IN" if negate else "IN"
            return Typed(
                f"({self.value(left)} {op} (SELECT c0 FROM ({compiled.sql}) AS {self.new_alias('q')}))",
                "UInt8",
                boolean=True,
                aggregate=left.aggregate,
            )
        if node.args.get("field") or node.args.get("unnest"):
            raise sql_error_at("Unsupported IN form", node)
        items = node.expressions
        if len(items) == 1 and isinstance(items[0], exp.Tuple):
            items = items[0].expressions
        if not items:
            raise sql_error_at("IN needs at least one value", node)
        rights = [self.expr(scope, item) for item in items]
        for item, right in zip(items, rights):
            if not right.is_const:
                raise sql_error_at("IN lists may only hold literals", item)
        if len(rights) > 1 and left.type == "String" and all(right.type == "String" for right in rights):
            # The same as the OR of equalities below, NULLs included, but PostgreSQL reads an
            # index once for the whole list instead of once per value and then ORing the
            # bitmaps (a dashboard's four methods over an hour at 10M, in process: 14.1-14.2 ms
            # against 18.0-19.4 with the OR, once blob1 had its index).
            body = f"{left.sql} = ANY(ARRAY[{', '.join(right.sql for right in rights)}])"
        else:
            body = " OR ".join(compare(self, "=", left, right, item).sql for item, right in zip(items, rights))
        sql = f"(NOT ({body}))" if negate else f"({body})"
        return Typed(sql, "UInt8", boolean=True, aggregate=left.aggregate)

    def _between(self, scope: Scope, node: exp.Between) -> Typed:
        if node.args.get("symmetric"):
            raise sql_error_at("BETWEEN SYMMETRIC is not supported", node)
        target = self.expr(scope, node.this)
        first, last = node.args.get("low"), node.args.get("high")
        low = compare(self, ">=", target, self.expr(scope, first), node, operands=(node.this, first))
        high = compare(self, "<=", target, self.expr(scope, last), node, operands=(node.this, last))
        return Typed(f"({low.sql} AND {high.sql})", "UInt8", boolean=True, aggregate=low.aggregate or high.aggregate)

    def _is(self, scope: Scope, node: exp.Is) -> Typed:
        if not isinstance(node.expression, exp.Null):
            raise sql_error_at("Only IS NULL and IS NOT NULL are supported", node)
        inner = self.expr(scope, node.this)
        return Typed(f"({inner.sql} IS NULL)", "UInt8", boolean=True, aggregate=inner.aggregate)

    def _if(self, scope: Scope, node: exp.If) -> Typed:
        branches = [node.this, node.args.get("true")]
        return multi_if(self, scope, branches, node.args.get("false"), node)

    def _case(self, scope: Scope, node: exp.Case) -> Typed:
        operand = node.this
        branches: list[exp.Expression] = []
        for branch in node.args.get("ifs") or []:
            condition = branch.this
            if operand is not None:
                condition = exp.EQ(this=operand.copy(), expression=condition.copy())
            branches += [condition, branch.args["true"]]
        return multi_if(self, scope, branches, node.args.get("default"), node)

    def _interval(self, scope: Scope, node: exp.Interval) -> Typed:
        amount, unit = interval_parts(node)
        return Typed("", f"Interval{unit.capitalize()}", const=(amount, unit))

    def _subquery(self, scope: Scope, node: exp.Subquery) -> Typed:
        compiled = self.query(node.this, ctes=scope.ctes)
        if len(compiled.columns) != 1:
            raise sql_error_at("A scalar subquery must return one column", node)
        ch_type = compiled.columns[0][1].type
        return Typed(
            f"coalesce((SELECT c0 FROM ({compiled.sql}) AS {self.new_alias('q')}), {ct.default_sql(ch_type)})",
            ch_type,
        )

    def _cast(self, scope: Scope, node: exp.Cast) -> Typed:
        target = node.args["to"].sql(dialect="clickhouse")
        return convert(self, target, self.expr(scope, node.this), node)

    def _extract(self, scope: Scope, node: exp.Extract) -> Typed:
        unit = node.this.name.upper()
        if unit not in EXTRACT_FUNCTIONS:
            raise sql_error_at(f"extract() supports YEAR, MONTH, DAY, HOUR, MINUTE and SECOND, not {unit}", node)
        return date_part(self, EXTRACT_FUNCTIONS[unit].lower(), self.expr(scope, node.expression), node)

    def _position(self, scope: Scope, node: exp.StrPosition) -> Typed:
        if node.args.get("position") is not None or node.args.get("occurrence") is not None:
            raise sql_error_at("position() takes two arguments", node)
        return position(self, self.expr(scope, node.this), self.expr(scope, node.args.get("substr")), node)

    def _substring(self, scope: Scope, node: exp.Substring) -> Typed:
        args = [self.expr(scope, node.this), self.expr(scope, node.args.get("start"))]
        if node.args.get("length") is not None:
            args.append(self.expr(scope, node.args["length"]))
        return substring(self, args, node)

    def _normalised_function(self, scope: Scope, node: exp.Func) -> Typed:
        """argMax/argMin/floor/ceil come out of sqlglot as typed nodes; treat them as plain calls."""
        name = NORMALISED_FUNCTIONS[type(node)]
        if node.this is None:
            raise sql_error_at(f"{name} needs an argument", node)
        args = [node.this] + [node.args[key] for key in ("expression", "decimals") if node.args.get(key) is not None]
        if node.args.get("to") is not None:
            raise sql_error_at(f"{name}(... TO ...) is not supported", node)
        call = exp.Anonymous(this=name, expressions=[arg.copy() for arg in args])
        return function_call(self, scope, call)

    def _window(self, scope: Scope, node: exp.Window) -> Typed:
        return window_call(self, scope, node)

    def _array_map(self, scope: Scope, node: exp.Anonymous) -> Typed:
        """``arrayMap(x -> body, array)``, one array; Grafana's ``$rateColumns`` wraps ``$columns`` in it.

        Parts of the body without ``x`` that depend on row order (runningDifference, neighbor,
        lagInFrame) are ClickHouse's per-row values, so they are computed one level below this
        SELECT (``hoisted``) and the body reads them, since PostgreSQL evaluates a window
        function inside the per-element subquery over the elements instead.
        """
        if scope.lambdas:
            raise sql_error_at("arrayMap inside the body of arrayMap is not supported", node)
        lambda_node, *arrays = node.expressions
        if not isinstance(lambda_node, exp.Lambda) or len(lambda_node.expressions) != 1 or len(arrays) != 1:
            raise sql_error_at("arrayMap takes a lambda of one parameter and one array", node)
        param = lambda_node.expressions[0].name
        array = self.expr(scope, arrays[0])
        if not ct.is_array(array.type):
            raise sql_error_at(f"Illegal type {array.type} of the array argument of arrayMap", arrays[0])
        element_type = ct.array_element(array.type)
        json_elements = ct.is_tuple(element_type)
        for part in _row_order_parts(lambda_node.this, param):
            if id(part) not in scope.substitutes:
                # Shared with the SELECT's ORDER BY, which reads the same value by the item's alias.
                scope.substitutes[id(part)] = self._hoist(scope, part)
        element = Typed('"element"."value"', element_type)
        body_scope = replace(scope, lambdas={**scope.lambdas, param: element})
        body = self.expr(body_scope, lambda_node.this)
        if body.aggregate or body.type.startswith("Interval"):
            raise sql_error_at("The body of arrayMap cannot hold an aggregate function or an INTERVAL", lambda_node)
        result_type = "UInt8" if body.boolean and body.type != "Bool" else body.type
        elements = (
            f"jsonb_array_elements({array.sql}) WITH ORDINALITY AS element(value, position)"
            if json_elements
            else f"unnest({array.sql}) WITH ORDINALITY AS element(value, position)"
        )
        if ct.is_tuple(result_type):
            sql = f"coalesce((SELECT jsonb_agg({body.sql} ORDER BY element.position) FROM {elements}), '[]'::jsonb)"
        else:
            sql = f"ARRAY(SELECT {self.value(body)} FROM {elements} ORDER BY element.position)"
        return Typed(sql, f"Array({result_type})", aggregate=array.aggregate)

    def _hoist(self, scope: Scope, part: exp.Expression) -> Typed:
        if isinstance(scope.hoisted, _HoistingRefused):
            raise sql_error_at(
                f"{display_name(part)} inside arrayMap is supported only in the SELECT list, not in {scope.hoisted.clause}",
                part,
            )
        if not scope.row_alias:
            raise sql_error_at(f"{display_name(part)} in an arrayMap lambda needs a single FROM source", part)
        typed = self.expr(replace(scope, substitutes={}), part)
        if typed.aggregate:
            raise sql_error_at("An aggregate inside an arrayMap lambda is not supported", part)
        name = f"hoisted{len(scope.hoisted)}"
        scope.hoisted.append(f'{self.value(typed)} AS "{name}"')
        return Typed(f'{scope.row_alias}."{name}"', "UInt8" if typed.boolean and typed.type != "Bool" else typed.type)

    def _lambda_parameter(self, scope: Scope, node: exp.Identifier) -> Typed:
        if node.name in scope.lambdas:
            return scope.lambdas[node.name]
        raise sql_error_at(f"Unknown column {node.name}", node)

    def _tuple_element(self, scope: Scope, node: exp.Dot) -> Typed:
        """``x.N`` on a tuple (a lambda's element or a column): its N-th value, counted from 1."""
        target, index = node.this, node.expression
        if not (isinstance(index, exp.Literal) and not index.is_string and index.this.isdigit()):
            raise sql_error_at(f"Unsupported expression {display_name(node)}", node)
        tuple_typed = self.expr(scope, target)
        if not ct.is_tuple(tuple_typed.type):
            raise sql_error_at(f"Illegal type {tuple_typed.type} for a tuple element access", node)
        types = tuple_elements(tuple_typed.type)
        position = int(index.this)
        if not 1 <= position <= len(types):
            raise sql_error_at(f"Tuple element {position} is out of range 1..{len(types)}", node)
        element_type = types[position - 1]
        if ct.is_tuple(element_type):
            return Typed(f"({tuple_typed.sql} -> {position - 1})", element_type, aggregate=tuple_typed.aggregate)
        text = f"({tuple_typed.sql} ->> {position - 1})"
        sql = text if ct.is_string(element_type) else f"{text}::{ct.pg_type(element_type)}"
        return Typed(sql, element_type, aggregate=tuple_typed.aggregate)

    def _quantile(self, scope: Scope, node: exp.Quantile) -> Typed:
        if self.plan is not None and self.plan.reads(scope):
            raise NotCovered("quantiles are not kept by projections")
        return quantile(self, scope, node.args.get("quantile"), node.this, node)


def _own_window(select: exp.Select, clause: exp.Expression | None) -> exp.Window | None:
    """A window function of ``select``'s own clause (not of a subquery in it), which PostgreSQL refuses there."""
    if clause is None:
        return None
    for window in clause.find_all(exp.Window):
        if window.find_ancestor(exp.Select) is select:
            return window
    return None


_ROW_ORDER_FUNCTIONS = {"runningdifference", "neighbor"}


class _HoistingRefused(list[str]):
    """``Scope.hoisted`` of a clause other than the SELECT list: its row-order values inside arrayMap
    would be computed where that clause cannot read them (WHERE runs below them, ORDER BY after
    the level that computes them), so they are refused by name."""

    def __init__(self, clause: str) -> None:
        super().__init__()
        self.clause = clause


def _without_hoisting(scope: Scope, clause: str) -> Scope:
    """``scope`` for a clause other than the SELECT list. ORDER BY, computed at the SELECT's level,
    still reads the row-order values the SELECT list computed (``ORDER BY alias``); WHERE,
    GROUP BY and HAVING are computed below them."""
    substitutes = scope.substitutes if clause == "ORDER BY" else {}
    return replace(scope, hoisted=_HoistingRefused(clause), substitutes=substitutes)


def _row_order_parts(node: exp.Expression, param: str) -> list[exp.Expression]:
    """The outermost row-order calls in a lambda body; one that reads the parameter is refused."""
    if isinstance(node, exp.Window) or (isinstance(node, exp.Anonymous) and node.name.lower() in _ROW_ORDER_FUNCTIONS):
        if any(identifier.name == param for identifier in node.find_all(exp.Identifier)):
            raise sql_error_at(f"{display_name(node)} over a lambda's parameter is not supported", node)
        return [node]
    return [part for child in node.iter_expressions() for part in _row_order_parts(child, param)]


def _groups_arrays(node: exp.Select) -> bool:
    """Whether the SELECT list or HAVING of ``node`` itself calls groupArray (not in a subquery)."""
    parts = [*node.expressions, node.args.get("having")]
    for part in parts:
        if part is None:
            continue
        for call in part.find_all(exp.AnonymousAggFunc, exp.ParameterizedAgg):
            if call.name.lower() == "grouparray" and call.find_ancestor(exp.Select) is node:
                return True
    return False


def interval_parts(node: exp.Interval) -> tuple[int, str]:
    """(amount, UNIT) of ``INTERVAL '24' HOUR`` / ``INTERVAL 24 HOUR`` / ``INTERVAL '1 day'``."""
    value = node.this
    unit = node.unit.name.upper() if node.unit is not None else ""
    text = value.this if isinstance(value, exp.Literal) else None
    if isinstance(value, exp.Neg) and isinstance(value.this, exp.Literal):
        text = "-" + value.this.this
    if text is None:
        raise sql_error_at("INTERVAL needs a literal amount", node)
    text = text.strip()
    if not unit and " " in text:
        text, unit = text.split(None, 1)
        unit = unit.upper()
    unit = unit.rstrip("S") if unit.endswith("S") and unit[:-1] in INTERVAL_UNITS else unit
    if unit not in INTERVAL_UNITS:
        raise sql_error_at(f"Unsupported INTERVAL unit {unit or '(none)'}", node)
    try:
        amount = int(text)
    except ValueError:
        raise sql_error_at(f"INTERVAL amount must be an integer, not {text!r}", node) from None
    return amount, unit


_EXPRESSION_HANDLERS = {
    exp.Tuple: Compiler._tuple,
    exp.ArgMax: Compiler._normalised_function,
    exp.ArgMin: Compiler._normalised_function,
    exp.Floor: Compiler._normalised_function,
    exp.Ceil: Compiler._normalised_function,
    exp.Alias: Compiler._alias,
    exp.Paren: Compiler._paren,
    exp.Literal: Compiler._literal,
    exp.HexString: Compiler._hex_string,
    exp.Neg: Compiler._neg,
    exp.Boolean: Compiler._boolean,
    exp.Null: Compiler._null,
    exp.Placeholder: Compiler._placeholder,
    exp.Column: Compiler._column,
    exp.Add: Compiler._binary,
    exp.Sub: Compiler._binary,
    exp.Mul: Compiler._binary,
    exp.Div: Compiler._binary,
    exp.Mod: Compiler._binary,
    exp.DPipe: Compiler._dpipe,
    exp.EQ: Compiler._comparison,
    exp.NEQ: Compiler._comparison,
    exp.GT: Compiler._comparison,
    exp.GTE: Compiler._comparison,
    exp.LT: Compiler._comparison,
    exp.LTE: Compiler._comparison,
    exp.And: Compiler._logical,
    exp.Or: Compiler._logical,
    exp.Not: Compiler._not,
    exp.Like: Compiler._like,
    exp.ILike: Compiler._like,
    exp.In: Compiler._in,
    exp.Between: Compiler._between,
    exp.Is: Compiler._is,
    exp.If: Compiler._if,
    exp.Case: Compiler._case,
    exp.Interval: Compiler._interval,
    exp.Subquery: Compiler._subquery,
    exp.Cast: Compiler._cast,
    exp.Extract: Compiler._extract,
    exp.StrPosition: Compiler._position,
    exp.Substring: Compiler._substring,
    exp.Quantile: Compiler._quantile,
    exp.Window: Compiler._window,
    exp.Identifier: Compiler._lambda_parameter,
    exp.Dot: Compiler._tuple_element,
}


def _from_table(node: exp.Expression) -> exp.Expression | None:
    source = node.args.get("from_")
    return source.this if source is not None else None
